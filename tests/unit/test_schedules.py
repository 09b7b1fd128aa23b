"""The fire times a schedule expects: where the window opens and closes, and who missed what."""

from __future__ import annotations

from shadow.core.layout import Side
from shadow.core.runs import NormalizedRun
from shadow.core.schedules import Schedule, ScheduleCheck, check_schedules
from tests.builders import T0, run, twin

HOURLY = Schedule("archivist-violin", "0 * * * *", 900.0)
FIVE_MIN = Schedule("archivist-violin", "*/5 * * * *", 900.0)
F = [(T0 // 3600 + 1 + i) * 3600 for i in range(4)]  # the hourly fire times after T0


def fired(at: float, side: Side = Side.PRIMARY, agent: str = "archivist-violin") -> NormalizedRun:
    """A cron-triggered run of `agent` starting at `at`."""
    r = run(f"{agent}-{side.value}-{at:.0f}", agent=agent, start=at)
    return twin(r) if side is Side.CANDIDATE else r


def outcomes(checks: list[ScheduleCheck]) -> list[tuple[float, str, str]]:
    """(fire time, primary outcome, candidate outcome) per check."""
    return [(c.expected_at, c.primary.value, c.candidate.value) for c in checks]


def judged_window(
    runs: list[NormalizedRun], now: float, sched: Schedule = HOURLY
) -> list[tuple[float, str, str]]:
    """The checks over a window opening at the first primary start, as the judge opens it."""
    start = min(r.started_at or r.first_seen for r in runs if r.side is Side.PRIMARY)
    return outcomes(check_schedules([sched], runs, start, now))


def test_a_first_slot_the_dry_run_missed_is_reported() -> None:
    """The window opens at the first primary start, seconds after the fire time it serves: that
    fire time is still expected, so the dry run missing it is a miss."""
    runs = [fired(F[i] + 40) for i in range(3)]
    runs += [fired(F[i] + 45, Side.CANDIDATE) for i in (1, 2)]
    expected = [(F[0], "seen", "missed"), (F[1], "seen", "seen"), (F[2], "seen", "seen")]
    assert expected == judged_window(runs, F[3])


def test_a_first_slot_the_primary_missed_is_reported() -> None:
    """Another stratum opens the window; this stratum's first fire time, served only by the
    dry run, is a miss on the primary side."""
    runs = [fired(F[0] + 30, agent="other"), fired(F[0] + 50, Side.CANDIDATE)]
    runs += [fired(F[1] + 40), fired(F[1] + 45, Side.CANDIDATE)]
    expected = [(F[0], "missed", "seen"), (F[1], "seen", "seen")]
    assert expected == judged_window(runs, F[1] + 3000)


def test_no_slot_is_invented_before_the_first_run() -> None:
    """Fire times within the tolerance before the window opens that no run serves are before the
    observed history: a 5-minute schedule with a 15-minute tolerance expects nothing earlier than
    the fire time the first runs serve."""
    runs = [fired(F[0] + 40), fired(F[0] + 45, Side.CANDIDATE)]
    runs += [fired(F[0] + 300 + 40), fired(F[0] + 300 + 45, Side.CANDIDATE)]
    expected = [(F[0], "seen", "seen"), (F[0] + 300, "seen", "seen")]
    assert expected == judged_window(runs, F[0] + 600 + 899, FIVE_MIN)


def test_a_dry_run_slot_long_before_the_primary_history_is_not_expected() -> None:
    """A dry-run run serving a fire time whose tolerance ends before the window opens does not
    stretch the window back: the primary was not observed then."""
    runs = [fired(F[0] + 45, Side.CANDIDATE), fired(F[1] + 40), fired(F[1] + 45, Side.CANDIDATE)]
    assert [(F[1], "seen", "seen")] == judged_window(runs, F[1] + 3000)


def test_the_last_slot_is_expected_only_once_its_tolerance_has_passed() -> None:
    """A fire time still inside its tolerance is not missed yet; once it has passed, it is."""
    runs = [fired(F[0] + 40), fired(F[0] + 45, Side.CANDIDATE), fired(F[1] + 40)]
    assert [(F[0], "seen", "seen")] == judged_window(runs, F[1] + 899)
    expected = [(F[0], "seen", "seen"), (F[1], "seen", "missed")]
    assert expected == judged_window(runs, F[1] + 900)


def test_a_run_at_the_end_of_the_tolerance_serves_no_fire_time() -> None:
    """A fire time is served by a run starting at or after it and before its tolerance ends, as
    pairing snaps a slot: a run exactly `tolerance` late is off schedule and the slot missed."""
    runs = [fired(F[0] + 40), fired(F[0] + 899, Side.CANDIDATE)]
    runs += [fired(F[1] + 40), fired(F[1] + 900, Side.CANDIDATE)]
    expected = [(F[0], "seen", "seen"), (F[1], "seen", "missed")]
    assert expected == judged_window(runs, F[1] + 3000)


def test_a_start_decades_back_does_not_enumerate_every_slot_since() -> None:
    """One record started in 1970 (a valid time: a reset clock, a hostile writer) under a
    minutely cron: the checks hold the latest MAX_FIRE_TIMES fire times, not 29 million."""
    from shadow.core.schedules import MAX_FIRE_TIMES, fire_times

    end = 1_763_700_000.0
    times = fire_times("* * * * *", 0.0, end)
    assert len(times) == MAX_FIRE_TIMES and times[-1] == end
    assert times == sorted(times) and times[0] == end - 60 * (MAX_FIRE_TIMES - 1)
    assert fire_times("0 3 * * *", end - 3 * 86_400, end) == fire_times(
        "0 3 * * *", end - 3 * 86_400, end, limit=10
    )
