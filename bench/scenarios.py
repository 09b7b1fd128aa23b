"""Per migration scenario at the CLI's default size: pairs judged, planted divergences found,
and false findings on the clean variant. Prints a Markdown table (the README's figures).

    python bench/scenarios.py [--seed 7]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shadow.cli import main
from shadow.corpora.scenarios import SCENARIOS, ScenarioCorpus, write_scenario

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW_ISO = "2026-03-01T12:00:00Z"


def _judge(root: Path, name: str, plant: bool, seed: int) -> tuple[ScenarioCorpus, dict[str, Any]]:
    corpus = write_scenario(name, root / f"{name}-{plant}", now=NOW, plant=plant, seed=seed)
    args = [
        "--config",
        str(corpus.config),
        "--db",
        str(root / f"{name}-{plant}.db"),
        "--now",
        NOW_ISO,
    ]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["scan", "--once", *args]) == 0
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", "--json", *args]) == 0
    return corpus, json.loads(out.getvalue())


def _found(corpus: ScenarioCorpus, report: dict[str, Any]) -> int:
    runs = {
        r["run_id"]: {(f["dimension"], f["kind"]) for f in r["findings"]} for r in report["runs"]
    }
    hits = sum(
        (p.dimension.value, p.kind.value) in runs.get(p.run_id, set()) for p in corpus.planted
    )
    missed = {(m["subject"], m["kind"]) for m in report["missed_schedules"]}
    failing = {s["agent_slug"]: s["failing"] for s in report["readiness"]["strata"]}
    for sp in corpus.stratum_plants:
        if sp.side is not None:
            hits += (sp.stratum, sp.kind.value) in missed
        else:
            hits += sp.dimension.value in failing.get(sp.stratum, [])
    return hits


def main_() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=7)
    seed = parser.parse_args().seed
    print(
        "| scenario | primary runs | pairs judged | planted found | verdict | clean: pairs | clean: errors / warnings / rejected | clean verdict |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in SCENARIOS:
            corpus, rep = _judge(Path(tmp), name, True, seed)
            planted = len(corpus.planted) + len(corpus.stratum_plants)
            _, crep = _judge(Path(tmp), name, False, seed)
            sev = [f["severity"] for r in crep["runs"] for f in r["findings"]]
            print(
                f"| {name} | {corpus.pairs} | {rep['totals']['paired']} | "
                f"{_found(corpus, rep)} of {planted} | {rep['readiness']['verdict']} | "
                f"{crep['totals']['paired']} | {sev.count('error')} / {sev.count('warning')} / "
                f"{len(crep['rejected'])} | {crep['readiness']['verdict']} |"
            )


if __name__ == "__main__":
    main_()
