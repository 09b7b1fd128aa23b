"""Resident memory per tracked run: what the daemon holds between cycles, at N runs.

For each N: builds a directory corpus of N/2 pairs and its SQLite ledger once (a cold scan, in a
child process), then measures in a fresh child process what a running daemon holds: the engine
after two cycles over that ledger (the run cache, the grouped pairs, the last judgement and
report). RSS after the cycles minus RSS before them (after imports and opening the ledger),
divided by N. The directory source stands in for S3: the retained state does not depend on
where the bytes came from. Run with --trace to see the largest allocation sites.

With --cold, the measured process is the one that scanned the corpus into an empty ledger
(a cold start: every run normalized from its objects), then ran the other cycles.

    python bench/memory.py [--runs 10000 100000] [--workdir DIR] [--trace] [--cold]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def rss_bytes() -> int:
    """Current resident set size (not the peak), from /proc."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def prepare(work: Path, runs: int) -> tuple[Path, Path]:
    """The corpus and a ledger that has scanned it, kept in `work` for reuse."""
    from shadow.bootstrap import make_engine
    from shadow.config import load_settings
    from shadow.corpora.demo import write_demo

    root, db = work / f"corpus-{runs}", work / f"ledger-{runs}.db"
    if not (work / f"ready-{runs}").exists():
        pairs = runs // 2
        t0 = time.monotonic()
        write_demo(root, now=NOW, runs=pairs, days=max(16, pairs // 150), plant=False)
        engine = make_engine(load_settings(source=f"dir:{root}", db=db))
        asyncio.run(engine.run_cycle(NOW.timestamp()))
        engine.ledger.close()
        (work / f"ready-{runs}").touch()
        print(f"  prepared {runs} runs in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    return root, db


def measure(
    root: Path, db: Path, trace: bool, cycles: int = 2, cold: bool = False
) -> dict[str, float]:
    from shadow.bootstrap import make_engine
    from shadow.config import load_settings
    from shadow.malloc import pin_mmap_threshold

    pin_mmap_threshold()  # as the shadow command does when it starts
    if cold:  # this process scans the corpus into an empty ledger and normalizes every run
        db = db.with_name(f"cold-{db.name}")
        for leftover in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            leftover.unlink(missing_ok=True)
    engine = make_engine(load_settings(source=f"dir:{root}", db=db))
    engine.ledger.known_etags()  # warm SQLite's page cache and the connection: not per run
    gc.collect()
    if trace:
        import tracemalloc

        tracemalloc.start(int(os.environ.get("TRACE_DEPTH", "1")))
    base = rss_bytes()
    # A restart (restores runs from the ledger), then steady cycles: each one's listing and
    # judgement are transient, and their churn settles into the heap over the first cycles.
    for _ in range(cycles):
        summary = asyncio.run(engine.run_cycle(NOW.timestamp()))
    del summary
    gc.collect()
    held = rss_bytes() - base
    j = engine.last_judgement
    assert j is not None
    n = sum((p.primary is not None) + (p.candidate is not None) for p in j.pairs.values())
    if trace:
        snap = tracemalloc.take_snapshot()
        total = sum(s.size for s in snap.statistics("filename"))
        print(f"  tracemalloc: {total / n:,.0f} bytes per run in Python objects", file=sys.stderr)
        for stat in snap.statistics("lineno")[:15]:
            print(f"    {stat.size / n:8,.0f} B/run  {stat.traceback}", file=sys.stderr)
    return {"runs": n, "held": held}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--workdir", type=Path, default=None, help="keep corpora here between runs")
    ap.add_argument("--trace", action="store_true")
    ap.add_argument("--cycles", type=int, default=2, help="cycles before measuring (>= 1)")
    ap.add_argument(
        "--cold",
        action="store_true",
        help="measure the process that did the cold scan (every run normalized from objects)",
    )
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(
            json.dumps(
                measure(
                    Path(args.child[0]), Path(args.child[1]), args.trace, args.cycles, args.cold
                )
            )
        )
        return
    if args.prepare:
        root, db = prepare(args.workdir, args.prepare)
        print(json.dumps([str(root), str(db)]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        me = [sys.executable, __file__, "--workdir", str(work)]
        for runs in args.runs:
            out = subprocess.run(
                [*me, "--prepare", str(runs)], check=True, stdout=subprocess.PIPE, text=True
            )
            root, db = json.loads(out.stdout)
            child = [*me, "--cycles", str(args.cycles), "--child", root, db]
            if args.cold:
                child.insert(-3, "--cold")
            res = json.loads(
                subprocess.run(child, check=True, stdout=subprocess.PIPE, text=True).stdout
            )
            if args.trace:  # apart: tracemalloc's own records would inflate the RSS figure
                subprocess.run([*child, "--trace"], check=True, stdout=subprocess.DEVNULL)
            what = "cold start + " if args.cold else ""
            print(
                f"{res['runs']:>7,.0f} runs, {what}{args.cycles} cycles: {res['held'] / 2**20:7.1f} MiB held, "
                f"{res['held'] / res['runs']:,.0f} bytes per tracked run"
            )


if __name__ == "__main__":
    main()
