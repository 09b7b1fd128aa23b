"""The readiness criteria (spec section 7 and 9): each one measured over a set of judged pairs.

Rules:
- Parity criteria (status, steps, retries) pass when the share of judged pairs without an
  unwaived error in that dimension reaches the threshold (default 1.0: any error fails). A
  dimension no pair shows on both sides, or that a side's profile cannot see, has no evidence:
  said so, never a pass.
- Count criteria (completeness, concurrency, side_effects, input) pass when the number of
  runs with an unwaived error is at most the threshold (default 0).
- Timing passes when both the p95 ratio and the upper confidence bound of the p50 ratio are at
  most the tolerance; with fewer ratios than `timing_min_pairs` it is undecided. A stratum's
  absolute latency objective fails it too.
- Pending runs are provisional and never count toward evidence.

How criteria roll up into a verdict, per agent and for the whole: `verdict.py`.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from shadow.comparators.options import TIMING_TOLERANCE
from shadow.core.findings import Dimension
from shadow.core.pairing import PairState
from shadow.core.results import PairResult
from shadow.core.stats import quantile, ratio_summary


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
        seen = [r for r in seen if r.has_retries or dim in r.blocking]
    bad = [r.key for r in results if dim in r.blocking]  # r.blocking_in(dim), without a call
    bad_paired = sum(1 for r in seen if dim in r.blocking)
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
    bad = [r.key for r in results if dim in r.blocking] + list(extra)
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
    if slo is None:  # before sorting every dry run's time for nothing
        return [], {}
    times = sorted(
        r.candidate_ms
        for r in results
        if r.state is PairState.PAIRED and r.candidate_ms is not None
    )
    if not times:
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
        slowest = heapq.nsmallest(EXAMPLES, timed, key=lambda r: -(r.candidate_ms or 0.0))
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
    # = sorted(...)[:EXAMPLES] (documented so, ties in order), without sorting every pair
    slowest = heapq.nsmallest(EXAMPLES, rated, key=lambda r: -(r.duration_ratio or 0))
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


def floor_days(days: float) -> float:
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
        f"{pairs} of {t.min_pairs} pairs, {floor_days(days):.1f} of {t.min_days:g} days, "
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
