"""Normalization: RunEvidence -> NormalizedRun, as a chain of small named steps.

Each step reads the evidence and fills part of the result; the order is the tuple `STEPS`.
Rules: fields inside a step file win over its file name (a disagreement is a warning);
a candidate status whose run id is neither `<id>` nor `<id><suffix>` is rejected; volatile
fields (spec section 6) are never carried over; a step whose `duration_ms` is null gets one
from its timestamps when both exist.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shadow.evidence import RunEvidence, StepEvidence
from shadow.findings import Dimension, Finding, Kind, Severity
from shadow.layout import Side
from shadow.normalized import NormalizedRun, RetryInfo, steps_of, word
from shadow.records import ManifestRecord, Rejected, RejectReason, StatusRecord
from shadow.vocabulary import RunState, StepState, error_code, run_error_class


@dataclass(frozen=True, slots=True)
class NormalizeOptions:
    suffix: str = "-dryrun"
    excluded_steps: frozenset[str] = frozenset({"execute-agent"})
    vendor_fields: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Draft:
    """Mutable scratch space the steps fill; frozen into NormalizedRun at the end."""

    ev: RunEvidence
    opts: NormalizeOptions
    status: StatusRecord | None = None
    findings: list[Finding] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)  # objects rejected here, not by parsing
    values: dict[str, Any] = field(default_factory=dict)


Step = Callable[[_Draft], None]
_RETRY_KEY = re.compile(r"^step_(\d+)_(.+)$")


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


def check_run_id(d: _Draft) -> None:
    status = d.ev.status
    if status is None:
        return
    ev = d.ev
    allowed = {ev.run_dir_id}
    if ev.side is Side.CANDIDATE:
        allowed = {ev.pairing_key, ev.pairing_key + d.opts.suffix}
    if status.run_id in allowed:
        d.status = status
        return
    key = ev.status_key or ev.run_dir + "status.json"
    detail = f"run_id {status.run_id!r} is not one of {sorted(allowed)}"
    rejected = Rejected(key=key, reason=RejectReason.RUN_ID_MISMATCH, detail=detail)
    d.rejected.append(rejected)
    d.findings.append(rejected_finding(ev.side, rejected))


def carry_rejections(d: _Draft) -> None:
    d.findings.extend(rejected_finding(d.ev.side, r) for r in d.ev.rejected)


def run_state(d: _Draft) -> None:
    manifest = d.ev.manifest
    state = d.status.status if d.status else None
    if state is None and manifest is not None and manifest.status is not None:
        state = manifest.status
    d.values["state"] = state
    if d.status and manifest and manifest.status and manifest.status != d.status.status:
        d.findings.append(
            _input_finding(
                Kind.STATUS_MANIFEST_CONFLICT,
                Severity.WARNING,
                "manifest.status",
                f"{d.ev.side.value} status.json says {d.status.status.value}, manifest.json says {manifest.status.value}",
            )
        )
    history = list(d.ev.history)
    if state is not None and (not history or history[-1] != state) and d.status is not None:
        history.append(state)
    d.values["history"] = tuple(_collapse(history))
    d.values["queued_observed"] = RunState.QUEUED in history


def _collapse(states: list[RunState]) -> list[RunState]:
    out: list[RunState] = []
    for state in states:
        if not out or out[-1] != state:
            out.append(state)
    return out


def run_error(d: _Draft) -> None:
    raw = d.status.error if d.status else None
    if raw is None and d.ev.manifest is not None:
        raw = d.ev.manifest.error
    code = error_code(raw)
    d.values["error_code"] = code
    d.values["error_class"] = run_error_class(code)


def identity(d: _Draft) -> None:
    agent = d.status.agent_slug if d.status else None
    d.values["agent"] = agent or d.ev.agent_from_path or "unknown"
    trigger = d.status.trigger if d.status else None
    if trigger is None and d.ev.manifest is not None:
        trigger = d.ev.manifest.trigger
    d.values["trigger"] = trigger
    key = d.status.idempotency_key if d.status else d.ev.key_hint
    d.values["idempotency_key"] = str(key) if key is not None else None
    d.values["started_at"] = _ts(d.status.started_at) if d.status else None
    d.values["finished_at"] = _ts(d.status.finished_at) if d.status else None


def steps(d: _Draft) -> None:
    out = [s for ev in d.ev.steps if (s := _one_step(d, ev)) is not None]
    out.sort(key=_number)
    d.values["steps"] = steps_of([(n, name, st, code) for n, name, st, code, _ in out])
    d.values["step_durations"] = tuple([row[4] for row in out])
    if (
        d.status is not None
        and d.status.steps_completed
        > (completed := sum(1 for row in out if row[2] is not StepState.SKIPPED))
        and d.status.status in (RunState.COMPLETED, RunState.FAILED)
    ):
        d.findings.append(
            _input_finding(
                Kind.STEPS_COMPLETED_EXCEEDS_FILES,
                Severity.WARNING,
                "status.steps_completed",
                f"{d.ev.side.value} status.json counts {d.status.steps_completed} steps but {completed} step files exist",
            )
        )


_TimedStep = tuple[int, str, StepState, str | None, float | None]


def _number(step: _TimedStep) -> int:
    return step[0]


def _one_step(d: _Draft, ev: StepEvidence) -> _TimedStep | None:
    rec, file = ev.record, ev.file
    number = rec.step_number if rec.step_number is not None else file.number
    name = rec.step_name if rec.step_name is not None else file.name
    if number is None:
        return None  # rejected upstream as step_without_number
    if (file.number is not None and file.number != number) or (
        file.name is not None and file.name != name
    ):
        d.findings.append(
            rejected_finding(
                d.ev.side,
                Rejected(
                    key=ev.key,
                    reason=RejectReason.STEP_IDENTITY_MISMATCH,
                    detail=f"file name says {file.number}-{file.name}, content says {number}-{name}",
                ),
            )
        )
    duration = rec.duration_ms
    if duration is None and rec.started_at is not None and rec.finished_at is not None:
        duration = max(0.0, (rec.finished_at - rec.started_at).total_seconds() * 1000)
    return (number, name or f"step-{number}", rec.status, error_code(rec.error), duration)


def retries(d: _Draft) -> None:
    manifest: ManifestRecord | None = d.ev.manifest
    entries = manifest.retries if manifest and manifest.retries else {}
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
    d.values["retries"] = tuple(out)


def side_effects(d: _Draft) -> None:
    count = len(d.status.proposals_created) if d.status else 0
    if d.ev.manifest is not None:
        count = max(count, d.ev.manifest.proposal_count)
    d.values["proposals"] = count
    d.values["proposal_outputs"] = tuple(
        k for k in d.ev.output_keys if k[len(d.ev.run_dir) :].startswith("output/proposal")
    )
    unknown: set[str] = set()
    for rec in (d.status, d.ev.manifest):
        if rec is not None:
            unknown |= rec.unknown_fields
    d.values["unknown_fields"] = frozenset(unknown - d.opts.vendor_fields)
    d.values["vendor_fields"] = frozenset(unknown & d.opts.vendor_fields)


def timing(d: _Draft) -> None:
    """End-to-end time minus mocked steps; retry back-off stays in (users wait for it)."""
    durations = d.values["step_durations"]
    excluded = sum(
        ms or 0.0
        for s, ms in zip(d.values["steps"], durations, strict=True)
        if s.name in d.opts.excluded_steps
    )
    start, end = d.values["started_at"], d.values["finished_at"]
    e2e: float | None = None
    if (
        start is not None
        and end is not None
        and d.values["state"] in (RunState.COMPLETED, RunState.FAILED)
    ):
        e2e = max(0.0, (end - start) * 1000 - excluded)
    elif durations and all(ms is not None for ms in durations):
        e2e = sum(ms or 0.0 for ms in durations) - excluded
    d.values["e2e_ms"] = e2e


STEPS: tuple[Step, ...] = (
    check_run_id,
    carry_rejections,
    identity,
    run_state,
    run_error,
    steps,
    retries,
    side_effects,
    timing,
)


def normalize(ev: RunEvidence, opts: NormalizeOptions) -> NormalizedRun:
    d = _Draft(ev=ev, opts=opts)
    for step in STEPS:
        step(d)
    v = d.values
    return NormalizedRun(
        pairing_key=ev.pairing_key,
        side=ev.side,
        agent=v["agent"],
        run_dir=ev.run_dir,
        state=v["state"],
        history=v["history"],
        history_mode=ev.history_mode,
        error_code=v["error_code"],
        error_class=v["error_class"],
        trigger=v["trigger"],
        started_at=v["started_at"],
        finished_at=v["finished_at"],
        first_seen=ev.first_seen,
        steps=v["steps"],
        step_durations=v["step_durations"],
        retries=v["retries"],
        proposals=v["proposals"],
        proposal_outputs=v["proposal_outputs"],
        unknown_fields=v["unknown_fields"],
        vendor_fields=v["vendor_fields"],
        queued_observed=v["queued_observed"],
        e2e_ms=v["e2e_ms"],
        input_findings=tuple(d.findings),
        idempotency_key=v["idempotency_key"],
        rejected=tuple(d.rejected),
    )
