"""Judging whole sets of runs: what reaches the verdict from pairs in every state."""

from __future__ import annotations

from dataclasses import replace

from shadow.core.findings import Kind
from shadow.core.layout import Side
from shadow.core.runs import NormalizedRun
from shadow.core.vocabulary import RunState
from shadow.judging.criteria import Thresholds
from shadow.judging.judge import JudgeOptions, judge
from shadow.judging.reporting import clusters_of
from shadow.judging.verdict import Verdict
from tests.builders import T0, run, steps, twin

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


def _long_pair(key: str, extra: int) -> Sides:
    """A pipeline whose dry run has `extra` steps of its own (one `step_extra` each)."""
    p = run(key)
    names = [s.name for s in p.steps] + [f"extra-{i}" for i in range(extra)]
    return p, twin(p, steps=steps(*names))


def test_findings_per_run_are_capped_with_a_counted_summary_that_keeps_the_verdict() -> None:
    """Issue 16 item 17: 500 extra steps list at most the cap plus one `more_findings` per kind cut
    short, counting the rest; the run still mismatches and still fails the steps criterion."""
    now = T0 + 16 * DAY
    runs = clean_pairs(60, days=15)
    runs["big"] = _long_pair("big", 500)
    capped_opts = replace(OPTS, max_findings=20)
    full = {r.key: r for r in judge(runs, now, replace(OPTS, max_findings=10_000)).results}
    j = judge(runs, now, capped_opts)
    big = next(r for r in j.results if r.key == "big")
    assert 500 == len(full["big"].findings)
    kinds = [f.kind for f in big.findings]
    assert (20, 1) == (kinds.count(Kind.STEP_EXTRA), kinds.count(Kind.MORE_FINDINGS))
    more = next(f for f in big.findings if f.kind is Kind.MORE_FINDINGS)
    assert ({"count": 480}, "step_extra", "steps/more_findings/step_extra") == (
        more.primary,
        more.subject,
        more.signature,
    )
    assert more.blocking and "480 more step_extra" in more.message
    assert (full["big"].outcome, full["big"].blocking) == (big.outcome, big.blocking)
    steps_criterion = next(c for c in j.readiness.criteria if c.name == "steps")
    assert (False, ("big",)) == (steps_criterion.passed, steps_criterion.examples)


def test_every_kind_stays_visible_under_the_cap() -> None:
    """The cap keeps the first finding of each kind before the second of any: a run with many
    extra steps and one missing step still lists the missing one."""
    p = run("mixed")
    names = [s.name for s in p.steps][1:] + [f"extra-{i}" for i in range(50)]
    found = judge(
        {"mixed": (p, twin(p, steps=steps(*names)))}, T0 + DAY, replace(OPTS, max_findings=5)
    )
    kinds = [f.kind for f in found.results[0].findings]
    assert Kind.STEP_MISSING in kinds and Kind.STEP_EXTRA in kinds
    assert 5 + 1 == len(kinds)  # five listed, one summary of the 46 extra steps not listed


def test_an_unchanged_big_pair_is_compared_once_and_a_changed_one_again() -> None:
    """Issue 16 item 4: judging the same run objects again reuses their comparison (the engine
    keeps unchanged runs as the same objects); a new run object is compared afresh."""
    opts = replace(OPTS)
    runs = {"big": _long_pair("big", 100), "small": (run("small"), twin(run("small")))}
    first = judge(runs, T0 + DAY, opts)
    again = judge(runs, T0 + DAY, opts)
    assert (1, 1) == (opts.memo.misses, opts.memo.hits)  # the small pair is not remembered
    assert first.results == again.results
    p, c = runs["big"]
    runs["big"] = (p, twin(p, steps=steps(*[s.name for s in c.steps][:-1])))
    changed = judge(runs, T0 + DAY, opts)
    assert (2, 1) == (opts.memo.misses, opts.memo.hits)
    assert len(first.results[0].findings) - 1 == len(changed.results[0].findings)


def test_cluster_examples_are_distinct_runs() -> None:
    """Issue 16 item 17: a run with five findings of one signature is one example, not five."""
    p = run("repeats")
    names = [s.name for s in p.steps] + ["retry-hook"] * 5
    runs: dict[str, Sides] = {"repeats": (p, twin(p, steps=steps(*names)))}
    runs["other"] = (run("other"), twin(run("other"), steps=steps(*names[:5])))
    results = judge(runs, T0 + DAY, OPTS).results
    cluster = next(c for c in clusters_of(results) if c.signature == "steps/step_extra/retry-hook")
    assert (6, ["other", "repeats"]) == (cluster.count, cluster.examples)
