"""The SQLite ledger: real files, restarts, corruption and locks."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from shadow.bootstrap import make_engine
from shadow.cli import main
from shadow.config import load_settings
from shadow.demo import write_demo
from shadow.engine import Engine
from shadow.errors import StoreError
from shadow.store import Ledger, ResultRow, StoredObject, VerdictRow
from tests.e2e.conftest import NOW


def test_objects_upsert_keeps_first_seen_and_survives_reopen(tmp_path: Path) -> None:
    """Saving an object twice keeps one row with its first-seen time, across a reopen."""
    db = tmp_path / "l.db"
    ledger = Ledger(db)
    ledger.save_objects([StoredObject("runs/a/status.json", "e1", 3, 10.0, 10.0, b"{}")], 11.0)
    ledger.save_objects([StoredObject("runs/a/status.json", "e2", 4, 20.0, 20.0, b"{ }")], 21.0)
    ledger.close()
    again = Ledger(db)
    assert again.known_etags() == {"runs/a/status.json": "e2"}
    [row] = again.object_index()
    assert (row.first_seen, again.bodies([row.key])[row.key]) == (10.0, b"{ }")


def test_polling_history_records_each_change_once(tmp_path: Path) -> None:
    """Observing the same state twice records it once; a new state appends."""
    ledger = Ledger(tmp_path / "l.db")
    for state in ("queued", "queued", "running", "running", "completed"):
        ledger.append_observation("runs/a/", state, 1.0)
    assert ledger.histories() == {"runs/a/": ("polling", ["queued", "running", "completed"])}


def test_verdict_history_grows_only_on_change(tmp_path: Path) -> None:
    """Judging again with the same verdict and config adds no verdict row."""
    ledger = Ledger(tmp_path / "l.db")
    row = ResultRow("k", "a", "paired", "match", "[]", 1.0)
    for at, verdict, cfg in (
        (1, "NOT_READY", "c1"),
        (2, "NOT_READY", "c1"),
        (3, "READY", "c1"),
        (4, "READY", "c2"),
    ):
        ledger.save_judgement([row], VerdictRow(at, verdict, cfg, []))
    assert [(v.at, v.verdict) for v in ledger.verdicts()] == [
        (1, "NOT_READY"),
        (3, "READY"),
        (4, "READY"),
    ]
    assert len(ledger.results()) == 1


def test_corrupt_ledger_is_a_clear_error_not_a_reset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that is not a database is reported with its path and the fix, and left untouched."""
    db = tmp_path / "shadow.db"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as err:
        Ledger(db)
    assert str(db) in str(err.value)
    assert "move it aside" in str(err.value)
    assert db.read_bytes() == b"this is not sqlite" * 100
    assert main(["report", "--db", str(db)]) == 3
    assert str(db) in capsys.readouterr().err


def test_locked_ledger_is_a_clear_error(tmp_path: Path) -> None:
    """A ledger held by another writer fails with a message naming the file and the lock."""
    db = tmp_path / "shadow.db"
    Ledger(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError) as err:
            Ledger(db)
        assert str(db) in str(err.value)
        assert "another shadow process" in str(err.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


class CountingLedger(Ledger):
    """A real ledger that counts how often the judge path reads every object."""

    index_reads = 0

    def object_index(self) -> list[StoredObject]:
        self.index_reads += 1
        return super().object_index()


def _engine_on(db: Path, root: Path, **settings: object) -> Engine:
    s = load_settings(source=f"dir:{root}", db=db, **settings)
    engine = make_engine(s)
    engine.ledger.close()
    engine.ledger = CountingLedger(db)
    return engine


def test_a_restart_judges_from_the_stored_runs_without_reading_objects(tmp_path: Path) -> None:
    """Same evidence and settings: one row per run, the same report; other settings re-read."""
    corpus = write_demo(tmp_path / "b", now=NOW)
    db = tmp_path / "s.db"
    first = _engine_on(db, corpus.root)
    summary = asyncio.run(first.run_cycle(NOW.timestamp()))
    assert summary.report is not None
    first.ledger.close()

    restarted = _engine_on(db, corpus.root)
    _, report = restarted.judge(NOW.timestamp())
    assert restarted.ledger.index_reads == 0  # type: ignore[attr-defined]
    held = {"readiness": {"since"}}  # the first judgement starts the verdict's hold
    assert report.model_dump(exclude=held) == summary.report.model_dump(exclude=held)
    restarted.ledger.close()

    other = _engine_on(db, corpus.root, excluded_steps=[])  # normalization changes: re-read
    _, changed = other.judge(NOW.timestamp())
    assert other.ledger.index_reads == 1  # type: ignore[attr-defined]
    assert changed.config_hash != report.config_hash
    other.ledger.close()


def test_new_evidence_or_an_unreadable_stored_run_falls_back_to_the_objects(
    tmp_path: Path,
) -> None:
    """A write after the runs were stored, or a damaged row, never yields a stale judgement."""
    corpus = write_demo(tmp_path / "b", now=NOW)
    db = tmp_path / "s.db"
    first = _engine_on(db, corpus.root)
    summary = asyncio.run(first.run_cycle(NOW.timestamp()))
    assert summary.report is not None
    first.ledger.append_observation("runs/late-run/", "queued", NOW.timestamp())  # new evidence
    first.ledger.close()
    restarted = _engine_on(db, corpus.root)
    _, report = restarted.judge(NOW.timestamp())
    assert restarted.ledger.index_reads == 1  # type: ignore[attr-defined]
    assert report.totals == summary.report.totals
    restarted.ledger.close()

    con = sqlite3.connect(db)
    con.execute("UPDATE runs SET body = ? WHERE rowid = (SELECT MIN(rowid) FROM runs)", (b"x",))
    con.commit()
    con.close()
    damaged = _engine_on(db, corpus.root)
    _, again = damaged.judge(NOW.timestamp())
    assert damaged.ledger.index_reads == 1  # type: ignore[attr-defined]
    assert again.totals == summary.report.totals
    damaged.ledger.close()


def test_a_cycle_over_an_unchanged_bucket_reads_no_object_from_the_ledger(
    tmp_path: Path,
) -> None:
    """Steady state: the listing finds nothing new, the generation stands, nothing is re-read."""
    corpus = write_demo(tmp_path / "b", now=NOW, runs=40, plant=False)
    engine = _engine_on(tmp_path / "s.db", corpus.root)
    first = asyncio.run(engine.run_cycle(NOW.timestamp()))
    second = asyncio.run(engine.run_cycle(NOW.timestamp() + 60))
    assert engine.ledger.index_reads == 1  # type: ignore[attr-defined]
    assert second.scan.fetched == 0 and first.report and second.report
    assert second.report.totals == first.report.totals
    (corpus.root / "runs" / "late").mkdir(parents=True)
    (corpus.root / "runs" / "late" / "status.json").write_text(
        '{"run_id": "late", "status": "queued"}'
    )
    third = asyncio.run(engine.run_cycle(NOW.timestamp() + 120))
    assert engine.ledger.index_reads == 2  # type: ignore[attr-defined]
    assert third.report and third.report.totals.runs == first.report.totals.runs + 1
    engine.ledger.close()
