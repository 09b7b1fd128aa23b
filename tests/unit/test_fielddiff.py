"""Field-level differences for people: DeepDiff only where the canonical projection differs."""

from __future__ import annotations

from shadow.fielddiff import field_differences
from shadow.vocabulary import RunState
from tests.builders import run, steps, twin


def test_equal_runs_have_no_field_differences() -> None:
    """Noise-only twins show nothing."""
    p = run()
    assert [] == field_differences(p, twin(p, started_at=(p.started_at or 0) + 30))


def test_differences_name_the_field_and_both_values() -> None:
    """A dropped step and a different end state are shown by path with both sides' values."""
    p = run()
    c = twin(p, state=RunState.FAILED, steps=steps("load-context", "execute-agent", "finalize"))
    rows = {r.path: (r.primary, r.candidate) for r in field_differences(p, c)}
    assert ("completed", "failed") == rows["state"]
    assert (4, 3) == rows["steps.finalize.number"]
    assert rows["steps.persist-results"][1] is None
