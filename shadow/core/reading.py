"""Reading a vendor's records through a declarative profile: documents -> RunReading. Pure.

Rules (docs/profiles.md, "The profile language"; decisions in docs/design.md):
- `root` paths are tried at the top of every document (an envelope such as Inngest's `data`).
- The state is read through a closed map: a word the map does not list is *not understood*; the
  record is rejected as `unknown_status` and the word is named, never guessed at.
- A run-level value of the wrong kind (a time that is no time, an object for an id) rejects the
  record as a schema violation, as a wrongly typed garden field does. A step that cannot be read
  is dropped with its own rejection; the run is kept.
- The error code is read only for a failed run: the `code` getters on the error object (a string
  error reads as `{message = <string>}`; without `code` getters, the text before the first `:` of
  the message), else the code the state word implies (`by_state`). Message text is never kept.
- Retries: the first run-level source that yields evidence (a count, or a non-empty attempts
  list) gives one entry of scope `run`; each step with more than one attempt gives an entry of its
  own. Attempt counts are never compared (spec section 5). A recovered run's last error is known
  only from a list of attempts: from a count it is unknown, not "none".
- Steps are seen when the list holds at least one step; retries when a source yielded evidence
  or the steps' attempts list was there to read. What a run cannot show is not judged (evidence
  rules, shadow/judging/criteria.py).
Never raises on data.

Over 400 lines on purpose: one `_Reader` carries the explain-mode field reads (`shadow profile
check`) and the rejections through state, error, retries and steps; split, every part would take
it and the compiled profile as arguments, and the reading of one run would span four modules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn

from shadow.core.getters import (
    ABSENT,
    BadValue,
    Branch,
    Docs,
    Getter,
    Unmapped,
    evaluate,
    to_epoch,
    to_int,
    to_number,
    to_text,
    walk,
)
from shadow.core.profiles import CompiledError, CompiledProfile, CompiledRetry, CompiledSteps
from shadow.core.vocabulary import RunState, StepState, error_code

_RUN_STATES: Final[dict[str, RunState]] = {s.value: s for s in RunState}
_STEP_STATES: Final[dict[str, StepState]] = {s.value: s for s in StepState}


@dataclass(frozen=True, slots=True)
class FieldRead:
    """What one canonical field read: for `shadow profile check`."""

    field: str
    branch: str | None  # the getter branch that fired; None when none did
    raw: Any  # the value at the path (ABSENT when nothing was there)
    value: Any  # what shadow made of it


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a record (or one step of it) could not be read."""

    reason: str  # a RejectReason value: unknown_status, schema_violation
    where: str  # the canonical field, e.g. `run.state`, `steps[3].state`
    detail: str
    document: str = ""  # "" for the run document, else the document's name
    word: str | None = None  # the state word not understood, if that is the problem


@dataclass(frozen=True, slots=True)
class StepRead:
    number: int
    name: str
    state: StepState
    error_code: str | None
    duration_ms: float | None


@dataclass(frozen=True, slots=True)
class RetryRead:
    scope: str  # a step name, or "run"
    whole_run: bool
    recovered: bool
    error_code: str | None
    error_seen: bool  # False: the last failed attempt's error is not in the records
    attempts: int


@dataclass(frozen=True, slots=True)
class RunReading:
    state: RunState | None  # None: the record is rejected (see `problems`)
    state_word: str | None
    identity: str | None
    link: str | None
    attempt: int | None
    stratum: str | None
    trigger: str | None
    queued_at: float | None
    started_at: float | None
    finished_at: float | None
    idempotency_key: str | None
    error_code: str | None
    scheduled: bool | None  # None: the profile has no schedule marker
    slot: float | None
    cron: str | None
    steps: tuple[StepRead, ...]
    steps_seen: bool
    retries: tuple[RetryRead, ...]
    retries_seen: bool
    top_fields: frozenset[str]  # the run document's top-level fields (vendor-specific ones)
    unknown_fields: frozenset[str]  # those no getter reads, when the profile reports them
    problems: tuple[Problem, ...] = ()
    reads: tuple[FieldRead, ...] = field(default=(), compare=False)

    @property
    def rejected(self) -> bool:
        return self.state is None


def root_of(doc: Any, cp: CompiledProfile) -> Any:
    """The document below its envelope: the first `root` path present, else the document."""
    for getter in cp.roots:
        value, _, _ = evaluate(getter, doc, {})
        if isinstance(value, dict | list):
            return value
    return doc


def read_state(doc: Any, cp: CompiledProfile) -> RunState | None:
    """Only the canonical state of a run document (the scan's history of transitions)."""
    value, _, _ = evaluate(cp.run["state"], root_of(doc, cp), {}, closed=True)
    return _RUN_STATES.get(value) if isinstance(value, str) else None


class _Fatal(Exception):
    """A run-level value that rejects the record."""


class _Reader:
    def __init__(self, cp: CompiledProfile, docs: Docs, explain: bool) -> None:
        self.cp = cp
        self.docs = docs
        self.explain = explain
        self.reads: list[FieldRead] = []
        self.problems: list[Problem] = []
        self.document = ""  # the document being read, for the key a problem is reported on

    def get(self, name: str, getter: Getter, node: Any, **kw: Any) -> tuple[Any, Branch | None]:
        value, branch, raw = evaluate(getter, node, self.docs, **kw)
        if self.explain and getter:
            self.reads.append(FieldRead(name, branch.label if branch else None, raw, value))
        return value, branch

    def note(self, name: str, value: Any) -> None:
        """What shadow made of a field, replacing the getter's value in the explanation."""
        if self.explain and self.reads and self.reads[-1].field == name:
            last = self.reads[-1]
            self.reads[-1] = FieldRead(name, last.branch, last.raw, value)

    def fail(self, reason: str, where: str, detail: str, *, fatal: bool, **kw: Any) -> None:
        kw.setdefault("document", self.document)
        self.problems.append(Problem(reason, where, detail, **kw))
        if fatal:
            raise _Fatal

    def reject(self, reason: str, where: str, detail: str, **kw: Any) -> NoReturn:
        """A problem that rejects the record."""
        self.fail(reason, where, detail, fatal=False, **kw)
        raise _Fatal

    # --- typed reads ---

    def text(self, name: str, getter: Getter, node: Any, *, fatal: bool = True) -> str | None:
        value, _ = self.get(name, getter, node)
        if value is ABSENT:
            return None
        try:
            out = to_text(value)
        except BadValue as exc:
            self.fail("schema_violation", name, str(exc), fatal=fatal)
            return None
        self.note(name, out)
        return out

    def time(self, name: str, getter: Getter, node: Any, *, fatal: bool = True) -> float | None:
        value, branch = self.get(name, getter, node)
        if value is ABSENT or branch is None:
            return None
        try:
            out = to_epoch(value, branch.time or self.cp.times)
        except BadValue as exc:
            self.fail("schema_violation", name, str(exc), fatal=fatal)
            return None
        self.note(name, out)
        return out

    def integer(self, name: str, getter: Getter, node: Any, *, fatal: bool = True) -> int | None:
        value, _ = self.get(name, getter, node)
        if value is ABSENT:
            return None
        try:
            return to_int(value)
        except BadValue as exc:
            self.fail("schema_violation", name, str(exc), fatal=fatal)
            return None

    def error_code(self, name: str, spec: CompiledError, node: Any, word: str | None) -> str | None:
        if spec.when and evaluate(spec.when, node, self.docs)[0] is ABSENT:
            obj: Any = ABSENT
        else:
            obj, _ = self.get(name + ".object", spec.object, node)
        if isinstance(obj, str):
            obj = {"message": obj}
        code: str | None = None
        if isinstance(obj, dict):
            if spec.code:
                value, _ = self.get(name + ".code", spec.code, obj)
                if value is not ABSENT and not isinstance(value, dict | list):
                    code = to_text(value) or None
            elif isinstance(obj.get("message"), str):
                code = error_code(obj["message"])
        if code is None and word is not None and word in spec.by_state:
            code = spec.by_state[word]
            if self.explain:
                self.reads.append(FieldRead(name + ".by_state", repr(word), word, code))
        return code


def read_run(
    run_doc: Any, documents: Mapping[str, Any], cp: CompiledProfile, *, explain: bool = False
) -> RunReading:
    """Read one run from its run document and the profile's other documents (name -> parsed)."""
    node = root_of(run_doc, cp)
    docs = {name: root_of(doc, cp) for name, doc in documents.items()}
    r = _Reader(cp, docs, explain)
    top = frozenset(node) if isinstance(node, dict) else frozenset()
    state: RunState | None = None
    word: str | None = None
    with contextlib.suppress(_Fatal):
        state, word = _state(r, node)
    fields: dict[str, Any] = {}
    for name in ("identity", "link", "stratum", "trigger", "idempotency_key"):
        getter = cp.run["id" if name == "identity" else name]
        label = "run.id" if name == "identity" else f"run.{name}"
        fields[name] = _safe(lambda g=getter, n=label: r.text(n, g, node))
    fields["attempt"] = _safe(lambda: r.integer("run.attempt", cp.run["attempt"], node))
    for name in ("queued_at", "started_at", "finished_at"):
        getter = cp.run[name]
        fields[name] = _safe(lambda g=getter, n=name: r.time(f"run.{n}", g, node))
    if any(p.reason and p.where.startswith("run.") for p in r.problems):
        state = None  # a wrongly typed run field rejects the record, as in the garden
    code = r.error_code("error", cp.error, node, word) if state is RunState.FAILED else None
    scheduled, slot, cron = _schedule(r, node)
    steps, step_retries, steps_seen, attempts_seen = _steps(r, cp.steps, node)
    run_retry, run_seen = _run_retries(r, cp.retries, node, state, code)
    return RunReading(
        state=state,
        state_word=word,
        identity=fields["identity"],
        link=fields["link"],
        attempt=fields["attempt"],
        stratum=fields["stratum"],
        trigger=fields["trigger"],
        queued_at=fields["queued_at"],
        started_at=fields["started_at"],
        finished_at=fields["finished_at"],
        idempotency_key=fields["idempotency_key"],
        error_code=code,
        scheduled=scheduled,
        slot=slot,
        cron=cron,
        steps=steps,
        steps_seen=steps_seen,
        retries=(*run_retry, *step_retries),
        retries_seen=run_seen or attempts_seen,
        top_fields=top,
        unknown_fields=top - cp.known_top if cp.report_unknown else frozenset(),
        problems=tuple(r.problems),
        reads=tuple(r.reads),
    )


def _safe(read: Any) -> Any:
    try:
        return read()
    except _Fatal:
        return None


def _state(r: _Reader, node: Any) -> tuple[RunState, str | None]:
    """The run's canonical state and the writer's own word; rejects the record when the word is
    not understood or absent."""
    value, branch = r.get("run.state", r.cp.run["state"], node, closed=True)
    if value is ABSENT:
        r.reject("schema_violation", "run.state", "no state: the state getter found nothing")
    if isinstance(value, Unmapped):
        raw = value.raw
        shown = repr(raw) if isinstance(raw, dict | list) else to_text(raw)
        r.reject(
            "unknown_status",
            "run.state",
            f"state {shown!r} is not a word this profile knows",
            word=shown,
        )
    state = _RUN_STATES.get(value) if isinstance(value, str) else None
    if state is None:
        r.reject(
            "unknown_status",
            "run.state",
            f"state {value!r} is not a canonical run state ({', '.join(_RUN_STATES)})",
            word=str(value),
        )
    return state, _word_of(branch, node, r) if branch is not None else None


def _word_of(branch: Branch, node: Any, r: _Reader) -> str | None:
    """The writer's own state word (for implied error codes): the raw value of the branch."""
    if not branch.has_path:
        return None
    base = r.docs.get(branch.doc, ABSENT) if branch.doc is not None else node
    raw = walk(base, branch.steps) if base is not ABSENT else ABSENT
    return None if raw is ABSENT or isinstance(raw, dict | list) else to_text(raw)


def _schedule(r: _Reader, node: Any) -> tuple[bool | None, float | None, str | None]:
    cp = r.cp
    if not cp.has_schedule:
        return None, None, None
    marker, _ = r.get("schedule.when", cp.schedule_when, node)
    if marker is ABSENT or marker is False:
        return False, None, None
    slot = r.time("schedule.slot", cp.schedule_slot, node, fatal=False)
    cron = r.text("schedule.cron", cp.schedule_cron, node, fatal=False)
    return True, slot, cron


def _steps(
    r: _Reader, spec: CompiledSteps | None, node: Any
) -> tuple[tuple[StepRead, ...], tuple[RetryRead, ...], bool, bool]:
    """(steps, per-step retries, steps seen, attempts seen)."""
    if spec is None:
        return (), (), False, False
    items, branch = r.get("steps.list", spec.items, node)
    if not isinstance(items, list):
        return (), (), False, False
    r.document = branch.doc or "" if branch is not None else ""
    elements = [
        e for e in items if not spec.exclude or evaluate(spec.exclude, e, r.docs)[0] is ABSENT
    ]
    if spec.sort:
        elements.sort(key=lambda e: _sort_key(r, spec.sort, e))
    steps: list[StepRead] = []
    retries: list[RetryRead] = []
    explain, r.explain = r.explain, False  # per-step reads would drown the output
    try:
        for position, element in enumerate(elements, start=1):
            step = _step(r, spec, element, position)
            if step is None:
                continue
            steps.append(step)
            retry = _step_retry(r, spec, element, step)
            if retry is not None:
                retries.append(retry)
    finally:
        r.explain, r.document = explain, ""
    if explain:
        r.reads.append(
            FieldRead(
                "steps",
                "read",
                f"{len(items)} element(s), {len(elements)} kept",
                [f"{s.number} {s.name} {s.state.value}" for s in steps],
            )
        )
    return tuple(steps), tuple(retries), bool(elements), bool(spec.attempts)


def _sort_key(r: _Reader, getter: Getter, element: Any) -> float:
    value, branch, _ = evaluate(getter, element, r.docs)
    if value is ABSENT or branch is None:
        return float("inf")
    try:
        return to_epoch(value, branch.time or r.cp.times)
    except BadValue:
        return float("inf")


def _step(r: _Reader, spec: CompiledSteps, element: Any, position: int) -> StepRead | None:
    at = f"steps[{position}]"
    number = r.integer(at + ".number", spec.number, element, fatal=False) or position
    name = r.text(at + ".name", spec.name, element, fatal=False) or f"step-{number}"
    value, _ = r.get(at + ".state", spec.state, element, closed=True)
    state = _STEP_STATES.get(value) if isinstance(value, str) else None
    if state is None:
        word = value.raw if isinstance(value, Unmapped) else value
        shown = "nothing" if word is ABSENT else repr(word)
        r.fail(
            "unknown_status" if word is not ABSENT else "schema_violation",
            at + ".state",
            f"step {name}: state {shown} is not a step state this profile knows",
            fatal=False,
            word=None if word is ABSENT or isinstance(word, dict | list) else to_text(word),
        )
        return None
    started = r.time(at + ".started_at", spec.started_at, element, fatal=False)
    finished = r.time(at + ".finished_at", spec.finished_at, element, fatal=False)
    duration: float | None = None
    value, _ = r.get(at + ".duration_ms", spec.duration_ms, element)
    if value is not ABSENT:
        try:
            duration = float(to_number(value))
        except BadValue as exc:
            r.fail("schema_violation", at + ".duration_ms", str(exc), fatal=False)
        if duration is not None and duration < 0:
            r.fail("schema_violation", at + ".duration_ms", f"negative: {duration}", fatal=False)
            duration = None
    if duration is None and started is not None and finished is not None:
        duration = max(0.0, (finished - started) * 1000)
    code = None
    if state is StepState.FAILED and spec.error is not None:
        code = r.error_code(at + ".error", spec.error, element, None)
    return StepRead(number, name, state, code, duration)


def _step_retry(r: _Reader, spec: CompiledSteps, element: Any, step: StepRead) -> RetryRead | None:
    if not spec.attempts:
        return None
    children, _ = r.get("attempts", spec.attempts, element)
    if not isinstance(children, list):
        return None
    kept = _kept(r, spec.attempts_when, children)
    if len(kept) <= 1:
        return None
    code = _last_error(r, spec.attempts_error, kept)
    recovered = step.state is StepState.COMPLETED
    if code is None and not recovered:
        code = step.error_code
    return RetryRead(step.name, False, recovered, code, code is not None or recovered, len(kept))


def _kept(r: _Reader, when: Getter, elements: list[Any]) -> list[Any]:
    if not when:
        return elements
    return [e for e in elements if evaluate(when, e, r.docs)[0] is not ABSENT]


def _last_error(r: _Reader, spec: CompiledError | None, oldest_first: list[Any]) -> str | None:
    """The error code of the latest attempt that recorded one."""
    if spec is None:
        return None
    for element in reversed(oldest_first):
        if isinstance(element, dict):
            code = r.error_code("attempt.error", spec, element, None)
            if code is not None:
                return code
    return None


def _run_retries(
    r: _Reader,
    sources: tuple[CompiledRetry, ...],
    node: Any,
    state: RunState | None,
    run_code: str | None,
) -> tuple[tuple[RetryRead, ...], bool]:
    """(the run-scope retry entry if the run retried, whether any source yielded evidence)."""
    completed = state is RunState.COMPLETED
    for i, src in enumerate(sources, start=1):
        where = f"retries[{i}]"
        if src.count:
            n = r.integer(where + ".count", src.count, node, fatal=False)
            if n is None:
                continue
            if n <= 1:
                return (), True
            failed = state is RunState.FAILED
            code = run_code if failed else None
            return (RetryRead("run", True, completed, code, failed, n),), True
        items, _ = r.get(where + ".list", src.items, node)
        if not isinstance(items, list):
            continue
        kept = _kept(r, src.when, items)
        if not kept:
            continue
        attempts = list(reversed(kept)) if src.newest_first else kept
        if len(attempts) <= 1:
            return (), True
        recovered = completed
        if src.state:
            value, _, _ = evaluate(src.state, attempts[-1], r.docs, closed=True)
            if isinstance(value, str) and value in _STEP_STATES:
                recovered = value == StepState.COMPLETED.value
        code = _last_error(r, src.error, attempts)
        if code is None and not recovered:
            code = run_code
        seen = code is not None or (not recovered and state is RunState.FAILED)
        return (RetryRead("run", True, recovered, code, seen, len(attempts)),), True
    return (), False
