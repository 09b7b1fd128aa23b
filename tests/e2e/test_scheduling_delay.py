"""Spec section 7: end-to-end time counts the scheduling delay (requested to running), which only
a daemon that saw both runs waiting can know."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shadow.cli import main

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _write(root: Path, key: str, doc: dict[str, Any], at: float) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    os.utime(path, (at, at))  # the store's LastModified: when the orchestrator wrote it


def _status(
    run_id: str, state: str, started: float | None, finished: float | None
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "agent_slug": "archivist-violin",
        "status": state,
        "trigger": "cron",
        "started_at": _iso(started) if started is not None else None,
        "finished_at": _iso(finished) if finished is not None else None,
        "steps_completed": 1 if state == "completed" else 0,
        "proposals_created": [],
    }


def _finish(root: Path, run_dir: str, run_id: str, started: float) -> None:
    end = started + 1.0
    step = {
        "step_number": 1,
        "step_name": "load-context",
        "status": "completed",
        "started_at": _iso(started),
        "finished_at": _iso(end),
        "duration_ms": 1000,
    }
    _write(root, f"runs/{run_dir}/steps/1-load-context.json", step, end)
    _write(root, f"runs/{run_dir}/status.json", _status(run_id, "completed", started, end), end)


def _report(db: Path, now: float, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert 0 == main(["report", "--json", "--db", str(db), "--now", _iso(now)])
    [run] = json.loads(capsys.readouterr().out)["runs"]
    return run  # type: ignore[no-any-return]


def _scan(root: Path, db: Path, now: float) -> None:
    assert 0 == main(
        ["scan", "--once", "--source", f"dir:{root}", "--db", str(db), "--now", _iso(now)]
    )


def test_a_dry_run_that_waits_minutes_to_start_is_slower_when_both_were_seen_waiting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, db = tmp_path / "bucket", tmp_path / "shadow.db"
    for run_dir in ("r1", "r1-dryrun"):
        _write(root, f"runs/{run_dir}/status.json", _status("r1", "requested", None, None), T0)
    _scan(root, db, T0 + 1)
    _write(root, "runs/r1/status.json", _status("r1", "running", T0 + 5, None), T0 + 5)
    _finish(root, "r1", "r1", T0 + 5)
    _write(root, "runs/r1-dryrun/status.json", _status("r1", "running", T0 + 300, None), T0 + 300)
    _finish(root, "r1-dryrun", "r1", T0 + 300)
    _scan(root, db, T0 + 400)
    capsys.readouterr()
    run = _report(db, T0 + 400, capsys)
    assert "paired" == run["state"]
    # waits less the store's 2 s allowance: 3 s and 298 s, each run 1 s long
    assert pytest.approx((298 + 1) / (3 + 1)) == run["duration_ratio"]
    assert ["run_slower"] == [f["kind"] for f in run["findings"] if f["dimension"] == "timing"]

    # The same finished runs found by a backfill: nobody saw them wait, so only running counts.
    backfill = tmp_path / "backfill.db"
    _scan(root, backfill, T0 + 400)
    capsys.readouterr()
    run = _report(backfill, T0 + 400, capsys)
    assert 1.0 == run["duration_ratio"]
    assert [] == [f for f in run["findings"] if f["dimension"] == "timing"]
