"""Judging whole sets of runs: what reaches the verdict from pairs in every state."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from shadow.core.findings import Dimension, Kind
from shadow.core.layout import Side
from shadow.core.runs import NormalizedRun
from shadow.core.vocabulary import RunState
from shadow.core.waivers import Waiver
from shadow.judging.criteria import Thresholds
from shadow.judging.judge import Judgement, JudgeOptions, judge
from shadow.judging.reporting import build_report, clusters_of
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


def _report(j: Judgement, now: float, waivers: tuple[Waiver, ...] = ()) -> str:
    return build_report(j, [], now, waivers=waivers).model_dump_json()


def _fresh(
    runs: dict[str, Sides], now: float, opts: JudgeOptions, waivers: tuple[Waiver, ...] = ()
) -> str:
    """The report of a judgement from scratch: new options bring an empty memo."""
    return _report(judge(runs, now, replace(opts), waivers), now, waivers)


def test_a_second_judgement_recomputes_only_the_changed_pair_and_reads_as_from_scratch() -> None:
    """Issue 19: judging the same run objects again reuses every result (the engine keeps
    unchanged runs as the same objects); a new run object is judged again, alone, and the
    report is the one a judgement from scratch gives."""
    opts = replace(OPTS)
    now = T0 + 16 * DAY
    runs = clean_pairs(60, days=15)
    runs["big"] = _long_pair("big", 100)
    first = judge(runs, now, opts)
    assert (61, 0, 61) == (opts.memo.misses, opts.memo.hits, opts.memo.compared)
    again = judge(runs, now, opts)
    assert (61, 61, 61) == (opts.memo.misses, opts.memo.hits, opts.memo.compared)
    assert all(a is b for a, b in zip(first.results, again.results, strict=True))
    p, c = runs["big"]
    runs["big"] = (p, twin(p, steps=steps(*[s.name for s in c.steps][:-1])))
    changed = judge(runs, now, opts)
    assert (62, 121, 62) == (opts.memo.misses, opts.memo.hits, opts.memo.compared)
    assert _fresh(runs, now, opts) == _report(changed, now)
    before, after = ({r.key: r for r in j.results}["big"] for j in (first, changed))
    assert len(before.findings) - 1 == len(after.findings)
    # a pair held pending (an unread object), then judged: its state alone moved
    outcomes = []
    for held in (frozenset({"r005"}), frozenset()):
        j = judge(runs, now, opts, held=held)
        assert _report(judge(runs, now, replace(opts), held=held), now) == _report(j, now)
        outcomes.append({r.key: r for r in j.results}["r005"].outcome.value)
    assert ["pending", "match"] == outcomes


def test_remembered_results_still_follow_now() -> None:
    """Pairing decides a pair's state with `now`: a primary without its twin is pending, then
    lost past the grace period; a run that never ends becomes stuck; a running dry run's
    overlap grows with `now`. A remembered judgement reads as from scratch at every time, and
    the comparison of unchanged runs whose state moved is not made again."""
    opts = replace(OPTS)
    runs = clean_pairs(60, days=15)
    end = T0 + 15 * DAY
    lone = run("lone", start=end - 120)
    runs["lone"] = (lone, None)
    stalled = run("stalled", state=RunState.RUNNING, start=end - 60)
    runs["stalled"] = (stalled, twin(stalled))
    states = []
    for now in (end, end + 600, end + 1000, end + 2000, end + 2000, end + 3 * DAY):
        j = judge(runs, now, opts)
        assert _fresh(runs, now, opts) == _report(j, now)
        states.append((j.pairs["lone"].state.value, j.pairs["stalled"].state.value))
    assert [
        ("pending", "pending"),
        ("pending", "pending"),
        ("primary_only", "pending"),
        ("primary_only", "stuck"),
        ("primary_only", "stuck"),
        ("primary_only", "stuck"),
    ] == states
    assert 60 == opts.memo.compared  # the clean pairs, once: the others never paired


def test_a_remembered_pair_takes_a_window_finding_that_came_with_now() -> None:
    """A pair whose runs did not change still gets the concurrency error that a still-running
    dry run of another pair grew into (its interval ends at `now`)."""
    opts = replace(OPTS)
    runs = clean_pairs(60, days=15)
    start = T0 + 15 * DAY
    early = run("early", start=start, end=start + 10)
    runs["early"] = (early, twin(early, state=RunState.RUNNING, finished_at=None))
    later = run("later", start=start + 100)
    runs["later"] = (later, twin(later))
    kinds = []
    for now in (start + 50, start + 150):
        j = judge(runs, now, opts)
        assert _fresh(runs, now, opts) == _report(j, now)
        kinds.append([f.kind for f in {r.key: r for r in j.results}["later"].findings])
    assert [[], [Kind.OVERLAP]] == kinds
    assert 61 == opts.memo.compared  # `later` was compared once


def test_remembered_results_follow_waivers_and_the_day_they_expire() -> None:
    """A waiver applies until its expiry date: the same runs judged the day after read
    `expired_waiver`, as from scratch, and the waiver counts are the judgement's own."""
    opts = replace(OPTS)
    runs = clean_pairs(60, days=15)
    runs["big"] = _long_pair("big", 3)
    last_day = datetime.fromtimestamp(T0 + 16 * DAY, UTC).date()
    waiver = Waiver(
        id="w1", dimension=Dimension.STEPS, owner="o", reason="r", expires=last_day, run="big"
    )
    for now, waivers in (
        (T0 + 16 * DAY, (waiver,)),
        (T0 + 16 * DAY, (waiver,)),
        (T0 + 17 * DAY, (waiver,)),
        (T0 + 17 * DAY, ()),
    ):
        j = judge(runs, now, opts, waivers)
        scratch = judge(runs, now, replace(opts), waivers)
        assert _report(scratch, now, waivers) == _report(j, now, waivers)
        assert (scratch.waiver_use, scratch.waiver_would_cover) == (
            j.waiver_use,
            j.waiver_would_cover,
        )
    assert 61 == opts.memo.compared  # a new day or new waivers judge again, comparing nothing


def test_cluster_examples_are_distinct_runs() -> None:
    """Issue 16 item 17: a run with five findings of one signature is one example, not five."""
    p = run("repeats")
    names = [s.name for s in p.steps] + ["retry-hook"] * 5
    runs: dict[str, Sides] = {"repeats": (p, twin(p, steps=steps(*names)))}
    runs["other"] = (run("other"), twin(run("other"), steps=steps(*names[:5])))
    results = judge(runs, T0 + DAY, OPTS).results
    cluster = next(c for c in clusters_of(results) if c.signature == "steps/step_extra/retry-hook")
    assert (6, ["other", "repeats"]) == (cluster.count, cluster.examples)
