"""Normalization: RunEvidence -> NormalizedRun, as a fixed sequence of small named steps.

Each step is a function of the evidence (and of what earlier steps returned) that gives its part
of the result and appends the rare `input` findings to one list; `normalize` calls them in order.
Rules: fields inside a step file win over its file name (a disagreement is a warning);
a candidate status whose run id is neither `<id>` nor `<id><suffix>` is rejected; volatile
fields (spec section 6) are never carried over; a step whose `duration_ms` is null gets one
from its timestamps when both exist.

Every run the engine tracks passes through here whenever one of its objects changes, and every
stored run under a new config (a re-judge); so the steps read each record field once and build
no scratch objects (1.4x faster than the chain of steps over a shared draft it replaced).

Over 400 lines on purpose: the steps are the normalization rules of spec sections 3-7 and 9 in
the order they apply, each small; split across modules, the order (which the result depends on)
would no longer be readable in one place.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any, Final

from shadow.core.evidence import RunEvidence, StepEvidence
from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.layout import Side
from shadow.core.reading import RunReading
from shadow.core.records import ManifestRecord, Rejected, RejectReason, StatusRecord
from shadow.core.runs import (
    NO_FIELDS,
    NormalizedRun,
    NormStep,
    RetryInfo,
    RunLinks,
    steps_of,
    word,
)
from shadow.core.vocabulary import (
    DEFAULT_CLASS_OF,
    TERMINAL_STATES,
    RunState,
    StepState,
    error_code,
    run_error_class,
)

# Bump when a rule here (or in what normalization reads) changes what a run normalizes to: the
# ledger's stored runs carry the value, and an upgraded shadow re-normalizes instead of reusing
# runs judged by the old rules. 2: unknown fields of step files, first_seen from versions.
# 3: end-to-end time rounded to the microsecond. 4: records parsed as standard JSON with bounded
# integers and times (issue 16), steps beyond `max_steps` rejected. 5: declarative profiles
# (issue 15), error classes from the configuration.
RULES_VERSION: Final = 5
DEFAULT_MAX_STEPS: Final = 1000


@dataclass(frozen=True, slots=True)
class NormalizeOptions:
    suffix: str = "-dryrun"
    excluded_steps: frozenset[str] = frozenset({"execute-agent"})
    vendor_fields: frozenset[str] = frozenset()
    # Steps judged per run (`max_steps_per_run`): the rest are rejected as input, so one run of
    # 50,000 step files costs a bounded alignment and a bounded list of findings.
    max_steps: int = DEFAULT_MAX_STEPS
    # code -> class: run-level error codes that mean the same thing (spec sections 9 and 10)
    error_classes: Mapping[str, str] = field(default_factory=lambda: DEFAULT_CLASS_OF)
    # A scheduled run whose stratum has no schedule takes the stratum of the schedule with its
    # cron expression (a Cloudflare cron fire knows only its cron line): cron -> stratum.
    cron_strata: Mapping[str, str] = field(default_factory=dict)


_RETRY_KEY = re.compile(r"^step_(\d+)_(.+)$")
_PROPOSAL_OUTPUT = "output/proposal"


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _input_finding(
    kind: Kind, severity: Severity, path: str, message: str, **values: Any
) -> Finding:
    return Finding(
        dimension=Dimension.INPUT,
        kind=kind,
        severity=severity,
        path=path,
        primary=values.get("primary"),
        candidate=values.get("candidate"),
        message=message,
    )


def _key_path(key: str) -> str:
    """The part of a key below its run directory, as a finding path."""
    for marker in ("/steps/", "/output/"):
        if marker in key:
            return marker.strip("/") + "/" + key.split(marker, 1)[1]
    return key.rsplit("/", 1)[-1]


def rejected_finding(side: Side, rejected: Rejected) -> Finding:
    """Spec section 9: a rejected object gives its run an error in dimension `input`."""
    severity = (
        Severity.WARNING
        if rejected.reason is RejectReason.STEP_IDENTITY_MISMATCH
        else Severity.ERROR
    )
    value = {"key": rejected.key, "detail": rejected.detail}
    return _input_finding(
        Kind(rejected.reason.value),
        severity,
        _key_path(rejected.key),
        f"{side.value} object {rejected.key} rejected: {rejected.reason.value} ({rejected.detail})",
        **{side.value: value},
    )


def checked_status(
    ev: RunEvidence, opts: NormalizeOptions, findings: list[Finding], rejected: list[Rejected]
) -> StatusRecord | None:
    """The status record, or None when its run id belongs to another run (it is rejected)."""
    status = ev.status
    if status is None:
        return None
    run_id = status.run_id
    if ev.side is Side.CANDIDATE:
        if run_id == ev.pairing_key or run_id == ev.pairing_key + opts.suffix:
            return status
        allowed = [ev.pairing_key, ev.pairing_key + opts.suffix]
    elif run_id == ev.run_dir_id:
        return status
    else:
        allowed = [ev.run_dir_id]
    key = ev.status_key or ev.run_dir + "status.json"
    detail = f"run_id {run_id!r} is not one of {sorted(allowed)}"
    rejection = Rejected(key=key, reason=RejectReason.RUN_ID_MISMATCH, detail=detail)
    rejected.append(rejection)
    findings.append(rejected_finding(ev.side, rejection))
    return None


def run_state(
    ev: RunEvidence,
    status: StatusRecord | None,
    manifest: ManifestRecord | None,
    findings: list[Finding],
) -> tuple[RunState | None, tuple[RunState, ...], bool]:
    """(state, collapsed history, whether `queued` was observed)."""
    state = status.status if status is not None else None
    written = manifest.status if manifest is not None else None
    if state is None:
        state = written
    elif written is not None and written != state:
        findings.append(
            _input_finding(
                Kind.STATUS_MANIFEST_CONFLICT,
                Severity.WARNING,
                "manifest.status",
                f"{ev.side.value} status.json says {state.value}, manifest.json says {written.value}",
            )
        )
    observed = ev.history
    if not observed:  # the common case: no history kept, or none yet
        if status is None or state is None:
            return state, (), False
        return state, (state,), state is RunState.QUEUED
    history = list(observed)
    if state is not None and history[-1] != state and status is not None:
        history.append(state)
    return state, _collapse(history), RunState.QUEUED in history


def _collapse(states: list[RunState]) -> tuple[RunState, ...]:
    out: list[RunState] = []
    for state in states:
        if not out or out[-1] != state:
            out.append(state)
    return tuple(out)


def run_error(status: StatusRecord | None, manifest: ManifestRecord | None) -> str | None:
    """The run's error code: status.json's, else the manifest's."""
    raw = status.error if status is not None else None
    if raw is None and manifest is not None:
        raw = manifest.error
    return error_code(raw)


_TimedStep = tuple[int, str, StepState, str | None, float | None, str]  # ..., ms, key
_by_number = itemgetter(0)


def steps(
    ev: RunEvidence, findings: list[Finding], max_steps: int = DEFAULT_MAX_STEPS
) -> tuple[tuple[NormStep, ...], tuple[float | None, ...], list[_TimedStep]]:
    """The first `max_steps` steps in number order (shared shapes), their durations in ms, and
    the steps beyond them (rejected by the caller)."""
    out = [s for step in ev.steps if (s := _one_step(ev, step, findings)) is not None]
    if not out:
        return steps_of([]), (), []
    out.sort(key=_by_number)  # stable: steps sharing a number keep the listing's order
    kept, beyond = out[:max_steps], out[max_steps:]
    return (
        steps_of([(n, name, st, code) for n, name, st, code, _, _ in kept]),
        tuple([row[4] for row in kept]),
        beyond,
    )


def reject_beyond(
    ev: RunEvidence,
    beyond: list[_TimedStep],
    max_steps: int,
    findings: list[Finding],
    rejected: list[Rejected],
) -> None:
    """Each step file beyond the cap is a rejected object (counted, listed with its key); the run
    gets one input error for all of them: it is judged on its first `max_steps` steps only."""
    if not beyond:
        return
    detail = (
        f"step beyond max_steps_per_run ({max_steps}); the run is judged on its first {max_steps}"
    )
    rejected.extend(
        Rejected(key=row[5], reason=RejectReason.TOO_MANY_STEPS, detail=detail) for row in beyond
    )
    findings.append(
        _input_finding(
            Kind.TOO_MANY_STEPS,
            Severity.ERROR,
            "steps",
            f"{ev.side.value} run has {max_steps + len(beyond)} steps, more than max_steps_per_run "
            f"({max_steps}): {len(beyond)} step file(s) from step {beyond[0][0]} on are rejected "
            "and not judged",
            **{ev.side.value: {"steps": max_steps + len(beyond), "judged": max_steps}},
        )
    )


def _one_step(ev: RunEvidence, step: StepEvidence, findings: list[Finding]) -> _TimedStep | None:
    rec, file = step.record, step.file
    number = rec.step_number
    if number is None:
        number = file.number
        if number is None:
            return None  # rejected upstream as step_without_number
    name = rec.step_name
    if name is None:
        name = file.name
    if (file.number is not None and file.number != number) or (
        file.name is not None and file.name != name
    ):
        findings.append(
            rejected_finding(
                ev.side,
                Rejected(
                    key=step.key,
                    reason=RejectReason.STEP_IDENTITY_MISMATCH,
                    detail=f"file name says {file.number}-{file.name}, content says {number}-{name}",
                ),
            )
        )
    duration = rec.duration_ms
    if duration is None and rec.started_at is not None and rec.finished_at is not None:
        duration = max(0.0, (rec.finished_at - rec.started_at).total_seconds() * 1000)
    error = rec.error
    return (
        number,
        name or f"step-{number}",
        rec.status,
        error_code(error) if error is not None else None,
        duration,
        step.key,
    )


def check_steps_completed(
    ev: RunEvidence,
    status: StatusRecord | None,
    shapes: tuple[NormStep, ...],
    findings: list[Finding],
    beyond: Sequence[_TimedStep] = (),
) -> None:
    """Spec section 3: a finished run never counts more steps than it has files (skips aside)."""
    if status is None or status.status not in TERMINAL_STATES:
        return
    completed = sum(1 for s in shapes if s.state is not StepState.SKIPPED)
    completed += sum(1 for row in beyond if row[2] is not StepState.SKIPPED)
    if status.steps_completed > completed:
        findings.append(
            _input_finding(
                Kind.STEPS_COMPLETED_EXCEEDS_FILES,
                Severity.WARNING,
                "status.steps_completed",
                f"{ev.side.value} status.json counts {status.steps_completed} steps but {completed} step files exist",
            )
        )


def retries(manifest: ManifestRecord | None) -> tuple[RetryInfo, ...]:
    entries = manifest.retries if manifest is not None else None
    if not entries:
        return ()
    out = []
    for key, entry in sorted(entries.items()):
        match = _RETRY_KEY.match(key)
        out.append(
            RetryInfo(
                sys.intern(match.group(2) if match else key),
                entry.recovered,
                word(error_code(entry.last_error)),
                entry.attempts,
            )
        )
    return tuple(out)


def proposals(
    ev: RunEvidence, status: StatusRecord | None, manifest: ManifestRecord | None
) -> tuple[int, tuple[str, ...]]:
    """(proposals created, by either record; `output/proposal*` keys written)."""
    count = len(status.proposals_created) if status is not None else 0
    if manifest is not None:
        count = max(count, manifest.proposal_count)
    if not ev.output_keys:
        return count, ()
    below = len(ev.run_dir)
    return count, tuple([k for k in ev.output_keys if k.startswith(_PROPOSAL_OUTPUT, below)])


def extra_fields(
    ev: RunEvidence,
    status: StatusRecord | None,
    manifest: ManifestRecord | None,
    opts: NormalizeOptions,
) -> tuple[frozenset[str], frozenset[str]]:
    """(unknown top-level fields, vendor-specific ones) of the run's records, step files too."""
    unknown = status.unknown_fields if status is not None else NO_FIELDS
    if manifest is not None:
        unknown = unknown | manifest.unknown_fields
    for step in ev.steps:
        if step.record.model_extra:  # rare: read the names only then
            unknown = unknown | step.record.unknown_fields
    if not unknown:
        return NO_FIELDS, NO_FIELDS
    return unknown - opts.vendor_fields, unknown & opts.vendor_fields


def end_to_end_ms(
    state: RunState | None,
    started: float | None,
    finished: float | None,
    shapes: tuple[NormStep, ...],
    durations: tuple[float | None, ...],
    opts: NormalizeOptions,
) -> float | None:
    """End-to-end time minus mocked steps; retry back-off stays in (users wait for it)."""
    excluded: float = 0  # an int sum stays an int, as the records wrote it
    for step, ms in zip(shapes, durations, strict=True):
        if ms and step.name in opts.excluded_steps:
            excluded += ms
    # Rounded to the microsecond: epoch-second floats carry ~1e-4 ms of noise, enough to put a
    # pair exactly at the tolerance (1.20) on the wrong side of it.
    if started is not None and finished is not None and state in TERMINAL_STATES:
        return round(max(0.0, (finished - started) * 1000 - excluded), 3)
    if durations and None not in durations:
        return round(sum([ms or 0.0 for ms in durations]) - excluded, 3)
    return None


def normalize(ev: RunEvidence, opts: NormalizeOptions) -> NormalizedRun:
    if ev.declared:
        return normalize_declared(ev, opts)
    findings: list[Finding] = []
    rejected: list[Rejected] = []  # objects rejected here, not by parsing
    status = checked_status(ev, opts, findings, rejected)
    findings.extend([rejected_finding(ev.side, r) for r in ev.rejected])
    manifest = ev.manifest
    state, history, queued_observed = run_state(ev, status, manifest, findings)
    code = run_error(status, manifest)
    shapes, durations, beyond = steps(ev, findings, opts.max_steps)
    reject_beyond(ev, beyond, opts.max_steps, findings, rejected)
    check_steps_completed(ev, status, shapes, findings, beyond)
    count, proposal_outputs = proposals(ev, status, manifest)
    unknown, vendor = extra_fields(ev, status, manifest, opts)
    if status is not None:
        agent = status.agent_slug or ev.agent_from_path or "unknown"
        trigger = status.trigger
        key = status.idempotency_key
        started, finished = _ts(status.started_at), _ts(status.finished_at)
    else:
        agent = ev.agent_from_path or "unknown"
        trigger, key, started, finished = None, ev.key_hint, None, None
    if trigger is None and manifest is not None:
        trigger = manifest.trigger
    return NormalizedRun(
        pairing_key=ev.pairing_key,
        side=ev.side,
        agent=agent,
        run_dir=ev.run_dir,
        state=state,
        history=history,
        history_mode=ev.history_mode,
        error_code=code,
        error_class=run_error_class(code, opts.error_classes),
        trigger=trigger,
        started_at=started,
        finished_at=finished,
        first_seen=ev.first_seen,
        steps=shapes,
        step_durations=durations,
        retries=retries(manifest),
        proposals=count,
        proposal_outputs=proposal_outputs,
        unknown_fields=unknown,
        vendor_fields=vendor,
        queued_observed=queued_observed,
        e2e_ms=end_to_end_ms(state, started, finished, shapes, durations, opts),
        input_findings=tuple(findings),
        idempotency_key=str(key) if key is not None else None,
        rejected=tuple(rejected),
    )


def cron_key(cron: str) -> str:
    """A cron expression compared by its fields, whatever the spacing."""
    return " ".join(cron.split())


def normalize_declared(ev: RunEvidence, opts: NormalizeOptions) -> NormalizedRun:
    """A run read by a declarative profile (shadow/core/reading.py) as a normalized run.

    Differences from the garden's rules: no run id check (the twin may carry its own id, spec
    section 10, and the link decides the pair); the error class comes from the migration's
    table; what the record links to, its slot and its attempts travel in `links`.
    """
    rd = ev.reading
    findings = [rejected_finding(ev.side, r) for r in ev.rejected]
    if rd is None:
        rd = _UNREAD
    state = rd.state
    history = _declared_history(ev.history, state)
    stratum = rd.stratum
    if rd.scheduled and rd.cron is not None and stratum not in opts.cron_strata.values():
        stratum = opts.cron_strata.get(cron_key(rd.cron), stratum)
    rows = sorted(rd.steps, key=lambda s: s.number)  # stable: equal numbers keep list order
    rejected: list[Rejected] = []
    if len(rows) > opts.max_steps:  # as for step files: judged on the first `max_steps` only
        beyond, rows = rows[opts.max_steps :], rows[: opts.max_steps]
        _reject_listed_steps(ev, len(beyond), opts.max_steps, findings, rejected)
    shapes = steps_of([(s.number, s.name, s.state, s.error_code) for s in rows])
    durations = tuple([s.duration_ms for s in rows])
    retries = tuple(
        [
            RetryInfo(
                sys.intern(r.scope),
                r.recovered,
                word(r.error_code),
                r.attempts,
                r.whole_run,
                r.error_seen,
            )
            for r in rd.retries
        ]
    )
    unknown = rd.unknown_fields - opts.vendor_fields
    vendor = rd.top_fields & opts.vendor_fields
    code = rd.error_code if state is RunState.FAILED else None
    started, finished = rd.started_at, rd.finished_at
    return NormalizedRun(
        pairing_key=ev.pairing_key,
        side=ev.side,
        agent=stratum or ev.agent_from_path or "unknown",
        run_dir=ev.run_dir,
        state=state,
        history=history,
        history_mode=ev.history_mode,
        error_code=code,
        error_class=run_error_class(code, opts.error_classes),
        trigger=rd.trigger,
        started_at=started,
        finished_at=finished,
        first_seen=ev.first_seen,
        steps=shapes,
        step_durations=durations,
        retries=retries,
        proposals=0,
        proposal_outputs=proposals(ev, None, None)[1],
        unknown_fields=unknown or NO_FIELDS,
        vendor_fields=vendor or NO_FIELDS,
        queued_observed=RunState.QUEUED in history,
        e2e_ms=end_to_end_ms(state, started, finished, shapes, durations, opts),
        input_findings=tuple(findings),
        idempotency_key=rd.idempotency_key,
        rejected=tuple(rejected),
        links=RunLinks(
            identity=rd.identity,
            link=rd.link,
            attempt=rd.attempt,
            scheduled=rd.scheduled,
            slot=rd.slot,
            queued_at=rd.queued_at,
            steps_seen=rd.steps_seen,
            retries_seen=rd.retries_seen,
        ),
    )


def _reject_listed_steps(
    ev: RunEvidence, beyond: int, max_steps: int, findings: list[Finding], rejected: list[Rejected]
) -> None:
    """Steps of a list beyond the cap: one rejection of the run's record, one input error."""
    total = max_steps + beyond
    detail = f"{total} steps, more than max_steps_per_run ({max_steps}): {beyond} not judged"
    rejected.append(
        Rejected(key=ev.status_key or ev.run_dir, reason=RejectReason.TOO_MANY_STEPS, detail=detail)
    )
    findings.append(
        _input_finding(
            Kind.TOO_MANY_STEPS,
            Severity.ERROR,
            "steps",
            f"{ev.side.value} run has {detail}",
            **{ev.side.value: {"steps": total, "judged": max_steps}},
        )
    )


def _declared_history(
    observed: tuple[RunState, ...], state: RunState | None
) -> tuple[RunState, ...]:
    if not observed:
        return (state,) if state is not None else ()
    history = list(observed)
    if state is not None and history[-1] != state:
        history.append(state)
    return _collapse(history)


# The reading of a run whose run document could not be read at all (rejected before reading).
_UNREAD: Final = RunReading(
    state=None,
    state_word=None,
    identity=None,
    link=None,
    attempt=None,
    stratum=None,
    trigger=None,
    queued_at=None,
    started_at=None,
    finished_at=None,
    idempotency_key=None,
    error_code=None,
    scheduled=None,
    slot=None,
    cron=None,
    steps=(),
    steps_seen=False,
    retries=(),
    retries_seen=False,
    top_fields=frozenset(),
    unknown_fields=frozenset(),
)
