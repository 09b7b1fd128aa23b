"""Completeness: every primary run has a twin, no twin lacks its primary, nothing is stuck.

A window comparator: it reads the pairing state of every key (pairing decides, with time).
Scheduled runs paired by their fire time are the exception: a fire time with a run on one side
only is the schedule check's missed_schedule error (shadow/core/schedules.py), so here it gets
an info finding only, never a lost or orphan error.
"""

from __future__ import annotations

from collections.abc import Sequence

from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.pairing import Pair, PairState


def _finding(pair: Pair) -> Finding | None:
    if pair.by_slot and pair.state in (PairState.PRIMARY_ONLY, PairState.CANDIDATE_ONLY):
        return _missed_slot(pair)
    if pair.state is PairState.PRIMARY_ONLY:
        return Finding(
            dimension=Dimension.COMPLETENESS,
            kind=Kind.LOST_RUN,
            severity=Severity.ERROR,
            path="candidate",
            subject="",
            primary=pair.key,
            candidate=None,
            message="the primary run has no dry-run twin past the grace period (a lost message)",
        )
    if pair.state is PairState.CANDIDATE_ONLY:
        return Finding(
            dimension=Dimension.COMPLETENESS,
            kind=Kind.ORPHAN_RUN,
            severity=Severity.ERROR,
            path="primary",
            subject="",
            primary=None,
            candidate=pair.key,
            message="a dry-run twin exists but its primary run does not (an orphan)",
        )
    if pair.state is PairState.STUCK:
        stuck = [r for r in (pair.primary, pair.candidate) if r is not None and not r.terminal]
        sides = " and ".join(r.side.value for r in stuck)
        noun = "runs are" if len(stuck) > 1 else "run is"
        return Finding(
            dimension=Dimension.COMPLETENESS,
            kind=Kind.STUCK_RUN,
            severity=Severity.ERROR,
            path="status.state",
            subject=sides,
            primary=_state(pair, "primary"),
            candidate=_state(pair, "candidate"),
            message=f"the {sides} {noun} not terminal past the run timeout plus grace (stuck)",
        )
    return None


def _missed_slot(pair: Pair) -> Finding:
    """A fire time seen on one side only: the schedule check counts it once, as missed_schedule
    (an error of the stratum); here it is only named, never a second, lost or orphan, error."""
    missing = "candidate" if pair.state is PairState.PRIMARY_ONLY else "primary"
    return Finding(
        dimension=Dimension.COMPLETENESS,
        kind=Kind.MISSED_SCHEDULE,
        severity=Severity.INFO,
        path=missing,
        subject=pair.agent,
        primary=pair.key if pair.primary is not None else None,
        candidate=pair.key if pair.candidate is not None else None,
        message=f"no {missing} run serves this fire time ({pair.key}); counted once as the "
        "schedule's missed_schedule",
    )


def _state(pair: Pair, side: str) -> str | None:
    run = pair.primary if side == "primary" else pair.candidate
    if run is None:
        return None
    return run.state.value if run.state is not None else "unknown"


def compare(pairs: Sequence[Pair], now: float) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for pair in pairs:
        finding = _finding(pair)
        if finding is not None:
            out[pair.key] = [finding]
    return out
