"""The cutover readiness verdict, per agent and rolled up (spec section 7 and 9).

Rules:
- Parity criteria (status, steps, retries) pass when the share of judged pairs without an
  unwaived error in that dimension reaches the threshold (default 1.0: any error fails).
- Count criteria (completeness, concurrency, side_effects, input) pass when the number of
  runs with an unwaived error is at most the threshold (default 0).
- Timing passes when both the p95 ratio and the upper confidence bound of the p50 ratio are at
  most the tolerance; with fewer ratios than `timing_min_pairs` it is undecided.
- NOT_READY if any criterion fails (in any agent); else INSUFFICIENT_DATA while evidence or
  timing is short; else READY. Pending runs are provisional and never count.
- A criterion of the whole reads failed when it fails in any agent (a latency objective is set
  per agent, a parity share can hold overall and not in one agent), and names those agents with
  their own measured values, thresholds and examples: a reader of `criteria` never sees a pass
  above a reason that says it failed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from shadow.comparators.options import TIMING_TOLERANCE
from shadow.core.findings import Dimension
from shadow.core.pairing import PairState
from shadow.core.results import PairResult
from shadow.core.stats import quantile, ratio_summary


class Verdict(StrEnum):
    READY = "READY"
    NOT_READY = "NOT_READY"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class CriterionStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INSUFFICIENT = "insufficient"
    # Nothing to judge on (no retried pair, or a profile that cannot see the dimension): said
    # so, never a pass; it does not block the verdict, which has no evidence against it either.
    NO_EVIDENCE = "no_evidence"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The readiness thresholds, and the one place their defaults are written: the settings
    (`config.ThresholdSettings`) and the metrics that export them derive from this."""

    status: float = 1.0
    steps: float = 1.0
    retries: float = 1.0
    timing_ratio: float = TIMING_TOLERANCE
    timing_min_pairs: int = 20
    timing_confidence: float = 0.95
    completeness: int = 0
    concurrency: int = 0
    side_effects: int = 0
    input: int = 0
    min_pairs: int = 200
    min_pairs_per_agent: int = 20
    min_days: float = 14.0
    slos: tuple[tuple[str, LatencySLO], ...] = ()

    def slo_for(self, stratum: str) -> LatencySLO | None:
        return next((s for name, s in self.slos if name == stratum), None)


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    status: CriterionStatus
    measured: float | None
    threshold: float
    evidence: int
    examples: tuple[str, ...]
    detail: str
    extra: dict[str, float | None] = field(default_factory=dict)
    # On a criterion of the whole: the agents (strata) where the same criterion fails.
    failing_strata: tuple[tuple[str, Criterion], ...] = ()

    @property
    def passed(self) -> bool:
        return self.status is CriterionStatus.PASS


@dataclass(frozen=True, slots=True)
class Stratum:
    agent: str
    verdict: Verdict
    pairs: int
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True, slots=True)
class Readiness:
    verdict: Verdict
    reasons: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    evidence_days: float
    strata: tuple[Stratum, ...]
    needs: tuple[str, ...]  # what is missing for READY, in words


PARITY: tuple[Dimension, ...] = (Dimension.STATUS, Dimension.STEPS, Dimension.RETRIES)
COUNTED: tuple[Dimension, ...] = (
    Dimension.COMPLETENESS,
    Dimension.CONCURRENCY,
    Dimension.SIDE_EFFECTS,
    Dimension.INPUT,
)
EXAMPLES = 5


def parity_criterion(
    dim: Dimension,
    results: Sequence[PairResult],
    t: Thresholds,
    blind: Mapping[str, str] | None = None,
) -> Criterion:
    """`blind`: dimensions a side's profile cannot see at all, with why (spec section 10)."""
    threshold = float(getattr(t, dim.value))
    paired = [r for r in results if r.state is PairState.PAIRED]
    seen = [r for r in paired if dim not in r.unseen]
    if dim is Dimension.RETRIES:
        seen = [r for r in seen if r.has_retries or r.blocking_in(dim)]
    bad = [r.key for r in results if r.blocking_in(dim)]
    bad_paired = sum(1 for r in seen if r.blocking_in(dim))
    measured = 1.0 - bad_paired / len(seen) if seen else None
    failed = (measured is not None and measured < threshold) or (threshold >= 1.0 and bad)
    status = CriterionStatus.FAIL if failed else CriterionStatus.PASS
    detail = f"{len(seen) - bad_paired} of {len(seen)} pairs agree"
    why = (blind or {}).get(dim.value)
    if not failed and (why or not seen):
        status = CriterionStatus.NO_EVIDENCE
        detail = "no evidence: " + (why or _nothing_seen(dim, paired))
    paired = seen
    return Criterion(
        dim.value,
        status,
        measured,
        threshold,
        len(paired),
        tuple(bad[:EXAMPLES] or [r.key for r in paired[:EXAMPLES]]),
        detail,
    )


def _nothing_seen(dim: Dimension, paired: Sequence[PairResult]) -> str:
    hidden = sum(1 for r in paired if dim in r.unseen)
    if dim is Dimension.RETRIES:
        what = "no paired run retried on either side"
    else:
        what = f"no pair shows {dim.value} on both sides"
    if hidden:
        what += f"; {hidden} pair(s) where a side's records do not show {dim.value}"
    return what + " (not a pass)"


def count_criterion(
    dim: Dimension, results: Sequence[PairResult], t: Thresholds, extra: Sequence[str] = ()
) -> Criterion:
    """`extra` names violations that belong to no run (a scheduled run missing on both sides)."""
    threshold = float(getattr(t, dim.value))
    # Pending pairs count too: an unreadable object or a proposal written by a running dry run
    # is an error now (spec section 9), whatever the run does next.
    bad = [r.key for r in results if r.blocking_in(dim)] + list(extra)
    status = CriterionStatus.FAIL if len(bad) > threshold else CriterionStatus.PASS
    detail = f"{len(bad)} run(s) with an unwaived {dim.value} error"
    return Criterion(
        dim.value, status, float(len(bad)), threshold, len(results), tuple(bad[:EXAMPLES]), detail
    )


@dataclass(frozen=True, slots=True)
class LatencySLO:
    """Absolute latency objectives for one stratum, on the dry run's end-to-end time."""

    p50_ms: float | None = None
    p95_ms: float | None = None


def slo_breaches(
    results: Sequence[PairResult], slo: LatencySLO | None
) -> tuple[list[str], dict[str, float | None]]:
    """Words for each breached objective, and the measured latency quantiles."""
    times = sorted(
        r.candidate_ms
        for r in results
        if r.state is PairState.PAIRED and r.candidate_ms is not None
    )
    if slo is None or not times:
        return [], {}
    p50, p95 = quantile(times, 0.5), quantile(times, 0.95)
    words = []
    if slo.p50_ms is not None and p50 > slo.p50_ms:
        words.append(f"latency p50 {p50:.0f} ms > {slo.p50_ms:.0f} ms")
    if slo.p95_ms is not None and p95 > slo.p95_ms:
        words.append(f"latency p95 {p95:.0f} ms > {slo.p95_ms:.0f} ms")
    return words, {
        "latency_p50_ms": p50,
        "latency_p95_ms": p95,
        "slo_p50_ms": slo.p50_ms,
        "slo_p95_ms": slo.p95_ms,
    }


def timing_criterion(
    results: Sequence[PairResult], t: Thresholds, slo: LatencySLO | None = None
) -> Criterion:
    """Relative rule on duration ratios, plus the stratum's absolute latency SLO if it has one."""
    crit = _ratio_criterion(results, t)
    breaches, latency = slo_breaches(results, slo)
    if crit.status is CriterionStatus.INSUFFICIENT or (not breaches and not latency):
        return crit
    status = CriterionStatus.FAIL if breaches else crit.status
    detail = ", ".join([crit.detail, *breaches])
    examples = crit.examples
    if breaches and crit.status is not CriterionStatus.FAIL:  # the slowest dry runs, not ratios
        timed = [r for r in results if r.state is PairState.PAIRED and r.candidate_ms is not None]
        slowest = sorted(timed, key=lambda r: -(r.candidate_ms or 0.0))[:EXAMPLES]
        examples = tuple(r.key for r in slowest)
    return Criterion(
        crit.name,
        status,
        crit.measured,
        crit.threshold,
        crit.evidence,
        examples,
        detail,
        {**crit.extra, **latency},
    )


def _ratio_criterion(results: Sequence[PairResult], t: Thresholds) -> Criterion:
    # A ratio of 0 (a dry run that took no time once mocked steps are out) has no log: untimed.
    rated = [r for r in results if r.state is PairState.PAIRED and (r.duration_ratio or 0) > 0]
    ratios = [r.duration_ratio for r in rated if r.duration_ratio is not None]
    if len(ratios) < max(1, t.timing_min_pairs):
        return Criterion(
            "timing",
            CriterionStatus.INSUFFICIENT,
            None,
            t.timing_ratio,
            len(ratios),
            (),
            f"{len(ratios)} of {t.timing_min_pairs} timed pairs needed",
        )
    p50, p95, ub = ratio_summary(ratios, t.timing_confidence)
    measured = max(p95, ub if ub is not None else p50)
    failed = measured > t.timing_ratio
    slowest = sorted(rated, key=lambda r: -(r.duration_ratio or 0))[:EXAMPLES]
    words = [f"p95 ratio {p95:.2f}", f"p50 ratio {p50:.2f}"]
    if ub is not None:
        words.append(f"p50 upper bound {ub:.2f}")
    untimed = sum(1 for r in results if r.state is PairState.PAIRED) - len(rated)
    if untimed:  # no duration on a side, or a primary that took no time: say so, not drop it
        words.append(f"{untimed} paired run(s) without a ratio")
    return Criterion(
        "timing",
        CriterionStatus.FAIL if failed else CriterionStatus.PASS,
        measured,
        t.timing_ratio,
        len(ratios),
        tuple(r.key for r in slowest),
        ", ".join(words),
        {"p50": p50, "p95": p95, "p50_upper_bound": ub},
    )


def _floor1(days: float) -> float:
    """Days to one decimal, rounded down: 13.97 days is short of 14 and must not print as 14.0."""
    return math.floor(days * 10) / 10


def evidence_days(results: Sequence[PairResult]) -> float:
    starts = [r.start for r in results if r.start is not None]
    return (max(starts) - min(starts)) / 86400 if starts else 0.0


def evidence_criterion(
    results: Sequence[PairResult], t: Thresholds, agents: dict[str, int]
) -> Criterion:
    pairs = sum(1 for r in results if r.state is PairState.PAIRED)
    days = evidence_days(results)
    short = {a: n for a, n in agents.items() if n < t.min_pairs_per_agent}
    ok = pairs >= t.min_pairs and days >= t.min_days and not short
    detail = (
        f"{pairs} of {t.min_pairs} pairs, {_floor1(days):.1f} of {t.min_days:g} days, "
        f"{len(agents) - len(short)} of {len(agents)} agents with {t.min_pairs_per_agent}+ pairs"
    )
    return Criterion(
        "evidence",
        CriterionStatus.PASS if ok else CriterionStatus.INSUFFICIENT,
        float(pairs),
        float(t.min_pairs),
        pairs,
        tuple(sorted(short)[:EXAMPLES]),
        detail,
        {"days": days, "min_days": t.min_days},
    )


def criteria_for(
    results: Sequence[PairResult],
    t: Thresholds,
    missed: Sequence[str] = (),
    slo: LatencySLO | None = None,
    blind: Mapping[str, str] | None = None,
) -> list[Criterion]:
    out = [parity_criterion(d, results, t, blind) for d in PARITY]
    out.append(timing_criterion(results, t, slo))
    out.extend(
        count_criterion(d, results, t, missed if d is Dimension.COMPLETENESS else ())
        for d in COUNTED
    )
    return out


def _verdict(criteria: Sequence[Criterion]) -> Verdict:
    if any(c.status is CriterionStatus.FAIL for c in criteria):
        return Verdict.NOT_READY
    if any(c.status is CriterionStatus.INSUFFICIENT for c in criteria):
        return Verdict.INSUFFICIENT_DATA
    return Verdict.READY


def judge_readiness(
    results: Sequence[PairResult],
    t: Thresholds,
    missed: Mapping[str, Sequence[str]] | None = None,
    blind: Mapping[str, str] | None = None,
) -> Readiness:
    """`missed` lists missed scheduled runs per stratum; they fail completeness. `blind` names
    the dimensions a side's profile cannot see (criterion name -> why)."""
    missed = missed or {}
    by_agent: dict[str, list[PairResult]] = {}
    for r in results:  # one pass: a pass per stratum is quadratic with many job types
        by_agent.setdefault(r.agent, []).append(r)
    agents = sorted(by_agent)
    pairs_by_agent = {a: sum(1 for r in by_agent[a] if r.state is PairState.PAIRED) for a in agents}
    strata = []
    for agent in agents:
        mine = by_agent[agent]
        crit = criteria_for(mine, t, missed.get(agent, ()), t.slo_for(agent), blind)
        enough = pairs_by_agent[agent] >= t.min_pairs_per_agent
        crit.append(
            Criterion(
                "evidence",
                CriterionStatus.PASS if enough else CriterionStatus.INSUFFICIENT,
                float(pairs_by_agent[agent]),
                float(t.min_pairs_per_agent),
                pairs_by_agent[agent],
                (),
                f"{pairs_by_agent[agent]} of {t.min_pairs_per_agent} pairs",
            )
        )
        strata.append(Stratum(agent, _verdict(crit), pairs_by_agent[agent], tuple(crit)))
    criteria = criteria_for(results, t, [m for ms in missed.values() for m in ms], None, blind)
    criteria.append(evidence_criterion(results, t, pairs_by_agent))
    verdict = _verdict([*criteria, *(c for s in strata for c in s.criteria)])
    reasons, needs = explain(criteria, strata, t)
    return Readiness(
        verdict,
        tuple(reasons),
        tuple(with_strata(c, strata) for c in criteria),
        evidence_days(results),
        tuple(strata),
        tuple(needs),
    )


def with_strata(c: Criterion, strata: Sequence[Stratum]) -> Criterion:
    """The criterion of the whole, failed when the same criterion fails in any stratum.

    When it passed on its own, the detail gains what failed where and the examples become the
    failing strata's; its measured value and threshold stay those of the whole.
    """
    failing = tuple(
        (s.agent, sc)
        for s in strata
        for sc in s.criteria
        if sc.name == c.name and sc.status is CriterionStatus.FAIL
    )
    if not failing:
        return c
    if c.status is CriterionStatus.FAIL:
        return replace(c, failing_strata=failing)
    words = [_fail_words(sc, agent) for agent, sc in failing[:3]]
    if len(failing) > 3:
        words.append(f"and {len(failing) - 3} more stratum(s)")
    return replace(
        c,
        status=CriterionStatus.FAIL,
        detail=f"{c.detail}; fails in {len(failing)} stratum(s): {'; '.join(words)}",
        examples=tuple(k for _, sc in failing for k in sc.examples)[:EXAMPLES],
        failing_strata=failing,
    )


def explain(
    criteria: Sequence[Criterion], strata: Sequence[Stratum], t: Thresholds
) -> tuple[list[str], list[str]]:
    """Reasons (what fails) and needs (what evidence is missing), in words a reviewer can act on."""
    reasons, needs = [], []
    for c in criteria:
        if c.status is CriterionStatus.FAIL:
            reasons.append(_fail_words(c, None))
    # A stratum's failure is a reason of its own where the whole does not fail the same way:
    # timing (latency objectives and ratios are per stratum), or a share below 1.0 held overall.
    passing = {c.name for c in criteria if c.status is not CriterionStatus.FAIL}
    for s in strata:
        for c in s.criteria:
            if c.status is CriterionStatus.FAIL and (c.name == "timing" or c.name in passing):
                reasons.append(_fail_words(c, s.agent))
            if c.status is CriterionStatus.INSUFFICIENT and c.name == "evidence":
                needs.append(
                    f"needs {int(c.threshold - (c.measured or 0))} more pairs for {s.agent}"
                )
    ev = next(c for c in criteria if c.name == "evidence")
    if ev.measured is not None and ev.measured < ev.threshold:
        needs.insert(0, f"needs {int(ev.threshold - ev.measured)} more pairs in total")
    days, min_days = ev.extra.get("days") or 0.0, ev.extra.get("min_days") or t.min_days
    if days < min_days:
        needs.insert(
            0,
            f"needs {math.ceil(round((min_days - days) * 10, 6)) / 10:.1f} more days of runs "
            f"({_floor1(days):.1f} of {min_days:g})",
        )
    timing = next(c for c in criteria if c.name == "timing")
    if timing.status is CriterionStatus.INSUFFICIENT:
        needs.append(f"needs {t.timing_min_pairs - timing.evidence} more timed pairs")
    return reasons, needs


def _fail_words(c: Criterion, agent: str | None) -> str:
    where = f" (agent {agent})" if agent else ""
    if c.name == "timing":
        p95 = c.extra.get("p95") or 0.0
        ub = c.extra.get("p50_upper_bound")
        if p95 > c.threshold:
            return f"timing: p95 ratio {p95:.2f} > {c.threshold:.2f}{where}"
        if ub is not None and ub > c.threshold:
            return f"timing: p50 ratio upper bound {ub:.2f} > {c.threshold:.2f}{where}"
        slo = [part for part in c.detail.split(", ") if part.startswith("latency")]
        return f"timing: {'; '.join(slo)}{where}"
    if c.name in {d.value for d in PARITY}:
        return f"{c.name}: parity {c.measured or 0:.4f} < {c.threshold:g} ({c.detail}){where}"
    return f"{c.name}: {c.detail} (allowed {c.threshold:g}){where}"
