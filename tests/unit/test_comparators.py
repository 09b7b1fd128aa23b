"""Every comparator kind, table-driven: (primary, candidate) -> the findings a user relies on."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shadow.comparators import CompareOptions, compare_pair, completeness, concurrency
from shadow.core.evidence import HistoryMode
from shadow.core.findings import Dimension, Kind, Severity
from shadow.core.layout import Side
from shadow.core.pairing import Pair, PairState
from shadow.core.runs import NormalizedRun, NormStep, RetryInfo
from shadow.core.vocabulary import RunState, StepState
from tests.builders import T0, reordered, run, steps, twin, with_ms

OPTS = CompareOptions()
P = run()
FAILED = run(
    state=RunState.FAILED,
    error="INTERNAL_ERROR",
    step_list=(
        NormStep(1, "load-context", StepState.COMPLETED, None),
        NormStep(2, "execute-agent", StepState.FAILED, "INTERNAL_ERROR"),
    ),
    step_ms=(500.0, 900.0),
)
RETRY = (RetryInfo("execute-agent", True, "NLM_UNAVAILABLE", 2),)
RETRIED = run(retries=RETRY)
BACKWARDS = (RunState.RUNNING, RunState.QUEUED, RunState.RUNNING, RunState.COMPLETED)
# Seen while requested: `first_seen` is when it was requested, `start` when it began running.
WAITED = run(history=(RunState.REQUESTED, RunState.RUNNING, RunState.COMPLETED))


CASES: list[tuple[str, NormalizedRun, NormalizedRun, set[tuple[Dimension, Kind, Severity]]]] = [
    (
        "terminal state",
        P,
        twin(
            P,
            state=RunState.FAILED,
            error_code="VALIDATION_FAILED",
            error_class="VALIDATION_FAILED",
        ),
        {(Dimension.STATUS, Kind.TERMINAL_STATE_DIFFERS, Severity.ERROR)},
    ),
    (
        "error code",
        FAILED,
        twin(FAILED, error_code="RATE_LIMITED", error_class="RATE_LIMITED"),
        {(Dimension.STATUS, Kind.ERROR_CODE_DIFFERS, Severity.ERROR)},
    ),
    (
        "order",
        run(history=(RunState.QUEUED, RunState.RUNNING, RunState.COMPLETED)),
        twin(P, history=(RunState.RUNNING, RunState.QUEUED, RunState.COMPLETED)),
        {
            (Dimension.STATUS, Kind.TRANSITION_ORDER_DIFFERS, Severity.ERROR),
            (Dimension.STATUS, Kind.FORBIDDEN_TRANSITION, Severity.ERROR),
        },
    ),
    (
        "forbidden in primary is a warning",
        run(history=(RunState.COMPLETED, RunState.RUNNING, RunState.COMPLETED)),
        twin(P, history=(RunState.RUNNING, RunState.COMPLETED)),
        {
            (Dimension.STATUS, Kind.FORBIDDEN_TRANSITION, Severity.WARNING),
            (Dimension.STATUS, Kind.TRANSITION_ORDER_DIFFERS, Severity.ERROR),
        },
    ),
    (
        "step missing",
        P,
        twin(P, steps=steps("load-context", "execute-agent", "finalize")),
        {(Dimension.STEPS, Kind.STEP_MISSING, Severity.ERROR)},
    ),
    (
        "step extra",
        P,
        twin(
            P,
            steps=steps("load-context", "execute-agent", "persist-results", "validate", "finalize"),
        ),
        {(Dimension.STEPS, Kind.STEP_EXTRA, Severity.ERROR)},
    ),
    (
        "one move is one reorder",
        P,
        reordered(twin(P), ("load-context", "persist-results", "execute-agent", "finalize")),
        {(Dimension.STEPS, Kind.STEP_REORDERED, Severity.ERROR)},
    ),
    (
        "step status",
        P,
        twin(P, steps=(*P.steps[:2], replace(P.steps[2], state=StepState.SKIPPED), P.steps[3])),
        {(Dimension.STEPS, Kind.STEP_STATUS_DIFFERS, Severity.ERROR)},
    ),
    (
        "step error",
        FAILED,
        twin(FAILED, steps=(FAILED.steps[0], replace(FAILED.steps[1], error_code="FORBIDDEN"))),
        {(Dimension.STEPS, Kind.STEP_ERROR_DIFFERS, Severity.ERROR)},
    ),
    (
        "retry missing",
        RETRIED,
        twin(RETRIED, retries=()),
        {(Dimension.RETRIES, Kind.RETRY_MISSING, Severity.ERROR)},
    ),
    (
        "retry extra",
        P,
        twin(P, retries=RETRY),
        {(Dimension.RETRIES, Kind.RETRY_EXTRA, Severity.ERROR)},
    ),
    (
        "retry outcome",
        RETRIED,
        twin(RETRIED, retries=(replace(RETRY[0], recovered=False),)),
        {(Dimension.RETRIES, Kind.RETRY_OUTCOME_DIFFERS, Severity.ERROR)},
    ),
    (
        "retry error",
        RETRIED,
        twin(RETRIED, retries=(replace(RETRY[0], error_code="RATE_LIMITED"),)),
        {(Dimension.RETRIES, Kind.RETRY_ERROR_DIFFERS, Severity.ERROR)},
    ),
    (
        "retry attempts are info",
        RETRIED,
        twin(RETRIED, retries=(replace(RETRY[0], attempts=3),)),
        {(Dimension.RETRIES, Kind.RETRY_ATTEMPTS_DIFFER, Severity.INFO)},
    ),
    (
        "slow run and step",
        P,
        twin(
            P,
            e2e_ms=(P.e2e_ms or 0) * 2.5,
            step_durations=with_ms(P, persist_results=2000.0),
        ),
        {
            (Dimension.TIMING, Kind.RUN_SLOWER, Severity.WARNING),
            (Dimension.TIMING, Kind.STEP_SLOWER, Severity.WARNING),
        },
    ),
    (
        "proposals",
        P,
        twin(P, proposals=1),
        {(Dimension.SIDE_EFFECTS, Kind.PROPOSALS_CREATED, Severity.ERROR)},
    ),
    (
        "proposal output",
        P,
        twin(P, proposal_outputs=("runs/r1-dryrun/output/proposal-1.json",)),
        {(Dimension.SIDE_EFFECTS, Kind.PROPOSAL_OUTPUT, Severity.ERROR)},
    ),
    (
        "vendor leak",
        P,
        twin(P, vendor_fields=frozenset({"triggerRunId"})),
        {(Dimension.SIDE_EFFECTS, Kind.VENDOR_FIELD_LEAK, Severity.ERROR)},
    ),
    # Equal-but-noisy: nothing at all.
    (
        "retries exhausted equivalence",
        FAILED,
        twin(
            FAILED,
            error_code="AGENT_TIMEOUT",
            error_class="RETRIES_EXHAUSTED",
            steps=(FAILED.steps[0], replace(FAILED.steps[1], error_code="AGENT_TIMEOUT")),
        ),
        set(),
    ),
    (
        "a step error that is not its run's code is compared as written",
        FAILED,
        twin(FAILED, steps=(FAILED.steps[0], replace(FAILED.steps[1], error_code="AGENT_TIMEOUT"))),
        {(Dimension.STEPS, Kind.STEP_ERROR_DIFFERS, Severity.ERROR)},
    ),
    (
        "an exhausted retry's last error outside its run's code is compared as written",
        replace(FAILED, retries=(RetryInfo("execute-agent", False, "AGENT_TIMEOUT", 3),)),
        replace(
            twin(FAILED),
            retries=(RetryInfo("execute-agent", False, "INTERNAL_ERROR", 3),),
            error_code="NLM_UNAVAILABLE",
            error_class="NLM_UNAVAILABLE",
        ),
        {
            (Dimension.RETRIES, Kind.RETRY_ERROR_DIFFERS, Severity.ERROR),
            (Dimension.STATUS, Kind.ERROR_CODE_DIFFERS, Severity.ERROR),
        },
    ),
    (
        "a retry's last error repeating each run's equivalent code",
        replace(FAILED, retries=(RetryInfo("execute-agent", False, "INTERNAL_ERROR", 3),)),
        twin(
            FAILED,
            error_code="AGENT_TIMEOUT",
            error_class="RETRIES_EXHAUSTED",
            steps=(FAILED.steps[0], replace(FAILED.steps[1], error_code="AGENT_TIMEOUT")),
            retries=(RetryInfo("execute-agent", False, "AGENT_TIMEOUT", 3),),
        ),
        set(),
    ),
    (
        "a state missing from an exact (versioned) history is a mismatch",
        run(
            history=(RunState.REQUESTED, RunState.QUEUED, RunState.RUNNING, RunState.COMPLETED),
            history_mode=HistoryMode.VERSIONED,
        ),
        twin(
            P,
            history=(RunState.REQUESTED, RunState.RUNNING, RunState.COMPLETED),
            history_mode=HistoryMode.VERSIONED,
        ),
        {(Dimension.STATUS, Kind.TRANSITION_ORDER_DIFFERS, Severity.ERROR)},
    ),
    (
        "a forbidden move both sides made is still forbidden",
        run(history=BACKWARDS),
        twin(run(history=BACKWARDS)),
        {
            (Dimension.STATUS, Kind.FORBIDDEN_TRANSITION, Severity.WARNING),
            (Dimension.STATUS, Kind.FORBIDDEN_TRANSITION, Severity.ERROR),
        },
    ),
    (
        "unobserved states are not a mismatch",
        run(history=(RunState.REQUESTED, RunState.QUEUED, RunState.RUNNING, RunState.COMPLETED)),
        twin(P, history=(RunState.RUNNING, RunState.COMPLETED)),
        set(),
    ),
    (
        "mocked step much faster",
        P,
        twin(P, step_durations=with_ms(P, execute_agent=80.0)),
        set(),
    ),
    (
        "a slower mocked step is not timed",
        P,
        twin(P, step_durations=with_ms(P, execute_agent=90000.0)),
        set(),
    ),
    (
        "a short run slower by the ratio alone",
        run(step_list=steps("load-context"), step_ms=(100.0,)),
        twin(run(step_list=steps("load-context"), step_ms=(100.0,)), e2e_ms=150.0),
        {(Dimension.TIMING, Kind.RUN_SLOWER, Severity.WARNING)},
    ),
    (
        "a dry run that waited minutes to start is slower end to end (both requests seen)",
        replace(WAITED, first_seen=T0 - 2),
        twin(WAITED, first_seen=T0 - 300),
        {(Dimension.TIMING, Kind.RUN_SLOWER, Severity.WARNING)},
    ),
    (
        "a scheduling delay known for one side only is left out",
        replace(WAITED, first_seen=T0 - 2),
        twin(WAITED, first_seen=T0 + 1, history=(RunState.RUNNING, RunState.COMPLETED)),
        set(),
    ),
    (
        "a wait just past the allowance is not counted whole",
        replace(WAITED, first_seen=T0 - 1.9, e2e_ms=10_000.0),
        twin(WAITED, first_seen=T0 - 2.1, e2e_ms=10_000.0),
        set(),
    ),
    (
        "waits within the store's clock resolution count as none",
        replace(WAITED, first_seen=T0 - 0.2, e2e_ms=900.0),
        twin(WAITED, first_seen=T0 - 1.9, e2e_ms=900.0),
        set(),
    ),
    (
        "tiny absolute slowdowns are noise",
        P,
        twin(P, step_durations=with_ms(P, finalize=120.0)),
        set(),
    ),
    ("primary proposals are allowed", run(proposals=3), twin(P), set()),
]


@pytest.mark.parametrize(
    ("primary", "candidate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_pair_comparators(
    primary: NormalizedRun,
    candidate: NormalizedRun,
    expected: set[tuple[Dimension, Kind, Severity]],
) -> None:
    """Each difference is reported in its dimension with its kind and severity, and nothing else."""
    found = {(f.dimension, f.kind, f.severity) for f in compare_pair(primary, candidate, OPTS)}
    assert expected == found


def test_a_skipped_step_is_one_finding_not_a_cascade() -> None:
    """Dropping step 2 of nine reports one missing step, not eight renumbered ones."""
    names = tuple(f"gen-{i}" for i in range(1, 10))
    p = run(step_list=steps(*names))
    c = twin(p, steps=steps(*(n for n in names if n != "gen-2")))
    found = [(f.kind, f.subject) for f in compare_pair(p, c, OPTS)]
    assert found == [(Kind.STEP_MISSING, "gen-2")]


def _pair(key: str, p: NormalizedRun | None, c: NormalizedRun | None, state: PairState) -> Pair:
    return Pair(key, p, c, state)


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        (PairState.PRIMARY_ONLY, Kind.LOST_RUN),
        (PairState.CANDIDATE_ONLY, Kind.ORPHAN_RUN),
        (PairState.STUCK, Kind.STUCK_RUN),
    ],
)
def test_completeness_window(state: PairState, kind: Kind) -> None:
    """Lost, orphan and stuck pairs get one completeness error each; paired ones none."""
    stuck = run(state=RunState.RUNNING)
    pairs = [_pair("ok", P, twin(P), PairState.PAIRED), _pair("x", stuck, None, state)]
    found = completeness.compare(pairs, T0)
    assert {"x"} == set(found)
    assert [(Dimension.COMPLETENESS, kind, Severity.ERROR)] == [
        (f.dimension, f.kind, f.severity) for f in found["x"]
    ]


def _timed(key: str, start: float, seconds: float, side: Side, **kw: object) -> NormalizedRun:
    return run(key, side, start=start, end=start + seconds, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("primaries_overlap", "queued", "expected"),
    [
        (False, False, [Kind.OVERLAP]),
        (False, True, [Kind.QUEUE_BYPASSED]),
        (True, False, []),
    ],
)
def test_concurrency_window(primaries_overlap: bool, queued: bool, expected: list[Kind]) -> None:
    """Overlapping dry runs are a finding on the later run only where the primaries were serialized."""
    p1 = _timed("a", T0, 60, Side.PRIMARY)
    p2 = _timed(
        "b", T0 + (30 if primaries_overlap else 120), 60, Side.PRIMARY, queued_observed=queued
    )
    c1 = _timed("a", T0 + 5, 60, Side.CANDIDATE)
    c2 = _timed("b", T0 + 20, 60, Side.CANDIDATE)
    pairs = [_pair("a", p1, c1, PairState.PAIRED), _pair("b", p2, c2, PairState.PAIRED)]
    found = concurrency.compare(pairs, T0 + 1000)
    assert expected == [f.kind for f in found.get("b", [])]
    assert "a" not in found


def test_other_agents_never_overlap() -> None:
    """Runs of different agents may run side by side."""
    c1 = _timed("a", T0, 60, Side.CANDIDATE)
    c2 = _timed("b", T0 + 10, 60, Side.CANDIDATE, agent="other-agent")
    pairs = [
        _pair("a", _timed("a", T0, 60, Side.PRIMARY), c1, PairState.PAIRED),
        _pair(
            "b", _timed("b", T0 + 500, 60, Side.PRIMARY, agent="other-agent"), c2, PairState.PAIRED
        ),
    ]
    assert concurrency.compare(pairs, T0 + 1000) == {}


NINE = tuple(
    f"{i}-{n}"
    for i, n in enumerate(
        (
            "scaffold",
            "schema",
            "models",
            "api",
            "ui",
            "tests",
            "docs",
            "ci",
            "publish",
        ),
        start=1,
    )
)


def _nine_steps(names: tuple[str, ...]) -> tuple[NormStep, ...]:
    return steps(*names)


@pytest.mark.parametrize(
    ("label", "candidate_names", "expected"),
    [
        ("skipped", NINE[:4] + NINE[5:], [(Kind.STEP_MISSING, "5-ui")]),
        (
            "merged",
            (*NINE[:3], "4-build", *NINE[5:]),
            [(Kind.STEP_MERGED, "4-api+5-ui")],
        ),
        (
            "split",
            (*NINE[:4], "5-ui-shell", "5-ui-pages", *NINE[5:]),
            [(Kind.STEP_SPLIT, "5-ui")],
        ),
        ("added", (*NINE[:8], "9-verify", *NINE[8:]), [(Kind.STEP_EXTRA, "9-verify")]),
        (
            "moved",
            (*NINE[:2], NINE[3], NINE[2], *NINE[4:]),
            [(Kind.STEP_REORDERED, NINE[2])],
        ),
    ],
)
def test_nine_step_pipeline_regrouping_is_one_finding(
    label: str, candidate_names: tuple[str, ...], expected: list[tuple[Kind, str]]
) -> None:
    """A skipped, merged, split, added or moved step of nine is one finding, never a cascade."""
    p = run(step_list=_nine_steps(NINE))
    c = twin(p, steps=_nine_steps(candidate_names))
    found = [(f.kind, f.subject) for f in compare_pair(p, c, OPTS)]
    assert found == expected, label


def test_merged_step_finding_names_both_sides() -> None:
    """The merge finding says which primary steps became which dry-run step."""
    p = run(step_list=_nine_steps(NINE))
    c = twin(p, steps=_nine_steps((*NINE[:3], "4-build", *NINE[5:])))
    (finding,) = compare_pair(p, c, OPTS)
    assert (finding.dimension, finding.kind) == (Dimension.STEPS, Kind.STEP_MERGED)
    assert finding.primary == ["4-api", "5-ui"]
    assert finding.candidate == ["4-build"]


def test_two_unrelated_gaps_are_two_findings() -> None:
    """A skipped step early and an added one late are separate, each precise."""
    p = run(step_list=_nine_steps(NINE))
    c = twin(p, steps=_nine_steps(NINE[:1] + NINE[2:] + ("10-announce",)))
    found = sorted((f.kind.value, f.subject) for f in compare_pair(p, c, OPTS))
    assert found == [("step_extra", "10-announce"), ("step_missing", "2-schema")]


def test_both_runs_are_timed_the_same_way_when_one_lacks_its_timestamps() -> None:
    """Wall clock against a sum of steps would leave the waits between steps out of one side only
    (spec section 9: the ratio is of end-to-end time): either side without timestamps, both sides
    are timed by their steps."""
    from shadow.comparators.timing import end_to_end

    waits = run(start=T0, end=T0 + 40.0)  # 40 s of wall clock, 20.95 s of steps
    bare = twin(waits, started_at=None, finished_at=None, e2e_ms=20_950.0)
    excluded = OPTS.excluded_steps  # execute-agent: mocked, left out of both
    assert (950.0, 950.0) == end_to_end(waits, bare, excluded)
    assert (950.0, 950.0) == end_to_end(replace(bare, side=Side.PRIMARY), twin(waits), excluded)
    slow = twin(bare, step_durations=with_ms(P, load_context=1500.0))
    assert (950.0, 1950.0) == end_to_end(waits, slow, excluded)
    assert {Kind.RUN_SLOWER, Kind.STEP_SLOWER} == {f.kind for f in compare_pair(waits, slow, OPTS)}
    assert (40_000.0 - 20_000.0,) * 2 == end_to_end(waits, twin(waits), excluded)
