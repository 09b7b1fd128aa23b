"""A steady cycle's judging share on the directory source, 1% of the runs active.

Prepares once (kept in --workdir): a demo corpus of --pairs pairs, every 100th pair running on
both sides, and the ledger of its cold scan. Each measurement copies the ledger, and a fresh
process (a restart: the stored runs are restored) runs a first cycle and --cycles steady ones,
before each of which every active run rewrites its status.json (still running). Per cycle it
prints the seconds of the whole cycle and of its parts: the scan, the run cache (normalizing
what changed and grouping), judging, the report's head and storing the results. S3 requests
are `bench/steady_state.py`'s business; this isolates what a cycle does besides them.

    python bench/steady_dir.py [--pairs 10000] [--cycles 3] [--workdir DIR] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shadow.engine as engine_module
from shadow.bootstrap import make_engine
from shadow.config import load_settings
from shadow.corpora.demo import write_demo

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def prepare(work: Path, pairs: int) -> None:
    """The corpus with its active runs, and the ledger a cold scan of it leaves."""
    corpus = write_demo(work / "b", now=NOW, runs=pairs, days=max(16, pairs // 150), plant=False)
    runs = corpus.root / "runs"
    primaries = sorted(
        p.name
        for p in runs.iterdir()
        if not p.name.endswith("-dryrun") and (runs / f"{p.name}-dryrun").is_dir()
    )
    keys = []
    for run_id in primaries[::100]:
        for d in (run_id, f"{run_id}-dryrun"):
            path = runs / d / "status.json"
            doc = json.loads(path.read_text())
            doc["status"], doc["finished_at"] = "running", None
            path.write_text(json.dumps(doc))
            keys.append(str(path))
    (work / "active.json").write_text(json.dumps(keys))
    settings = load_settings(source=f"dir:{corpus.root}", db=work / "s.db", settle_seconds=0)
    engine = make_engine(settings)
    asyncio.run(engine.run_cycle(NOW.timestamp()))
    engine.ledger.close()


def timed(spent: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0

    return wrapper


def measure(work: Path, cycles: int, profile: str | None) -> None:
    spent: dict[str, float] = {}
    e = engine_module
    e.Engine.normalized_runs = timed(spent, "runs", e.Engine.normalized_runs)  # type: ignore[method-assign]
    e.judge = timed(spent, "judge", e.judge)  # type: ignore[assignment]
    e.build_report = timed(spent, "report", e.build_report)  # type: ignore[assignment]
    e.Engine.persist = timed(spent, "store", e.Engine.persist)  # type: ignore[method-assign]
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:  # the judging half runs in a worker thread: profile it there
        inner = e.Engine._judge_and_persist

        def profiled(self: e.Engine, *args: Any) -> Any:
            return profiler.runcall(inner, self, *args) if spent.get("last") else inner(self, *args)

        e.Engine._judge_and_persist = profiled  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        shutil.copy(work / "s.db", Path(tmp) / "s.db")
        settings = load_settings(
            source=f"dir:{work / 'b'}", db=Path(tmp) / "s.db", settle_seconds=0
        )
        engine = make_engine(settings)
        keys = [Path(k) for k in json.loads((work / "active.json").read_text())]
        beat = iter(range(10**9))

        async def go() -> None:
            for i in range(cycles + 1):
                for path in keys:  # every active run writes its status again, still running
                    doc = json.loads(path.read_text())
                    doc["_orchestrator_meta"] = {"heartbeat": next(beat)}
                    path.write_text(json.dumps(doc))
                spent.clear()
                spent["last"] = float(i == cycles and profiler is not None)
                t0 = time.perf_counter()
                summary = await engine.run_cycle(NOW.timestamp())
                took = time.perf_counter() - t0
                parts = "  ".join(
                    f"{k} {spent.get(k, 0.0):5.2f}" for k in ("runs", "judge", "report", "store")
                )
                judging = sum(spent.get(k, 0.0) for k in ("runs", "judge", "report", "store"))
                print(
                    f"{'first' if i == 0 else 'steady'} {took:6.2f}s  scan "
                    f"{summary.scan.seconds:5.2f}  {parts}  (judging {judging:5.2f}s)  fetched "
                    f"{summary.scan.fetched}  load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )

        asyncio.run(go())
        engine.ledger.close()
    if profiler is not None and profile:
        profiler.dump_stats(profile)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=10_000)
    ap.add_argument("--cycles", type=int, default=3)
    ap.add_argument("--workdir", type=Path, help="keep the corpus and its ledger here")
    ap.add_argument("--profile", help="cProfile the last cycle's judging into this file")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="steady-dir-"))
    work = work / f"p{args.pairs}"
    if not (work / "active.json").exists():
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        prepare(work, args.pairs)
        print(f"prepared {args.pairs} pairs in {time.monotonic() - t0:.0f}s", flush=True)
    print(f"nproc {os.cpu_count()}, {args.pairs} pairs, 1% active", flush=True)
    measure(work, args.cycles, args.profile)


if __name__ == "__main__":
    main()
