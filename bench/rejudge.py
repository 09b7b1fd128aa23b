"""Re-judge from the ledger at scale: what `shadow rejudge` and a restarted daemon cost.

Writes a demo bucket of N pairs (to /dev/shm when it exists), loads its objects straight into a
fresh SQLite ledger (the scan path is measured by bench/scale.py and bench/backfill.py), then
times, in one run:
  1. the first judgement: every run assembled from its objects, normalized, stored;
  2. a re-judge in a new process under new thresholds and waivers (normalization unchanged):
     one stored row per run instead of every object;
  3. a re-judge under a config that changes normalization (excluded steps): every object again.
Prints pairs per second for each and the ratio of 3 to 2.

    python bench/rejudge.py [--pairs 100000]
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from shadow.bootstrap import make_engine
from shadow.config import load_settings
from shadow.core.objects import StoredObject
from shadow.corpora.demo import write_demo
from shadow.ledger.store import Ledger

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WAIVERS = """
[[waiver]]
id = "bench"
dimension = "timing"
kind = "run_slower"
owner = "bench@example.com"
reason = "a new waivers file, to re-judge under"
expires = 2099-01-01
"""


def load_ledger(root: Path, db: Path) -> int:
    ledger = Ledger(db)
    batch: list[StoredObject] = []
    count = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            body = path.read_bytes()
            key = path.relative_to(root).as_posix()
            st = path.stat()
            batch.append(
                StoredObject(key, f"{st.st_mtime_ns:x}", len(body), st.st_mtime, st.st_mtime, body)
            )
            if len(batch) >= 20_000:
                ledger.save_objects(batch, NOW.timestamp())
                count += len(batch)
                batch = []
    ledger.save_objects(batch, NOW.timestamp())
    ledger.close()
    return count + len(batch)


def timed_judge(label: str, pairs: int, **settings: object) -> float:
    engine = make_engine(load_settings(**settings))  # type: ignore[arg-type]
    gc.collect()
    t0 = time.perf_counter()
    j, report = engine.judge(NOW.timestamp())
    engine.persist(j, report, NOW.timestamp())
    elapsed = time.perf_counter() - t0
    engine.ledger.close()
    print(f"{label:<52} {elapsed:7.2f} s  {len(j.results) / elapsed:>9,.0f} pairs/s")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=100_000)
    args = ap.parse_args()
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        t0 = time.perf_counter()
        corpus = write_demo(
            Path(tmp) / "b", now=NOW, runs=args.pairs, days=max(16, args.pairs // 250), plant=False
        )
        db = Path(tmp) / "s.db"
        objects = load_ledger(corpus.root, db)
        print(
            f"{corpus.pairs:,} pairs, {objects:,} objects written and loaded in {time.perf_counter() - t0:.0f} s"
        )
        waivers = Path(tmp) / "waivers.toml"
        waivers.write_text(WAIVERS)
        common = {"source": f"dir:{corpus.root}", "db": db}
        timed_judge("1. first judgement (assemble + normalize + store)", corpus.pairs, **common)
        fast = timed_judge(
            "2. re-judge, new thresholds + waivers",
            corpus.pairs,
            waivers=waivers,
            thresholds={"min_pairs": 500, "timing_ratio": 1.3},
            **common,
        )
        slow = timed_judge(
            "3. re-judge, normalization changed (excluded steps)",
            corpus.pairs,
            excluded_steps=[],
            **common,
        )
        print(
            f"stored normalized runs make a re-judge {slow / fast:.1f}x faster; target: 2. < 10 s"
        )


if __name__ == "__main__":
    main()
