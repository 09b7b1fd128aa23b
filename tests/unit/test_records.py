"""Parsing raw bytes into records: every rejection reason, and what is kept."""

from __future__ import annotations

import json

import pytest

from shadow.core.layout import KeyLayout, Layout, ObjectKind, Side, parse_step_file
from shadow.core.profiles import SHIPPED, translate
from shadow.core.records import (
    ManifestRecord,
    Rejected,
    RejectReason,
    StatusRecord,
    StepRecord,
    load_object,
    validate,
)

KEY = "runs/run_1/status.json"
STATUS = {
    "run_id": "run_1",
    "agent_slug": "archivist-violin",
    "status": "completed",
    "trigger": "cron",
    "started_at": "2026-02-14T08:00:00Z",
    "finished_at": "2026-02-14T08:01:00Z",
    "current_step": "finalize",
    "steps_total": 4,
    "steps_completed": 4,
    "proposals_created": ["p1"],
    "error": None,
}
MANIFEST = {
    "status": "completed",
    "steps_count": 4,
    "proposals_created": 1,
    "retries": {
        "step_2_execute-agent": {
            "attempts": 2,
            "last_error": "NLM_UNAVAILABLE: 503",
            "recovered": True,
        }
    },
}


def _parse(body: bytes, model: type, limit: int = 1024 * 1024) -> object:
    doc = load_object(KEY, body, limit)
    return doc if isinstance(doc, Rejected) else validate(KEY, doc, model)


@pytest.mark.parametrize(
    ("body", "model", "reason"),
    [
        (b'{"run_id": ', StatusRecord, RejectReason.INVALID_JSON),
        (b"\xff\xfe garbage", StatusRecord, RejectReason.INVALID_JSON),
        (b"[1, 2]", StatusRecord, RejectReason.NOT_AN_OBJECT),
        (b'"text"', ManifestRecord, RejectReason.NOT_AN_OBJECT),
        (
            json.dumps({**STATUS, "steps_total": "four"}).encode(),
            StatusRecord,
            RejectReason.SCHEMA_VIOLATION,
        ),
        (json.dumps({**STATUS, "run_id": 7}).encode(), StatusRecord, RejectReason.SCHEMA_VIOLATION),
        (
            json.dumps({**STATUS, "status": "done"}).encode(),
            StatusRecord,
            RejectReason.UNKNOWN_STATUS,
        ),
        (
            json.dumps({"step_number": 1, "status": "finished"}).encode(),
            StepRecord,
            RejectReason.UNKNOWN_STATUS,
        ),
        (
            json.dumps({**MANIFEST, "retries": {"x": {"recovered": "yes"}}}).encode(),
            ManifestRecord,
            RejectReason.SCHEMA_VIOLATION,
        ),
        (b"[" * 100_000, StatusRecord, RejectReason.INVALID_JSON),
    ],
)
def test_bad_objects_are_rejected_with_a_reason(
    body: bytes, model: type, reason: RejectReason
) -> None:
    """Every kind of bad object becomes a Rejected with its closed reason, never an exception."""
    out = _parse(body, model)
    assert isinstance(out, Rejected)
    assert (KEY, reason) == (out.key, out.reason)


def test_too_large_is_rejected_by_size() -> None:
    """An object over the limit is rejected before it is parsed."""
    out = _parse(b"{}" + b" " * 100, StatusRecord, limit=50)
    assert isinstance(out, Rejected) and out.reason == RejectReason.TOO_LARGE


def test_the_spec_documents_parse_and_keep_unknown_fields() -> None:
    """The spec's examples parse; unknown fields are kept and named, known-but-ignored ones are not."""
    status = _parse(
        json.dumps({**STATUS, "region": "eu", "_orchestrator_meta": {"x": 1}}).encode(),
        StatusRecord,
    )
    assert isinstance(status, StatusRecord)
    assert frozenset({"region"}) == status.unknown_fields
    manifest = _parse(
        json.dumps(
            {**MANIFEST, "model_used": "m", "tokens_used": 3, "agent_version": "1"}
        ).encode(),
        ManifestRecord,
    )
    assert isinstance(manifest, ManifestRecord)
    assert frozenset() == manifest.unknown_fields
    assert manifest.retries is not None and manifest.retries["step_2_execute-agent"].recovered


def test_naive_timestamps_are_utc() -> None:
    """A timestamp without a zone is read as UTC."""
    status = _parse(
        json.dumps({**STATUS, "started_at": "2026-02-14T08:00:00"}).encode(), StatusRecord
    )
    assert isinstance(status, StatusRecord) and status.started_at is not None
    assert status.started_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "name", ["steps/2.json", "steps/2-execute-agent.json", "steps/02-execute-agent.json"]
)
def test_three_step_namings_mean_the_same_step(name: str) -> None:
    """All three writer namings give step 2 (the name, when present, is execute-agent)."""
    parsed = parse_step_file(name)
    assert parsed.number == 2 and parsed.name in (None, "execute-agent")


@pytest.mark.parametrize(
    "name", ["steps/final-notes.json", "steps/-x.json", "steps/" + "9" * 5000 + ".json"]
)
def test_step_files_without_a_usable_number(name: str) -> None:
    """A name without a number (or an absurd one) has no step number."""
    assert parse_step_file(name).number is None


@pytest.mark.parametrize(
    ("layout", "key", "expected"),
    [
        (Layout.FLAT, "runs/r1/status.json", ("r1", Side.PRIMARY, None, ObjectKind.STATUS)),
        (
            Layout.FLAT,
            "runs/r1-dryrun/steps/2-x.json",
            ("r1", Side.CANDIDATE, None, ObjectKind.STEP),
        ),
        (
            Layout.FLAT,
            "runs/r1-dryrun/output/proposal-1.json",
            ("r1", Side.CANDIDATE, None, ObjectKind.OUTPUT),
        ),
        (
            Layout.NESTED,
            "agents/a-b/runs/r1-dryrun/manifest.json",
            ("r1", Side.CANDIDATE, "a-b", ObjectKind.MANIFEST),
        ),
        (Layout.FLAT, "runs/ü ñ/status.json", ("ü ñ", Side.PRIMARY, None, ObjectKind.STATUS)),
    ],
)
def test_keys_map_to_runs(layout: Layout, key: str, expected: tuple) -> None:  # type: ignore[type-arg]
    """Both layouts give the pairing key, the side, the agent and the object kind."""
    parsed = KeyLayout(layout).parse(key)
    assert parsed is not None
    assert expected == (parsed.pairing_key, parsed.side, parsed.agent_from_path, parsed.kind)


@pytest.mark.parametrize(
    "key",
    [
        "runs/status.json",
        "runs//status.json",
        "other/r1/status.json",
        "runs/-dryrun/x.json",
        "agents/a/runs/r1",
    ],
)
def test_keys_outside_run_directories_are_ignored(key: str) -> None:
    """Keys that are not inside a run directory parse to None."""
    assert KeyLayout(Layout.FLAT).parse(key) is None or KeyLayout(Layout.NESTED).parse(key) is None


def test_trigger_dev_profile_translates_vocabulary_fields_and_epoch_ms() -> None:
    """A camelCase, epoch-millisecond Trigger.dev record becomes a canonical one."""
    doc = {
        "runId": "r1",
        "taskIdentifier": "ingest",
        "status": "TIMED_OUT",
        "startedAt": 1_772_000_000_000,
        "completedAt": 1_772_000_060_000,
    }
    out = validate(KEY, translate(doc, "status", SHIPPED["trigger-dev"]), StatusRecord)
    assert isinstance(out, StatusRecord)
    assert (
        out.run_id,
        out.agent_slug,
        out.status.value,
        (out.error or "").split(":")[0],
    ) == ("r1", "ingest", "failed", "AGENT_TIMEOUT")
    assert (out.finished_at - out.started_at).total_seconds() == 60  # type: ignore[operator]
    unknown = validate(
        KEY, translate({**doc, "status": "PAUSED"}, "status", SHIPPED["trigger-dev"]), StatusRecord
    )
    assert isinstance(unknown, Rejected) and unknown.reason == RejectReason.UNKNOWN_STATUS


def test_dead_lettered_is_failed_with_retries_exhausted() -> None:
    """A queue consumer's dead-lettered message is a failed run, retries exhausted."""
    doc = {"run_id": "m1", "job_type": "delete-document", "status": "dead_lettered"}
    out = validate(KEY, translate(doc, "status", SHIPPED["queue-consumer"]), StatusRecord)
    assert isinstance(out, StatusRecord)
    assert (
        out.status.value,
        out.agent_slug,
        (out.error or "").split(":")[0],
    ) == ("failed", "delete-document", "INTERNAL_ERROR")
