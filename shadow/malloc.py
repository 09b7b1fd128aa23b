"""The C allocator's settings for a long-running shadow process (glibc only).

glibc raises its mmap threshold each time a large block is freed (up to 32 MiB). After the
first cycles, a cycle's big transient tables (a list or dict per pair) then come from the heap
instead of their own mappings, and the heap keeps them, fragmented, after they are freed.
Pinning the threshold at its 128 KiB default keeps those blocks in mappings that go back to the
system when freed: after ten cycles at 100,000 runs, 1.49 KB held per tracked run instead of
2.07 KB (`bench/memory.py`).
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_MMAP_THRESHOLD = -3  # glibc <malloc.h>
MMAP_THRESHOLD_BYTES = 128 * 1024


def pin_mmap_threshold() -> bool:
    """Pin glibc's mmap threshold; False where there is no glibc or the user set it already.

    The environment variable MALLOC_MMAP_THRESHOLD_ (glibc's own tunable) wins: it is left alone.
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already runs on
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
