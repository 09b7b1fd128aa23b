"""Field-level differences for people: DeepDiff only where the canonical projection differs."""

from __future__ import annotations

from shadow.core.fielddiff import field_differences
from shadow.core.runs import NormStep
from shadow.core.vocabulary import RunState, StepState
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


def test_step_errors_are_marked_as_the_comparators_judge_them() -> None:
    """Each side's failing step repeating its run's equivalent code is not a difference; a step
    code that is not its run's is compared as written."""
    failed = run(
        state=RunState.FAILED,
        error="INTERNAL_ERROR",
        step_list=(NormStep(1, "execute-agent", StepState.FAILED, "INTERNAL_ERROR"),),
    )
    copies = twin(
        failed,
        error_code="AGENT_TIMEOUT",
        error_class="RETRIES_EXHAUSTED",
        steps=(NormStep(1, "execute-agent", StepState.FAILED, "AGENT_TIMEOUT"),),
    )
    assert [] == field_differences(failed, copies)
    own = twin(failed, steps=(NormStep(1, "execute-agent", StepState.FAILED, "AGENT_TIMEOUT"),))
    rows = {r.path: (r.primary, r.candidate) for r in field_differences(failed, own)}
    assert {"steps.execute-agent.error_code": ("INTERNAL_ERROR", "AGENT_TIMEOUT")} == rows
