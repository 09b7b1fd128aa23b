"""Per migration scenario at the CLI's default size: pairs judged, planted divergences found (each
by its run id, or stratum, in its dimension and kind), and false findings on the clean variant.
Prints a Markdown table (docs/profiles.md's figures), then every plant not found and every false
finding; exits 1 if there is any.

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


def _missed(corpus: ScenarioCorpus, report: dict[str, Any]) -> list[str]:
    """Every plant not found on its run (by run id) or stratum in its dimension and kind."""
    runs = {
        r["run_id"]: {(f["dimension"], f["kind"]) for f in r["findings"]} for r in report["runs"]
    }
    out = [
        f"{p.kind.value} on {p.run_id}"
        for p in corpus.planted
        if (p.dimension.value, p.kind.value) not in runs.get(p.run_id, set())
    ]
    missed = {(m["subject"], m["kind"]) for m in report["missed_schedules"]}
    failing = {s["agent_slug"]: s["failing"] for s in report["readiness"]["strata"]}
    for sp in corpus.stratum_plants:
        hit = (
            (sp.stratum, sp.kind.value) in missed
            if sp.side is not None
            else sp.dimension.value in failing.get(sp.stratum, [])
        )
        if not hit:
            out.append(f"{sp.kind.value} on stratum {sp.stratum}")
    return out


def _false(report: dict[str, Any]) -> list[str]:
    """Errors and warnings on a clean corpus, and anything rejected."""
    out = [
        f"{f['severity']} {f['dimension']}/{f['kind']} on {r['run_id']}"
        for r in report["runs"]
        for f in r["findings"]
        if f["severity"] in ("error", "warning")
    ]
    return out + [f"rejected {r['key']} ({r['reason']})" for r in report["rejected"]]


def main_() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=7)
    seed = parser.parse_args().seed
    print(
        "| scenario | primary runs | pairs judged | planted found | verdict | clean: pairs | clean: errors / warnings / rejected | clean verdict |"
    )
    print("|---|---|---|---|---|---|---|---|")
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in SCENARIOS:
            corpus, rep = _judge(Path(tmp), name, True, seed)
            planted = len(corpus.planted) + len(corpus.stratum_plants)
            missed = _missed(corpus, rep)
            _, crep = _judge(Path(tmp), name, False, seed)
            sev = [f["severity"] for r in crep["runs"] for f in r["findings"]]
            print(
                f"| {name} | {corpus.pairs} | {rep['totals']['paired']} | "
                f"{planted - len(missed)} of {planted} | {rep['readiness']['verdict']} | "
                f"{crep['totals']['paired']} | {sev.count('error')} / {sev.count('warning')} / "
                f"{len(crep['rejected'])} | {crep['readiness']['verdict']} |"
            )
            problems += [f"{name}: planted, not found: {m}" for m in missed]
            problems += [f"{name} --clean: {f}" for f in _false(crep)]
    for line in problems:
        print(line)
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main_()
