"""The ledger's cost on SQLite vs PostgreSQL: cold scan, steady scan and re-judge of the demo
corpus, best of a few repeats, and the PostgreSQL/SQLite ratio.

    python bench/ledger.py [--pairs 260] [--repeat 3] [--pg postgresql://USER@HOST/DB]

Without --pg a throwaway local server is started from initdb/postgres (as the tests do), on
loopback TCP, so the figure includes a real network round trip per statement.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from shadow.bootstrap import make_engine
from shadow.config import load_settings
from shadow.corpora.demo import write_demo

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def measure(root: Path, db: Callable[[], str]) -> dict[str, float]:
    """One fresh ledger: cold scan, steady scan, then a restarted process re-judging it."""
    settings = load_settings(source=f"dir:{root}", db=db())
    engine = make_engine(settings)
    t0 = time.perf_counter()
    asyncio.run(engine.run_cycle(NOW.timestamp()))
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    asyncio.run(engine.run_cycle(NOW.timestamp()))
    steady = time.perf_counter() - t0
    engine.ledger.close()
    fresh = make_engine(settings, with_source=False)
    t0 = time.perf_counter()
    j, report = fresh.judge(NOW.timestamp())
    fresh.persist(j, report, NOW.timestamp())
    rejudge = time.perf_counter() - t0
    fresh.ledger.close()
    return {"cold scan": cold, "steady scan": steady, "re-judge": rejudge}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=260)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pg", help="an existing empty database (default: start a local server)")
    args = ap.parse_args()
    server = None
    if args.pg is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.pgserver import PgServer

        server = PgServer()
        server.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            corpus = write_demo(Path(tmp) / "b", now=NOW, runs=args.pairs)
            objects = sum(1 for p in corpus.root.rglob("*") if p.is_file())
            print(f"demo corpus: {args.pairs} primary runs, {objects} objects")
            counter = iter(range(1000))

            def sqlite_db() -> str:
                return str(Path(tmp) / f"s{next(counter)}.db")

            def pg_db() -> str:
                return server.create_database() if server is not None else args.pg

            best: dict[str, dict[str, float]] = {}
            for name, db in (("sqlite", sqlite_db), ("postgres", pg_db)):
                # a given database cannot be emptied between repeats: it is measured once
                times = 1 if name == "postgres" and args.pg is not None else args.repeat
                runs = [measure(corpus.root, db) for _ in range(times)]
                best[name] = {k: min(r[k] for r in runs) for k in runs[0]}
            print(f"{'phase':<12} {'sqlite':>9} {'postgres':>9} {'ratio':>6}")
            for phase in best["sqlite"]:
                lite, pg = best["sqlite"][phase], best["postgres"][phase]
                print(f"{phase:<12} {lite:>8.3f}s {pg:>8.3f}s {pg / lite:>5.2f}x")
    finally:
        if server is not None:
            server.destroy()


if __name__ == "__main__":
    main()
