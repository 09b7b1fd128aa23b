"""The ledger: what shadow has seen and judged, in SQLite or PostgreSQL, surviving restarts.

Invariants:
- One row per object key: the ETag and bytes last read, and when the key was first seen.
  Re-reading the same ETag changes nothing, so scanning twice never double-counts.
- Status history per run directory: in polling mode one row per distinct state observed in
  sequence; in versioned mode the exact version sequence, rewritten when it grows.
- Every write of objects or history bumps the `generation` counter in the same transaction.
  Normalized runs are kept per run directory with a stamp naming the generation and the
  normalization settings they came from: a restart or `shadow rejudge` under the same stamp
  reads one row per run instead of every object; any other stamp means re-normalizing.
- Per run directory (`dirs`): the generation of its last write, the store's time of its latest
  object, and whether it is settled (terminal, judged, quiet past the grace period: the scan
  stops listing it). Writing an object into a directory unsettles it in the same transaction.
- Fetch failures are kept per key until the key is read, so a judgement from the ledger alone
  (`report`, `verdict`) holds the affected pairs pending as the scan did.
- Results are replaced as a whole per judgement; verdict history grows only when the verdict
  or the config fingerprint changes.
- The file is opened, never silently recreated: a corrupt or locked database is an error that
  names the file (or the PostgreSQL URL, password masked) and the fix.
- The same SQL runs on both backends (ledger_backends.py); values are always bind parameters.

Over 400 lines on purpose: every statement the ledger runs is in this one class, so the
invariants above can be checked against all of its SQL in one read.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from shadow.core.objects import StoredObject
from shadow.errors import StoreError
from shadow.ledger.backends import Backend, PostgresBackend, SQLiteBackend, ddl, schema_for
from shadow.ledger.dburl import is_postgres

T = TypeVar("T")

SCHEMA_VERSION = 1
# The evidence's version: bumped in the transaction of every write of objects or history.
_BUMP = (
    "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(name) "
    "DO UPDATE SET value=CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)"
)

_GENERATION = "SELECT COALESCE(MAX(CAST(value AS BIGINT)), 0) FROM meta WHERE name='generation'"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY, etag TEXT NOT NULL, size {int} NOT NULL,
    last_modified {real} NOT NULL, first_seen {real} NOT NULL, fetched_at {real},
    body {blob}, too_large {int} NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS history (
    run_dir TEXT NOT NULL, seq {int} NOT NULL, state TEXT NOT NULL,
    observed_at {real} NOT NULL, mode TEXT NOT NULL, PRIMARY KEY (run_dir, seq)
);
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY, agent TEXT NOT NULL, state TEXT NOT NULL, outcome TEXT NOT NULL,
    findings TEXT NOT NULL, duration_ratio {real}
);
CREATE TABLE IF NOT EXISTS verdicts (
    id {serial}, at {real} NOT NULL, verdict TEXT NOT NULL,
    config_hash TEXT NOT NULL, reasons TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_dir TEXT PRIMARY KEY, signature {int} NOT NULL, hist_len {int} NOT NULL,
    body {blob} NOT NULL
);
CREATE TABLE IF NOT EXISTS dirs (
    run_dir TEXT PRIMARY KEY, gen {int} NOT NULL, changed {real} NOT NULL,
    settled {int} NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS failures (
    key TEXT PRIMARY KEY, run_dir TEXT NOT NULL, kind TEXT NOT NULL, at {real} NOT NULL
);
CREATE INDEX IF NOT EXISTS failures_run_dir ON failures (run_dir);
CREATE TABLE IF NOT EXISTS versions (
    key TEXT NOT NULL, version_id TEXT NOT NULL, seq {int} NOT NULL, state TEXT,
    last_modified {real} NOT NULL, PRIMARY KEY (key, version_id)
);
CREATE TABLE IF NOT EXISTS scans (
    id {serial}, started {real} NOT NULL, finished {real} NOT NULL,
    ok {int} NOT NULL, listed {int} NOT NULL, fetched {int} NOT NULL, errors TEXT NOT NULL
);
"""


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
    """The ledger on a SQLite file (a path) or a PostgreSQL database (a postgresql:// URL).

    `shard` namespaces a shared PostgreSQL database: each shard's rows live in their own schema.
    """

    def __init__(self, target: Path | str, shard: tuple[int, int] | None = None) -> None:
        self.target = target
        self.shard = shard
        self.backend: Backend
        if is_postgres(target):
            self.path: Path | None = None
            self.backend = PostgresBackend(str(target), schema_for(shard))
        else:
            self.path = Path(target)
            self.backend = SQLiteBackend(self.path)
        self._run(lambda: self.backend.setup(ddl(self.backend.dialect, _SCHEMA)))
        # Key ranges compare bytewise: SQLite's default; PostgreSQL's collation may not be.
        self._bytewise = ' COLLATE "C"' if self.backend.dialect == "postgres" else ""
        self._run(self._schema_version)
        self._run(lambda: self._claim(shard))

    def describe(self) -> str:
        """The ledger's location for messages: the file, or the URL with its password masked."""
        return self.backend.describe()

    def _schema_version(self) -> None:
        rows = self.backend.query("SELECT value FROM meta WHERE name='schema_version'")
        if not rows:
            with self.backend.transaction():
                self.backend.executemany(
                    "INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT(name) DO NOTHING",
                    [(str(SCHEMA_VERSION),)],
                )
        elif int(rows[0][0]) != SCHEMA_VERSION:
            raise StoreError(
                self.backend.explain(
                    ValueError(f"schema version {rows[0][0]}, this shadow expects {SCHEMA_VERSION}")
                )
            )

    def _claim(self, shard: tuple[int, int] | None) -> None:
        """Bind the ledger to one shard (or to none) for good.

        Each shard replaces its whole result set every cycle, so two shards writing one SQLite
        file would erase each other's results. On PostgreSQL each shard has its own schema and
        the check always passes.
        """
        mine = "none" if shard is None else f"{shard[0]}/{shard[1]}"
        with self.backend.transaction():
            self.backend.executemany(
                "INSERT INTO meta VALUES ('shard', ?) ON CONFLICT(name) DO NOTHING", [(mine,)]
            )
        held = str(self.backend.query("SELECT value FROM meta WHERE name='shard'")[0][0])
        if held != mine:
            owner = "an unsharded shadow" if held == "none" else f"shard {held}"
            me = "an unsharded shadow" if shard is None else f"shard {mine}"
            raise StoreError(
                f"ledger {self.describe()} holds the evidence of {owner}; {me} cannot use it. "
                f"Pass the --shard it was written with, or give each shard its own ledger (--db)"
            )

    def close(self) -> None:
        self.backend.close()

    # objects ---------------------------------------------------------------------------
    def known_etags(self) -> dict[str, str]:
        return dict(self._q("SELECT key, etag FROM objects"))

    def etags_of(self, keys: Sequence[str]) -> dict[str, str]:
        """The stored ETag of each of these keys that the ledger holds."""
        return dict(self._in("SELECT key, etag FROM objects WHERE key IN ({})", keys))

    def save_objects(
        self,
        rows: Sequence[StoredObject],
        fetched_at: float,
        dirs: Mapping[str, float] | None = None,
    ) -> None:
        """Upsert objects in one transaction; first_seen keeps the earliest time.

        `dirs`: the run directory of each row that has one, with the latest `last_modified`
        among its rows; each is marked changed (and unsettled) in the same transaction, and
        the stored failures of these keys are cleared. Without it (a writer that does not know
        the layout), the write is marked untracked, and the run cache re-reads every run.
        """

        def go() -> None:
            with self.backend.transaction():
                self.backend.executemany(
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
                )
                self.backend.query(_BUMP)
                if dirs is None:
                    self.backend.query(
                        f"INSERT INTO meta VALUES ('untracked', CAST(({_GENERATION}) AS TEXT)) "
                        "ON CONFLICT(name) DO UPDATE SET value=excluded.value"
                    )
                else:
                    self._touch(dirs.items())
                self.backend.executemany(
                    "DELETE FROM failures WHERE key=?", [(o.key,) for o in rows]
                )

        self._run(go)

    def _touch(self, dirs: Iterable[tuple[str, float]]) -> None:
        """Inside a write: these directories changed at this generation, and are not settled."""
        self.backend.executemany(
            f"""INSERT INTO dirs (run_dir, gen, changed, settled) VALUES (?, ({_GENERATION}), ?, 0)
               ON CONFLICT(run_dir) DO UPDATE SET gen=excluded.gen, settled=0,
                 changed=CASE WHEN excluded.changed > dirs.changed
                              THEN excluded.changed ELSE dirs.changed END""",
            list(dirs),
        )

    def objects_under(self, run_dirs: Iterable[str]) -> list[StoredObject]:
        """The objects of these run directories, without their bytes, in key order."""
        out: list[StoredObject] = []
        for d in sorted(set(run_dirs)):
            # [d, d with its final '/' raised to '0') holds exactly the keys that start with d
            # in bytewise order ('0' follows '/'); PostgreSQL compares bytewise under "C".
            out.extend(
                StoredObject(r[0], r[1], r[2], r[3], r[4], None, bool(r[5]))
                for r in self._q(
                    "SELECT key, etag, size, last_modified, first_seen, too_large FROM objects "
                    f"WHERE key{self._bytewise} >= ? AND key{self._bytewise} < ? ORDER BY key",
                    (d, d[:-1] + "0"),
                )
            )
        return out

    def object_index(self) -> list[StoredObject]:
        """Every object without its bytes: cheap enough to read each cycle."""
        return [
            StoredObject(r[0], r[1], r[2], r[3], r[4], None, bool(r[5]))
            for r in self._q(
                "SELECT key, etag, size, last_modified, first_seen, too_large FROM objects ORDER BY key"
            )
        ]

    def some_keys(self, limit: int) -> tuple[int, list[str]]:
        """How many objects the ledger holds, and the first few keys."""
        [(count,)] = self._q("SELECT COUNT(*) FROM objects")
        keys = [r[0] for r in self._q("SELECT key FROM objects ORDER BY key LIMIT ?", (limit,))]
        return int(count), keys

    def bodies(self, keys: list[str]) -> dict[str, bytes]:
        rows = self._in(
            "SELECT key, body FROM objects WHERE body IS NOT NULL AND key IN ({})", keys
        )
        return {k: bytes(b) for k, b in rows}

    # history ---------------------------------------------------------------------------
    def append_observation(self, run_dir: str, state: str, observed_at: float) -> None:
        """Polling mode: record a state if it differs from the last one observed."""

        def go() -> None:
            with self.backend.transaction():
                last = self.backend.query(
                    "SELECT seq, state FROM history WHERE run_dir=? ORDER BY seq DESC LIMIT 1",
                    (run_dir,),
                )
                if last and last[0][1] == state:
                    return
                seq = 0 if not last else last[0][0] + 1
                self.backend.executemany(
                    "INSERT INTO history VALUES (?, ?, ?, ?, 'polling')",
                    [(run_dir, seq, state, observed_at)],
                )
                self.backend.query(_BUMP)
                self._touch([(run_dir, 0.0)])

        self._run(go)

    def replace_history(self, run_dir: str, states: list[tuple[str, float]]) -> None:
        """Versioned mode: the exact sequence of states, oldest first."""

        def go() -> None:
            with self.backend.transaction():
                self.backend.query("DELETE FROM history WHERE run_dir=?", (run_dir,))
                self.backend.executemany(
                    "INSERT INTO history VALUES (?, ?, ?, ?, 'versioned')",
                    [(run_dir, i, s, t) for i, (s, t) in enumerate(states)],
                )
                self.backend.query(_BUMP)
                self._touch([(run_dir, 0.0)])

        self._run(go)

    def histories(self, run_dirs: Sequence[str] | None = None) -> dict[str, tuple[str, list[str]]]:
        """Each run's state history, oldest first: of every run, or of these."""
        out: dict[str, tuple[str, list[str]]] = {}
        sql = "SELECT run_dir, state, mode FROM history {} ORDER BY run_dir, seq"
        rows = (
            self._q(sql.format(""))
            if run_dirs is None
            else self._in(sql.format("WHERE run_dir IN ({})"), run_dirs)
        )
        for run_dir, state, mode in rows:
            out.setdefault(run_dir, (mode, []))[1].append(state)
        return out

    def first_versions(self, run_dirs: Sequence[str] | None = None) -> dict[str, float]:
        """Versioned mode: when each run's status.json was first written (its oldest version)."""
        sql = "SELECT run_dir, observed_at FROM history WHERE seq = 0 AND mode = 'versioned' {}"
        rows = (
            self._q(sql.format(""))
            if run_dirs is None
            else self._in(sql.format("AND run_dir IN ({})"), run_dirs)
        )
        return {run_dir: float(at) for run_dir, at in rows}

    def seen_versions(self, key: str) -> dict[str, str | None]:
        """Versioned mode: the versions of `key` already read, with the state each recorded."""
        return dict(self._q("SELECT version_id, state FROM versions WHERE key=?", (key,)))

    def save_versions(self, key: str, rows: Sequence[tuple[str, int, str | None, float]]) -> None:
        """(version id, position oldest first, state or None, last modified) of newly read versions."""
        self._write(
            "INSERT INTO versions VALUES (?, ?, ?, ?, ?) ON CONFLICT(key, version_id) DO NOTHING",
            [(key, vid, seq, state, at) for vid, seq, state, at in rows],
        )

    # run directories ---------------------------------------------------------------------
    def dirs_changed_since(self, generation: int) -> list[str]:
        """Run directories written after `generation` (objects or history)."""
        return [r[0] for r in self._q("SELECT run_dir FROM dirs WHERE gen > ?", (generation,))]

    def dir_states(self, run_dirs: Sequence[str]) -> dict[str, bool]:
        """Whether each of these run directories that the ledger knows is settled."""
        return {
            d: bool(settled)
            for d, settled in self._in(
                "SELECT run_dir, settled FROM dirs WHERE run_dir IN ({})", run_dirs
            )
        }

    def know_dirs(self, dirs: Sequence[tuple[str, float]]) -> None:
        """Track run directories listed unchanged but not yet tracked (a ledger from before
        directories were tracked): (run dir, the store's time of its latest object)."""
        self._write(
            f"""INSERT INTO dirs (run_dir, gen, changed, settled) VALUES (?, ({_GENERATION}), ?, 0)
               ON CONFLICT(run_dir) DO UPDATE SET
                 changed=CASE WHEN excluded.changed > dirs.changed
                              THEN excluded.changed ELSE dirs.changed END""",
            list(dirs),
        )

    def unsettled(self) -> list[tuple[str, float]]:
        """(run dir, the store's time of its latest object) of every directory not settled."""
        return [
            (d, float(t)) for d, t in self._q("SELECT run_dir, changed FROM dirs WHERE settled=0")
        ]

    def settle(self, run_dirs: Sequence[str]) -> None:
        self._write("UPDATE dirs SET settled=1 WHERE run_dir=?", [(d,) for d in run_dirs])

    def settled_count(self) -> int:
        return int(self._q("SELECT COUNT(*) FROM dirs WHERE settled=1")[0][0])

    # fetch failures ----------------------------------------------------------------------
    def replace_failures(
        self,
        failures: Sequence[tuple[str, str, str]],
        at: float,
        *,
        run_dirs: Sequence[str] | None = None,
        keys: Sequence[str] = (),
    ) -> None:
        """Record a scan's failed reads, (key, run dir, kind), replacing what it covered: every
        stored failure (`run_dirs` None), or those under `run_dirs` and of `keys`."""

        def go() -> None:
            with self.backend.transaction():
                if run_dirs is None:
                    self.backend.query("DELETE FROM failures")
                else:
                    self.backend.executemany(
                        "DELETE FROM failures WHERE run_dir=?", [(d,) for d in run_dirs]
                    )
                    self.backend.executemany(
                        "DELETE FROM failures WHERE key=?", [(k,) for k in keys]
                    )
                self.backend.executemany(
                    "INSERT INTO failures VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                    "kind=excluded.kind, at=excluded.at",
                    [(k, d, kind, at) for k, d, kind in failures],
                )
                # A directory with an unread object is listed until it is read.
                self.backend.executemany(
                    "UPDATE dirs SET settled=0 WHERE run_dir=?",
                    [(d,) for d in sorted({d for _, d, _ in failures})],
                )

        self._run(go)

    def failed_keys(self) -> frozenset[str]:
        """Keys whose last read failed and that have not been read since."""
        return frozenset(r[0] for r in self._q("SELECT key FROM failures"))

    # normalized runs -------------------------------------------------------------------
    def generation(self) -> int:
        """Changes whenever objects or history change: the version of the evidence."""
        value = self.get_meta("generation")
        return int(value) if value is not None else 0

    def stored_runs(
        self, stamp: str, page: int = 2000
    ) -> Iterator[tuple[str, int, int, bytes]] | None:
        """(run_dir, signature, history length, encoded run) if stored under `stamp`, else None.

        Read in pages (keyset on run_dir) so a restart never holds every encoded run at once.
        """
        if self.get_meta("runs_stamp") != stamp:
            return None

        def rows() -> Iterator[tuple[str, int, int, bytes]]:
            after = ""
            while True:
                batch = self._q(
                    "SELECT run_dir, signature, hist_len, body FROM runs WHERE run_dir > ? "
                    "ORDER BY run_dir LIMIT ?",
                    (after, page),
                )
                for d, sig, hist, body in batch:
                    yield d, sig, hist, bytes(body)
                if len(batch) < page:
                    return
                after = batch[-1][0]

        return rows()

    def save_runs(
        self, upserts: list[tuple[str, int, int, bytes]], deletes: list[str], stamp: str
    ) -> None:
        """Bring the stored runs up to `stamp`; with new settings, `upserts` must be all runs."""

        def go() -> None:
            with self.backend.transaction():
                previous = self.backend.query("SELECT value FROM meta WHERE name='runs_stamp'")
                settings = stamp.split(":", 1)[1:]
                if not previous or str(previous[0][0]).split(":", 1)[1:] != settings:
                    self.backend.query("DELETE FROM runs")  # other settings: nothing applies
                self.backend.executemany(
                    "DELETE FROM runs WHERE run_dir=?", [(d,) for d in deletes]
                )
                self.backend.executemany(
                    """INSERT INTO runs VALUES (?, ?, ?, ?) ON CONFLICT(run_dir) DO UPDATE SET
                       signature=excluded.signature, hist_len=excluded.hist_len,
                       body=excluded.body""",
                    upserts,
                )
                self.backend.executemany(
                    "INSERT INTO meta VALUES ('runs_stamp', ?) "
                    "ON CONFLICT(name) DO UPDATE SET value=excluded.value",
                    [(stamp,)],
                )

        self._run(go)

    # results and verdicts --------------------------------------------------------------
    def save_judgement(
        self,
        rows: list[ResultRow],
        verdict: VerdictRow,
        *,
        since: str | None = None,
        gone: Sequence[str] = (),
    ) -> str | None:
        """Store a judgement's results and its verdict; return the stamp naming what is stored.

        Without `since`, `rows` are every result and replace the stored ones. With `since`, the
        stamp a previous save returned, `rows` are only the results that changed after it and
        `gone` the keys no longer judged, applied only while the stored results are still that
        save's (no other process, nor a failed save, came between): otherwise nothing is
        written and None is returned, and the caller saves every row.
        """
        stamp = secrets.token_hex(8)

        def go() -> str | None:
            with self.backend.transaction():
                if since is None:
                    self.backend.query("DELETE FROM results")
                    self.backend.executemany(
                        "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?)", _result_rows(rows)
                    )
                else:
                    held = self.backend.query("SELECT value FROM meta WHERE name='results_stamp'")
                    if not held or held[0][0] != since:
                        return None
                    self.backend.executemany(
                        "DELETE FROM results WHERE key=?", [(k,) for k in gone]
                    )
                    self.backend.executemany(
                        """INSERT INTO results VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO
                           UPDATE SET agent=excluded.agent, state=excluded.state,
                           outcome=excluded.outcome, findings=excluded.findings,
                           duration_ratio=excluded.duration_ratio""",
                        _result_rows(rows),
                    )
                self.backend.executemany(
                    "INSERT INTO meta VALUES ('results_stamp', ?) "
                    "ON CONFLICT(name) DO UPDATE SET value=excluded.value",
                    [(stamp,)],
                )
                last = self.backend.query(
                    "SELECT verdict, config_hash FROM verdicts ORDER BY id DESC LIMIT 1"
                )
                if not last or (last[0][0], last[0][1]) != (verdict.verdict, verdict.config_hash):
                    self.backend.executemany(
                        "INSERT INTO verdicts (at, verdict, config_hash, reasons) VALUES (?, ?, ?, ?)",
                        [
                            (
                                verdict.at,
                                verdict.verdict,
                                verdict.config_hash,
                                json.dumps(verdict.reasons),
                            )
                        ],
                    )
            return stamp

        return self._run(go)

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
        rows = self._q("SELECT MAX(finished) FROM scans WHERE ok=1")
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def get_meta(self, name: str) -> str | None:
        rows = self._q("SELECT value FROM meta WHERE name=?", (name,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, name: str, value: str) -> None:
        self._write(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=excluded.value",
            [(name, value)],
        )

    # plumbing --------------------------------------------------------------------------
    def _run(self, fn: Callable[[], T]) -> T:
        """Call into the backend; a driver error becomes a StoreError naming the ledger."""
        try:
            return fn()
        except self.backend.errors as exc:
            raise StoreError(self.backend.explain(exc)) from exc

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._run(lambda: self.backend.query(sql, params))

    def _in(self, sql: str, keys: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        """Rows of `sql`, whose `{}` is filled with one placeholder per key, 500 keys a query."""
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))  # placeholders only; the keys are parameters
            yield from self._q(sql.format(marks), chunk)

    def _write(self, sql: str, rows: list[tuple[Any, ...]], bump: bool = False) -> None:
        def go() -> None:
            with self.backend.transaction():
                self.backend.executemany(sql, rows)
                if bump:
                    self.backend.query(_BUMP)

        self._run(go)


def _result_rows(rows: list[ResultRow]) -> list[tuple[Any, ...]]:
    return [(r.key, r.agent, r.state, r.outcome, r.findings_json, r.duration_ratio) for r in rows]
