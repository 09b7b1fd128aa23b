"""Judging whole sets of runs: what reaches the verdict from pairs in every state."""

from __future__ import annotations

from dataclasses import replace

from shadow.core.findings import Kind
from shadow.core.layout import Side
from shadow.core.runs import NormalizedRun
from shadow.core.vocabulary import RunState
from shadow.judging.judge import JudgeOptions, judge
from shadow.judging.verdict import Thresholds, Verdict
from tests.builders import T0, run, twin

DAY = 86400.0
OPTS = JudgeOptions(thresholds=Thresholds(min_pairs=40, min_pairs_per_agent=10, min_days=14))
Sides = tuple[NormalizedRun | None, NormalizedRun | None]


def clean_pairs(n: int, days: float) -> dict[str, Sides]:
    out: dict[str, Sides] = {}
    for i in range(n):
        p = run(f"r{i:03}", start=T0 + days * DAY * i / (n - 1))
        out[p.pairing_key] = (p, twin(p))
    return out


def test_the_evidence_window_spans_primary_starts_only() -> None:
    """Spec section 9: from the earliest to the latest primary run start observed. A primary that
    failed before it ever ran (no started_at), seen today, does not stretch 13 days to 16."""
    now = T0 + 16 * DAY
    runs = clean_pairs(60, days=13)
    assert Verdict.INSUFFICIENT_DATA == judge(runs, now, OPTS).readiness.verdict
    never_ran = replace(
        run("z-never-ran", state=RunState.FAILED, error="INTERNAL_ERROR: rejected", start=now),
        history=(RunState.REQUESTED, RunState.FAILED),
        started_at=None,
        finished_at=now,
        first_seen=now,
    )
    runs[never_ran.pairing_key] = (never_ran, twin(never_ran))
    readiness = judge(runs, now, OPTS).readiness
    assert 13.0 == round(readiness.evidence_days, 6)
    assert Verdict.INSUFFICIENT_DATA == readiness.verdict
    # an orphan twin's start is no primary start either
    orphan = replace(run("y-orphan", start=now), side=Side.CANDIDATE)
    runs[orphan.pairing_key] = (None, orphan)
    assert 13.0 == round(judge(runs, now, OPTS).readiness.evidence_days, 6)


def test_a_running_dry_run_that_writes_a_proposal_blocks_at_once() -> None:
    """The dry run must create nothing: a proposal output is an error while it still runs."""
    now = T0 + 16 * DAY
    runs = clean_pairs(60, days=15)
    assert Verdict.READY == judge(runs, now, OPTS).readiness.verdict
    p = run("x-running", state=RunState.RUNNING, start=now - 60)
    c = replace(
        twin(p),
        proposal_outputs=("runs/x-running-dryrun/output/proposal-1.json",),
    )
    runs[p.pairing_key] = (p, c)
    judged = judge(runs, now, OPTS)
    [result] = [r for r in judged.results if r.key == "x-running"]
    assert [Kind.PROPOSAL_OUTPUT] == [f.kind for f in result.findings]
    assert Verdict.NOT_READY == judged.readiness.verdict
