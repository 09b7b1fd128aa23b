"""Expected cron schedules: a scheduled run that happened on neither or only one side.

Rules: for each configured schedule, every fire time inside the evidence window and at least
`tolerance` before now is expected on both sides as a run of that stratum (agent or job type)
serving it: a run whose slot (a declarative profile's schedule marker and slot) or, for the
garden, whose start lies within `tolerance` after the fire time. A fire time without such a run
on a side is a miss on that side. Scheduled runs pair by the fire time they serve
(shadow/core/pairing.py), so a missed slot is this finding, never a lost or orphan run.

The window opens at the earliest primary start, which lies a little after the fire time that run
serves; so the first fire time expected is the earliest one any run of the stratum (either side)
serves within `tolerance` before the window opens, else the first at or after it. A fire time
no run serves before the window opens is before the observed history, never a miss. Pure: fire
times come from croniter, a calculator, not a clock.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from croniter import croniter

from shadow.core.layout import Side
from shadow.core.runs import NormalizedRun


class ScheduleOutcome(StrEnum):
    SEEN = "seen"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class Schedule:
    stratum: str
    cron: str
    tolerance_s: float = 900.0
    trigger: str | None = "cron"  # only runs with this trigger count; None: any trigger


@dataclass(frozen=True, slots=True)
class ScheduleCheck:
    stratum: str
    cron: str
    expected_at: float
    primary: ScheduleOutcome
    candidate: ScheduleOutcome

    def missed_on(self, side: Side) -> bool:
        outcome = self.primary if side is Side.PRIMARY else self.candidate
        return outcome is ScheduleOutcome.MISSED


def valid_cron(expr: str) -> bool:
    return bool(croniter.is_valid(expr))


# Fire times checked per schedule and judgement: a minutely cron over 60 days. One record with a
# start decades back (valid, hostile or a clock reset) would otherwise enumerate millions of
# slots on every judgement; the checks keep the latest fire times, where the evidence is.
MAX_FIRE_TIMES: Final = 86_400
# A time croniter cannot step to (its CroniterBadDateError is a ValueError) or the platform
# cannot represent.
_CRON_ERRORS: Final = (ValueError, OverflowError, OSError)


def fire_times(cron: str, start: float, end: float, limit: int = MAX_FIRE_TIMES) -> list[float]:
    """The latest `limit` fire times t with start - 1 < t <= end (UTC), oldest first: the
    second before `start` counts, as a start read from a record is rarely a whole second."""
    it = croniter(cron, datetime.fromtimestamp(math.floor(end) + 1, UTC))
    out: list[float] = []
    while len(out) < limit:
        try:
            t = float(it.get_prev(float))
        except _CRON_ERRORS:
            break
        if t <= start - 1:
            break
        if t <= end:
            out.append(t)
    out.reverse()
    return out


def snap(cron: str, slot: float, tolerance_s: float) -> float | None:
    """The fire time `t` a slot serves, `t <= slot < t + tolerance`; None when it serves none."""
    try:
        it = croniter(cron, datetime.fromtimestamp(math.floor(slot) + 1, UTC))
        t = float(it.get_prev(float))
    except _CRON_ERRORS:
        return None
    return t if slot - t < tolerance_s else None


def scheduled_at(run: NormalizedRun, sched: Schedule) -> float | None:
    """When a run of the schedule's stratum says it fired, or None if it is no scheduled run.

    A declarative profile with a schedule marker says which runs are scheduled and the slot each
    serves; otherwise (the garden) a run whose trigger is the schedule's word counts by its start.
    """
    links = run.links
    if links is not None and links.scheduled is not None:
        if not links.scheduled:
            return None
        if links.slot is not None:
            return links.slot
    elif sched.trigger is not None and run.trigger != sched.trigger:
        return None
    return run.started_at if run.started_at is not None else run.first_seen


def _starts(runs: Iterable[NormalizedRun], sched: Schedule) -> dict[Side, list[float]]:
    starts: dict[Side, list[float]] = {Side.PRIMARY: [], Side.CANDIDATE: []}
    for run in runs:
        if run.agent != sched.stratum:
            continue
        at = scheduled_at(run, sched)
        if at is not None:
            starts[run.side].append(at)
    return {side: sorted(v) for side, v in starts.items()}


def _any_within(sorted_starts: list[float], lo: float, hi: float) -> bool:
    """Any start with lo <= start < hi: half-open like `snap`, so a run at exactly the end of a
    fire time's tolerance serves it in neither (pairing calls it off schedule)."""
    i = bisect_left(sorted_starts, lo)
    return i < len(sorted_starts) and sorted_starts[i] < hi


def _first_expected(sched: Schedule, starts: dict[Side, list[float]], window_start: float) -> float:
    """Where a schedule's expected fire times begin: the window start, or the earlier fire time
    a run on either side serves whose tolerance reaches into the window."""
    served = (
        snap(sched.cron, at, sched.tolerance_s)
        for side in Side
        for at in starts[side][: bisect_left(starts[side], window_start + sched.tolerance_s)]
    )
    early = [t for t in served if t is not None and window_start - sched.tolerance_s < t]
    return min([window_start, *early])


def check_schedules(
    schedules: Sequence[Schedule],
    runs: Sequence[NormalizedRun],
    window_start: float | None,
    now: float,
) -> list[ScheduleCheck]:
    """One check per expected fire time of each schedule inside the window."""
    if window_start is None:
        return []
    out: list[ScheduleCheck] = []
    for sched in schedules:
        starts = _starts(runs, sched)
        first = _first_expected(sched, starts, window_start)
        for t in fire_times(sched.cron, first, now - sched.tolerance_s):
            seen = {side: _any_within(starts[side], t, t + sched.tolerance_s) for side in Side}
            out.append(
                ScheduleCheck(
                    sched.stratum,
                    sched.cron,
                    t,
                    ScheduleOutcome.SEEN if seen[Side.PRIMARY] else ScheduleOutcome.MISSED,
                    ScheduleOutcome.SEEN if seen[Side.CANDIDATE] else ScheduleOutcome.MISSED,
                )
            )
    return out
