"""Timing: per-pair ratios of `duration_ms`, end to end and per step, mocked steps excluded.

A single slow pair is a warning (spec section 9); the readiness criterion judges the
distribution of end-to-end ratios (see `stats` and `verdict`). A slower step is a warning too,
unless it lost no more than `timing_slack_ms`: steps of a few milliseconds swing by large ratios.
"""

from __future__ import annotations

from shadow.comparators.options import CompareOptions
from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.runs import NormalizedRun


def ratio(primary_ms: float | None, candidate_ms: float | None) -> float | None:
    """Candidate over primary, or None when either is unknown or the primary took no time."""
    if primary_ms is None or candidate_ms is None or primary_ms <= 0:
        return None
    return candidate_ms / primary_ms


def end_to_end(
    primary: NormalizedRun, candidate: NormalizedRun, excluded: frozenset[str]
) -> tuple[float | None, float | None]:
    """Both runs' end-to-end ms, measured the same way so their ratio means something.

    Wall clock (started to finished, mocked steps taken out) when both runs have it; the sum of
    their step durations when either lacks it, since steps alone leave out the waits between them.
    Spec section 7 counts the scheduling delay (requested to running) too: added when known for
    both runs, never for one.
    """
    if not (_wall_clock(primary) and _wall_clock(candidate)):
        return _steps_ms(primary, excluded), _steps_ms(candidate, excluded)
    p, c = primary.e2e_ms, candidate.e2e_ms
    p_wait, c_wait = primary.scheduling_ms, candidate.scheduling_ms
    if p is None or c is None or p_wait is None or c_wait is None:
        return p, c
    return round(p + p_wait, 3), round(c + c_wait, 3)


def _wall_clock(run: NormalizedRun) -> bool:
    return run.terminal and run.started_at is not None and run.finished_at is not None


def _steps_ms(run: NormalizedRun, excluded: frozenset[str]) -> float | None:
    if not run.steps:
        return None
    total = 0.0
    for step, ms in run.timed_steps():
        if ms is None:
            return None
        if step.name not in excluded:
            total += ms
    return round(total, 3)


def _slow(p: float | None, c: float | None, opts: CompareOptions) -> float | None:
    """The end-to-end ratio when it breaks the tolerance: spec section 9 makes a single slow pair
    a warning by ratio alone, however short the runs (`timing_slack_ms` is for steps)."""
    r = ratio(p, c)
    return r if r is not None and r > opts.timing_tolerance else None


def compare(
    primary: NormalizedRun, candidate: NormalizedRun, opts: CompareOptions
) -> list[Finding]:
    found: list[Finding] = []
    p_e2e, c_e2e = end_to_end(primary, candidate, opts.excluded_steps)
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
