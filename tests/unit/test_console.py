"""The console's view models: what a person sees for a pair, decided without a browser."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shadow.core.runs import NormalizedRun
from shadow.core.vocabulary import RunState, StepState
from shadow.serve.views import _steps, _timeline, held_for
from tests.builders import reordered, run, twin

P = run()
NAMES = tuple(s.name for s in P.steps)


@pytest.mark.parametrize(
    ("name", "candidate", "rows"),
    [
        ("equal", twin(P), [(n, True, True, False) for n in NAMES]),
        (
            "one missing",
            reordered(twin(P), NAMES[:2] + NAMES[3:]),
            [(n, True, n != NAMES[2], n == NAMES[2]) for n in NAMES],
        ),
        (
            "moved to the end",
            reordered(twin(P), (NAMES[1], NAMES[2], NAMES[3], NAMES[0])),
            [
                (NAMES[0], True, False, True),
                (NAMES[1], True, True, False),
                (NAMES[2], True, True, False),
                (NAMES[3], True, True, False),
                (NAMES[0], False, True, True),
            ],
        ),
        (
            "status differs",
            twin(P, steps=(*P.steps[:3], replace(P.steps[3], state=StepState.FAILED))),
            [(n, True, True, n == NAMES[3]) for n in NAMES],
        ),
    ],
)
def test_steps_are_aligned_by_name_and_marked(
    name: str, candidate: NormalizedRun, rows: list[tuple[str, bool, bool, bool]]
) -> None:
    got = [
        (r.name, r.primary is not None, r.candidate is not None, r.differs)
        for r in _steps(P, candidate)
    ]
    assert rows == got


def test_timing_bars_are_relative_to_the_longest_step_of_the_pair() -> None:
    rows = _steps(P, twin(P))
    longest = max(ms or 0 for ms in P.step_durations)
    widths = {r.name: r.primary.bar_percent for r in rows if r.primary}
    assert max(widths.values()) == 100.0
    for s, ms in P.timed_steps():
        assert widths[s.name] == round(100 * (ms or 0) / longest, 1)


@pytest.mark.parametrize(
    ("primary", "candidate", "at"),
    [
        ((RunState.QUEUED, RunState.RUNNING, RunState.COMPLETED),) * 2 + (None,),
        (
            (RunState.QUEUED, RunState.RUNNING, RunState.COMPLETED),
            (RunState.QUEUED, RunState.RUNNING, RunState.FAILED),
            2,
        ),
        ((RunState.QUEUED, RunState.RUNNING), (RunState.QUEUED,), 1),
    ],
)
def test_the_first_diverging_state_is_the_one_outlined(
    primary: tuple[RunState, ...], candidate: tuple[RunState, ...], at: int | None
) -> None:
    tl = _timeline(replace(P, history=primary), twin(P, history=candidate))
    assert at == tl.diverges_at


def test_held_for_reads_at_a_glance() -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert held_for(None, now) is None
    assert "45 s" == held_for(now - timedelta(seconds=45), now)
    assert "30 min" == held_for(now - timedelta(minutes=30), now)
    assert "5 h" == held_for(now - timedelta(hours=5), now)
    assert "3 days" == held_for(now - timedelta(days=3, hours=2), now)
