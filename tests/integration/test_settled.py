"""A cycle's cost follows what changed: settled runs are not listed, a reconcile still sees all.

A settled run directory is terminal, judged and quiet past the grace period; between full
listings (every `reconcile_interval_seconds`) the scan lists run directories with a delimiter
and the objects of only the others. Nothing is judged differently because a run was skipped.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from shadow.bootstrap import make_engine
from shadow.collectors.s3 import S3Source
from shadow.config import load_settings
from shadow.core.pairing import group_runs as group
from shadow.corpora.demo import write_demo
from shadow.engine import CycleSummary, Engine
from shadow.judging.report import Report
from shadow.serve.daemon import build_service
from tests.e2e.conftest import NOW
from tests.integration.conftest import BUCKET, settings_for
from tests.integration.test_s3_source import upload_tree


def comparable(report: Report | None) -> dict[str, Any]:
    assert report is not None
    data = report.model_dump(mode="json", exclude={"generated_at"})
    data["readiness"].pop("since")
    return data


def cycle(engine: Engine) -> CycleSummary:
    return asyncio.run(engine.run_cycle(NOW.timestamp()))


def touch(path: Path, n: int) -> None:
    """Rewrite a JSON object the way an orchestrator's late write would (ETag changes)."""
    doc = json.loads(path.read_text())
    doc["_orchestrator_meta"] = {"touched": n}
    path.write_text(json.dumps(doc))


def settled_key(root: Path, engine: Engine) -> str:
    """A status.json of a settled run directory."""
    rows = engine.ledger._q("SELECT run_dir FROM dirs WHERE settled=1 ORDER BY run_dir LIMIT 1")
    return f"{rows[0][0]}status.json"


@pytest.mark.parametrize("layout", ["flat", "nested"])
def test_settled_runs_are_not_listed_and_the_judgement_is_the_same(
    tmp_path: Path, layout: str
) -> None:
    corpus = write_demo(tmp_path / "b", now=NOW, runs=60, days=4, layout=layout)
    settings = load_settings(source=f"dir:{corpus.root}", db=tmp_path / "s.db", layout=layout)
    engine = make_engine(settings)
    first = cycle(engine)
    assert first.scan.full and first.scan.listed > 0
    second = cycle(engine)
    assert not second.scan.full
    assert second.scan.dirs_skipped > 0.9 * second.scan.dirs_listed
    assert second.scan.listed < 0.1 * first.scan.listed
    assert 0 == second.scan.fetched
    assert comparable(first.report) == comparable(second.report)
    engine.ledger.close()
    # restarted on the same ledger: still incremental, still skipping, same judgement
    again = make_engine(settings)
    third = cycle(again)
    assert not third.scan.full and third.scan.dirs_skipped == second.scan.dirs_skipped
    assert comparable(first.report) == comparable(third.report)
    again.ledger.close()


def test_a_reconcile_finds_a_settled_run_rewritten_and_counts_it(tmp_path: Path) -> None:
    """Between reconciles a rewrite of a settled run goes unseen; the reconcile re-reads it,
    judges it and counts it, and the judgement equals a fresh full scan's."""
    corpus = write_demo(tmp_path / "b", now=NOW, runs=40, days=3)
    settings = load_settings(source=f"dir:{corpus.root}", db=tmp_path / "s.db")
    svc = build_service(settings, CollectorRegistry())
    engine = svc.engine
    asyncio.run(svc.cycle(NOW.timestamp()))
    key = settled_key(corpus.root, engine)
    touch(corpus.root / key, 1)
    quiet = asyncio.run(svc.cycle(NOW.timestamp()))
    assert quiet is not None and not quiet.scan.full and 0 == quiet.scan.fetched
    engine.ledger.set_meta("reconciled_at", "0")  # the reconcile interval has passed
    found = asyncio.run(svc.cycle(NOW.timestamp()))
    assert found is not None and found.scan.full
    assert {key.rsplit("/", 1)[0] + "/"} == found.scan.settled_changed
    assert 1 == found.scan.fetched
    assert 1.0 == svc.metrics.registry.get_sample_value("shadow_settled_runs_changed_total")
    fresh = make_engine(load_settings(source=f"dir:{corpus.root}", db=tmp_path / "fresh.db"))
    assert comparable(cycle(fresh).report) == comparable(found.report)
    fresh.ledger.close()
    # re-settled once judged: the next incremental cycle skips it again
    after = asyncio.run(svc.cycle(NOW.timestamp()))
    assert after is not None and not after.scan.full and 0 == after.scan.fetched
    asyncio.run(svc.close())


def test_a_hinted_key_of_a_settled_run_is_listed(tmp_path: Path) -> None:
    """A notification names a key of a settled run: the next cycle lists that directory."""
    corpus = write_demo(tmp_path / "b", now=NOW, runs=40, days=3)
    svc = build_service(
        load_settings(source=f"dir:{corpus.root}", db=tmp_path / "s.db"), CollectorRegistry()
    )
    asyncio.run(svc.cycle(NOW.timestamp()))
    key = settled_key(corpus.root, svc.engine)
    touch(corpus.root / key, 2)
    svc.hints.add(key)
    summary = asyncio.run(svc.cycle(NOW.timestamp()))
    assert summary is not None and not summary.scan.full and 1 == summary.scan.fetched
    asyncio.run(svc.close())


async def test_s3_versioned_bucket_lists_directories_and_only_unsettled_runs(
    s3: Any, s3_endpoint: str, tmp_path: Path
) -> None:
    """On S3 with versioning: one delimiter listing per 1,000 run directories plus one listing
    per run that can still change, and no GET for a settled run."""
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    corpus = write_demo(tmp_path / "b", now=NOW, runs=40, days=3)
    upload_tree(s3, corpus.root)
    # Uploaded just now: a grace period of 0 settles every terminal run at once.
    engine = make_engine(settings_for(s3_endpoint, tmp_path, settle_seconds=0))
    source = engine.source
    assert isinstance(source, S3Source)
    try:
        first = await engine.run_cycle(NOW.timestamp())
        source.requests.clear()
        second = await engine.run_cycle(NOW.timestamp())
        unsettled = second.scan.dirs_listed - second.scan.dirs_skipped
        assert 0 < unsettled < 0.15 * second.scan.dirs_listed  # the demo's in-flight runs
        assert source.requests["ListObjectsV2"] <= second.scan.dirs_listed // 1000 + 1 + unsettled
        assert 0 == source.requests["GetObject"] + source.requests["ListObjectVersions"]
        assert comparable(first.report) == comparable(second.report)
    finally:
        await source.close()
        engine.ledger.close()


def test_directory_source_lists_directories_and_one_directory_without_following_links(
    tmp_path: Path,
) -> None:
    """`list_dirs` gives the run directories below a prefix; listing one directory reads that
    directory only; a symbolic link to a directory outside the root is neither."""
    from shadow.collectors.directory import DirectorySource

    root, outside = tmp_path / "root", tmp_path / "outside"
    for d in ("runs/a", "runs/b-dryrun", "runs/c"):
        (root / d).mkdir(parents=True)
        (root / d / "status.json").write_text("{}")
    (outside / "x").mkdir(parents=True)
    (outside / "x" / "status.json").write_text("{}")
    (root / "runs" / "link").symlink_to(outside / "x")
    (root / "runs" / "stray.json").write_text("{}")
    source = DirectorySource(root)

    async def go() -> tuple[list[str], list[str], list[str]]:
        dirs = [d async for page in source.list_dirs("runs/") for d in page]
        one = [o.key async for page in source.list_pages("runs/b-dryrun/") for o in page]
        linked = [o.key async for page in source.list_pages("runs/link/") for o in page]
        return dirs, one, linked

    dirs, one, linked = asyncio.run(go())
    assert ["runs/a/", "runs/b-dryrun/", "runs/c/"] == dirs
    assert ["runs/b-dryrun/status.json"] == one
    assert [] == linked


def test_a_steady_cycle_judges_again_only_the_runs_that_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19: a cycle where a few runs rewrote their status swaps their new runs into the
    last grouping (nothing is grouped again) and judges only their pairs again; its report
    equals that of a process judging the same ledger from scratch."""
    corpus = write_demo(tmp_path / "b", now=NOW, runs=60, days=4)
    settings = load_settings(
        source=f"dir:{corpus.root}", db=tmp_path / "s.db", reconcile_interval_seconds=0
    )
    engine = make_engine(settings)
    cycle(engine)
    grouped = []
    monkeypatch.setattr("shadow.runcache.group_runs", lambda *a: grouped.append(1) or group(*a))
    memo = engine.opts.judge.memo
    before = memo.misses
    dry_runs = sorted((corpus.root / "runs").glob("*-dryrun/status.json"))[:3]
    touch(dry_runs[0], 1)
    doc = json.loads(dry_runs[1].read_text())
    doc["status"], doc["error"] = "failed", "AGENT_TIMEOUT: late"
    dry_runs[1].write_text(json.dumps(doc))
    second = cycle(engine)
    assert (2, []) == (second.scan.fetched, grouped)
    assert 2 == memo.misses - before
    engine.ledger.close()
    monkeypatch.undo()
    fresh = make_engine(settings)
    _, report = fresh.judge(NOW.timestamp())
    assert comparable(second.report) == comparable(report)
    fresh.ledger.close()
