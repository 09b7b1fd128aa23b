"""Requests a scan issues: a cold scan, a second scan of the unchanged bucket, and a scan after
1% of the runs changed. Runs shadow's real S3 source against SeaweedFS (the `bench` extra;
see bench/seaweed.py) or, with --server moto, moto's server in its own process.

    python bench/steady_state.py [--pairs 10000] [--changed 100] [--server seaweedfs|moto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import boto3
import httpx
from botocore.config import Config
from seaweed import free_port, seaweed

from shadow.bootstrap import make_engine
from shadow.collectors.s3 import S3Source
from shadow.config import load_settings
from shadow.corpora.demo import write_demo

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY, SECRET = "AKIABENCH", "bench-secret"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=10_000)
    ap.add_argument("--changed", type=int, default=None, help="runs to change (default 1%%)")
    ap.add_argument("--server", choices=["seaweedfs", "moto"], default="seaweedfs")
    args = ap.parse_args()
    changed = args.changed if args.changed is not None else max(1, args.pairs // 100)
    if args.server == "seaweedfs":
        with seaweed() as endpoint:
            print(f"SeaweedFS at {endpoint}")
            run(endpoint, args.pairs, changed)
        return
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        run(endpoint, args.pairs, changed)
    finally:
        server.terminate()
        server.wait(timeout=10)


def run(endpoint: str, pairs: int, changed: int) -> None:
    s3 = boto3.client(
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
    s3.create_bucket(Bucket="runs")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = write_demo(
            Path(tmp) / "b", now=NOW, runs=pairs, days=max(16, pairs // 150), plant=False
        )
        files = [
            p for p in sorted(corpus.root.rglob("*")) if p.is_file() and p.name != ".shadow-demo"
        ]
        t0 = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            list(
                pool.map(
                    lambda p: s3.put_object(
                        Bucket="runs",
                        Key=p.relative_to(corpus.root).as_posix(),
                        Body=p.read_bytes(),
                    ),
                    files,
                )
            )
        print(f"uploaded {len(files)} objects ({pairs} pairs) in {time.monotonic() - t0:.0f}s")
        settings = load_settings(
            source="s3://runs/",
            db=Path(tmp) / "s.db",
            s3={
                "endpoint_url": endpoint,
                "access_key_id": KEY,
                "secret_access_key": SECRET,
                "versioned": "off",
            },
        )
        asyncio.run(scans(settings, s3, changed))


async def scans(settings: object, s3: object, changed: int) -> None:
    engine = make_engine(settings)  # type: ignore[arg-type]
    source = engine.source
    assert isinstance(source, S3Source)
    try:
        for label in ("cold scan", "second scan, unchanged", f"after {changed} runs changed"):
            if label.startswith("after"):
                keys = sorted(
                    k for k in engine.ledger.known_etags() if k.endswith("-dryrun/status.json")
                )[:changed]
                for key in keys:
                    doc = json.loads(s3.get_object(Bucket="runs", Key=key)["Body"].read())  # type: ignore[attr-defined]
                    doc["_orchestrator_meta"] = {"touched": True}
                    s3.put_object(Bucket="runs", Key=key, Body=json.dumps(doc).encode())  # type: ignore[attr-defined]
            source.requests.clear()
            t0 = time.monotonic()
            summary = await engine.run_cycle(NOW.timestamp())
            took = time.monotonic() - t0
            print(
                f"{label:<28} GET {source.requests['GetObject']:>6}  LIST {source.requests['ListObjectsV2']:>4}  "
                f"listed {summary.scan.listed:>6}  {took:6.2f}s"
            )
    finally:
        await source.close()
        engine.ledger.close()


if __name__ == "__main__":
    main()
