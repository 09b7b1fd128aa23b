"""The ledger on a real PostgreSQL server: same report as SQLite, shards sharing one database,
and an outage that costs a cycle, never a secret."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from shadow.cli import main
from shadow.config import load_settings
from shadow.corpora.demo import write_demo
from shadow.ledger.backends import postgres_schema_exists
from shadow.serve.daemon import build_service
from tests.e2e.conftest import NOW, NOW_ISO
from tests.pgserver import PASSWORD, PgServer
from tests.snapshots import tree_unchanged


def _scan_report(capsys: pytest.CaptureFixture[str], root: Path, db: str, *extra: str) -> dict:  # type: ignore[type-arg]
    common = ["--db", db, "--now", NOW_ISO, "--layout", "nested", *extra]
    with tree_unchanged(root):
        assert 0 == main(["scan", "--once", "--source", f"dir:{root}", *common])
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err
    assert 0 == main(["report", "--json", *common])
    return json.loads(capsys.readouterr().out)


def test_postgres_ledger_reports_exactly_what_sqlite_does(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo corpus scanned into PostgreSQL and into SQLite gives the same JSON report."""
    corpus = write_demo(tmp_path / "bucket", now=NOW, layout="nested")
    on_sqlite = _scan_report(capsys, corpus.root, str(tmp_path / "s.db"))
    on_postgres = _scan_report(capsys, corpus.root, pg_url)
    assert on_sqlite["totals"]["paired"] > 100
    assert on_sqlite == on_postgres
    assert 0 == main(["rejudge", "--db", pg_url, "--now", NOW_ISO, "--layout", "nested"])
    assert PASSWORD not in capsys.readouterr().out


@pytest.mark.slow
def test_two_shards_sharing_one_postgres_database_merge_to_the_whole(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--shard 0/2 and 1/2 on one database keep apart; `shadow merge` equals one process."""
    corpus = write_demo(tmp_path / "bucket", now=NOW, layout="nested")
    whole = _scan_report(capsys, corpus.root, pg_url)
    files = []
    for i in range(2):
        part = _scan_report(capsys, corpus.root, pg_url, "--shard", f"{i}/2")
        files.append(tmp_path / f"s{i}.json")
        files[-1].write_text(json.dumps(part))
    assert 0 == main(["merge", *map(str, files), "--now", NOW_ISO])
    merged = json.loads(capsys.readouterr().out)
    assert whole["totals"] == merged["totals"]
    assert whole["readiness"]["verdict"] == merged["readiness"]["verdict"]
    assert whole["runs"] == merged["runs"]
    # the same merge read straight from the shards' schemas, without report files
    from_schemas = ["merge", "--db", pg_url, "--now", NOW_ISO, "--layout", "nested"]
    assert 0 == main([*from_schemas, "--shards", "2"])
    from_db = json.loads(capsys.readouterr().out)
    assert merged == from_db
    assert 3 == main([*from_schemas, "--shards", "3"])
    assert "shard 0/3 has no evidence" in capsys.readouterr().err
    # merge only reads: the shards that never ran got no schema from it
    assert not postgres_schema_exists(pg_url, "shadow_shard_0_of_3")
    # the unsharded ledger in the same database is untouched by the shards' judgements
    assert whole == _scan_report(capsys, corpus.root, pg_url)


async def test_postgres_outage_fails_a_cycle_clearly_and_the_next_one_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, own_pg_server: PgServer
) -> None:
    """Database down mid-life: the cycle fails with host and database named, no password in the
    error or the log; the service keeps running and the first cycle after it is back succeeds."""
    corpus = write_demo(tmp_path / "bucket", now=NOW, runs=40, days=3)
    server = own_pg_server
    url = server.create_database()
    settings = load_settings(source=f"dir:{corpus.root}", db=url)
    svc = build_service(settings, CollectorRegistry())
    try:
        good = await svc.cycle(NOW.timestamp())
        assert good is not None and good.report is not None
        server.stop()
        with caplog.at_level(logging.ERROR, logger="shadow"):
            assert await svc.cycle(NOW.timestamp()) is None
        error = svc.health.last_error or ""
        assert f"@127.0.0.1:{server.port}/{url.rsplit('/', 1)[1]}" in error
        assert PASSWORD not in error + caplog.text
        assert "ledger" in caplog.text
        server.start()
        back = await svc.cycle(NOW.timestamp())
        assert back is not None and back.report is not None
        assert 0 == back.scan.fetched  # everything stored before the outage still counts once
        assert good.report.totals == back.report.totals
        assert svc.health.last_error is None
    finally:
        await svc.close()
