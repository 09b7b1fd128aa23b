"""Single-process limits on the embedded directory source: cold scan, steady scan, re-judge
from the ledger, and resident memory per tracked run.

    python bench/scale.py [--pairs 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from shadow.bootstrap import make_engine
from shadow.config import load_settings
from shadow.corpora.demo import write_demo

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=5000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        corpus = write_demo(Path(tmp) / "b", now=NOW, runs=args.pairs, days=30)
        print(f"wrote {args.pairs} pairs in {time.monotonic() - t0:.1f}s")
        settings = load_settings(source=f"dir:{corpus.root}", db=Path(tmp) / "s.db")
        engine = make_engine(settings)
        t0 = time.monotonic()
        summary = asyncio.run(engine.run_cycle(NOW.timestamp()))
        cold = time.monotonic() - t0
        t0 = time.monotonic()
        asyncio.run(engine.run_cycle(NOW.timestamp()))
        steady = time.monotonic() - t0
        print(
            f"cold scan: {summary.scan.fetched} objects in {cold:.1f}s; steady scan (no change): {steady:.2f}s"
        )
        engine.ledger.close()

        fresh = make_engine(settings)  # a restarted process: re-judges from the ledger alone
        t0 = time.monotonic()
        j, _ = fresh.judge(NOW.timestamp())
        rejudge = time.monotonic() - t0
        fresh.ledger.close()
        del j, fresh
        gc.collect()
        tracemalloc.start()  # slows allocation several times: measured apart from the timing
        fresh = make_engine(settings)
        j, _ = fresh.judge(NOW.timestamp())
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        runs = sum((p.primary is not None) + (p.candidate is not None) for p in j.pairs.values())
        print(
            f"re-judge from the ledger: {len(j.results)} pairs in {rejudge:.1f}s "
            f"({len(j.results) / rejudge:,.0f} pairs/s)"
        )
        print(
            f"memory held after re-judge (tracemalloc): {current / runs:,.0f} bytes per tracked run "
            f"({runs} runs); peak RSS {rss_mib():.0f} MiB"
        )
        fresh.ledger.close()


if __name__ == "__main__":
    main()
