"""The canonical shape of a run after normalization: what comparators read.

Every volatile field of spec section 6 is gone; what remains is compared or used for timing
and windows. Values are immutable and hashable so a canonical hash can short-circuit equal pairs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, dataclass_transform

from shadow.core.evidence import HistoryMode
from shadow.core.findings import Finding
from shadow.core.layout import Side
from shadow.core.records import Rejected
from shadow.core.vocabulary import RunState, StepState

T = TypeVar("T")
H = TypeVar("H")
K = TypeVar("K")
V = TypeVar("V")

# Values that recur in nearly every run (step names, agents, codes, state histories, the
# comparable shape of a pipeline) are kept once. Bounded: hostile data with a new name in every
# run cannot grow the table past this; beyond it values are simply not shared.
_SHARED_LIMIT = 100_000
_shared: dict[object, object] = {}
NO_FIELDS: frozenset[str] = frozenset()


def word(value: str | None) -> str | None:
    """One copy of a short vocabulary string (a code, a trigger, a step name) per process.

    Interned strings are freed once unreferenced, so hostile values cannot pin memory.
    """
    return sys.intern(value) if value is not None else None


def remember(table: dict[K, V], key: K, build: Callable[[K], V]) -> V:
    """The value kept for `key`, built (and kept while the table has room) on first sight."""
    found = table.get(key)
    if found is None:
        found = build(key)
        if len(table) < _SHARED_LIMIT:
            table[key] = found
    return found


def _itself(value: H) -> H:
    return value


def share(value: H) -> H:
    """The one stored copy of an immutable value equal to `value` (itself when first seen)."""
    return remember(_shared, value, _itself)  # type: ignore[return-value]


StepRow = tuple[int, str, StepState, str | None]  # number, name, state, error code
_shared_steps: dict[tuple[StepRow, ...], tuple[NormStep, ...]] = {}


def steps_of(rows: list[StepRow]) -> tuple[NormStep, ...]:
    """The one stored tuple of steps with these shapes (bounded like `share`)."""
    return remember(_shared_steps, tuple(rows), _build_steps)


def _build_steps(rows: tuple[StepRow, ...]) -> tuple[NormStep, ...]:
    return tuple([NormStep(n, sys.intern(name), st, word(code)) for n, name, st, code in rows])


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def value_type(cls: type[T]) -> type[T]:
    """A frozen dataclass to the type checker, a plain slotted one at run time.

    mypy --strict (CI) rejects any assignment to a field, as for `frozen=True`; at run time the
    generated `__init__` sets slots directly instead of calling `object.__setattr__` per field,
    which was a quarter of normalize-and-compare (about 200,000 runs built per re-judge).
    """
    built: Any = dataclass(slots=True, unsafe_hash=True)(cls)
    return built  # type: ignore[no-any-return]


@value_type
class NormStep:
    """A step's shape: which step and how it ended, without its duration.

    Runs of one pipeline mostly share their shapes, so a run holds a shared tuple of them and its
    own `step_durations` (the only per-run part: it was a third of the memory per tracked run).
    """

    number: int
    name: str
    state: StepState
    error_code: str | None


@value_type
class RetryInfo:
    step: str  # the step retried, or "run" for a whole-run retry (`whole_run`)
    recovered: bool
    error_code: str | None
    attempts: int | None
    # A whole-run retry (a redelivered message, Trigger.dev's attemptCount), not a step's.
    whole_run: bool = False
    # False: the last failed attempt's error is not in the records (a count of attempts says
    # only how many there were), so it is not compared.
    error_seen: bool = True


@value_type
class RunLinks:
    """What a declarative profile read beyond the garden contract; None for garden runs.

    Kept apart so the garden's runs (the hot path, held by the million) carry one empty slot.
    """

    identity: str | None  # the run's own id: records sharing it are deliveries of one run
    link: str | None  # the pairing key the record names (a primary's id, a job id)
    attempt: int | None  # this record's delivery number
    scheduled: bool | None  # None: the profile has no schedule marker
    slot: float | None  # the fire time a scheduled run serves (epoch s)
    queued_at: float | None  # when the writer says the run was queued (epoch s)
    steps_seen: bool  # the record shows steps: without, steps are not judged
    retries_seen: bool  # the record shows attempts: without, retries are not judged


@value_type
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
    step_durations: tuple[float | None, ...]  # one per step, in the same order
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
    links: RunLinks | None = None  # read by a declarative profile; None for the garden contract

    def timed_steps(self) -> zip[tuple[NormStep, float | None]]:
        """(step, its duration in ms) in pipeline order."""
        return zip(self.steps, self.step_durations, strict=True)

    @property
    def terminal(self) -> bool:
        return self.state in (RunState.COMPLETED, RunState.FAILED)

    @property
    def steps_visible(self) -> bool:
        return self.links is None or self.links.steps_seen

    @property
    def retries_visible(self) -> bool:
        return self.links is None or self.links.retries_seen

    @property
    def scheduling_ms(self) -> float | None:
        """Requested to running, when known: the run's history begins requested or queued, and
        `first_seen` is when that status was written (the first read's time in the store when
        polling, the oldest version's in a versioned bucket). Unknown (None) when shadow first
        read the run already running, as in a backfill without versions. A wait within the
        store's clock resolution and staleness (`_SAME_MOMENT_S`) is taken off every wait."""
        started, history = self.started_at, self.history
        links = self.links
        if links is not None and links.queued_at is not None and started is not None:
            # The writer's own queue time: no store clock or staleness to allow for.
            return round(max(0.0, started - links.queued_at) * 1000, 3)
        if started is None or not history or history[0] not in _WAITING:
            return None
        waited = started - self.first_seen
        if waited < -_SAME_MOMENT_S:  # written after the start: not the waiting status after all
            return None
        # Only what lies beyond the allowance counts, on both sides alike: no jump at its edge.
        return round(max(0.0, waited - _SAME_MOMENT_S) * 1000, 3)

    def __post_init__(self) -> None:
        # Held for every tracked run, so what recurs is stored once (half the memory per run).
        # Frozen only to the type checker (see `value_type`): plain slot stores, the fastest way.
        me: Any = self
        me.agent = sys.intern(self.agent)
        me.trigger = word(self.trigger)
        me.error_code = word(self.error_code)
        me.history = share(self.history)
        if not self.unknown_fields:
            me.unknown_fields = NO_FIELDS
        if not self.vendor_fields:
            me.vendor_fields = NO_FIELDS
        # Computed once: the engine caches runs and compares each against its twin every cycle.
        me.comparable = share(comparable_of(self))


_WAITING = (RunState.REQUESTED, RunState.QUEUED)
# S3 keeps LastModified to the second and a read may be a second or two stale (spec section 3).
_SAME_MOMENT_S = 2.0


def comparable_of(run: NormalizedRun) -> tuple[object, ...]:
    code, cls = run.error_code, run.error_class
    # A step's or a retry's code that repeats its run's is judged as the run's (its class).
    return (
        run.state,
        cls,
        run.history,
        share(
            tuple(
                [
                    (s.name, s.state, cls if s.error_code == code else s.error_code)
                    for s in run.steps
                ]
            )
        ),
        tuple(
            [
                (
                    r.step,
                    r.recovered,
                    cls if r.error_code == code else r.error_code,
                    r.attempts,
                    r.whole_run,
                    r.error_seen,
                )
                for r in run.retries
            ]
        ),
    )
