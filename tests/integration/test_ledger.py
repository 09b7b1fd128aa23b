"""The SQLite ledger: real files, restarts, corruption and locks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from shadow.cli import main
from shadow.errors import StoreError
from shadow.store import Ledger, ResultRow, StoredObject, VerdictRow


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
