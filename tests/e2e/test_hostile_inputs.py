"""Hostile objects in a real bucket (issue 16): each is rejected and counted, every other run is
judged, and nothing downstream (the ledger, `report --json`, the API, the console) breaks on it.

Each case is one object that stopped judging before: a lone surrogate in an agent slug or a step
name, a time that leaves `datetime`'s range in UTC, an integer too big for a float, Infinity,
a repeated member name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from shadow.cli import main
from shadow.config import load_settings
from shadow.serve.api import create_app
from shadow.serve.daemon import build_service
from tests.e2e.conftest import NOW, NOW_ISO


def status(run_id: str, **fields: object) -> dict[str, object]:
    return {
        "run_id": run_id,
        "agent_slug": "archivist-violin",
        "status": "completed",
        "trigger": "cron",
        "started_at": "2026-02-28T10:00:00Z",
        "finished_at": "2026-02-28T10:01:00Z",
        "steps_total": 1,
        "steps_completed": 1,
        "proposals_created": [],
        "error": None,
        **fields,
    }


def step(**fields: object) -> dict[str, object]:
    return {
        "step_number": 1,
        "step_name": "persist",
        "status": "completed",
        "duration_ms": 900,
        **fields,
    }


def write_pair(root: Path, run_id: str) -> None:
    for side in (run_id, f"{run_id}-dryrun"):
        base = root / "runs" / side
        (base / "steps").mkdir(parents=True)
        (base / "status.json").write_text(json.dumps(status(run_id)))
        (base / "steps" / "1-persist.json").write_text(json.dumps(step()))


def raw(doc: dict[str, object], field: str, text: str) -> bytes:
    """`doc` as JSON with one member's value spliced in as raw JSON text."""
    return json.dumps({**doc, field: "@@"}).replace('"@@"', text).encode()


STEP_KEY = "runs/bad-dryrun/steps/1-persist.json"
STATUS_KEY = "runs/bad/status.json"
# name: (key, body, reason it is rejected with)
HOSTILE: dict[str, tuple[str, bytes, str]] = {
    "surrogate-agent-slug": (
        STATUS_KEY,
        raw(status("bad"), "agent_slug", '"a\\ud800"'),
        "invalid_json",
    ),
    "surrogate-step-name": (STEP_KEY, raw(step(), "step_name", '"persist\\udc80"'), "invalid_json"),
    "time-past-9999-in-utc": (
        STATUS_KEY,
        json.dumps(status("bad", finished_at="9999-12-31T23:59:59-14:00")).encode(),
        "schema_violation",
    ),
    "time-before-year-1-in-utc": (
        STEP_KEY,
        json.dumps(step(started_at="0001-01-01T00:00:00+14:00")).encode(),
        "schema_violation",
    ),
    "huge-duration": (STEP_KEY, raw(step(), "duration_ms", "1" + "0" * 400), "schema_violation"),
    "huge-steps-completed": (
        STATUS_KEY,
        raw(status("bad"), "steps_completed", "1" + "0" * 400),
        "schema_violation",
    ),
    "infinity-duration": (STEP_KEY, raw(step(), "duration_ms", "Infinity"), "invalid_json"),
    "repeated-member": (
        STEP_KEY,
        b'{"step_number": 1, "step_name": "persist", "status": "failed", "status": "completed"}',
        "invalid_json",
    ),
}


@pytest.fixture
def bucket(tmp_path: Path) -> Callable[[str], Path]:
    def make(case: str) -> Path:
        root = tmp_path / "bucket"
        for run_id in ("bad", "good-1", "good-2"):
            write_pair(root, run_id)
        key, body, _ = HOSTILE[case]
        (root / key).write_bytes(body)
        return root

    return make


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_object_is_rejected_and_every_other_run_judged(
    case: str,
    bucket: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The scan, the ledger, `report --json`, the text report and `verdict` all work: the object
    is listed as rejected with its reason, the good pairs match."""
    root = bucket(case)
    common = ["--db", str(tmp_path / "ledger.db"), "--now", NOW_ISO]
    assert 0 == main(["scan", "--once", "--source", f"dir:{root}", *common])
    capsys.readouterr()
    assert 0 == main(["report", "--json", *common])
    report = json.loads(capsys.readouterr().out)
    key, _, reason = HOSTILE[case]
    assert [(key, reason)] == [(r["key"], r["reason"]) for r in report["rejected"]]
    outcomes = {r["run_id"]: r["outcome"] for r in report["runs"]}
    assert ("match", "match") == (outcomes["good-1"], outcomes["good-2"])
    assert outcomes["bad"] in ("mismatch", "pending")
    assert main(["verdict", *common]) in (0, 1, 2)  # a verdict, whichever it is
    assert 0 == main(["report", *common])


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_the_api_and_the_console_serve_a_bucket_with_a_hostile_object(
    case: str, bucket: Callable[[str], Path], tmp_path: Path
) -> None:
    """`serve` completes its cycle and answers the report, the run and the console pages."""
    settings = load_settings(source=f"dir:{bucket(case)}", db=tmp_path / "served.db")
    svc = build_service(settings, CollectorRegistry())
    try:
        await svc.cycle(NOW.timestamp())
        transport = httpx.ASGITransport(app=create_app(svc))
        async with httpx.AsyncClient(transport=transport, base_url="http://shadow") as client:
            for path in ("/report", "/readiness", "/runs/bad", "/", "/ui/runs", "/ui/runs/bad"):
                r = await client.get(path)
                assert (path, True) == (path, r.status_code in (200, 412)), r.text[:300]
            report = (await client.get("/report")).json()
            assert [HOSTILE[case][0]] == [r["key"] for r in report["rejected"]]
    finally:
        await svc.close()


def test_a_backfill_with_a_past_now_judges_a_twin_that_never_started(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16 item 19: an orphan twin that failed before it started (started_at null) two days
    before `--now`, its objects written after `--now` (copied in for a backfill), is an orphan,
    not pending for ever."""
    root = tmp_path / "bucket"
    write_pair(root, "good-1")
    orphan = root / "runs" / "lone-dryrun" / "status.json"
    orphan.parent.mkdir(parents=True)
    never_started = status(
        "lone",
        status="failed",
        started_at=None,
        finished_at="2026-02-27T09:00:00Z",
        steps_completed=0,
        error="INTERNAL_ERROR: rejected before start",
    )
    orphan.write_text(json.dumps(never_started))
    later = NOW.timestamp() + 30 * 86400  # last-modified a month after the judgement's time
    os.utime(orphan, (later, later))
    db = tmp_path / "ledger.db"
    common = ["--db", str(db), "--now", NOW_ISO]
    assert 0 == main(["scan", "--once", "--source", f"dir:{root}", *common])
    capsys.readouterr()
    assert 0 == main(["report", "--json", *common])
    runs = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)["runs"]}
    assert ("candidate_only", ["orphan_run"]) == (
        runs["lone"]["state"],
        [f["kind"] for f in runs["lone"]["findings"]],
    )
