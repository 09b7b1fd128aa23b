"""Every verdict branch, from PairResults built directly."""

from __future__ import annotations

from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.pairing import PairState
from shadow.core.schedules import ScheduleCheck, ScheduleOutcome
from shadow.judging.criteria import LatencySLO, Thresholds
from shadow.judging.judge import Judgement, missed_schedule_finding
from shadow.judging.reporting import build_report
from shadow.judging.verdict import Verdict, judge_readiness
from shadow.render import render_report
from tests.builders import T0, result

DAY = 86400.0
SEEN, MISSED = ScheduleOutcome.SEEN, ScheduleOutcome.MISSED
T = Thresholds(min_pairs=40, min_pairs_per_agent=10, min_days=14, timing_min_pairs=10)
ERR = Finding(
    dimension=Dimension.STEPS,
    kind=Kind.STEP_MISSING,
    severity=Severity.ERROR,
    path="steps[2]",
    message="x",
)


def clean(
    n: int, agents: tuple[str, ...] = ("a", "b"), days: float = 15.0, ratio: float = 1.0
) -> list:  # type: ignore[type-arg]
    return [
        result(
            f"r{i}", agents[i % len(agents)], start=T0 + days * DAY * i / max(1, n - 1), ratio=ratio
        )
        for i in range(n)
    ]


def test_ready_with_enough_clean_evidence() -> None:
    """Enough pairs, days and per-agent pairs with nothing failing is READY."""
    r = judge_readiness(clean(60), T)
    assert (r.verdict, r.reasons) == (Verdict.READY, ())
    assert all(s.verdict is Verdict.READY for s in r.strata)


def test_an_unwaived_error_blocks_even_with_little_evidence() -> None:
    """One error finding is NOT_READY though evidence is short."""
    results = clean(5)
    results[0] = result("r0", "a", findings=(ERR,))
    r = judge_readiness(results, T)
    assert r.verdict == Verdict.NOT_READY
    assert any(reason.startswith("steps:") for reason in r.reasons)


def test_waived_errors_do_not_block() -> None:
    """A waived error leaves the verdict READY."""
    results = clean(60)
    results[0] = result("r0", "a", findings=(ERR.model_copy(update={"waived_by": "w1"}),))
    assert judge_readiness(results, T).verdict == Verdict.READY


def test_short_evidence_is_insufficient_and_says_what_is_missing() -> None:
    """Too few pairs, days, or pairs for one agent give INSUFFICIENT_DATA with the gap in words."""
    few = judge_readiness(clean(30), T)
    assert few.verdict == Verdict.INSUFFICIENT_DATA
    assert "needs 10 more pairs in total" in few.needs
    short = judge_readiness(clean(60, days=5), T)
    assert short.verdict == Verdict.INSUFFICIENT_DATA and any("more days" in n for n in short.needs)
    lopsided = [*clean(60, agents=("a",)), result("z1", "rare", start=T0)]
    r = judge_readiness(lopsided, T)
    assert r.verdict == Verdict.INSUFFICIENT_DATA
    assert "needs 9 more pairs for rare" in r.needs


def test_timing_fails_on_p95_with_enough_pairs_and_waits_with_too_few() -> None:
    """A slow p95 is NOT_READY once timed pairs suffice; with too few it is undecided."""
    slow = clean(60, ratio=1.3)
    r = judge_readiness(slow, T)
    assert r.verdict == Verdict.NOT_READY
    assert any(reason.startswith("timing: p95 ratio 1.30 > 1.20") for reason in r.reasons)
    few = judge_readiness(
        clean(60, ratio=1.3)[:6],
        Thresholds(min_pairs=0, min_pairs_per_agent=0, min_days=0, timing_min_pairs=10),
    )
    assert few.verdict == Verdict.INSUFFICIENT_DATA


def test_one_slow_agent_blocks_the_roll_up_and_is_named() -> None:
    """A timing failure in one agent makes the whole verdict NOT_READY, naming the agent."""
    results = clean(60) + [
        result(f"s{i}", "slowpoke", start=T0 + i * DAY, ratio=1.5) for i in range(15)
    ]
    r = judge_readiness(results, T)
    assert r.verdict == Verdict.NOT_READY
    assert "timing: p95 ratio 1.50 > 1.20 (agent slowpoke)" in r.reasons


def test_pending_runs_are_no_evidence_but_their_errors_block() -> None:
    """Spec section 9: any unwaived error makes NOT_READY; a pending pair's unreadable object or
    dry-run proposal is one already. A pending pair still adds nothing to the evidence."""
    bad_input = Finding(
        dimension=Dimension.INPUT,
        kind=Kind.INVALID_JSON,
        severity=Severity.ERROR,
        path="steps/2.json",
        message="x",
    )
    pending = result("p", "a", state=PairState.PENDING, findings=(bad_input,), ratio=None)
    r = judge_readiness([*clean(60), pending], T)
    assert Verdict.NOT_READY == r.verdict
    assert ["input: 1 run(s) with an unwaived input error (allowed 0)"] == list(r.reasons)
    quiet = result("p", "a", state=PairState.PENDING, ratio=None)
    few = judge_readiness([*clean(39), *[quiet] * 5], T)
    assert Verdict.INSUFFICIENT_DATA == few.verdict  # 39 pairs: pending ones add none


def test_latency_slo_breach_fails_timing_for_its_stratum() -> None:
    """An absolute p95 latency objective is judged beside the relative rule."""
    t = Thresholds(
        min_pairs=40,
        min_pairs_per_agent=10,
        min_days=14,
        timing_min_pairs=10,
        slos=(("a", LatencySLO(p50_ms=2000, p95_ms=5000)),),
    )
    results = [
        result(
            r.key, r.agent, start=r.start or T0, candidate_ms=6000.0 if r.agent == "a" else 900.0
        )
        for r in clean(60)
    ]
    r = judge_readiness(results, t)
    assert r.verdict == Verdict.NOT_READY
    assert any("latency p95 6000 ms > 5000 ms (agent a)" in reason for reason in r.reasons)


def test_missed_schedules_fail_completeness() -> None:
    """A scheduled run missing on a side fails completeness even with no run to attach it to."""
    r = judge_readiness(clean(60), T, {"a": ["schedule a@2026-02-26T12:00:00Z"]})
    assert r.verdict == Verdict.NOT_READY
    assert any(reason.startswith("completeness:") for reason in r.reasons)


def test_a_window_just_short_of_the_minimum_never_reads_as_reached() -> None:
    """13.97 days is short of 14: the words must not say 14.0 of 14 and "0.0 more days"."""
    short = judge_readiness(clean(60, days=13.97), T)
    assert Verdict.INSUFFICIENT_DATA == short.verdict
    assert ["needs 0.1 more days of runs (13.9 of 14)"] == [n for n in short.needs if "days" in n]
    evidence = next(c for c in short.criteria if c.name == "evidence")
    assert "13.9 of 14 days" in evidence.detail


def test_paired_runs_without_a_ratio_are_named_in_the_timing_detail() -> None:
    """A pair with no duration ratio (a primary that took no time) is not silently dropped."""
    results = [*clean(60), result("z0", "a", ratio=None), result("z1", "b", ratio=None)]
    timing = next(c for c in judge_readiness(results, T).criteria if c.name == "timing")
    assert 60 == timing.evidence
    assert timing.detail.endswith("2 paired run(s) without a ratio")


def test_the_days_still_needed_are_not_rounded_up_by_float_error() -> None:
    """14 - 13.7 is 0.3 days, though (14 - 13.7) * 10 is 3.0000000000000007 in floats."""
    short = judge_readiness(clean(60, days=13.7), T)
    assert ["needs 0.3 more days of runs (13.7 of 14)"] == [n for n in short.needs if "days" in n]


def test_dry_runs_that_took_no_time_do_not_break_the_timing_criterion() -> None:
    """Ratios of 0 have no logarithm: they are named as untimed, the verdict still comes."""
    results = [*clean(60, ratio=0.0), *clean(25, ratio=1.0)]
    timing = next(c for c in judge_readiness(results, T).criteria if c.name == "timing")
    assert 25 == timing.evidence
    assert timing.detail.endswith("60 paired run(s) without a ratio")


def test_a_stratum_breaking_its_latency_objective_reads_as_failed_timing_with_its_figures() -> None:
    """Issue 16 item 18: the relative rule passes everywhere, stratum "a" breaks its p95 objective:
    criteria[timing] reads failed and names the stratum with its latencies, objectives and its
    slowest runs; the report and the text report say the same."""
    t = Thresholds(
        min_pairs=40,
        min_pairs_per_agent=10,
        min_days=14,
        timing_min_pairs=10,
        slos=(("a", LatencySLO(p50_ms=2000, p95_ms=5000)),),
    )
    results = [
        result(
            r.key,
            r.agent,
            start=r.start or T0,
            candidate_ms=(6000.0 + i if r.agent == "a" else 900.0),
        )
        for i, r in enumerate(clean(60))
    ]
    r = judge_readiness(results, t)
    timing = next(c for c in r.criteria if c.name == "timing")
    assert (False, "fail") == (timing.passed, timing.status.value)
    assert "fails in 1 stratum(s): timing: latency p50" in timing.detail
    ((agent, own),) = timing.failing_strata
    assert "a" == agent
    assert {"slo_p50_ms": 2000, "slo_p95_ms": 5000} == {
        k: v for k, v in own.extra.items() if k.startswith("slo_")
    }
    assert (own.extra["latency_p95_ms"] or 0) > 5000
    assert ("r58", "r56", "r54", "r52", "r50") == own.examples == timing.examples
    out = build_report(Judgement((), {}, r, {}, {}, {}), [], T0)
    (stratum,) = next(c for c in out.readiness.criteria if c.name == "timing").strata
    assert ("a", "fail", 5000) == (stratum.agent_slug, stratum.status, stratum.extra["slo_p95_ms"])
    text = render_report(out)
    assert "timing       FAIL" in text and "timing       PASS" not in text


def test_a_share_held_overall_but_not_in_one_stratum_fails_and_says_where() -> None:
    """With a parity threshold below 1.0, one agent below it fails the criterion of the whole,
    which reads failed, with a reason naming the agent (it read passed, with no reason)."""
    t = Thresholds(
        min_pairs=40, min_pairs_per_agent=10, min_days=14, timing_min_pairs=10, steps=0.9
    )
    results = clean(100, agents=("a", "b", "c", "d", "e"))
    bad = {f"r{i}" for i in range(0, 15, 5)}  # three of agent a's twenty pairs: 0.85 < 0.9
    results = [
        result(x.key, x.agent, start=x.start or T0, findings=(ERR,) if x.key in bad else ())
        for x in results
    ]
    r = judge_readiness(results, t)
    steps_criterion = next(c for c in r.criteria if c.name == "steps")
    assert (0.97, False) == (steps_criterion.measured, steps_criterion.passed)
    assert ["a"] == [agent for agent, _ in steps_criterion.failing_strata]
    assert [reason for reason in r.reasons if reason.startswith("steps")] == [
        "steps: parity 0.8500 < 0.9 (17 of 20 pairs agree) (agent a)"
    ]


def test_the_text_report_lists_missed_schedules_capped() -> None:
    """Missed schedules are listed in the text report as in the JSON: stratum, fire time and the
    side that missed it (both, or waived, said so), at most `max_runs` of them."""
    checks = [ScheduleCheck("nightly", "0 3 * * *", T0 + DAY * i, SEEN, MISSED) for i in range(30)]
    checks[1] = ScheduleCheck("nightly", "0 3 * * *", T0 + DAY, MISSED, MISSED)
    found = [f for f in map(missed_schedule_finding, checks) if f is not None]
    found[2] = found[2].model_copy(update={"waived_by": "known-gap"})
    r = judge_readiness(clean(60), T, {"nightly": [f.path for f in found]})
    text = render_report(build_report(Judgement((), {}, r, {}, {}, {}, (), tuple(found)), [], T0))
    lines = text.splitlines()
    at = lines.index("missed schedules (30, first 25):")
    assert [
        "  nightly                  2026-02-25T06:13:20Z   missed by the dry run",
        "  nightly                  2026-02-26T06:13:20Z   missed by the primary and the dry run",
        "  nightly                  2026-02-27T06:13:20Z   missed by the dry run  [waived by known-gap]",
    ] == lines[at + 1 : at + 4]
    assert 25 == sum(1 for x in lines if "missed by the" in x)
    assert "missed schedules" not in render_report(
        build_report(Judgement((), {}, r, {}, {}, {}), [], T0)
    )
