"""Fuzzing with hostile values (issue 16): lone surrogates, out-of-range times, huge integers,
non-standard JSON and repeated member names, at every parser and through a whole cycle.

At the parsers: a document carrying one is rejected with a reason, never raised, and whatever is
accepted holds only UTF-8-encodable text, 64-bit integers and times in range. Through the cycle:
hostile objects written into a directory bucket beside good pairs, a real engine cycle over a
SQLite ledger, then `report --json`, `report` and `verdict` through the CLI: every hostile object
is listed as rejected and counted, every good pair is judged a match.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shadow.bootstrap import make_engine
from shadow.cli import main
from shadow.config import load_settings
from shadow.core.profiles import translate
from shadow.core.reading import read_run
from shadow.core.records import (
    EARLIEST,
    INT64_MAX,
    INT64_MIN,
    LATEST,
    ManifestRecord,
    Rejected,
    StatusRecord,
    StepRecord,
    load_object,
    parse_json,
    validate,
)
from shadow.core.shipped import SHIPPED
from tests.invented_profiles import INVENTED

NOW_ISO = "2026-03-01T12:00:00Z"
NOW = datetime.fromisoformat(NOW_ISO).timestamp()
STATUS: dict[str, Any] = {
    "run_id": "r",
    "agent_slug": "archivist-violin",
    "status": "completed",
    "trigger": "cron",
    "started_at": "2026-02-28T10:00:00Z",
    "finished_at": "2026-02-28T10:01:00Z",
    "steps_total": 1,
    "steps_completed": 1,
    "proposals_created": [],
    "queue_position": 3,
    "error": None,
}
STEP: dict[str, Any] = {
    "step_number": 1,
    "step_name": "persist",
    "status": "completed",
    "started_at": "2026-02-28T10:00:00Z",
    "finished_at": "2026-02-28T10:00:01Z",
    "duration_ms": 900,
}
MANIFEST: dict[str, Any] = {
    "status": "completed",
    "steps_count": 1,
    "proposals_created": 0,
    "retries": {"step_1_persist": {"attempts": 2, "last_error": None, "recovered": True}},
}
TEXT_FIELDS = {"status": ["run_id", "agent_slug", "trigger", "error"], "step": ["step_name"]}
TIME_FIELDS = {"status": ["started_at", "finished_at"], "step": ["started_at", "finished_at"]}
INT_FIELDS = {
    "status": ["steps_total", "steps_completed", "queue_position"],
    "step": ["step_number", "duration_ms"],
    "manifest": ["steps_count", "proposals_created"],
}
BASE = {"status": STATUS, "step": STEP, "manifest": MANIFEST}
MODEL = {"status": StatusRecord, "step": StepRecord, "manifest": ManifestRecord}

# A lone surrogate escape: a high one not followed by a low one, or a low one alone.
LONE = st.one_of(
    st.integers(0xD800, 0xDBFF).map(lambda c: f"\\u{c:04x}"),
    st.integers(0xDC00, 0xDFFF).map(lambda c: f"\\u{c:04x}"),
)
PLAIN = st.text(alphabet="abc-é😀:", max_size=6).map(lambda s: json.dumps(s)[1:-1])
SURROGATE = st.tuples(PLAIN, LONE, PLAIN).map(lambda t: f'"{t[0]}{t[1]}{t[2]}"')
OFFSET = st.sampled_from(["Z", "+00:00", "-14:00", "+14:00", "+05:30", "-00:01"])
OUT_OF_RANGE_TIME = st.one_of(
    st.tuples(st.integers(1, 1968), OFFSET),
    st.tuples(st.integers(2201, 9999), OFFSET),
).map(lambda t: f'"{t[0]:04d}-12-31T23:59:59{t[1]}"')
EDGE_TIME = st.sampled_from(['"9999-12-31T23:59:59-14:00"', '"0001-01-01T00:00:00+14:00"'])
HUGE = st.one_of(st.integers(INT64_MAX + 1, 10**400), st.integers(-(10**400), INT64_MIN - 1)).map(
    str
)
NON_STANDARD = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])


@st.composite
def hostile(draw: st.DrawFn) -> tuple[str, bytes]:
    """(kind of record, a body carrying exactly one hostile value)."""
    kind = draw(st.sampled_from(["status", "step", "manifest"]))
    doc = dict(BASE[kind])
    family = draw(st.sampled_from(["surrogate", "time", "huge", "non_standard", "repeated"]))
    if family == "repeated":
        name = draw(st.sampled_from(sorted(doc)))
        body = json.dumps(doc)[:-1] + f", {json.dumps(name)}: {json.dumps(doc[name])}}}"
        return kind, body.encode()
    if family == "surrogate":
        field = draw(st.sampled_from([*TEXT_FIELDS.get(kind, ["error"]), "_orchestrator_meta"]))
        value = draw(SURROGATE)
    elif family == "time" and kind != "manifest":
        field, value = draw(st.sampled_from(TIME_FIELDS[kind])), draw(OUT_OF_RANGE_TIME | EDGE_TIME)
    elif family == "huge" or kind == "manifest":
        field, value = draw(st.sampled_from(INT_FIELDS[kind])), draw(HUGE)
    else:
        field = draw(st.sampled_from(INT_FIELDS.get(kind, ["steps_count"])))
        value = draw(NON_STANDARD)
    return kind, json.dumps({**doc, field: "@@"}).replace('"@@"', value).encode()


def _accepted_is_bounded(record: Any) -> None:
    """What validation accepts can be stored, served and computed with."""
    record.model_dump_json()  # every string encodes as UTF-8
    for name, value in record:
        if isinstance(value, int) and not isinstance(value, bool):
            assert INT64_MIN <= value <= INT64_MAX, name
        if isinstance(value, datetime):
            assert EARLIEST <= value < LATEST, name


@settings(max_examples=400, deadline=None)
@given(hostile())
def test_every_parser_rejects_a_hostile_value(case: tuple[str, bytes]) -> None:
    """load_object, then validation (directly and through every shipped profile): a Rejected with
    a printable detail, never an exception, never a record holding the value."""
    kind, body = case
    doc = load_object(f"runs/r/{kind}.json", body, 1024 * 1024)
    if isinstance(doc, Rejected):
        assert doc.reason.value == "invalid_json"
        doc.model_dump_json()
        return
    out = validate("k", doc, MODEL[kind])
    assert isinstance(out, Rejected), f"accepted {body!r}"
    out.model_dump_json()
    for profile in INVENTED.values():  # garden-form renames
        translated = validate("k", translate(doc, kind, profile), MODEL[kind])  # type: ignore[arg-type]
        if not isinstance(translated, Rejected):
            _accepted_is_bounded(translated)
    for profile in SHIPPED.values():  # declarative: read, never raised, times in range
        if profile.declarative:
            reading = read_run(doc, {"trace": doc}, profile.compiled)
            for at in (reading.started_at, reading.finished_at, reading.queued_at, reading.slot):
                assert at is None or EARLIEST.timestamp() <= at < LATEST.timestamp()


@settings(max_examples=300, deadline=None)
@given(hostile())
def test_parse_json_refuses_or_returns_encodable_standard_json(case: tuple[str, bytes]) -> None:
    """parse_json either raises ValueError or returns a document orjson could write back."""
    import orjson

    try:
        doc = parse_json(case[1])
    except ValueError:
        return
    json.dumps(doc, allow_nan=False).encode("utf-8")  # finite numbers, encodable text
    if _fits64(doc):  # a bigger integer is the schema's to reject
        orjson.dumps(doc)


def _fits64(doc: Any) -> bool:
    if isinstance(doc, dict):
        return all(_fits64(v) for v in doc.values())
    if isinstance(doc, list):
        return all(_fits64(v) for v in doc)
    return not isinstance(doc, int) or INT64_MIN <= doc <= INT64_MAX


# Whole cycle ---------------------------------------------------------------------------------


def _write_pair(root: Path, run_id: str) -> None:
    for side in (run_id, f"{run_id}-dryrun"):
        base = root / "runs" / side
        (base / "steps").mkdir(parents=True, exist_ok=True)
        (base / "status.json").write_text(json.dumps({**STATUS, "run_id": run_id}))
        (base / "steps" / "1-persist.json").write_text(json.dumps(STEP))
        (base / "manifest.json").write_text(json.dumps(MANIFEST))


PLACES = {"status": "status.json", "step": "steps/1-persist.json", "manifest": "manifest.json"}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(st.tuples(hostile(), st.booleans()), min_size=1, max_size=4))
def test_a_cycle_rejects_every_hostile_object_and_judges_every_other_run(
    cases: list[tuple[tuple[str, bytes], bool]],
) -> None:
    """Hostile objects in a bucket: the cycle completes, stores its judgement, and `report --json`,
    `report` and `verdict` work; each hostile object is rejected and counted; good pairs match."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "bucket")
        for n in range(2):
            _write_pair(root, f"good-{n}")
        planted: dict[str, str] = {}
        for i, ((kind, body), dry) in enumerate(cases):
            run_id = f"bad-{i}"
            _write_pair(root, run_id)
            key = f"runs/{run_id}{'-dryrun' if dry else ''}/{PLACES[kind]}"
            (root / key).write_bytes(body)
            planted[key] = run_id
        db = str(Path(tmp, "ledger.db"))
        engine = make_engine(load_settings(source=f"dir:{root}", db=db))
        try:
            summary = asyncio.run(engine.run_cycle(NOW))
        finally:
            engine.ledger.close()
        assert summary.report is not None
        summary.report.model_dump_json()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert 0 == main(["report", "--json", "--db", db, "--now", NOW_ISO])
        report = json.loads(out.getvalue())
        assert set(planted) == {r["key"] for r in report["rejected"]}
        assert len(planted) == report["totals"]["rejected_objects"]
        outcomes = {r["run_id"]: r["outcome"] for r in report["runs"]}
        assert {"good-0": "match", "good-1": "match"} == {
            k: v for k, v in outcomes.items() if k.startswith("good")
        }
        assert all(outcomes[run_id] in ("mismatch", "pending") for run_id in planted.values())
        with contextlib.redirect_stdout(io.StringIO()):
            assert 0 == main(["report", "--db", db, "--now", NOW_ISO])
            assert main(["verdict", "--db", db, "--now", NOW_ISO]) in (0, 1, 2)
