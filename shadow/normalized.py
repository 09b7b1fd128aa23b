"""The canonical shape of a run after normalization: what comparators read.

Every volatile field of spec section 6 is gone; what remains is compared or used for timing
and windows. Values are frozen and hashable so a canonical hash can short-circuit equal pairs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Final, TypeVar

from shadow.evidence import HistoryMode
from shadow.findings import Finding
from shadow.layout import Side
from shadow.records import Rejected
from shadow.vocabulary import RunState, StepState, run_error_class


@dataclass(frozen=True, slots=True)
class NormStep:
    number: int
    name: str
    state: StepState
    error_code: str | None
    duration_ms: float | None

    def __post_init__(self) -> None:
        _intern(self, "name", "error_code")

    @property
    def error_class(self) -> str | None:
        return run_error_class(self.error_code)


@dataclass(frozen=True, slots=True)
class RetryInfo:
    step: str
    recovered: bool
    error_code: str | None
    attempts: int | None

    def __post_init__(self) -> None:
        _intern(self, "step", "error_code")

    @property
    def error_class(self) -> str | None:
        return run_error_class(self.error_code)


@dataclass(frozen=True, slots=True)
class NormalizedRun:
    pairing_key: str
    side: Side
    agent: str
    run_dir: str
    state: RunState | None  # None: no readable status yet
    history: tuple[RunState, ...]
    history_mode: HistoryMode
    error_code: str | None  # as written, code only
    error_class: str | None  # with run-level equivalence applied
    trigger: str | None
    started_at: float | None  # epoch seconds
    finished_at: float | None
    first_seen: float
    steps: tuple[NormStep, ...]
    retries: tuple[RetryInfo, ...]
    proposals: int
    proposal_outputs: tuple[str, ...]
    unknown_fields: frozenset[str]
    vendor_fields: frozenset[str]
    queued_observed: bool
    e2e_ms: float | None  # end-to-end minus excluded (mocked) steps
    input_findings: tuple[Finding, ...]
    idempotency_key: str | None = None
    # Everything the status, steps and retries comparators look at, and nothing else.
    comparable: tuple[object, ...] = field(default=(), compare=False, repr=False)
    rejected: tuple[Rejected, ...] = ()  # objects normalization rejected (a run id mismatch)

    @property
    def terminal(self) -> bool:
        return self.state in (RunState.COMPLETED, RunState.FAILED)

    def __post_init__(self) -> None:
        # The daemon holds one of these per tracked run (100k+), so values that recur across
        # runs are held once: interned names and codes, one empty frozenset, and one copy of
        # each distinct comparable tuple (most runs of an agent share theirs).
        _intern(self, "agent", "error_code", "error_class", "trigger")
        if not self.unknown_fields:
            object.__setattr__(self, "unknown_fields", EMPTY)
        if not self.vendor_fields:
            object.__setattr__(self, "vendor_fields", EMPTY)
        # Computed once: the engine caches runs and compares each against its twin every cycle.
        comparable = _shared(comparable_of(self))
        object.__setattr__(self, "history", comparable[2])
        object.__setattr__(self, "comparable", comparable)


def comparable_of(run: NormalizedRun) -> tuple[object, ...]:
    return (
        run.state,
        run.error_class,
        run.history,
        tuple((s.name, s.state, s.error_class) for s in run.steps),
        tuple((r.step, r.recovered, r.error_class, r.attempts) for r in run.retries),
    )


EMPTY: Final[frozenset[str]] = frozenset()  # an empty frozenset is not a singleton: 216 bytes each
_T = TypeVar("_T")
# Distinct comparable tuples seen, each kept once; cleared when full, so it stays bounded.
_SHARED: dict[object, object] = {}
_SHARED_MAX: Final = 65_536


def _shared(value: _T) -> _T:
    found = _SHARED.get(value)
    if found is not None:
        return found  # type: ignore[return-value]
    if len(_SHARED) >= _SHARED_MAX:
        _SHARED.clear()
    _SHARED[value] = value
    return value


def _intern(obj: object, *names: str) -> None:
    """Intern the object's string fields: a name or code repeated across runs is held once."""
    for name in names:
        value = getattr(obj, name)
        if type(value) is str:
            object.__setattr__(obj, name, sys.intern(value))
