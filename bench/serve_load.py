"""`shadow serve` under concurrent clients while it scans: requests/s for `/readiness` and for a
runs page during cycles, and how much the load stretches a cycle.

A real `shadow serve` process (uvicorn on a free port) follows a demo bucket on the directory
source, scanned once beforehand so every cycle is a steady one (list, judge every pair, store the
judgement). Cycles run back to back (a short scan interval); each cycle's start and end are read
from the ledger's `scans` table, which the server writes. Phases, each `--seconds` long: idle, then
clients on `/readiness`, on the console's runs page (`/ui/runs?page=N`, with the login cookie) and
on the API's runs page (`/report?limit=50&offset=N`), then idle again. Only responses that
completed while a cycle was running count towards "during a cycle".

The clients are a minimal HTTP/1.1 keep-alive client on asyncio streams in this process: on two
cores an httpx client would spend more CPU than the server it measures. Ratios are measured in one
run; the machine may be shared, so the load average is printed with the figures.

    python bench/serve_load.py [--pairs 5000] [--clients 20] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from shadow.corpora.demo import write_demo

TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Tally:
    done: list[tuple[float, float]] = field(default_factory=list)  # (completed at, latency s)
    statuses: dict[int, int] = field(default_factory=dict)


async def _client(
    port: int, paths: itertools.cycle[str], headers: bytes, until: float, tally: Tally
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.time() < until:
            request = f"GET {next(paths)} HTTP/1.1\r\nHost: bench\r\n".encode() + headers + b"\r\n"
            t0 = time.time()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            t1 = time.time()
            tally.done.append((t1, t1 - t0))
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _load(port: int, paths: list[str], headers: bytes, clients: int, seconds: float) -> Tally:
    tally = Tally()
    until = time.time() + seconds
    cycle = itertools.cycle(paths)
    await asyncio.gather(*(_client(port, cycle, headers, until, tally) for _ in range(clients)))
    return tally


def cycles(db: Path, start: float, end: float) -> list[tuple[float, float]]:
    """Cycles the server recorded that started and finished inside [start, end]."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT started, finished FROM scans WHERE started >= ? AND finished <= ? AND ok = 1",
            (start, end),
        ).fetchall()
    return [(float(a), float(b)) for a, b in rows]


def during(tally: Tally, spans: list[tuple[float, float]]) -> tuple[float, list[float]]:
    """Requests per second completed while a cycle ran, and their latencies."""
    inside = [lat for at, lat in tally.done if any(a <= at <= b for a, b in spans)]
    busy = sum(b - a for a, b in spans)
    return (len(inside) / busy if busy else 0.0), inside


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--interval", type=float, default=0.5, help="scan interval (back to back)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        corpus = write_demo(Path(tmp) / "b", now=datetime.now(UTC), runs=args.pairs, days=30)
        db = Path(tmp) / "s.db"
        print(f"wrote {args.pairs} primary runs in {time.monotonic() - t0:.0f}s; cold scan ...")
        shadow = [sys.executable, "-m", "shadow.cli"]
        source = ["--source", f"dir:{corpus.root}", "--db", str(db)]
        subprocess.run([*shadow, "scan", "--once", *source], check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        env = {
            **os.environ,
            "SHADOW_API_TOKEN": TOKEN,
            "SHADOW_SCAN_INTERVAL_SECONDS": str(args.interval),
        }
        server = subprocess.Popen(
            [*shadow, "serve", *source, "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            run(port, db, args, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)


def run(port: int, db: Path, args: argparse.Namespace, pid: int) -> None:
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(base + "/readyz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    else:
        raise SystemExit("the server did not become ready")
    runs_total = httpx.get(
        base + "/report?limit=0", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    ).json()["runs_total"]
    pages = max(1, runs_total // 50)
    bearer = f"Authorization: Bearer {TOKEN}\r\n".encode()
    cookie = f"Cookie: shadow_token={TOKEN}\r\n".encode()
    phases: list[tuple[str, list[str], bytes]] = [
        ("idle", [], b""),
        ("/readiness", ["/readiness"], bearer),
        ("/ui/runs?page=N", [f"/ui/runs?page={p}" for p in range(1, pages + 1)], cookie),
        ("/report?limit=50", [f"/report?limit=50&offset={50 * p}" for p in range(pages)], bearer),
        ("idle again", [], b""),
    ]
    print(
        f"serving {runs_total} runs on {os.cpu_count()} cores, {args.clients} clients, "
        f"{args.seconds:.0f}s a phase; load average before: {os.getloadavg()[0]:.2f}"
    )
    idle: list[float] = []
    print(
        f"{'phase':<18}{'req/s all':>10}{'in cycles':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'cycles':>8}{'cycle s':>14}"
    )
    for name, paths, headers in phases:
        start = time.time()
        if paths:
            tally = asyncio.run(_load(port, paths, headers, args.clients, args.seconds))
        else:
            time.sleep(args.seconds)
            tally = Tally()
        spans = cycles(db, start, time.time())
        durations = [b - a for a, b in spans]
        if not paths:
            idle += durations
        rate, _ = during(tally, spans)
        shown = f"{min(durations):.2f}-{max(durations):.2f}" if durations else "none finished"
        every = [lat for _, lat in tally.done]
        figures = (
            f"{len(every) / args.seconds:>10.0f}{rate:>10.0f}"
            f"{1000 * pct(every, 0.5):>9.1f}{1000 * pct(every, 0.99):>9.1f}"
            if paths
            else f"{'':>38}"
        )
        print(f"{name:<18}{figures}{len(spans):>8}{shown:>14}")
        if paths:
            bad = {s: n for s, n in tally.statuses.items() if s not in (200, 412)}
            if bad:
                print(f"  unexpected statuses: {bad}")
            if idle and durations:
                ratio = statistics.median(durations) / statistics.median(idle)
                print(f"  median cycle {statistics.median(durations):.2f}s = {ratio:.2f}x idle")
    print(f"load average after: {os.getloadavg()[0]:.2f} (server pid {pid})")


if __name__ == "__main__":
    main()
