"""Cold backfill from a real S3 server against the raw-fetch floor.

Starts SeaweedFS (`weed server -s3`, from the `bench` extra) on free ports, uploads a generated
corpus, then alternates, a few times over:
  floor:  a plain aiobotocore script: paginated list, then GET every object shadow GETs, with
          shadow's `s3.concurrency`, nothing else (bodies are read and dropped);
  shadow: a cold `run_cycle` into a fresh SQLite ledger: list, fetch, store, assemble,
          normalize, judge, report, persist (the whole first cycle of a new deployment).
Prints min/median of each and the ratio of medians, plus shadow's time split (scan = list +
fetch + store; the rest is judging). SeaweedFS, not moto, because moto's server is Python in
one process and is itself the bottleneck; SeaweedFS is a compiled server in separate processes.

    python bench/backfill.py [--pairs 10000] [--reps 3] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from seaweed import seaweed

from shadow.assemble import needs_body
from shadow.bootstrap import make_engine
from shadow.config import Settings, load_settings
from shadow.demo import write_demo

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


async def floor(endpoint: str, concurrency: int, wanted: frozenset[str]) -> tuple[float, int]:
    """List and GET the same objects shadow GETs, with the same concurrency; nothing else."""
    t0 = time.perf_counter()
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
    return time.perf_counter() - t0, got


async def shadow_cold(settings: Settings) -> tuple[float, float, int]:
    """A cold cycle into a fresh ledger: (total seconds, scan seconds, objects fetched)."""
    t0 = time.perf_counter()
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
    assert summary.scan.ok and summary.report is not None, summary.scan.error_messages
    return time.perf_counter() - t0, took[0], summary.scan.fetched


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
        floors: list[float] = []
        shadows: list[float] = []
        scans: list[float] = []
        for rep in range(args.reps):
            f, got = asyncio.run(floor(endpoint, args.concurrency, wanted))
            settings = settings_for(endpoint, Path(tmp) / f"s{rep}.db", args.concurrency)
            s, scan, fetched = asyncio.run(shadow_cold(settings))
            floors.append(f)
            shadows.append(s)
            scans.append(scan)
            print(
                f"rep {rep + 1}: floor {f:6.1f}s ({len(wanted)} GETs, {got / 1e6:.0f} MB)  "
                f"shadow {s:6.1f}s (scan {scan:.1f}s, {fetched} GETs)  ratio {s / f:.2f}"
            )
        fm, sm, cm = (statistics.median(x) for x in (floors, shadows, scans))
        print(f"floor  min {min(floors):6.1f}s  median {fm:6.1f}s  ({len(wanted) / fm:,.0f} GET/s)")
        print(f"shadow min {min(shadows):6.1f}s  median {sm:6.1f}s  (scan part median {cm:.1f}s)")
        print(f"ratio shadow/floor (medians): {sm / fm:.2f}  scan only: {cm / fm:.2f}")


if __name__ == "__main__":
    main()
