"""shadow against a real S3 endpoint over HTTP: listing, fetching, versions, errors, the engine."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from shadow.bootstrap import make_engine
from shadow.cli import main
from shadow.collectors.s3 import S3Source
from shadow.corpora.demo import write_demo
from shadow.engine import CycleSummary, Engine
from shadow.errors import SourceError
from tests.e2e.conftest import NOW
from tests.integration.conftest import ACCESS_KEY, BUCKET, SECRET_KEY, settings_for
from tests.snapshots import bucket_unchanged


def _s3(settings: Any) -> S3Source:
    """The S3 source the daemon would build from these settings."""
    return S3Source.from_settings(settings.source, settings.s3)


def upload_tree(s3: Any, root: Path, prefix: str = "") -> int:
    count = 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != ".shadow-demo":
            s3.put_object(
                Bucket=BUCKET,
                Key=prefix + path.relative_to(root).as_posix(),
                Body=path.read_bytes(),
            )
            count += 1
    return count


async def scan_once(engine: Engine, s3: Any) -> CycleSummary:
    """One cycle over the bucket, proven read-only, with the engine's clients closed after."""
    with bucket_unchanged(s3):
        try:
            return await engine.run_cycle(NOW.timestamp())
        finally:
            await engine.source.close()  # type: ignore[union-attr]
            engine.ledger.close()


def bucket_state(s3: Any) -> list[tuple[str, str]]:
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET)
    return sorted((v["Key"], v["ETag"]) for page in pages for v in page.get("Versions", []))


async def test_listing_pages_and_etags_match_the_server(
    s3: Any, s3_endpoint: str, tmp_path: Path
) -> None:
    """Listing walks every page and reports the server's ETag without quotes."""
    for i in range(7):
        s3.put_object(Bucket=BUCKET, Key=f"runs/r{i}/status.json", Body=b"{}")
    source = _s3(settings_for(s3_endpoint, tmp_path))
    source._page_size = 3
    with bucket_unchanged(s3):
        try:
            listed = [o async for o in source.list_objects("runs/")]
            body = await source.fetch("runs/r3/status.json")
        finally:
            await source.close()
    assert [f"runs/r{i}/status.json" for i in range(7)] == [o.key for o in listed]
    head = s3.head_object(Bucket=BUCKET, Key="runs/r3/status.json")
    assert head["ETag"].strip('"') == listed[3].etag
    assert body == b"{}"


async def test_versions_come_back_oldest_first(s3: Any, s3_endpoint: str, tmp_path: Path) -> None:
    """Three rewrites of status.json in a versioned bucket give three versions, oldest first."""
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for state in ("queued", "running", "completed"):
        s3.put_object(
            Bucket=BUCKET, Key="runs/r1/status.json", Body=json.dumps({"status": state}).encode()
        )
    s3.put_object(Bucket=BUCKET, Key="runs/r1/status.json.bak", Body=b"{}")
    source = _s3(settings_for(s3_endpoint, tmp_path))
    with bucket_unchanged(s3):
        try:
            versions = await source.list_versions("runs/r1/status.json")
            bodies = [
                json.loads(await source.fetch(v.key, version_id=v.version_id))["status"]
                for v in versions
            ]
        finally:
            await source.close()
    assert bodies == ["queued", "running", "completed"]
    assert [v.is_latest for v in versions] == [False, False, True]


async def test_missing_bucket_and_dead_endpoint_are_classified_without_secrets(
    s3: Any, s3_endpoint: str, tmp_path: Path
) -> None:
    """A wrong bucket is not_found naming the bucket; a closed port is a connection error."""
    missing = _s3(settings_for(s3_endpoint, tmp_path, source="s3://no-such-bucket/"))
    dead = _s3(
        settings_for(
            "http://127.0.0.1:1", tmp_path, s3={"max_attempts": 1, "connect_timeout_seconds": 0.5}
        )
    )
    try:
        with pytest.raises(SourceError) as err:
            [o async for o in missing.list_objects("runs/")]
        assert err.value.kind == "not_found" and "no-such-bucket" in str(err.value)
        with pytest.raises(SourceError) as err2:
            await dead.fetch("runs/x/status.json")
        assert err2.value.kind == "connection" and "runs/x/status.json" in str(err2.value)
    finally:
        await missing.close()
        await dead.close()
    for text in (str(err.value), str(err2.value), repr(missing), repr(dead)):
        assert SECRET_KEY not in text


def test_the_source_has_no_way_to_write() -> None:
    """Read-only by construction: no method of the S3 source can put, copy or delete."""
    names = [n for n in dir(S3Source) if not n.startswith("__")]
    assert [
        n
        for n in names
        if any(w in n.lower() for w in ("put", "delete", "copy", "upload", "write", "tag"))
    ] == []


@pytest.mark.slow
async def test_engine_scans_incrementally_and_never_changes_the_bucket(
    s3: Any, s3_endpoint: str, tmp_path: Path
) -> None:
    """A second scan of an unchanged bucket issues no GET; a changed object is fetched alone."""
    corpus = write_demo(tmp_path / "demo", now=NOW, runs=30, days=3)
    upload_tree(s3, corpus.root)
    before = bucket_state(s3)
    engine = make_engine(settings_for(s3_endpoint, tmp_path))
    try:
        with bucket_unchanged(s3):
            first = await engine.run_cycle(NOW.timestamp())
            second = await engine.run_cycle(NOW.timestamp())
        key = next(k for k, _ in before if k.endswith("-dryrun/status.json"))
        doc = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        doc["error"] = "changed"
        s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(doc).encode())
        with bucket_unchanged(s3):
            third = await engine.run_cycle(NOW.timestamp())
    finally:
        await engine.source.close()  # type: ignore[union-attr]
        engine.ledger.close()
    assert first.scan.ok and first.scan.fetched > 0
    assert (0, second.scan.listed) == (second.scan.fetched, second.scan.unchanged)
    assert third.scan.fetched == 1
    assert first.report is not None and second.report is not None
    assert first.report.totals == second.report.totals
    after = bucket_state(s3)
    assert [k for k, _ in before] == [k for k, _ in after]
    assert [key] == [k for (k, e1), (_, e2) in zip(before, after, strict=True) if e1 != e2]


@pytest.mark.slow
async def test_nested_layout_over_s3(s3: Any, s3_endpoint: str, tmp_path: Path) -> None:
    """The per-agent layout pairs twins that sit beside their primaries."""
    corpus = write_demo(tmp_path / "demo", now=NOW, runs=25, days=3, layout="nested")
    upload_tree(s3, corpus.root)
    engine = make_engine(settings_for(s3_endpoint, tmp_path, layout="nested"))
    summary = await scan_once(engine, s3)
    assert summary.report is not None
    lost = {r.run_id for r in summary.report.runs if r.state.value == "primary_only"}
    planted_lost = {p.run_id for p in corpus.planted if p.kind.value == "lost_run"}
    assert planted_lost == lost
    assert summary.report.totals.paired >= 20


async def test_versioned_bucket_gives_the_exact_transition_history(
    s3: Any, s3_endpoint: str, tmp_path: Path
) -> None:
    """With versioning, a candidate that went running -> queued is a forbidden move the final state hides."""
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    base = {"agent_slug": "a", "trigger": "manual", "started_at": "2026-03-01T10:00:00Z"}
    for side, states in (
        ("r1", ["requested", "queued", "running", "completed"]),
        ("r1-dryrun", ["requested", "running", "queued", "running", "completed"]),
    ):
        for state in states:
            doc = {
                **base,
                "run_id": side,
                "status": state,
                "finished_at": "2026-03-01T10:01:00Z" if state == "completed" else None,
            }
            s3.put_object(
                Bucket=BUCKET, Key=f"runs/{side}/status.json", Body=json.dumps(doc).encode()
            )
    engine = make_engine(settings_for(s3_endpoint, tmp_path))
    summary = await scan_once(engine, s3)
    assert summary.report is not None
    [run] = summary.report.runs
    kinds = {(f.dimension.value, f.kind.value) for f in run.findings}
    assert ("status", "forbidden_transition") in kinds
    assert summary.report.readiness.evidence_mode == {"versioned": 2}


HOSTILE_IDS = ["x'; DROP TABLE objects; --", "..%2F..%2Fetc", "q%s?(1)"]


@pytest.mark.slow
async def test_hostile_keys_are_data_never_paths_or_sql(
    s3: Any, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run ids with quotes, SQL, placeholders and encoded slashes, and keys with `..`, are judged
    and looked up like any other: the scan succeeds, the ledger holds them verbatim, the API finds
    them by their URL-encoded id, and no file appears outside the test's directory."""
    import httpx
    from prometheus_client import CollectorRegistry

    from shadow.serve.api import create_app
    from shadow.serve.daemon import build_service

    corpus = write_demo(tmp_path / "demo", now=NOW, runs=30, days=3)
    upload_tree(s3, corpus.root)
    runs = corpus.root / "runs"
    model = next(p.name for p in sorted(runs.iterdir()) if (runs / f"{p.name}-dryrun").is_dir())
    for hostile in HOSTILE_IDS:
        for side in ("", "-dryrun"):
            for path in sorted((runs / f"{model}{side}").rglob("*")):
                if path.is_file():
                    rel = path.relative_to(runs / f"{model}{side}").as_posix()
                    s3.put_object(
                        Bucket=BUCKET,
                        Key=f"runs/{hostile}{side}/{rel}",
                        Body=path.read_bytes().replace(model.encode(), hostile.encode()),
                    )
    s3.put_object(Bucket=BUCKET, Key="runs/../../escape/status.json", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="runs/x/../../../escape.json", Body=b"{}")
    monkeypatch.chdir(tmp_path)
    svc = build_service(settings_for(s3_endpoint, tmp_path), CollectorRegistry())
    try:
        with bucket_unchanged(s3):
            summary = await svc.cycle(NOW.timestamp())
        assert summary is not None and summary.scan.ok and summary.report is not None
        by_id = {r.run_id: r for r in summary.report.runs}
        model_outcome = by_id[model].outcome
        assert {h: model_outcome for h in HOSTILE_IDS} == {h: by_id[h].outcome for h in HOSTILE_IDS}
        known = svc.engine.ledger.known_etags()
        assert {"runs/../../escape/status.json", "runs/x/../../../escape.json"} <= set(known)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(svc)), base_url="http://shadow"
        ) as client:
            for hostile in HOSTILE_IDS:
                r = await client.get(f"/runs/{quote(hostile, safe='')}")
                assert 200 == r.status_code and hostile == r.json()["run_id"]
    finally:
        await svc.close()
    assert [] == [p for p in tmp_path.parent.rglob("escape*")]


def test_a_scan_of_a_prefix_inside_the_runs_names_the_bucket_root(
    s3: Any, s3_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    """`s3://bucket/runs` finds no run directory; the scan says what the listing's common
    prefixes hold and names the bucket root, without writing to the bucket."""
    corpus = write_demo(tmp_path / "demo", now=NOW, runs=6, days=1, plant=False)
    upload_tree(s3, corpus.root)
    for name, value in (
        ("SHADOW_S3__ENDPOINT_URL", s3_endpoint),
        ("SHADOW_S3__ACCESS_KEY_ID", ACCESS_KEY),
        ("SHADOW_S3__SECRET_ACCESS_KEY", SECRET_KEY),
    ):
        monkeypatch.setenv(name, value)
    argv = ["scan", "--once", "--db", str(tmp_path / "s.db"), "--source"]
    with bucket_unchanged(s3):
        assert 0 == main([*argv, f"s3://{BUCKET}/runs"])
    err = capsys.readouterr().err
    assert re.search(rf"s3://{BUCKET}/runs/ holds \d+ directories named run_\*", err), err
    assert f"the source is the bucket root, s3://{BUCKET}/\n" in err
    assert SECRET_KEY not in err
