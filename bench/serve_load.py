"""`shadow serve` under concurrent clients while it scans: requests/s for `/readiness` and for a
runs page during cycles, and how much the load stretches a cycle.

A real `shadow serve` process (uvicorn on a free port) follows a demo bucket on the directory
source, scanned once beforehand so every cycle is a steady one (list 70k objects, judge every
pair, store the judgement). Cycles run back to back (a short scan interval); each cycle's start
and end are read from the ledger's `scans` table, which the server writes. Phases, `--seconds`
each:

- idle: no clients but a `/healthz` probe 20 times a second (the cycle's own duration, and the
  longest the event loop was held up);
- capacity: `--clients` connections asking as fast as they are answered, one phase each for
  `/readiness`, the console's runs page (`/ui/runs?page=N`, login cookie) and the API's
  (`/report?limit=50&offset=N`); only answers completed while a cycle ran count as "in cycles";
- target load: the issue's targets as a steady offered load, 500 requests/s on `/readiness` and
  100/s on runs pages at once, to see what serving them costs the cycle;
- idle again;
- target load, no cycle: the same load on the same server restarted with a day-long scan
  interval, so its CPU share is what serving that load costs by itself.

A cycle's stretch is its median duration in a phase over the median of the idle ones; "server
CPU" is the server process's CPU time over the phase's wall time (all threads: the GIL lets
Python code use about one core, so cycles and requests share roughly 100%). The
clients are a minimal HTTP/1.1 keep-alive client on asyncio streams in this process: on two
cores an httpx client would spend more CPU than the server it measures. The machine may be
shared: the load average is printed with the figures, and ratios are within one run.

    python bench/serve_load.py [--pairs 5000] [--clients 20] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from shadow.corpora.demo import write_demo

TOKEN = "bench-token"
BEARER = f"Authorization: Bearer {TOKEN}\r\n".encode()
COOKIE = f"Cookie: shadow_token={TOKEN}\r\n".encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Load:
    """`clients` connections cycling through `paths`; each at most `rate` requests/s (None: as
    fast as answered)."""

    paths: list[str]
    headers: bytes
    clients: int
    rate: float | None = None


@dataclass
class Tally:
    done: list[tuple[float, float]] = field(default_factory=list)  # (completed at, latency s)
    statuses: dict[int, int] = field(default_factory=dict)


async def _client(
    port: int, load: Load, paths: itertools.cycle[str], until: float, t: Tally
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    due = time.time()
    try:
        while time.time() < until:
            request = f"GET {next(paths)} HTTP/1.1\r\nHost: bench\r\n".encode() + load.headers
            t0 = time.time()
            writer.write(request + b"\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            t1 = time.time()
            t.done.append((t1, t1 - t0))
            status = int(head.split(b" ", 2)[1])
            t.statuses[status] = t.statuses.get(status, 0) + 1
            if load.rate is not None:  # paced: the next request when it is due, not before
                due += load.clients / load.rate
                if due > t1:
                    await asyncio.sleep(due - t1)
    finally:
        writer.close()


async def _run(port: int, loads: list[Load], seconds: float) -> list[Tally]:
    until = time.time() + seconds
    tallies = [Tally() for _ in loads]
    await asyncio.gather(
        *(
            _client(port, load, paths, until, tally)
            for load, tally in zip(loads, tallies, strict=True)
            for paths in [itertools.cycle(load.paths)]
            for _ in range(load.clients)
        )
    )
    return tallies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cycles(db: Path, start: float, end: float) -> list[tuple[float, float]]:
    """Cycles the server recorded that started and finished inside [start, end]."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT started, finished FROM scans WHERE started >= ? AND finished <= ? AND ok = 1",
            (start, end),
        ).fetchall()
    return [(float(a), float(b)) for a, b in rows]


def in_cycles(tally: Tally, spans: list[tuple[float, float]]) -> float:
    """Requests per second completed while a cycle ran."""
    inside = sum(1 for at, _ in tally.done if any(a <= at <= b for a, b in spans))
    busy = sum(b - a for a, b in spans)
    return inside / busy if busy else 0.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--interval", type=float, default=0.5, help="scan interval (back to back)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        corpus = write_demo(Path(tmp) / "b", now=datetime.now(UTC), runs=args.pairs, days=30)
        db = Path(tmp) / "s.db"
        print(f"wrote {args.pairs} primary runs in {time.monotonic() - t0:.0f}s; cold scan ...")
        source = ["--source", f"dir:{corpus.root}", "--db", str(db)]
        subprocess.run([*SHADOW, "scan", "--once", *source], check=True, stdout=subprocess.DEVNULL)
        print(
            f"{args.pairs} pairs on {os.cpu_count()} cores, {args.clients} clients for capacity, "
            f"{args.seconds:.0f}s a phase; load average before: {os.getloadavg()[0]:.2f}"
        )
        print(
            f"{'phase':<26}{'req/s':>8}{'in cycles':>10}{'p50 ms':>8}{'p99 ms':>8}"
            f"{'cycles':>7}{'cycle s':>13}{'stretch':>8}{'server CPU':>11}"
        )
        with serving(source, args.interval) as (port, pid):
            ui, api = page_paths(port)
            n = args.clients
            target = [Load(["/readiness"], BEARER, 10, 500.0), Load(ui, COOKIE, 4, 100.0)]
            phases = [
                ("idle", [PROBE]),
                ("capacity /readiness", [Load(["/readiness"], BEARER, n)]),
                ("capacity /ui/runs", [Load(ui, COOKIE, n)]),
                ("capacity /report?limit=50", [Load(api, BEARER, n)]),
                ("target load", target),
                ("idle again", [PROBE]),
            ]
            run(port, pid, db, args, phases)
        # What serving the target load costs by itself: the same server, scanning once only.
        with serving(source, 86400.0) as (port, pid):
            run(port, pid, db, args, [("target load, no cycle", target)])
        print(f"load average after: {os.getloadavg()[0]:.2f}")


SHADOW = [sys.executable, "-m", "shadow.cli"]
# Idle phases still ask /healthz 20 times a second: its slowest answer is the longest the event
# loop was held up, by a cycle or anything else.
PROBE = Load(["/healthz"], b"", 1, 20.0)


@contextlib.contextmanager
def serving(source: list[str], interval: float) -> Iterator[tuple[int, int]]:
    """`shadow serve` on a free port, ready (its first cycle done); (port, pid)."""
    port = free_port()
    env = {**os.environ, "SHADOW_API_TOKEN": TOKEN, "SHADOW_SCAN_INTERVAL_SECONDS": str(interval)}
    server = subprocess.Popen(
        [*SHADOW, "serve", *source, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit("the server did not become ready")
        yield port, server.pid
    finally:
        server.terminate()
        server.wait(timeout=60)


def page_paths(port: int) -> tuple[list[str], list[str]]:
    """Every page of the console's runs list and of the API's, 50 runs a page."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = f"http://127.0.0.1:{port}/report?limit=0"
    total = httpx.get(url, headers=auth, timeout=60).json()["runs_total"]
    pages = max(1, total // 50)
    ui = [f"/ui/runs?page={p}" for p in range(1, pages + 1)]
    api = [f"/report?limit=50&offset={50 * p}" for p in range(pages)]
    return ui, api


Phase = tuple[str, list[Load]]


def run(port: int, pid: int, db: Path, args: argparse.Namespace, phases: list[Phase]) -> None:
    idle: list[float] = []
    results = []
    for name, loads in phases:
        start, cpu = time.time(), cpu_seconds(pid)
        tallies = asyncio.run(_run(port, loads, args.seconds))
        busy = (cpu_seconds(pid) - cpu) / (time.time() - start)
        spans = cycles(db, start, time.time())
        durations = [b - a for a, b in spans]
        if loads == [PROBE]:
            idle += durations
        results.append((name, loads, tallies, spans, durations, busy))
    for name, loads, tallies, spans, durations, busy in results:
        shown = f"{min(durations):.1f}-{max(durations):.1f}" if durations else "none ended"
        stretch = (
            f"{statistics.median(durations) / statistics.median(idle):.2f}x"
            if durations and idle and loads != [PROBE]
            else ""
        )
        if loads == [PROBE]:
            worst = max((x for _, x in tallies[0].done), default=float("nan"))
            print(
                f"{name:<26}{'':>34}{len(spans):>7}{shown:>13}{'':>8}{busy:>10.0%}"
                f"   /healthz slowest {1000 * worst:.0f} ms"
            )
            continue
        for i, (load, tally) in enumerate(zip(loads, tallies, strict=True)):
            lat = [x for _, x in tally.done]
            what = load.paths[0].split("?")[0] + ("" if load.rate is None else f" @{load.rate:g}/s")
            print(
                f"{name if i == 0 else '':<26}{len(lat) / args.seconds:>8.0f}"
                f"{in_cycles(tally, spans):>10.0f}"
                f"{1000 * pct(lat, 0.5):>8.1f}{1000 * pct(lat, 0.99):>8.1f}"
                + (f"{len(spans):>7}{shown:>13}{stretch:>8}{busy:>10.0%}" if i == 0 else "")
                + f"   {what}"
            )
            bad = {s: k for s, k in tally.statuses.items() if s not in (200, 412)}
            if bad:
                print(f"  unexpected statuses: {bad}")


if __name__ == "__main__":
    main()
