"""Record-format profiles: how one writer's records read as shadow's canonical run. Pure.

A profile is data, not code, in one of two forms (docs/profiles.md):
- **garden form** (no `[run]` table): the spec's records (status.json, manifest.json,
  steps/*.json) under other names: field renames (dotted paths allowed), one time format, the
  writer's status words, the error code a failure word implies. `translate` renames a document
  into the canonical shape *before* validation. `garden`, the default, translates nothing.
- **declarative form** (a `[run]` table): the writer's own objects, read by getters
  (shadow/core/getters.py): run fields, errors as objects, retries from a count, an attempts
  array or child spans, steps from a list inside a document, a schedule marker and slot, the
  run's own id and the link to its twin. shadow/core/reading.py evaluates it.

Each side of a pair may use a different profile. Shipped profiles live in shadow/core/shipped.py.

Over 400 lines on purpose: the written tables, their compiled form and `extends` change together
whenever the language gains a word (an error's `when`, a step's attempts), and a reviewer should
see the three in one diff; the garden form is the same model read the older way.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shadow.core.getters import (
    NO_GETTER,
    Getter,
    GetterSpec,
    TimeFormat,
    compile_getter,
    parse_path,
)
from shadow.core.vocabulary import RunState, StepState

RecordKind = Literal["status", "manifest", "step"]

TIME_FIELDS: Final = frozenset({"started_at", "finished_at"})
RUN_DOCUMENT: Final = "status.json"


class _Table(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ErrorRef(_Table):
    """Where an error is (`object`: a getter; a string error reads as `{message = <string>}`),
    how its code is read (`code`: getters relative to the error object, first match), and
    which elements hold one (`when`: a predicate getter on the element; an element it does
    not find holds no error, so a successful attempt's output is never read as one)."""

    object: GetterSpec | None = None
    code: GetterSpec | None = None
    when: GetterSpec | None = None


class ErrorSpec(ErrorRef):
    # raw state word -> the code a failure word implies when the record gives none
    by_state: dict[str, str] = Field(default_factory=dict)


class RetrySource(_Table):
    """One run-level retry source: `count` (the number of attempts) or `list` (the attempts)."""

    count: GetterSpec | None = None
    items: GetterSpec | None = Field(None, alias="list")
    order: Literal["oldest_first", "newest_first"] = "oldest_first"
    when: GetterSpec | None = None  # keep only the elements this predicate getter finds
    state: GetterSpec | None = None  # an attempt's state (a map to step states)
    error: ErrorRef | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> RetrySource:
        if (self.count is None) == (self.items is None):
            raise ValueError("a retries source is either `count = ...` or `list = ...`")
        if self.count is not None and (self.when or self.state or self.error):
            raise ValueError("`when`, `state` and `error` belong to a `list` retries source")
        return self


class StepAttempts(_Table):
    """A step's attempts: the elements of a list inside the step (Inngest's `Attempt n` spans)."""

    items: GetterSpec = Field(alias="list")
    when: GetterSpec | None = None
    error: ErrorRef | None = None


class StepsSpec(_Table):
    items: GetterSpec = Field(alias="list")
    exclude: GetterSpec | None = None  # a predicate getter: elements it finds are dropped
    sort: GetterSpec | None = None  # a time getter; default: the list's order
    number: GetterSpec | None = None  # default: the 1-based position after exclude and sort
    name: GetterSpec | None = None
    state: GetterSpec | None = None
    started_at: GetterSpec | None = None
    finished_at: GetterSpec | None = None
    duration_ms: GetterSpec | None = None
    error: ErrorRef | None = None
    attempts: StepAttempts | None = None


class RunFields(_Table):
    id: GetterSpec | None = None  # the run's own id: records sharing it are deliveries of one run
    link: GetterSpec | None = None  # the pairing key when present; else the directory's id
    attempt: GetterSpec | None = None  # orders deliveries of one run kept in several records
    stratum: GetterSpec | None = None
    state: GetterSpec
    trigger: GetterSpec | None = None
    queued_at: GetterSpec | None = None
    started_at: GetterSpec | None = None
    finished_at: GetterSpec | None = None
    idempotency_key: GetterSpec | None = None


class ScheduleSpec(_Table):
    when: GetterSpec  # a predicate getter: found = a scheduled run
    slot: GetterSpec  # a time getter: the fire time the run serves
    cron: GetterSpec | None = None  # the cron expression, to find its [[schedules]] stratum


GARDEN_FORM_KEYS: Final = ("fields", "run_states", "step_states", "failure_codes")
DECLARATIVE_KEYS: Final = ("documents", "root", "error", "retries", "steps", "schedule")


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: str = ""
    description: str = ""
    times: TimeFormat = "iso"
    vendor_fields: tuple[str, ...] = ()
    # garden form: canonical field -> writer's field, per record kind ("*" applies to every kind)
    fields: dict[str, dict[str, str]] = Field(default_factory=dict)
    run_states: dict[str, RunState] = Field(default_factory=dict)
    step_states: dict[str, StepState] = Field(default_factory=dict)
    # writer's run state -> error code set when the writer gives none
    failure_codes: dict[str, str] = Field(default_factory=dict)
    # declarative form
    documents: dict[str, str] = Field(default_factory=dict)  # name -> file in the run directory
    root: tuple[str, ...] = ()  # paths tried at the top of every document (an envelope)
    unknown_fields: Literal["ignore", "report"] = "ignore"
    run: RunFields | None = None
    error: ErrorSpec | None = None
    retries: tuple[RetrySource, ...] = ()
    steps: StepsSpec | None = None
    schedule: ScheduleSpec | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Profile:
        given = self.model_fields_set
        if self.run is None:
            stray = [k for k in DECLARATIVE_KEYS if k in given]
            if stray:
                raise ValueError(
                    f"{', '.join(stray)} need a [run] table (the declarative form); "
                    "a profile without one reads the garden contract"
                )
            return self
        garden = [k for k in GARDEN_FORM_KEYS if k in given]
        if garden:
            raise ValueError(
                f"{', '.join(garden)} belong to the garden form; with a [run] table write "
                "getters (run.state = {{ path = ..., map = {{...}} }})"
            )
        for name, file in self.documents.items():
            if name == "run" and file != RUN_DOCUMENT:
                raise ValueError(f"the run document is always {RUN_DOCUMENT}, not {file!r}")
            if not file or "/" in file:
                raise ValueError(f"document {name!r}: {file!r} must be a file of the run directory")
        for path in self.root:
            doc, _ = parse_path(path)
            if doc is not None:
                raise ValueError(f"root {path!r} cannot name a document")
        self._check_documents()
        return self

    def _check_documents(self) -> None:
        named = set(self.documents) - {"run"}
        for doc in _documents_named(self.model_dump(by_alias=True, exclude_defaults=True)):
            if doc not in named:
                raise ValueError(
                    f"a path reads @{doc}: but documents has no {doc!r} "
                    f'(add documents = {{ {doc} = "{doc}.json" }})'
                )

    @property
    def declarative(self) -> bool:
        return self.run is not None

    def field_map(self, kind: RecordKind) -> dict[str, str]:
        return {**self.fields.get("*", {}), **self.fields.get(kind, {})}

    @property
    def is_identity(self) -> bool:
        return (
            not (self.fields or self.run_states or self.step_states or self.failure_codes)
            and self.times == "iso"
        )

    @property
    def document_files(self) -> frozenset[str]:
        """Files of a run directory besides status.json that this profile reads."""
        return frozenset(f for n, f in self.documents.items() if n != "run")

    def blind_to(self) -> dict[str, str]:
        """Dimensions this profile cannot see at all, with why (say so, never pass on them)."""
        if not self.declarative:
            return {}
        out = {}
        if self.steps is None:
            out["steps"] = f"profile {self.name!r} reads no steps"
        if not self.retries and (self.steps is None or self.steps.attempts is None):
            out["retries"] = f"profile {self.name!r} reads no attempts"
        return out

    @cached_property
    def compiled(self) -> CompiledProfile:
        return compile_profile(self)


def _documents_named(node: Any) -> set[str]:
    """Every document a path in the profile reads (`@trace:...`)."""
    out: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "path" and isinstance(value, str) and value.startswith("@"):
                out.add(value[1:].partition(":")[0])
            else:
                out |= _documents_named(value)
    elif isinstance(node, list | tuple):
        for value in node:
            out |= _documents_named(value)
    elif isinstance(node, str) and node.startswith("@"):
        out.add(node[1:].partition(":")[0])
    return out


# --- compiled form: what reading evaluates ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompiledError:
    object: Getter
    code: Getter
    by_state: Mapping[str, str]
    when: Getter = ()


@dataclass(frozen=True, slots=True)
class CompiledRetry:
    count: Getter
    items: Getter
    newest_first: bool
    when: Getter
    state: Getter
    error: CompiledError | None


@dataclass(frozen=True, slots=True)
class CompiledSteps:
    items: Getter
    exclude: Getter
    sort: Getter
    number: Getter
    name: Getter
    state: Getter
    started_at: Getter
    finished_at: Getter
    duration_ms: Getter
    error: CompiledError | None
    attempts: Getter
    attempts_when: Getter
    attempts_error: CompiledError | None


@dataclass(frozen=True, slots=True)
class CompiledProfile:
    name: str
    times: TimeFormat
    documents: Mapping[str, str]  # name -> file, the run document excluded
    roots: tuple[Getter, ...]
    report_unknown: bool
    known_top: frozenset[str]  # top-level fields of the run document some getter reads
    run: dict[str, Getter]
    error: CompiledError
    retries: tuple[CompiledRetry, ...]
    steps: CompiledSteps | None
    schedule_when: Getter
    schedule_slot: Getter
    schedule_cron: Getter
    has_schedule: bool
    retries_visible: bool  # some source could show retries (a run may still lack it)


_RUN_GETTERS: Final = (
    "id",
    "link",
    "attempt",
    "stratum",
    "state",
    "trigger",
    "queued_at",
    "started_at",
    "finished_at",
    "idempotency_key",
)


def _error(ref: ErrorRef | None, default: CompiledError) -> CompiledError | None:
    if ref is None:
        return None
    code = compile_getter(ref.code) if ref.code is not None else default.code
    return CompiledError(
        compile_getter(ref.object), code, default.by_state, compile_getter(ref.when)
    )


def compile_profile(p: Profile) -> CompiledProfile:
    assert p.run is not None, "only declarative profiles compile"
    spec = p.error or ErrorSpec()
    base = CompiledError(
        compile_getter(spec.object),
        compile_getter(spec.code),
        spec.by_state,
        compile_getter(spec.when),
    )
    retries = tuple(
        CompiledRetry(
            count=compile_getter(r.count),
            items=compile_getter(r.items),
            newest_first=r.order == "newest_first",
            when=compile_getter(r.when),
            state=compile_getter(r.state),
            error=_error(r.error, base) or base if r.items is not None else None,
        )
        for r in p.retries
    )
    steps = None
    if p.steps is not None:
        s = p.steps
        steps = CompiledSteps(
            items=compile_getter(s.items),
            exclude=compile_getter(s.exclude),
            sort=compile_getter(s.sort),
            number=compile_getter(s.number),
            name=compile_getter(s.name),
            state=compile_getter(s.state),
            started_at=compile_getter(s.started_at),
            finished_at=compile_getter(s.finished_at),
            duration_ms=compile_getter(s.duration_ms),
            error=_error(s.error, base),
            attempts=compile_getter(s.attempts.items) if s.attempts else NO_GETTER,
            attempts_when=compile_getter(s.attempts.when) if s.attempts else NO_GETTER,
            attempts_error=_error(s.attempts.error, base) if s.attempts else None,
        )
    run = {name: compile_getter(getattr(p.run, name)) for name in _RUN_GETTERS}
    known = {
        str(b.steps[0])
        for g in (*run.values(), base.object)
        for b in g
        if b.doc is None and b.steps and isinstance(b.steps[0], str)
    }
    for r in retries:
        known |= {str(b.steps[0]) for b in (*r.count, *r.items) if b.doc is None and b.steps}
    if steps is not None:
        known |= {str(b.steps[0]) for b in steps.items if b.doc is None and b.steps}
    sched = p.schedule
    sched_getters = [compile_getter(sched.when), compile_getter(sched.slot)] if sched else []
    for g in sched_getters:
        known |= {str(b.steps[0]) for b in g if b.doc is None and b.steps}
    return CompiledProfile(
        name=p.name,
        times=p.times,
        documents={n: f for n, f in p.documents.items() if n != "run"},
        roots=tuple(compile_getter(r) for r in p.root),
        report_unknown=p.unknown_fields == "report",
        known_top=frozenset(known),
        run=run,
        error=base,
        retries=retries,
        steps=steps,
        schedule_when=sched_getters[0] if sched else NO_GETTER,
        schedule_slot=sched_getters[1] if sched else NO_GETTER,
        schedule_cron=compile_getter(sched.cron) if sched and sched.cron else NO_GETTER,
        has_schedule=sched is not None,
        retries_visible="retries" not in p.blind_to(),
    )


# --- extends: a profile written as a few changes to another -------------------------------------


def resolve_extends(
    raw: Mapping[str, Any], shipped: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Config profiles with `extends = "NAME"` merged onto NAME (shipped or another config
    profile): tables merge key by key, anything else (strings, arrays) replaces."""
    out: dict[str, Any] = {}

    def resolve(name: str, seen: tuple[str, ...]) -> Any:
        if name in out:
            return out[name]
        own = raw.get(name)
        if not isinstance(own, Mapping) or "extends" not in own:
            return own
        base_name = own["extends"]
        if not isinstance(base_name, str):
            raise ValueError(f"profiles.{name}.extends must be a profile name")
        if base_name in seen:
            raise ValueError(f"profiles.{name}.extends makes a cycle: {' -> '.join(seen)}")
        if base_name in raw and base_name != name:
            base = resolve(base_name, (*seen, base_name))
        elif base_name in shipped:
            base = shipped[base_name]
        else:
            raise ValueError(
                f"profiles.{name}.extends {base_name!r} is neither shipped "
                f"({', '.join(sorted(shipped))}) nor a profile of this config"
            )
        if isinstance(base, Profile):
            base = base.model_dump(by_alias=True, exclude_defaults=True)
        merged = _merge(base, {k: v for k, v in own.items() if k != "extends"})
        merged["name"] = own.get("name", name)  # the base's name is not this profile's
        out[name] = merged
        return merged

    return {name: resolve(name, (name,)) for name in raw}


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# --- garden form --------------------------------------------------------------------------------


def _get(doc: dict[str, Any], path: str) -> tuple[bool, Any]:
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _time(value: Any, fmt: TimeFormat) -> Any:
    """Epoch numbers become ISO strings; anything else is left for validation to judge."""
    if fmt == "iso" or isinstance(value, bool) or not isinstance(value, int | float):
        return value
    try:  # a huge integer overflows in the division already
        seconds = value / 1000 if fmt == "epoch_ms" else value
        return datetime.fromtimestamp(seconds, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return value  # out of range: validation rejects it as a schema violation


def translate(doc: dict[str, Any], kind: RecordKind, profile: Profile) -> dict[str, Any]:
    """A garden-form writer's document in canonical field names, states and time format."""
    if profile.is_identity:
        return doc
    out = dict(doc)
    for canonical, source in profile.field_map(kind).items():
        found, value = _get(doc, source)
        if found:
            if "." not in source:
                out.pop(source, None)  # renamed, so not reported as an unknown field
            out[canonical] = value
    for name in TIME_FIELDS:
        if name in out:
            out[name] = _time(out[name], profile.times)
    raw = out.get("status")
    if isinstance(raw, str):
        table: dict[str, Any] = profile.step_states if kind == "step" else profile.run_states
        if raw in table:
            out["status"] = table[raw].value
        if kind != "step" and raw in profile.failure_codes and not out.get("error"):
            out["error"] = f"{profile.failure_codes[raw]}: {raw}"
    return out


GARDEN = Profile(
    name="garden",
    description="the storage contract as written (docs/run-records: status.json, manifest.json, "
    "steps/*.json); the default",
)
