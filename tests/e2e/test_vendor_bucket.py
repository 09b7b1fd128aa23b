"""End to end: buckets holding the vendors' real records, judged with the shipped profiles.

Only the shipped profiles are named in the config, with the schedule: the records are the
fixtures of tests/fixtures/vendors, stored as a writer would store them (a run directory per
run, Inngest's trace beside its run, a consumer's record overwritten on every delivery).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from shadow.cli import main
from tests.snapshots import tree_unchanged
from tests.vendor_reading import VENDORS

NOW = "2026-03-02T12:00:00Z"
SCHEDULE = '[[schedules]]\nstratum = "usage-reset"\ncron = "0 12 * * *"\ntolerance_seconds = 900\n'


def put(root: Path, run_dir: str, fixture: str, name: str = "status.json") -> None:
    target = root / "runs" / run_dir / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(VENDORS / fixture, target)


def judge(root: Path, config: str, capsys: pytest.CaptureFixture[str], db: Path) -> dict[str, Any]:
    cfg = root.parent / f"{root.name}.toml"
    cfg.write_text(f'source = "dir:{root}"\n{config}')
    common = ["--config", str(cfg), "--db", str(db), "--now", NOW]
    with tree_unchanged(root):
        assert main(["scan", "--once", *common]) == 0
    capsys.readouterr()
    assert main(["report", "--json", *common]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def test_inngest_to_trigger_dev(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Twins named by their own Trigger.dev id and linked by metadata.primaryRunId, steps and
    step retries from Inngest's trace.json, a daily cron paired by its slot: all equal."""
    root = tmp_path / "bucket"
    for run_id, run, trace in (
        ("01KJMATB7T84G7ZWYRD6Z1RV0W", "run-completed", None),
        ("01KJMDKJB9F8QY40YGECYYS9E9", "run-failed", "trace-failed"),
        ("01KJMK5V79GP1XF3A7QYFR6F0D", "run-retried-recovered", "trace-retried-recovered"),
        ("01KJMS71YVXQH8B0NX5N2RAWVA", "run-cancelled", None),
        ("01KJMMA2SYM9S346Q3D25VT4F5", "run-cron", None),
    ):
        put(root, run_id, f"inngest/v2/{run}.json")
        if trace:
            put(root, run_id, f"inngest/v2/{trace}.json", "trace.json")
    for name in ("completed", "failed", "retried-recovered", "canceled", "scheduled"):
        doc = json.loads((VENDORS / f"trigger-dev/current/{name}.json").read_bytes())
        put(root, f"{doc['id']}-dryrun", f"trigger-dev/current/{name}.json")
    config = f'primary_profile = "inngest"\ncandidate_profile = "trigger-dev"\n{SCHEDULE}'
    report = judge(root, config, capsys, tmp_path / "a.db")
    assert report["rejected"] == []
    runs = {r["run_id"]: r for r in report["runs"]}
    assert set(runs) == {
        "01KJMATB7T84G7ZWYRD6Z1RV0W",
        "01KJMDKJB9F8QY40YGECYYS9E9",
        "01KJMK5V79GP1XF3A7QYFR6F0D",
        "01KJMS71YVXQH8B0NX5N2RAWVA",
        "usage-reset@2026-03-01T12:00:00Z",
    }
    assert {r["state"] for r in runs.values()} == {"paired"}
    assert {r["outcome"] for r in runs.values()} == {"match"}
    assert runs["01KJMK5V79GP1XF3A7QYFR6F0D"]["has_retries"]  # Inngest's from trace.json
    criteria = {c["name"]: c for c in report["readiness"]["criteria"]}
    assert criteria["retries"]["status"] == "pass" and criteria["retries"]["evidence"] == 2
    assert report["schedules"][0]["missed_candidate"] == 0


def test_trigger_dev_to_cloudflare_queues(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A redelivery observed across two scans is one run that retried; a producer's double
    send is a duplicate; the dry run's cron fire is missing: a missed schedule, no orphan."""
    root = tmp_path / "bucket"
    jobs = {
        "acked.json": "run_cm7r1a2b30c4d5e6f7g8h9j0k",
        "redelivered/delivery-1.json": "run_cm7r2c3d40e5f6g7h8j9k0m1n",
        "double-send/first.json": "run_cm7r4g5h60j7k8m9n0p1q2r3s",
    }
    base = json.loads((VENDORS / "trigger-dev/current/completed.json").read_bytes())
    for fixture, job in jobs.items():  # the primaries: Trigger.dev runs named by their own ids
        attempts = 2 if fixture.startswith("redelivered") else 1
        doc = {**base, "id": job, "metadata": {}, "attemptCount": attempts}
        (root / "runs" / job).mkdir(parents=True)
        (root / "runs" / job / "status.json").write_text(json.dumps(doc))
    put(root, "run_cm7q7d2v90e6f8g0h2j4k6m8n", "trigger-dev/current/scheduled.json")
    for fixture in jobs:
        message = json.loads((VENDORS / "cloudflare-queues" / fixture).read_bytes())["message"]
        put(root, f"{message['id']}-dryrun", f"cloudflare-queues/{fixture}")
    put(root, "m2-dryrun", "cloudflare-queues/double-send/second.json")
    config = (
        'primary_profile = "trigger-dev"\ncandidate_profile = "cf-queues-consumer"\n' + SCHEDULE
    )
    db = tmp_path / "b.db"
    judge(root, config, capsys, db)  # the first delivery: the consumer will retry
    put(
        root,
        "4f8a2c6e0b3d47f1a5c9e2b6d0f3a7c1-dryrun",
        "cloudflare-queues/redelivered/delivery-2.json",
    )
    report = judge(root, config, capsys, db)
    runs = {r["run_id"]: r for r in report["runs"]}
    redelivered = runs["run_cm7r2c3d40e5f6g7h8j9k0m1n"]
    assert redelivered["outcome"] == "match" and redelivered["has_retries"]
    double = runs["run_cm7r4g5h60j7k8m9n0p1q2r3s"]
    assert ("duplicate_run", "error") in {(f["kind"], f["severity"]) for f in double["findings"]}
    assert runs["run_cm7r1a2b30c4d5e6f7g8h9j0k"]["outcome"] == "match"
    (missed,) = report["missed_schedules"]
    assert (missed["kind"], missed["candidate"]) == ("missed_schedule", "missed")
    kinds = {f["kind"] for r in report["runs"] for f in r["findings"]}
    assert not {"lost_run", "orphan_run"} & kinds
