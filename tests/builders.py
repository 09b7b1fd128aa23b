"""Small builders for pure tests: a realistic completed 4-step run unless told otherwise."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from shadow.core.evidence import HistoryMode
from shadow.core.findings import Finding
from shadow.core.layout import Side
from shadow.core.pairing import PairState
from shadow.core.results import PairResult, outcome_of
from shadow.core.runs import NormalizedRun, NormStep, RetryInfo
from shadow.core.vocabulary import RunState, StepState, run_error_class

T0 = 1_772_000_000.0  # 2026-02-25
PIPELINE = (
    ("load-context", 500.0),
    ("execute-agent", 20000.0),
    ("persist-results", 400.0),
    ("finalize", 50.0),
)


def steps(*names: str, state: StepState = StepState.COMPLETED) -> tuple[NormStep, ...]:
    return tuple(NormStep(i + 1, n, state, None) for i, n in enumerate(names))


def durations_for(step_list: tuple[NormStep, ...]) -> tuple[float | None, ...]:
    """The pipeline's usual duration of each step (100 ms for a step outside it)."""
    usual = dict(PIPELINE)
    return tuple(usual.get(s.name, 100.0) for s in step_list)


def with_ms(run_: NormalizedRun, **ms: float) -> tuple[float | None, ...]:
    """The run's step durations with some steps' (by name, `-` as `_`) replaced."""
    return tuple(ms.get(s.name.replace("-", "_"), d) for s, d in run_.timed_steps())


def run(
    key: str = "r1",
    side: Side = Side.PRIMARY,
    *,
    agent: str = "archivist-violin",
    state: RunState | None = RunState.COMPLETED,
    history: tuple[RunState, ...] | None = None,
    error: str | None = None,
    start: float = T0,
    end: float | None = None,
    step_list: tuple[NormStep, ...] | None = None,
    step_ms: tuple[float | None, ...] | None = None,
    retries: tuple[RetryInfo, ...] = (),
    proposals: int = 0,
    **extra: Any,
) -> NormalizedRun:
    step_list = step_list if step_list is not None else steps(*(n for n, _ in PIPELINE))
    step_ms = step_ms if step_ms is not None else durations_for(step_list)
    total = sum(ms or 0 for ms in step_ms) / 1000
    terminal = state in (RunState.COMPLETED, RunState.FAILED)
    finish = end if end is not None else (start + total if terminal else None)
    mocked = sum(
        ms or 0 for s, ms in zip(step_list, step_ms, strict=True) if s.name == "execute-agent"
    )
    e2e = (finish - start) * 1000 - mocked if finish is not None else None
    base = NormalizedRun(
        pairing_key=key,
        side=side,
        agent=agent,
        run_dir=f"runs/{key}{'-dryrun' if side is Side.CANDIDATE else ''}/",
        state=state,
        history=history if history is not None else ((state,) if state else ()),
        history_mode=HistoryMode.POLLING,
        error_code=error,
        error_class=run_error_class(error),
        trigger="cron",
        started_at=start,
        finished_at=finish,
        first_seen=start,
        steps=step_list,
        step_durations=step_ms,
        retries=retries,
        proposals=proposals,
        proposal_outputs=(),
        unknown_fields=frozenset(),
        vendor_fields=frozenset(),
        queued_observed=RunState.QUEUED in (history or ()),
        e2e_ms=e2e,
        input_findings=(),
    )
    return replace(base, **extra) if extra else base


def reordered(run_: NormalizedRun, names: tuple[str, ...]) -> NormalizedRun:
    """The run with only these steps, renumbered in this order, each keeping its duration."""
    by_name = {s.name: (s, ms) for s, ms in run_.timed_steps()}
    return replace(
        run_,
        steps=tuple(replace(by_name[n][0], number=i + 1) for i, n in enumerate(names)),
        step_durations=tuple(by_name[n][1] for n in names),
    )


def twin(primary: NormalizedRun, **changes: Any) -> NormalizedRun:
    """The candidate of a primary: same behaviour unless `changes` say otherwise (new `steps`
    take the pipeline's usual durations unless `step_durations` are given too)."""
    if "steps" in changes and "step_durations" not in changes:
        changes["step_durations"] = durations_for(changes["steps"])
    base = replace(primary, side=Side.CANDIDATE, run_dir=primary.run_dir.rstrip("/") + "-dryrun/")
    return replace(base, **changes) if changes else base


def result(
    key: str,
    agent: str = "a",
    *,
    state: PairState = PairState.PAIRED,
    findings: tuple[Finding, ...] = (),
    start: float = T0,
    ratio: float | None = 1.0,
    retries: bool = False,
    candidate_ms: float | None = 1000.0,
) -> PairResult:
    return PairResult(
        key,
        agent,
        state,
        outcome_of(state, findings),
        findings,
        start,
        ratio,
        retries,
        candidate_ms,
    )
