"""Timing: per-pair ratios of `duration_ms`, end to end and per step, mocked steps excluded.

A single slow pair is a warning (spec section 9); the readiness criterion judges the
distribution of end-to-end ratios (see `stats` and `verdict`). A slower step is a warning too,
unless it lost no more than `timing_slack_ms`: steps of a few milliseconds swing by large ratios.
"""

from __future__ import annotations

from shadow.comparators.options import CompareOptions
from shadow.findings import Dimension, Finding, Kind, Severity
from shadow.normalized import NormalizedRun


def ratio(primary_ms: float | None, candidate_ms: float | None) -> float | None:
    """Candidate over primary, or None when either is unknown or the primary took no time."""
    if primary_ms is None or candidate_ms is None or primary_ms <= 0:
        return None
    return candidate_ms / primary_ms


def end_to_end(
    primary: NormalizedRun, candidate: NormalizedRun
) -> tuple[float | None, float | None]:
    """Both runs' end-to-end ms as judged. Spec section 7 counts the scheduling delay (requested to
    running) too; it is added only when known for both runs, so a ratio never mixes the two."""
    p, c = primary.e2e_ms, candidate.e2e_ms
    p_wait, c_wait = primary.scheduling_ms, candidate.scheduling_ms
    if p is None or c is None or p_wait is None or c_wait is None:
        return p, c
    return p + p_wait, c + c_wait


def _slow(p: float | None, c: float | None, opts: CompareOptions) -> float | None:
    """The end-to-end ratio when it breaks the tolerance: spec section 9 makes a single slow pair
    a warning by ratio alone, however short the runs (`timing_slack_ms` is for steps)."""
    r = ratio(p, c)
    return r if r is not None and r > opts.timing_tolerance else None


def compare(
    primary: NormalizedRun, candidate: NormalizedRun, opts: CompareOptions
) -> list[Finding]:
    found: list[Finding] = []
    p_e2e, c_e2e = end_to_end(primary, candidate)
    r = _slow(p_e2e, c_e2e, opts)
    if r is not None:
        found.append(
            Finding(
                dimension=Dimension.TIMING,
                kind=Kind.RUN_SLOWER,
                severity=Severity.WARNING,
                path="duration_ms",
                primary=p_e2e,
                candidate=c_e2e,
                message=f"the dry run took {r:.2f}x the primary's time end to end "
                f"(tolerance {opts.timing_tolerance:.2f}, mocked steps excluded)",
            )
        )
    if not primary.steps or not candidate.steps:
        return found
    c_ms = {s.name: ms for s, ms in candidate.timed_steps()}
    excluded, tolerance, slack = opts.excluded_steps, opts.timing_tolerance, opts.timing_slack_ms
    for i, (step, ms) in enumerate(primary.timed_steps()):
        # `_slow` inlined: this loop runs for every step of every pair, every re-judge.
        if not ms or step.name in excluded:
            continue
        other_ms = c_ms.get(step.name)
        if other_ms is None or ms <= 0 or other_ms / ms <= tolerance or other_ms - ms <= slack:
            continue
        found.append(
            Finding(
                dimension=Dimension.TIMING,
                kind=Kind.STEP_SLOWER,
                severity=Severity.WARNING,
                path=f"steps[{i}].duration_ms",
                primary=ms,
                candidate=other_ms,
                message=f"step {step.name} took {other_ms / ms:.2f}x the primary's time in the dry run",
                subject=step.name,
            )
        )
    return found
