"""The allocator setting a long-running shadow applies at start (glibc's mmap threshold)."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys

import pytest

from shadow.malloc import pin_mmap_threshold

GLIBC = sys.platform.startswith("linux") and "libc.so.6" in (ctypes.util.find_library("c") or "")


def test_the_threshold_is_pinned_on_glibc() -> None:
    assert pin_mmap_threshold() is GLIBC


def test_a_threshold_set_by_the_user_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert pin_mmap_threshold() is False


def test_freed_large_blocks_go_back_to_the_system_after_pinning() -> None:
    """Without the pin, glibc raises the threshold when a large block is freed; the next blocks
    of that size come from the heap, where a small block still in use after them keeps the
    memory resident once they are freed. Pinned, each is unmapped when freed. Measured in a
    fresh interpreter: resident memory kept after 64 such 1 MiB blocks are freed."""
    probe = """
import sys
from shadow.malloc import pin_mmap_threshold
if sys.argv[1] == "pin":
    pin_mmap_threshold()
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
big = bytearray(4 << 20); del big  # the free that raises an unpinned threshold to 4 MiB
before = rss()
blocks, survivors = [], []
for _ in range(64):
    block = bytearray(1 << 20)
    for page in range(0, 1 << 20, 4096):
        block[page] = 1  # resident
    blocks.append(block)
    survivors.append(bytearray(1024))  # small, from the heap, still in use afterwards
del blocks, block
print(rss() - before)
"""

    def kept(mode: str) -> int:
        out = subprocess.run(
            [sys.executable, "-c", probe, mode], check=True, capture_output=True, text=True
        )
        return int(out.stdout)

    assert GLIBC, "shadow's figures and this setting are glibc's; this suite runs on Debian"
    assert kept("pin") < 8 << 20 <= kept("free")
