"""Parsing raw bytes into records: every rejection reason, and what is kept."""

from __future__ import annotations

import json

import pytest

from shadow.core.layout import KeyLayout, Layout, ObjectKind, Side, parse_step_file
from shadow.core.profiles import translate
from shadow.core.records import (
    ManifestRecord,
    Rejected,
    RejectReason,
    StatusRecord,
    StepRecord,
    load_object,
    validate,
)
from tests.invented_profiles import INVENTED

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
    out = validate(KEY, translate(doc, "status", INVENTED["trigger-dev"]), StatusRecord)
    assert isinstance(out, StatusRecord)
    assert (
        out.run_id,
        out.agent_slug,
        out.status.value,
        (out.error or "").split(":")[0],
    ) == ("r1", "ingest", "failed", "AGENT_TIMEOUT")
    assert (out.finished_at - out.started_at).total_seconds() == 60  # type: ignore[operator]
    unknown = validate(
        KEY, translate({**doc, "status": "PAUSED"}, "status", INVENTED["trigger-dev"]), StatusRecord
    )
    assert isinstance(unknown, Rejected) and unknown.reason == RejectReason.UNKNOWN_STATUS


def test_dead_lettered_is_failed_with_retries_exhausted() -> None:
    """A queue consumer's dead-lettered message is a failed run, retries exhausted."""
    doc = {"run_id": "m1", "job_type": "delete-document", "status": "dead_lettered"}
    out = validate(KEY, translate(doc, "status", INVENTED["queue-consumer"]), StatusRecord)
    assert isinstance(out, StatusRecord)
    assert (
        out.status.value,
        out.agent_slug,
        (out.error or "").split(":")[0],
    ) == ("failed", "delete-document", "INTERNAL_ERROR")


# Issue 16, items 1, 2, 3 and 13: documents a lenient parser would take, and values that break
# arithmetic or time conversion downstream, are rejected here with a reason.
STEP = {"step_number": 1, "step_name": "persist", "status": "completed", "duration_ms": 1000}


def _with(doc: dict[str, object], field: str, raw: str) -> bytes:
    """`doc` as JSON with one member's value spliced in as raw JSON text."""
    body = json.dumps({**doc, field: "@@"})
    return body.replace('"@@"', raw).encode()


@pytest.mark.parametrize(
    ("body", "model", "reason", "words"),
    [
        (_with(STATUS, "agent_slug", '"a\\ud800"'), StatusRecord, "invalid_json", "surrogate"),
        (_with(STEP, "step_name", '"persist\\udc80"'), StepRecord, "invalid_json", "surrogate"),
        (
            _with(STEP, "output_summary", '["x", "\\udfff"]'),
            StepRecord,
            "invalid_json",
            "surrogate",
        ),
        (_with(STEP, "duration_ms", "Infinity"), StepRecord, "invalid_json", "Infinity"),
        (_with(STEP, "duration_ms", "-Infinity"), StepRecord, "invalid_json", "Infinity"),
        (_with(STEP, "duration_ms", "NaN"), StepRecord, "invalid_json", "NaN"),
        (_with(STEP, "duration_ms", "1e400"), StepRecord, "invalid_json", "beyond a double"),
        (
            b'{"step_number": 1, "status": "failed", "status": "completed"}',
            StepRecord,
            "invalid_json",
            "'status' repeated",
        ),
        (  # a repeated name deep inside, in a document orjson reads
            _with(STATUS, "_orchestrator_meta", '{"a": {"b": 1, "b": 2}}'),
            StatusRecord,
            "invalid_json",
            "'b' repeated",
        ),
        (  # a repeated name in a document only the standard library reads (a big integer)
            _with(STATUS, "steps_total", "1" + "0" * 30 + ', "steps_total": 4'),
            StatusRecord,
            "invalid_json",
            "repeated",
        ),
        (  # an escaped colon in one name must not hide a repeated other
            b'{"step_number": 1, "a\\u003a": 1, "status": "x", "status": "completed"}',
            StepRecord,
            "invalid_json",
            "repeated",
        ),
        (_with(STEP, "duration_ms", "1" + "0" * 400), StepRecord, "schema_violation", "duration"),
        (_with(STEP, "duration_ms", str(2**63)), StepRecord, "schema_violation", "duration"),
        (_with(STEP, "duration_ms", "1e300"), StepRecord, "schema_violation", "duration"),
        (_with(STEP, "step_number", "1" + "0" * 400), StepRecord, "schema_violation", "step_num"),
        (_with(STATUS, "steps_total", "1" + "0" * 400), StatusRecord, "schema_violation", "total"),
        (_with(STATUS, "steps_completed", "9" * 30), StatusRecord, "schema_violation", "complet"),
        (_with(STATUS, "queue_position", "9" * 30), StatusRecord, "schema_violation", "queue"),
        (_with(STATUS, "idempotency_key", "9" * 30), StatusRecord, "schema_violation", "idempot"),
        (_with(MANIFEST, "steps_count", "9" * 400), ManifestRecord, "schema_violation", "count"),
        (
            _with(MANIFEST, "proposals_created", "9" * 400),
            ManifestRecord,
            "schema_violation",
            "proposals",
        ),
        (
            _with(
                MANIFEST,
                "retries",
                '{"step_2_x": {"attempts": 1' + "0" * 400 + ', "recovered": true}}',
            ),
            ManifestRecord,
            "schema_violation",
            "attempts",
        ),
        (
            _with(STATUS, "finished_at", '"9999-12-31T23:59:59-14:00"'),
            StatusRecord,
            "schema_violation",
            "out of range",
        ),
        (
            _with(STEP, "started_at", '"0001-01-01T00:00:00+14:00"'),
            StepRecord,
            "schema_violation",
            "out of range",
        ),
        (  # Go's zero time: no run started in year 1
            _with(STATUS, "started_at", '"0001-01-01T00:00:00Z"'),
            StatusRecord,
            "schema_violation",
            "outside 1970-01-01 to 2200-01-01",
        ),
        (
            _with(STEP, "finished_at", '"2200-01-01T00:00:00Z"'),
            StepRecord,
            "schema_violation",
            "outside",
        ),
    ],
)
def test_hostile_values_are_rejected_with_a_reason(
    body: bytes, model: type, reason: str, words: str
) -> None:
    """Lone surrogates, NaN/Infinity, repeated names, huge integers and out-of-range times are
    rejected with their reason and a detail naming the problem, never raised."""
    out = _parse(body, model)
    assert isinstance(out, Rejected), out
    assert (reason, True) == (out.reason.value, words in out.detail), out.detail
    out.model_dump_json()  # the detail is printable: a report can carry it


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"\\ud83d\\ude00"', "\U0001f600"),  # a surrogate pair is one character: fine
        (str(2**63 - 1), 2**63 - 1),
        ("1.5e3", 1500.0),
    ],
)
def test_standard_values_at_the_edges_are_accepted(raw: str, expected: object) -> None:
    """What the bounds keep: a surrogate pair, the largest 64-bit integer, an exponent."""
    doc = load_object(KEY, _with({}, "x", raw), 1024)
    assert isinstance(doc, dict) and expected == doc["x"]


def test_a_utf16_document_still_reads() -> None:
    """The standard library's fallback keeps reading what orjson cannot (a UTF-16 document)."""
    doc = load_object(KEY, json.dumps(STEP).encode("utf-16"), 1024)
    assert STEP == doc
