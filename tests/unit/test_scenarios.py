"""Scenario writers: each side's format decodes back to the canonical record it encodes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from shadow.core.profiles import translate
from shadow.core.records import ManifestRecord, StatusRecord, StepRecord, validate
from shadow.corpora.invented import INVENTED
from shadow.corpora.scenarios import encode, write_scenario

AT = datetime(2026, 2, 20, 9, 30, 15, 250000, tzinfo=UTC)
STATUS = {
    "run_id": "r1",
    "agent_slug": "document-ingestion",
    "status": "failed",
    "trigger": "queue",
    "started_at": AT,
    "finished_at": AT,
    "steps_total": 2,
    "steps_completed": 1,
    "error": "INTERNAL_ERROR: down",
    "idempotency_key": "msg_1",
}


@pytest.mark.parametrize("name", sorted(INVENTED))
def test_encoded_records_translate_back_to_the_canonical_record(name: str) -> None:
    """Writing through a profile and reading through it again loses nothing shadow compares."""
    profile = INVENTED[name]
    status = validate(
        "k", translate(encode(STATUS, "status", profile), "status", profile), StatusRecord
    )
    assert isinstance(status, StatusRecord)
    assert (status.run_id, status.agent_slug, status.status.value) == (
        "r1",
        "document-ingestion",
        "failed",
    )
    assert status.started_at == AT and status.idempotency_key == "msg_1"
    assert status.error == "INTERNAL_ERROR: down" and status.unknown_fields == frozenset()
    step = {"step_number": 1, "step_name": "fetch", "status": "skipped", "started_at": AT}
    rec = validate("k", translate(encode(step, "step", profile), "step", profile), StepRecord)
    assert isinstance(rec, StepRecord) and rec.status.value == "skipped"
    manifest = {"status": "completed", "steps_count": 2, "proposals_created": 0}
    m = validate(
        "k", translate(encode(manifest, "manifest", profile), "manifest", profile), ManifestRecord
    )
    assert isinstance(m, ManifestRecord) and m.status is not None and m.status.value == "completed"


def test_trigger_dev_records_are_camel_case_with_epoch_ms() -> None:
    """The candidate of the chat scenario writes as Trigger.dev does, not in the spec's names."""
    doc = encode(STATUS, "status", INVENTED["trigger-dev"])
    assert doc["runId"] == "r1" and doc["taskIdentifier"] == "document-ingestion"
    assert doc["status"] == "FAILED" and doc["startedAt"] == round(AT.timestamp() * 1000)


def test_scenarios_are_deterministic_for_a_seed(tmp_path: Path) -> None:
    """The same seed writes the same corpus and the same plants."""
    a = write_scenario("chat", tmp_path / "a", now=AT, size=16)
    b = write_scenario("chat", tmp_path / "b", now=AT, size=16)
    assert a.planted == b.planted and a.pairs == b.pairs
    files = sorted(p.relative_to(a.root) for p in a.root.rglob("*.json"))
    assert files == sorted(p.relative_to(b.root) for p in b.root.rglob("*.json"))
    assert all((a.root / f).read_bytes() == (b.root / f).read_bytes() for f in files)


@pytest.mark.parametrize(
    ("name", "size", "message"),
    [("kafka", 20, "unknown scenario"), ("queues", 3, "at least 16")],
)
def test_bad_scenario_arguments_are_clear_errors(
    tmp_path: Path, name: str, size: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        write_scenario(name, tmp_path / "x", now=AT, size=size)
