"""Judging twins with many steps: what one pair of 10,000-step runs costs a cycle.

Writes a directory bucket with one such pair (plus a few ordinary pairs), then runs two real
cycles through the engine (`make_engine` over `dir:`, a SQLite ledger in a temporary directory):
  1. the first cycle: scan, parse, normalize, align and judge;
  2. a second cycle with nothing changed (what every later cycle of a daemon costs).
Prints the seconds of each cycle, the peak resident memory the process reached, the steps
judged and the findings on the big pair. The issue this answers (16, item 4) measured 27 s and
857 MB per judgement for `--case different` before the alignment was bounded.

    python bench/steps.py [--steps 10000] [--case different|shuffled|same] [--max-steps N]

`--case different`: every step name differs between the twins (nothing aligns);
`shuffled`: the same names in a shuffled order (the alignment has the most to do);
`same`: identical pipelines. `--max-steps` sets `max_steps_per_run` (default: shadow's own).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from shadow.bootstrap import make_engine
from shadow.config import load_settings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _status(run_id: str, steps: int) -> dict[str, object]:
    return {
        "run_id": run_id,
        "agent_slug": "generator",
        "status": "completed",
        "trigger": "event",
        "started_at": "2026-03-01T10:00:00Z",
        "finished_at": "2026-03-01T10:30:00Z",
        "steps_total": steps,
        "steps_completed": steps,
        "proposals_created": [],
        "error": None,
    }


def _write_run(root: Path, run_dir: str, run_id: str, names: list[str]) -> None:
    base = root / "runs" / run_dir
    (base / "steps").mkdir(parents=True)
    (base / "status.json").write_text(json.dumps(_status(run_id, len(names))))
    for i, name in enumerate(names, 1):
        step = {"step_number": i, "step_name": name, "status": "completed", "duration_ms": 100}
        (base / "steps" / f"{i}-{name}.json").write_text(json.dumps(step))


def write_bucket(root: Path, steps: int, case: str) -> None:
    primary = [f"step-{i}" for i in range(steps)]
    if case == "different":
        candidate = [f"other-{i}" for i in range(steps)]
    elif case == "shuffled":
        candidate = primary[:]
        random.Random(16).shuffle(candidate)
    else:
        candidate = primary[:]
    _write_run(root, "big", "big", primary)
    _write_run(root, "big-dryrun", "big", candidate)
    for n in range(5):
        pipeline = ["load-context", "execute-agent", "persist-results", "finalize"]
        _write_run(root, f"small-{n}", f"small-{n}", pipeline)
        _write_run(root, f"small-{n}-dryrun", f"small-{n}", pipeline)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--case", choices=["different", "shuffled", "same"], default="different")
    ap.add_argument("--max-steps", type=int, default=None, help="max_steps_per_run to set")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "bucket")
        write_bucket(root, args.steps, args.case)
        extra = {} if args.max_steps is None else {"max_steps_per_run": args.max_steps}
        settings = load_settings(source=f"dir:{root}", db=str(Path(tmp, "ledger.db")), **extra)
        engine = make_engine(settings)
        at = NOW.timestamp()
        before = _rss_mb()
        print(f"{args.steps:,} steps per twin, case {args.case}, settings {extra or 'default'}")
        for n in (1, 2):
            t0 = time.perf_counter()
            summary = asyncio.run(engine.run_cycle(at))
            took = time.perf_counter() - t0
            judgement = summary.judgement
            assert judgement is not None
            big = next(r for r in judgement.results if r.key == "big")
            print(
                f"cycle {n}: {took:7.2f} s   peak RSS {_rss_mb():7.1f} MB "
                f"(+{_rss_mb() - before:.1f} MB over the bucket written)   "
                f"big pair: {big.outcome.value}, {len(big.findings)} findings, "
                f"{summary.scan.fetched} objects fetched"
            )
        engine.ledger.close()


if __name__ == "__main__":
    main()
