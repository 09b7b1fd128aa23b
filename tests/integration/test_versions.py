"""Old versions of status.json in a versioned bucket: each read once, none above the size limit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shadow.bootstrap import make_engine
from shadow.collectors.s3 import S3Source
from tests.e2e.conftest import NOW
from tests.integration.conftest import BUCKET, settings_for

KEY = "runs/r1/status.json"
_writes = iter(range(1_000_000))  # each write's body differs, as an orchestrator's would


def _put(s3: Any, state: str, pad: int = 0) -> None:
    doc = {
        "run_id": "r1",
        "agent_slug": "a",
        "trigger": "manual",
        "status": state,
        "started_at": "2026-03-01T10:00:00Z",
        "finished_at": None,
        "_orchestrator_meta": {"pad": "x" * pad, "write": next(_writes)},
    }
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=json.dumps(doc).encode())


async def test_only_versions_not_yet_seen_are_fetched_and_none_above_the_limit(
    s3: Any, s3_endpoint: str, tmp_path: Path
) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    _put(s3, "requested")
    _put(s3, "queued", pad=50_000)  # an old version over max_object_bytes: never downloaded
    for state in ("running", "running", "running"):
        _put(s3, state)
    engine = make_engine(
        settings_for(s3_endpoint, tmp_path, max_object_bytes=20_000, reconcile_interval_seconds=0)
    )
    source = engine.source
    assert isinstance(source, S3Source)
    try:
        first = await engine.run_cycle(NOW.timestamp())
        # 5 versions: the current one is the body just read, the large one is skipped
        assert 3 == first.scan.versions_fetched and 1 == first.scan.skipped_too_large
        history = ["requested", "running", "running", "running"]  # the large one unread
        assert history == engine.ledger.histories()["runs/r1/"][1]
        _put(s3, "running")
        source.requests.clear()
        second = await engine.run_cycle(NOW.timestamp())
        # one more write: the current version is read, no old one again
        assert 0 == second.scan.versions_fetched and 1 == source.requests["GetObject"]
        assert 1 == second.scan.fetched
        _put(s3, "queued")
        third = await engine.run_cycle(NOW.timestamp())
        assert 0 == third.scan.versions_fetched
        assert [*history, "running", "queued"] == engine.ledger.histories()["runs/r1/"][1]
    finally:
        await source.close()
        engine.ledger.close()
