"""The cutover readiness verdict, per agent and rolled up (spec section 7 and 9).

Rules:
- Each criterion (criteria.py) is measured per agent and over the whole.
- NOT_READY if any criterion fails (in any agent); else INSUFFICIENT_DATA while evidence or
  timing is short; else READY. Pending runs are provisional and never count.
- A criterion of the whole reads failed when it fails in any agent (a latency objective is set
  per agent, a parity share can hold overall and not in one agent), and names those agents with
  their own measured values, thresholds and examples: a reader of `criteria` never sees a pass
  above a reason that says it failed.
- The reasons say what fails and the needs what evidence is missing, in words a reviewer can
  act on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from shadow.core.pairing import PairState
from shadow.core.results import PairResult
from shadow.judging.criteria import (
    EXAMPLES,
    PARITY,
    Criterion,
    CriterionStatus,
    Thresholds,
    criteria_for,
    evidence_criterion,
    evidence_days,
    floor_days,
)


class Verdict(StrEnum):
    READY = "READY"
    NOT_READY = "NOT_READY"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


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
            f"({floor_days(days):.1f} of {min_days:g})",
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
