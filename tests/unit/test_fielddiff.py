"""Field-level differences for people: DeepDiff only where the canonical projection differs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shadow.core.fielddiff import field_differences
from shadow.core.pairing import Pair, PairState
from shadow.core.runs import NormalizedRun, NormStep, RetryInfo
from shadow.core.vocabulary import RunState, StepState
from shadow.render import render_diff
from shadow.serve.api import RunView, run_view
from shadow.serve.views import PairPage, pair_page
from tests.builders import T0, reordered, result, run, steps, twin


def test_equal_runs_have_no_field_differences() -> None:
    """Noise-only twins show nothing."""
    p = run()
    assert [] == field_differences(p, twin(p, started_at=(p.started_at or 0) + 30))


def test_differences_name_the_field_and_both_values() -> None:
    """A dropped step and a different end state are shown by path with both sides' values; the
    steps after the dropped one, renumbered, do not differ."""
    p = run()
    c = twin(p, state=RunState.FAILED, steps=steps("load-context", "execute-agent", "finalize"))
    rows = {r.path: (r.primary, r.candidate) for r in field_differences(p, c)}
    assert ("completed", "failed") == rows["state"]
    assert rows["steps.persist-results"][1] is None
    assert {"state", "steps.persist-results"} == set(rows)


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


FAILED = run(
    state=RunState.FAILED,
    error="INTERNAL_ERROR",
    step_list=(
        NormStep(1, "load-context", StepState.COMPLETED, None),
        NormStep(2, "execute-agent", StepState.FAILED, "INTERNAL_ERROR"),
    ),
    retries=(RetryInfo("execute-agent", False, "INTERNAL_ERROR", 3),),
)
NAMES = tuple(s.name for s in run().steps)
# What each view calls a field, as a path into fielddiff's document.
CLI_ROWS = {"state": "state", "error": "error_code", "agent": "agent", "trigger": "trigger"}
CLI_ROWS |= {"proposals": "proposals", "history": "history"}
CONSOLE_ROWS = {"state": "state", "error_class": "error_code", "agent": "agent"}
CONSOLE_ROWS |= {"trigger": "trigger", "proposals": "proposals"}


def _pairs() -> list[tuple[str, NormalizedRun, NormalizedRun | None]]:
    p = run()
    return [
        # timing noise only: every view shows the durations, none marks them
        ("timing", p, twin(p, step_durations=(600.0, 25000.0, 300.0, 40.0), e2e_ms=2000.0)),
        # codes the comparators judge alike (run-level equivalence) are not a difference
        (
            "equivalent codes",
            FAILED,
            twin(
                FAILED,
                error_code="AGENT_TIMEOUT",
                error_class="RETRIES_EXHAUSTED",
                steps=(FAILED.steps[0], replace(FAILED.steps[1], error_code="AGENT_TIMEOUT")),
                step_durations=FAILED.step_durations,
                retries=(RetryInfo("execute-agent", False, "AGENT_TIMEOUT", 3),),
            ),
        ),
        ("one step missing", p, reordered(twin(p), NAMES[:2] + NAMES[3:])),
        ("a step moved", p, reordered(twin(p), (*NAMES[1:], NAMES[0]))),
        (
            "state, agent, retries",
            p,
            twin(
                p,
                state=RunState.FAILED,
                agent="other-agent",
                retries=(RetryInfo("persist-results", True, "IO", 2),),
            ),
        ),
        ("no dry run", p, None),
    ]


def _console_marks(page: PairPage) -> dict[str, bool]:
    marks = {CONSOLE_ROWS[f.name]: f.differs for f in page.fields if f.name in CONSOLE_ROWS}
    names = [row.name for row in page.steps]
    for row in page.steps:  # a moved step has a row per side: they show the order
        key = "step_order" if names.count(row.name) > 1 else f"steps.{row.name}"
        marks[key] = marks.get(key, False) or row.differs
    return marks


def _cli_marks(text: str) -> dict[str, bool]:
    marks: dict[str, bool] = {}
    for line in text.split("\n")[3:]:  # the side-by-side rows, up to the first blank line
        if not line:
            break
        label = line[2:24].strip()
        if label == "step order":
            marks["step_order"] = line[0] == "≠"
        elif label.startswith("step "):
            marks[f"steps.{label[5:]}"] = line[0] == "≠"
        elif label in CLI_ROWS:
            marks[CLI_ROWS[label]] = line[0] == "≠"
    return marks


def _api_marks(view: RunView, fields: set[str]) -> dict[str, bool]:
    paths = [d["path"] for d in view.field_differences]
    if paths == ["run"]:  # one side missing: the whole run differs
        return dict.fromkeys(fields, True)
    return {
        f: any(p == f or p.startswith(f + ".") or f.startswith(p + ".") for p in paths)
        for f in fields
    }


@pytest.mark.parametrize(("name", "primary", "candidate"), _pairs(), ids=lambda x: str(x)[:20])
def test_cli_console_and_api_mark_the_same_fields(
    name: str, primary: NormalizedRun, candidate: NormalizedRun | None
) -> None:
    """`shadow diff`, the console's pair page and GET /runs/{id} mark the same fields of a pair
    as differing, and leave timing and equivalent error codes unmarked (issue 14)."""
    state = PairState.PAIRED if candidate else PairState.PRIMARY_ONLY
    pair = Pair(primary.pairing_key, primary, candidate, state)
    res = result(primary.pairing_key, state=state)
    cli = _cli_marks(render_diff(pair.key, primary, candidate, (), None, state.value))
    console = _console_marks(pair_page(pair.key, res, primary, candidate, ()))
    api = _api_marks(run_view(pair.key, res, pair), set(cli) | set(console))
    assert set(console) <= set(cli)  # the console shows no field the CLI leaves out
    assert cli == {f: api[f] for f in cli}
    assert console == {f: api[f] for f in console}
    expected = {
        "timing": set(),
        "equivalent codes": set(),
        "one step missing": {f"steps.{NAMES[2]}"},
        "a step moved": {"step_order"},
        "state, agent, retries": {"state", "agent"},
    }
    if name in expected:
        assert expected[name] == {f for f, marked in console.items() if marked}


def test_the_diff_shows_the_end_to_end_time_the_timing_finding_judged() -> None:
    """A consumer record a redelivery overwrote runs briefly but waited long since the first
    send: `shadow diff` shows the wait, the run, and the end-to-end sum the finding compares,
    so the numbers on the screen agree with `run_slower`."""
    from shadow.comparators import CompareOptions
    from shadow.comparators.timing import compare
    from shadow.core.runs import RunLinks

    def links(queued_at: float) -> RunLinks:
        return RunLinks(None, None, 1, None, None, queued_at, True, True)

    p = run(start=T0, end=T0 + 26.0, links=links(T0 - 0.5))  # 6 s besides the mocked 20 s
    c = twin(p, started_at=T0 + 12.0, finished_at=T0 + 35.0, e2e_ms=3000.0)
    (slow,) = [f for f in compare(p, c, CompareOptions()) if f.path == "duration_ms"]
    text = render_diff("r1", p, c, (slow,), slow, "paired", frozenset({"execute-agent"}))
    rows = {line[2:26].strip(): line[26:].split() for line in text.splitlines()[3:]}
    assert rows["queue wait ms"] == ["500", "12500"]
    assert rows["end to end ms (judged)"] == [f"{slow.primary:.0f}", f"{slow.candidate:.0f}"]
    assert float(rows["run ms (excl. mocked)"][1]) < float(rows["run ms (excl. mocked)"][0])
    page = pair_page("r1", result("r1"), p, c, ())
    shown = {f.name: (f.primary, f.candidate) for f in page.fields}
    assert shown["scheduling_ms"] == ("500", "12,500")  # the console shows the wait too
