"""Cold backfill from a real S3 server against the raw-fetch floor.

Starts SeaweedFS (`weed server -s3`, from the `bench` extra) on free ports, uploads a generated
corpus, then alternates, a few times over:
  floor:  a plain aiobotocore script: paginated list, then GET every object shadow GETs, with
          shadow's `s3.concurrency`, nothing else (bodies are read and dropped);
  client: the same list + GETs through shadow's own S3Source (its client config: standard
          retries, timeouts, request counting), nothing else: separates what the client
          config costs from what shadow's own work costs;
  shadow: a cold `run_cycle` into a fresh SQLite ledger: list, fetch, store, assemble,
          normalize, judge, report, persist (the whole first cycle of a new deployment).
Prints min/median of each and the ratio of medians, shadow's time split (scan = list +
fetch + store; the rest is judging), and this process's CPU seconds for each, since on two
cores the client's CPU, not the server, is what bounds the floor. SeaweedFS, not moto, because moto's server is Python in
one process and is itself the bottleneck; SeaweedFS is a compiled server in separate processes.

    python bench/backfill.py [--pairs 10000] [--reps 3] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from seaweed import seaweed

from shadow.bootstrap import make_engine
from shadow.collectors.s3 import S3Source
from shadow.config import Settings, load_settings
from shadow.core.assemble import needs_body
from shadow.corpora.demo import write_demo

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY, SECRET, BUCKET = "AKIABENCH", "bench-secret", "runs"


def client(endpoint: str, pool: int) -> Any:
    return get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        config=AioConfig(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=pool,
        ),
    )


async def upload(endpoint: str, root: Path, concurrency: int = 64) -> int:
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".shadow-demo"]
    sem = asyncio.Semaphore(concurrency)
    async with client(endpoint, concurrency) as s3:
        await s3.create_bucket(Bucket=BUCKET)

        async def put(p: Path) -> None:
            async with sem:
                key = p.relative_to(root).as_posix()
                await s3.put_object(Bucket=BUCKET, Key=key, Body=p.read_bytes())

        await asyncio.gather(*(put(p) for p in files))
    return len(files)


Timing = tuple[float, float]  # (wall seconds, this process's CPU seconds)


def clocks() -> Timing:
    return time.perf_counter(), time.process_time()


class GcClock:
    """Seconds spent in the cyclic GC, by generation (gc.callbacks), while active."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self._t = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._t

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)


def since(start: Timing) -> Timing:
    now = clocks()
    return now[0] - start[0], now[1] - start[1]


async def floor(endpoint: str, concurrency: int, wanted: frozenset[str]) -> tuple[Timing, int]:
    """List and GET the same objects shadow GETs, with the same concurrency; nothing else."""
    t0 = clocks()
    sem = asyncio.Semaphore(concurrency)
    got = 0
    # The same pool size shadow's S3 source configures (max(10, concurrency)).
    async with client(endpoint, max(10, concurrency)) as s3:

        async def get(key: str) -> None:
            nonlocal got
            async with sem:
                resp = await s3.get_object(Bucket=BUCKET, Key=key)
                async with resp["Body"] as stream:
                    got += len(await stream.read())

        keys: list[str] = []
        async for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, PaginationConfig={"PageSize": 1000}
        ):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        await asyncio.gather(*(get(k) for k in keys if k in wanted))
    return since(t0), got


async def client_only(settings: Settings, wanted: frozenset[str]) -> tuple[Timing, int]:
    """The floor's list + GETs, through shadow's S3Source and its client config."""
    t0 = clocks()
    source = S3Source.from_settings(settings)
    sem = asyncio.Semaphore(settings.s3.concurrency)
    got = 0

    async def get(key: str) -> None:
        nonlocal got
        async with sem:
            got += len(await source.fetch(key))

    try:
        keys = [o.key async for o in source.list_objects("")]
        await asyncio.gather(*(get(k) for k in keys if k in wanted))
    finally:
        await source.close()
    return since(t0), got


async def shadow_cold(settings: Settings) -> tuple[Timing, float, int]:
    """A cold cycle into a fresh ledger: (total, scan wall seconds, objects fetched)."""
    t0 = clocks()
    engine = make_engine(settings)
    scan = engine.scan
    took: list[float] = []

    async def timed_scan(now: float) -> Any:
        s0 = time.perf_counter()
        stats = await scan(now)
        took.append(time.perf_counter() - s0)
        return stats

    engine.scan = timed_scan  # type: ignore[method-assign]
    try:
        summary = await engine.run_cycle(NOW.timestamp())
    finally:
        await engine.source.close()  # type: ignore[union-attr]
        engine.ledger.close()
    assert summary.scan.ok and summary.head is not None, summary.scan.error_messages
    return since(t0), took[0], summary.scan.fetched


def settings_for(endpoint: str, db: Path, concurrency: int) -> Settings:
    return load_settings(
        source=f"s3://{BUCKET}/",
        db=db,
        s3={
            "endpoint_url": endpoint,
            "access_key_id": KEY,
            "secret_access_key": SECRET,
            "versioned": "off",
            "concurrency": concurrency,
        },
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=16, help="shadow's s3.concurrency")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, seaweed() as endpoint:
        corpus = write_demo(
            Path(tmp) / "b", now=NOW, runs=args.pairs, days=max(16, args.pairs // 150), plant=False
        )
        t0 = time.perf_counter()
        n = asyncio.run(upload(endpoint, corpus.root))
        print(
            f"SeaweedFS at {endpoint}: uploaded {n} objects ({corpus.pairs} pairs) "
            f"in {time.perf_counter() - t0:.0f}s"
        )
        probe = make_engine(settings_for(endpoint, Path(tmp) / "probe.db", args.concurrency))
        layout = probe.opts.layout
        probe.ledger.close()
        wanted = frozenset(
            p.relative_to(corpus.root).as_posix()
            for p in corpus.root.rglob("*")
            if p.is_file()
            and (parsed := layout.parse(p.relative_to(corpus.root).as_posix())) is not None
            and needs_body(parsed.kind)
        )
        floors: list[Timing] = []
        clients: list[Timing] = []
        shadows: list[Timing] = []
        scans: list[float] = []
        for rep in range(args.reps):
            f, got = asyncio.run(floor(endpoint, args.concurrency, wanted))
            settings = settings_for(endpoint, Path(tmp) / f"s{rep}.db", args.concurrency)
            c, _ = asyncio.run(client_only(settings, wanted))
            with GcClock() as gc_clock:
                s, scan, fetched = asyncio.run(shadow_cold(settings))
            floors.append(f)
            clients.append(c)
            shadows.append(s)
            scans.append(scan)
            print(
                f"rep {rep + 1}: floor {f[0]:6.1f}s ({len(wanted)} GETs, {got / 1e6:.0f} MB)  "
                f"client {c[0]:6.1f}s  shadow {s[0]:6.1f}s (scan {scan:.1f}s, {fetched} GETs)  "
                f"ratio {s[0] / f[0]:.2f}  (shadow's GC by generation: "
                + ", ".join(f"{x:.1f}s" for x in gc_clock.seconds)
                + ")"
            )
        for name, runs in (("floor", floors), ("client", clients), ("shadow", shadows)):
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            print(
                f"{name:6} wall min {min(r[0] for r in runs):6.1f}s median {wall:6.1f}s  "
                f"CPU median {cpu:6.1f}s ({len(wanted) / wall:,.0f} GET/s)"
            )
        fm, cm, sm = (statistics.median(r[0] for r in x) for x in (floors, clients, shadows))
        print(
            f"ratio (medians) shadow/floor {sm / fm:.2f}  client/floor {cm / fm:.2f}  "
            f"shadow/client {sm / cm:.2f}  scan part/floor {statistics.median(scans) / fm:.2f}"
        )


if __name__ == "__main__":
    main()
