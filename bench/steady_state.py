"""A cycle's cost at steady state on a real S3 server (SeaweedFS), with 1% of the runs active.

Phases, one run:
  cold:       the first cycle (a full listing; every object fetched), or with --fast-ledger a
              ledger prepared from the same files through the directory source, its ETags set
              to the S3 ones (MD5 of single-part uploads): what the cold cycle would leave;
  steady:     --cycles cycles, before each of which every active run writes its status.json
              again (still running): requests by kind, listed objects, seconds, of which judging;
  reconcile:  one cycle with the full listing due;
  events:     a real nats-server (JetStream) and shadow's consumer; a writer rewrites objects at
              --events-rate per second and publishes each write as MinIO's NATS target would
              (MinIO itself does not run here); object written -> pair judged p50/p95, with a
              steady cycle every --cycle-every seconds contending for the cycle lock.
Target (issue 19): steady cycle LIST <= run directories / 1000 + active runs, no GET of a
settled run, <= 5 s at 100k pairs; p95 written -> judged <= 2 s at 10 events/s.

    python bench/steady_state.py [--pairs 10000] [--active 0.01] [--fast-ledger | --sparse]
                                 [--no-events]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from prometheus_client import CollectorRegistry
from seaweed import seaweed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.natsserver

from shadow.bootstrap import make_engine
from shadow.collectors.events import JetStreamEvents
from shadow.collectors.s3 import S3Source
from shadow.config import Settings, load_settings
from shadow.corpora.demo import write_demo
from shadow.engine import Engine
from shadow.serve.daemon import build_service
from tests.natsserver import NatsServer, minio_message, publish

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY, SECRET, BUCKET = "AKIABENCH", "bench-secret", "runs"
_n = iter(range(10**9))


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            max_pool_connections=32,
        ),
    )


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def activate(root: Path, pairs: list[str], suffix: str = "-dryrun") -> list[str]:
    """Make these pairs running on both sides; their status.json keys."""
    keys = []
    for run_id in pairs:
        for d in (run_id, run_id + suffix):
            path = root / "runs" / d / "status.json"
            doc = json.loads(path.read_text())
            doc["status"], doc["finished_at"] = "running", None
            path.write_text(json.dumps(doc))
            keys.append(f"runs/{d}/status.json")
    return keys


def progress(s3: Any, key: str) -> None:
    """An active run writes its status again (still running): a new ETag."""
    doc = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    doc["_orchestrator_meta"] = {"heartbeat": next(_n)}
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(doc).encode())


def settings_for(endpoint: str, db: Path, **extra: Any) -> Settings:
    return load_settings(
        source=f"s3://{BUCKET}/",
        db=db,
        settle_seconds=0,  # uploaded a minute ago: settle terminal runs at once
        s3={
            "endpoint_url": endpoint,
            "access_key_id": KEY,
            "secret_access_key": SECRET,
            "versioned": "off",
        },
        **extra,
    )


def fast_ledger(root: Path, db: Path, s3: Any) -> None:
    """The ledger a cold S3 cycle would leave, built from the files (no 1.45M GETs), with the
    ETags the bucket lists for its keys."""
    engine = make_engine(load_settings(source=f"dir:{root}", db=db, settle_seconds=0))
    asyncio.run(engine.run_cycle(NOW.timestamp()))
    ledger = engine.ledger
    etags = [
        (str(o["ETag"]).strip('"'), o["Key"])
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for o in page.get("Contents", [])
    ]
    ledger._write("UPDATE objects SET etag=? WHERE key=?", etags)
    ledger.close()


def counts(source: S3Source) -> str:
    r = source.requests
    return f"LIST {r['ListObjectsV2']:>5}  GET {r['GetObject']:>6}  HEAD {r['HeadObject']:>4}"


async def cycle(engine: Engine, label: str) -> float:
    source = engine.source
    assert isinstance(source, S3Source)
    source.requests.clear()
    t0 = time.monotonic()
    summary = await engine.run_cycle(NOW.timestamp())
    took = time.monotonic() - t0
    s = summary.scan
    print(
        f"{label:<22} {counts(source)}  listed {s.listed:>7}  dirs {s.dirs_listed:>6} "
        f"(skipped {s.dirs_skipped:>6})  fetched {s.fetched:>5}  {took:6.2f}s "
        f"(scan {s.seconds:5.2f}s)  load {load()}",
        flush=True,
    )
    return took


async def steady(
    engine: Engine, s3: Any, active: list[str], cycles: int, reconcile: bool = True
) -> None:
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(16) as pool:
        for i in range(cycles):
            await asyncio.gather(*(loop.run_in_executor(pool, progress, s3, k) for k in active))
            await cycle(engine, f"steady {i + 1}")
    if reconcile:
        engine.ledger.set_meta("reconciled_at", "0")
        await cycle(engine, "reconcile")


def writer(endpoint: str, url: str, keys: list[str], rate: float, seconds: float, out: str) -> None:
    """MinIO's part, in its own process: rewrite objects at `rate` per second and publish each
    write as MinIO's NATS target would; log (key, wall time written) to `out`."""

    async def go() -> None:
        import nats

        s3 = s3_client(endpoint)
        nc = await nats.connect(url, connect_timeout=10)
        js = nc.jetstream()
        rng = random.Random(7)
        start = time.monotonic()
        with open(out, "w") as log:
            for i in range(int(rate * seconds)):
                key = rng.choice(keys)
                await asyncio.to_thread(progress, s3, key)
                written = time.time()
                await js.publish("minio.events", minio_message(BUCKET, key))
                log.write(f"{key} {written}\n")
                log.flush()
                await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
        await nc.close()

    asyncio.run(go())


async def events(
    settings: Settings,
    endpoint: str,
    keys: list[str],
    rate: float,
    seconds: float,
    cycle_every: float,
    tmp: Path,
) -> None:
    """Object written -> pair judged, with a real consumer and a writer in another process."""
    svc = build_service(settings, CollectorRegistry())
    judged: dict[str, list[float]] = {}

    async def handle(batch: Any) -> None:
        await svc.apply_events(batch)
        done = time.time()
        for e in batch:
            judged.setdefault(e.key, []).append(done)

    await svc.cycle(NOW.timestamp())
    await publish(settings.nats.url or "", [])  # the stream exists before the consumer binds
    consumer = JetStreamEvents(svc.settings.nats, handle, mine=svc.engine.scanner.mine)
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(consumer.connected.wait(), 30)
    source = svc.engine.source
    assert isinstance(source, S3Source)
    source.requests.clear()

    async def cycles() -> None:
        while True:
            await asyncio.sleep(cycle_every)
            t0 = time.monotonic()
            await svc.cycle(NOW.timestamp())
            print(f"  cycle during events: {time.monotonic() - t0:.2f}s", flush=True)

    cycler = asyncio.create_task(cycles())
    log = tmp / "written.log"
    proc = multiprocessing.get_context("spawn").Process(
        target=writer, args=(endpoint, settings.nats.url or "", keys, rate, seconds, str(log))
    )
    proc.start()
    while proc.is_alive():
        await asyncio.sleep(0.2)
    writes = [(k, float(t)) for k, t in (line.split() for line in log.read_text().splitlines())]

    def latency(key: str, at: float) -> float:
        return min((d for d in judged.get(key, []) if d >= at), default=float("inf")) - at

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(latency(k, t) == float("inf") for k, t in writes):
        await asyncio.sleep(0.2)
    cycler.cancel()
    task.cancel()
    await asyncio.gather(cycler, task, return_exceptions=True)
    lat = sorted(latency(k, t) for k, t in writes)
    late = sum(1 for x in lat if x == float("inf"))
    q = statistics.quantiles(lat, n=20)
    r = source.requests
    n = len(writes)
    print(
        f"events: {n} writes at {rate}/s (asked) over {seconds:.0f}s, {late} not judged within "
        f"60 s; written -> judged p50 {statistics.median(lat):.2f}s p95 {q[18]:.2f}s "
        f"max {lat[-1]:.2f}s; requests per event: HEAD {r['HeadObject'] / max(1, n):.2f} "
        f"GET {r['GetObject'] / max(1, n):.2f} (the cycles' LIST {r['ListObjectsV2']}); "
        f"load {load()}",
        flush=True,
    )
    await svc.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=10_000)
    ap.add_argument("--active", type=float, default=0.01, help="share of runs running")
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--fast-ledger", action="store_true")
    ap.add_argument(
        "--sparse",
        action="store_true",
        help="upload only each settled run's status.json (a steady cycle lists no more of "
        "them); implies --fast-ledger, skips the reconcile",
    )
    ap.add_argument("--no-events", action="store_true")
    ap.add_argument("--events-rate", type=float, default=10.0)
    ap.add_argument("--events-seconds", type=float, default=30.0)
    ap.add_argument("--cycle-every", type=float, default=10.0)
    args = ap.parse_args()
    print(f"nproc {os.cpu_count()}, load {load()}", flush=True)
    with seaweed() as endpoint, tempfile.TemporaryDirectory() as tmp:
        print(f"SeaweedFS at {endpoint}", flush=True)
        t0 = time.monotonic()
        corpus = write_demo(
            Path(tmp) / "b", now=NOW, runs=args.pairs, days=max(16, args.pairs // 150), plant=False
        )
        root = corpus.root
        primaries = sorted(
            p.name
            for p in (root / "runs").iterdir()
            if not p.name.endswith("-dryrun") and (root / "runs" / f"{p.name}-dryrun").is_dir()
        )
        step = max(1, round(1 / args.active))
        active = activate(root, primaries[::step])
        files = [p for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".shadow-demo"]
        if args.sparse:  # settled runs: their status.json only (what a delimiter listing sees)
            live = {str(Path(k).parent) for k in active}
            files = [
                p
                for p in files
                if p.name == "status.json" or str(p.parent.relative_to(root)) in live
            ]
        print(
            f"corpus: {args.pairs} pairs, {len(files)} objects, {len(active)} active runs "
            f"({time.monotonic() - t0:.0f}s)",
            flush=True,
        )
        s3 = s3_client(endpoint)
        s3.create_bucket(Bucket=BUCKET)
        t0 = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            list(
                pool.map(
                    lambda p: s3.put_object(
                        Bucket=BUCKET, Key=p.relative_to(root).as_posix(), Body=p.read_bytes()
                    ),
                    files,
                )
            )
        print(f"uploaded in {time.monotonic() - t0:.0f}s", flush=True)
        db = Path(tmp) / "s.db"
        if args.fast_ledger or args.sparse:
            t0 = time.monotonic()
            fast_ledger(root, db, s3)
            print(f"ledger prepared from the files in {time.monotonic() - t0:.0f}s", flush=True)
        nats = NatsServer() if not args.no_events else None
        if nats is not None:
            nats.start()
        try:
            extra = {"nats": {"url": nats.url}} if nats is not None else {}
            settings = settings_for(endpoint, db, **extra)

            async def go() -> None:
                engine = make_engine(settings)
                cold = not (args.fast_ledger or args.sparse)
                await cycle(engine, "first (cold)" if cold else "first")
                await steady(engine, s3, active, args.cycles, reconcile=not args.sparse)
                assert engine.source is not None
                await engine.source.close()
                engine.ledger.close()
                if nats is not None:
                    await events(
                        settings,
                        endpoint,
                        active,
                        args.events_rate,
                        args.events_seconds,
                        args.cycle_every,
                        Path(tmp),
                    )

            asyncio.run(go())
        finally:
            if nats is not None:
                nats.destroy()


if __name__ == "__main__":
    main()
