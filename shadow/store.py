"""The ledger: what shadow has seen and judged, in SQLite, surviving restarts.

Invariants:
- One row per object key: the ETag and bytes last read, and when the key was first seen.
  Re-reading the same ETag changes nothing, so scanning twice never double-counts.
- Status history per run directory: in polling mode one row per distinct state observed in
  sequence; in versioned mode the exact version sequence, rewritten when it grows.
- Every write of objects or history bumps the `generation` counter in the same transaction.
  Normalized runs are kept per run directory with a stamp naming the generation and the
  normalization settings they came from: a restart or `shadow rejudge` under the same stamp
  reads one row per run instead of every object; any other stamp means re-normalizing.
- Results are replaced as a whole per judgement; verdict history grows only when the verdict
  or the config fingerprint changes.
- The file is opened, never silently recreated: a corrupt or locked database is an error that
  names the file and the fix.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from shadow.errors import StoreError

SCHEMA_VERSION = 1
_BUMP = (
    "INSERT INTO meta VALUES ('generation', '1') "
    "ON CONFLICT(name) DO UPDATE SET value=CAST(value AS INTEGER) + 1"
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY, etag TEXT NOT NULL, size INTEGER NOT NULL,
    last_modified REAL NOT NULL, first_seen REAL NOT NULL, fetched_at REAL,
    body BLOB, too_large INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS history (
    run_dir TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL,
    observed_at REAL NOT NULL, mode TEXT NOT NULL, PRIMARY KEY (run_dir, seq)
);
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY, agent TEXT NOT NULL, state TEXT NOT NULL, outcome TEXT NOT NULL,
    findings TEXT NOT NULL, duration_ratio REAL
);
CREATE TABLE IF NOT EXISTS verdicts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, verdict TEXT NOT NULL,
    config_hash TEXT NOT NULL, reasons TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_dir TEXT PRIMARY KEY, signature INTEGER NOT NULL, hist_len INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL, finished REAL NOT NULL,
    ok INTEGER NOT NULL, listed INTEGER NOT NULL, fetched INTEGER NOT NULL, errors TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    etag: str
    size: int
    last_modified: float
    first_seen: float
    body: bytes | None  # None: not fetched (outputs) or too large
    too_large: bool = False


@dataclass(frozen=True, slots=True)
class ResultRow:
    key: str
    agent: str
    state: str
    outcome: str
    findings_json: str
    duration_ratio: float | None


@dataclass(frozen=True, slots=True)
class VerdictRow:
    at: float
    verdict: str
    config_hash: str
    reasons: list[str]


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(path, timeout=5.0, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._check()
            self.db.executescript(_SCHEMA)
            self._schema_version()
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(path, exc)) from exc

    def _check(self) -> None:
        row = self.db.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {row}")

    def _schema_version(self) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {row[0]}, this shadow expects {SCHEMA_VERSION}"
            )

    def close(self) -> None:
        self.db.close()

    def _tx(self) -> sqlite3.Connection:
        return self.db

    # objects ---------------------------------------------------------------------------
    def known_etags(self) -> dict[str, str]:
        return dict(self._q("SELECT key, etag FROM objects"))

    def save_objects(self, rows: Iterable[StoredObject], fetched_at: float) -> None:
        """Upsert objects in one transaction; first_seen keeps the earliest time."""
        self._write(
            """INSERT INTO objects (key, etag, size, last_modified, first_seen, fetched_at, body, too_large)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(key) DO UPDATE SET etag=excluded.etag, size=excluded.size,
                 last_modified=excluded.last_modified, fetched_at=excluded.fetched_at,
                 body=excluded.body, too_large=excluded.too_large""",
            [
                (
                    o.key,
                    o.etag,
                    o.size,
                    o.last_modified,
                    o.first_seen,
                    fetched_at,
                    o.body,
                    int(o.too_large),
                )
                for o in rows
            ],
            bump=True,
        )

    def object_index(self) -> list[StoredObject]:
        """Every object without its bytes: cheap enough to read each cycle."""
        return [
            StoredObject(r[0], r[1], r[2], r[3], r[4], None, bool(r[5]))
            for r in self._q(
                "SELECT key, etag, size, last_modified, first_seen, too_large FROM objects ORDER BY key"
            )
        ]

    def bodies(self, keys: list[str]) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            try:
                rows = self.db.execute(
                    f"SELECT key, body FROM objects WHERE body IS NOT NULL AND key IN ({marks})",
                    chunk,
                ).fetchall()
            except sqlite3.DatabaseError as exc:
                raise StoreError(_explain(self.path, exc)) from exc
            out.update((k, bytes(b)) for k, b in rows)
        return out

    # history ---------------------------------------------------------------------------
    def append_observation(self, run_dir: str, state: str, observed_at: float) -> None:
        """Polling mode: record a state if it differs from the last one observed."""
        last = self.db.execute(
            "SELECT seq, state FROM history WHERE run_dir=? ORDER BY seq DESC LIMIT 1", (run_dir,)
        ).fetchone()
        if last is not None and last[1] == state:
            return
        seq = 0 if last is None else last[0] + 1
        self._write(
            "INSERT INTO history VALUES (?, ?, ?, ?, 'polling')",
            [(run_dir, seq, state, observed_at)],
            bump=True,
        )

    def replace_history(self, run_dir: str, states: list[tuple[str, float]]) -> None:
        """Versioned mode: the exact sequence of states, oldest first."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM history WHERE run_dir=?", (run_dir,))
            self.db.executemany(
                "INSERT INTO history VALUES (?, ?, ?, ?, 'versioned')",
                [(run_dir, i, s, t) for i, (s, t) in enumerate(states)],
            )
            self.db.execute(_BUMP)
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise StoreError(_explain(self.path, exc)) from exc

    def histories(self) -> dict[str, tuple[str, list[str]]]:
        out: dict[str, tuple[str, list[str]]] = {}
        for run_dir, state, mode in self._q(
            "SELECT run_dir, state, mode FROM history ORDER BY run_dir, seq"
        ):
            out.setdefault(run_dir, (mode, []))[1].append(state)
        return out

    # normalized runs -------------------------------------------------------------------
    def generation(self) -> int:
        """Changes whenever objects or history change: the version of the evidence."""
        value = self.get_meta("generation")
        return int(value) if value is not None else 0

    def stored_runs(self, stamp: str) -> Iterator[tuple[str, int, int, bytes]] | None:
        """(run_dir, signature, history length, encoded run) if stored under `stamp`, else None.

        Streamed in batches: holding every encoded run at once (~1 KB each) would raise the
        process's resident memory for good, as the freed bodies fragment the heap.
        """
        if self.get_meta("runs_stamp") != stamp:
            return None
        return self._stream("SELECT run_dir, signature, hist_len, body FROM runs")

    def save_runs(
        self, upserts: list[tuple[str, int, int, bytes]], deletes: list[str], stamp: str
    ) -> None:
        """Bring the stored runs up to `stamp`; with a new stamp, `upserts` must be all runs."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            previous = self.db.execute("SELECT value FROM meta WHERE name='runs_stamp'").fetchone()
            if previous is None or previous[0].split(":", 1)[1:] != stamp.split(":", 1)[1:]:
                self.db.execute("DELETE FROM runs")  # other settings: nothing stored applies
            self.db.executemany("DELETE FROM runs WHERE run_dir=?", [(d,) for d in deletes])
            self.db.executemany(
                """INSERT INTO runs VALUES (?, ?, ?, ?) ON CONFLICT(run_dir) DO UPDATE SET
                   signature=excluded.signature, hist_len=excluded.hist_len, body=excluded.body""",
                upserts,
            )
            self.db.execute(
                "INSERT INTO meta VALUES ('runs_stamp', ?) "
                "ON CONFLICT(name) DO UPDATE SET value=excluded.value",
                (stamp,),
            )
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise StoreError(_explain(self.path, exc)) from exc

    # results and verdicts --------------------------------------------------------------
    def save_judgement(self, rows: list[ResultRow], verdict: VerdictRow) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM results")
            self.db.executemany(
                "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (r.key, r.agent, r.state, r.outcome, r.findings_json, r.duration_ratio)
                    for r in rows
                ],
            )
            last = self.db.execute(
                "SELECT verdict, config_hash FROM verdicts ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if last is None or (last[0], last[1]) != (verdict.verdict, verdict.config_hash):
                self.db.execute(
                    "INSERT INTO verdicts (at, verdict, config_hash, reasons) VALUES (?, ?, ?, ?)",
                    (verdict.at, verdict.verdict, verdict.config_hash, json.dumps(verdict.reasons)),
                )
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise StoreError(_explain(self.path, exc)) from exc

    def results(self) -> list[ResultRow]:
        return [
            ResultRow(*row)
            for row in self._q(
                "SELECT key, agent, state, outcome, findings, duration_ratio FROM results ORDER BY key"
            )
        ]

    def verdicts(self) -> list[VerdictRow]:
        return [
            VerdictRow(at, v, h, json.loads(r))
            for at, v, h, r in self._q(
                "SELECT at, verdict, config_hash, reasons FROM verdicts ORDER BY id"
            )
        ]

    def record_scan(
        self,
        started: float,
        finished: float,
        ok: bool,
        listed: int,
        fetched: int,
        errors: dict[str, int],
    ) -> None:
        self._write(
            "INSERT INTO scans (started, finished, ok, listed, fetched, errors) VALUES (?, ?, ?, ?, ?, ?)",
            [(started, finished, int(ok), listed, fetched, json.dumps(errors, sort_keys=True))],
        )

    def last_good_scan(self) -> float | None:
        row = self.db.execute("SELECT MAX(finished) FROM scans WHERE ok=1").fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def get_meta(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, name: str, value: str) -> None:
        self._write(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=excluded.value",
            [(name, value)],
        )

    # plumbing --------------------------------------------------------------------------
    def _q(self, sql: str) -> list[tuple]:  # type: ignore[type-arg]
        try:
            return self.db.execute(sql).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(self.path, exc)) from exc

    def _stream(self, sql: str, batch: int = 1000) -> Iterator[tuple]:  # type: ignore[type-arg]
        try:
            cursor = self.db.execute(sql)
            while rows := cursor.fetchmany(batch):
                yield from rows
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(self.path, exc)) from exc

    def _write(self, sql: str, rows: list[tuple], bump: bool = False) -> None:  # type: ignore[type-arg]
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(sql, rows)
            if bump:
                self.db.execute(_BUMP)
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self._rollback()
            raise StoreError(_explain(self.path, exc)) from exc

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.DatabaseError):
            self.db.execute("ROLLBACK")


def _explain(path: Path, exc: sqlite3.DatabaseError) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        fix = "another shadow process holds it; stop it or point --db elsewhere"
    elif "not a database" in text or "malformed" in text or "integrity" in text:
        fix = "the file is corrupt; move it aside and run `shadow scan` to rebuild from the bucket"
    elif "schema version" in text:
        fix = "it was written by another shadow version; use a new --db path"
    else:
        fix = "check the path, its permissions and free disk space"
    return f"ledger {path}: {text}; {fix}"
