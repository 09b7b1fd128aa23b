"""The ledger on both backends: real SQLite files and a real PostgreSQL server; restarts,
corruption, locks, outages, shard namespaces and hostile keys."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from shadow.bootstrap import make_engine
from shadow.cli import main
from shadow.config import load_settings
from shadow.core import normalize as normalize_rules
from shadow.core.objects import StoredObject
from shadow.corpora.demo import write_demo
from shadow.engine import Engine
from shadow.errors import StoreError
from shadow.ledger.store import Ledger, ResultRow, VerdictRow
from tests.e2e.conftest import NOW
from tests.pgserver import PASSWORD, PgServer


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.needs_postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a fresh ledger lives: a SQLite file, or an empty PostgreSQL database's URL."""
    if request.param == "sqlite":
        return tmp_path / "l.db"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def open_ledger() -> Iterator[Callable[..., Ledger]]:
    """Open ledgers that are all closed at teardown (a PostgreSQL connection is a resource)."""
    opened: list[Ledger] = []

    def open_(*args: Any) -> Ledger:
        opened.append(Ledger(*args))
        return opened[-1]

    yield open_
    for ledger in opened:
        ledger.close()


def test_objects_upsert_keeps_first_seen_and_survives_reopen(
    target: Path | str, open_ledger: Callable[..., Ledger]
) -> None:
    """Saving an object twice keeps one row with its first-seen time, across a reopen."""
    db = target
    ledger = open_ledger(db)
    ledger.save_objects([StoredObject("runs/a/status.json", "e1", 3, 10.0, 10.0, b"{}")], 11.0)
    ledger.save_objects([StoredObject("runs/a/status.json", "e2", 4, 20.0, 20.0, b"{ }")], 21.0)
    ledger.close()
    again = open_ledger(db)
    assert again.known_etags() == {"runs/a/status.json": "e2"}
    [row] = again.object_index()
    assert (row.first_seen, again.bodies([row.key])[row.key]) == (10.0, b"{ }")


def test_polling_history_records_each_change_once(
    target: Path | str, open_ledger: Callable[..., Ledger]
) -> None:
    """Observing the same state twice records it once; a new state appends."""
    ledger = open_ledger(target)
    for state in ("queued", "queued", "running", "running", "completed"):
        ledger.append_observation("runs/a/", state, 1.0)
    assert ledger.histories() == {"runs/a/": ("polling", ["queued", "running", "completed"])}


def test_verdict_history_grows_only_on_change(
    target: Path | str, open_ledger: Callable[..., Ledger]
) -> None:
    """Judging again with the same verdict and config adds no verdict row."""
    ledger = open_ledger(target)
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


def test_a_results_delta_applies_only_on_top_of_its_own_save(
    target: Path | str, open_ledger: Callable[..., Ledger]
) -> None:
    """Issue 19: a save names what it stored; the next one writes only the changed rows on top
    of it, and is refused (nothing written) once anything else saved results in between."""
    ledger = open_ledger(target)
    verdict = VerdictRow(1.0, "READY", "c1", [])
    a, b, c = (ResultRow(k, "x", "paired", "match", "[]", 1.0) for k in "abc")
    first = ledger.save_judgement([a, b, c], verdict)
    b2 = ResultRow("b", "x", "paired", "mismatch", '[{"kind": "step_missing"}]', None)
    d = ResultRow("d", "y", "pending", "pending", "[]", None)
    second = ledger.save_judgement([b2, d], verdict, since=first, gone=["c"])
    assert second is not None and [a, b2, d] == ledger.results()
    assert None is ledger.save_judgement([c], verdict, since=first)  # stale: not applied
    assert [a, b2, d] == ledger.results()
    other = open_ledger(target)  # another process (a rejudge) replaces the results
    other.save_judgement([c], VerdictRow(2.0, "NOT_READY", "c2", []))
    assert None is ledger.save_judgement([a], verdict, since=second)
    assert [c] == ledger.results()


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
    dirs_read: list[str] = []  # noqa: RUF012 - set per instance below

    def object_index(self) -> list[StoredObject]:
        self.index_reads += 1
        return super().object_index()

    def objects_under(self, run_dirs: Iterable[str]) -> list[StoredObject]:
        dirs = sorted(run_dirs)
        self.dirs_read = [*self.dirs_read, *dirs]
        return super().objects_under(dirs)


def _engine_on(db: Path, root: Path, **settings: object) -> Engine:
    s = load_settings(source=f"dir:{root}", db=db, **settings)
    engine = make_engine(s)
    engine.ledger.close()
    engine.ledger = CountingLedger(db)
    return engine


def test_a_restart_judges_from_the_stored_runs_without_reading_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same evidence, settings and rules: one row per run, the same report; else re-read."""
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

    monkeypatch.setattr(normalize_rules, "RULES_VERSION", normalize_rules.RULES_VERSION + 1)
    upgraded = _engine_on(db, corpus.root)  # a shadow whose normalization rules changed
    upgraded.judge(NOW.timestamp())
    assert upgraded.ledger.index_reads == 1  # type: ignore[attr-defined]
    upgraded.ledger.close()
    monkeypatch.undo()

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
    """Steady state: the listing finds nothing new, the generation stands, nothing is re-read;
    a new run is read alone, not with every object of the ledger."""
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
    assert engine.ledger.index_reads == 1  # type: ignore[attr-defined]
    assert ["runs/late/"] == engine.ledger.dirs_read  # type: ignore[attr-defined]
    assert third.report and third.report.totals.runs == first.report.totals.runs + 1
    engine.ledger.close()


def test_versioned_history_and_meta_round_trip(
    target: Path | str, open_ledger: Callable[..., Ledger]
) -> None:
    """Versioned history is replaced as a whole; meta values upsert; scans record the last good one."""
    ledger = open_ledger(target)
    ledger.replace_history("runs/a/", [("queued", 1.0), ("running", 2.0)])
    ledger.replace_history("runs/a/", [("queued", 1.0), ("running", 2.0), ("completed", 3.0)])
    ledger.set_meta("k", "1")
    ledger.set_meta("k", "2")
    ledger.record_scan(1.0, 2.5, True, 3, 3, {})
    ledger.record_scan(3.0, 4.0, False, 0, 0, {"network": 1})
    assert ledger.histories() == {"runs/a/": ("versioned", ["queued", "running", "completed"])}
    ledger.append_observation("runs/b/", "running", 5.0)  # polling: no version times
    assert {"runs/a/": 1.0} == ledger.first_versions()
    assert (ledger.get_meta("k"), ledger.get_meta("missing")) == ("2", None)
    assert ledger.last_good_scan() == 2.5


def test_schema_creation_is_idempotent(
    target: Path | str, open_ledger: Callable[..., Ledger]
) -> None:
    """Opening the same ledger repeatedly creates the schema once and keeps every row."""
    for i in range(3):
        ledger = open_ledger(target)
        ledger.save_objects([StoredObject(f"runs/{i}/status.json", "e", 1, 1.0, 1.0, b"{}")], 1.0)
        ledger.close()
    assert 3 == len(open_ledger(target).known_etags())


HOSTILE_KEYS = [
    "runs/x'; DROP TABLE objects; --/status.json",
    'runs/a"b/status.json',
    "runs/%2F..%2F/status.json",
    "runs/../../etc/passwd",
    "runs/?/status.json",
    "runs/%s/status.json",
    "runs/\\x00/status.json",
]


def test_hostile_keys_are_stored_verbatim(
    target: Path | str, open_ledger: Callable[..., Ledger]
) -> None:
    """Keys with quotes, SQL metacharacters, placeholders and ../ are data, never SQL or paths."""
    ledger = open_ledger(target)
    rows = [StoredObject(k, "e'1", 2, 1.0, 1.0, b"{}") for k in HOSTILE_KEYS]
    ledger.save_objects(rows, 1.0)
    for k in HOSTILE_KEYS:
        ledger.append_observation(k, "queued", 1.0)
    assert dict.fromkeys(HOSTILE_KEYS, "e'1") == ledger.known_etags()
    assert set(HOSTILE_KEYS) == set(ledger.bodies(HOSTILE_KEYS))
    assert set(HOSTILE_KEYS) == set(ledger.histories())


def test_shards_sharing_a_postgres_database_are_namespaced(
    pg_url: str, open_ledger: Callable[..., Ledger]
) -> None:
    """Two shards on one database: each replaces its own results, never the other's."""
    zero, one = open_ledger(pg_url, (0, 2)), open_ledger(pg_url, (1, 2))
    zero.save_judgement(
        [ResultRow("a", "x", "paired", "match", "[]", 1.0)], VerdictRow(1, "READY", "c", [])
    )
    one.save_judgement(
        [ResultRow("b", "y", "paired", "match", "[]", 1.0)], VerdictRow(1, "NOT_READY", "c", [])
    )
    zero.save_objects([StoredObject("runs/a/status.json", "e", 1, 1.0, 1.0, b"{}")], 1.0)
    assert ["a"] == [r.key for r in zero.results()]
    assert ["b"] == [r.key for r in one.results()]
    assert {} == one.known_etags()
    assert "shadow_shard_1_of_2" in one.describe()


def test_two_shards_on_one_sqlite_file_are_refused_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A shard replaces its whole result set each cycle: a second shard (or an unsharded shadow)
    on the same file would erase it, so it is refused, naming the file and the fix."""
    path = tmp_path / "shard0.db"
    zero = Ledger(path, (0, 2))
    zero.save_judgement(
        [ResultRow("a", "x", "paired", "match", "[]", 1.0)], VerdictRow(1, "READY", "c", [])
    )
    zero.close()
    for other in [(1, 2), None]:
        with pytest.raises(StoreError) as err:
            Ledger(path, other)
        assert str(path) in str(err.value) and "shard 0/2" in str(err.value)
        assert "--shard" in str(err.value) and "--db" in str(err.value)
    assert 3 == main(["report", "--db", str(path)])
    assert "shard 0/2" in capsys.readouterr().err
    again = Ledger(path, (0, 2))  # the owner still opens it, its results intact
    assert ["a"] == [r.key for r in again.results()]
    again.close()


def test_postgres_outage_is_a_clear_error_and_the_next_call_recovers(
    own_pg_server: PgServer,
) -> None:
    """Database down: the error names host and database, never the password; back up: it works."""
    server = own_pg_server
    url = server.create_database()
    ledger = Ledger(url)
    ledger.set_meta("before", "1")
    server.stop()
    with pytest.raises(StoreError) as err:
        ledger.known_etags()
    text = str(err.value)
    assert f"127.0.0.1:{server.port}/{url.rsplit('/', 1)[1]}" in text
    assert PASSWORD not in text
    assert "retries on the next cycle" in text
    server.start()
    assert "1" == ledger.get_meta("before")
    ledger.close()


def test_postgres_refusing_the_login_names_the_database_not_the_password(
    pg_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong password fails with the URL masked, in the exception and on the CLI's stderr."""
    url = pg_server.create_database().replace(PASSWORD, "wrong-" + PASSWORD)
    with pytest.raises(StoreError) as err:
        Ledger(url)
    assert PASSWORD not in str(err.value)
    assert "shadow:***@127.0.0.1" in str(err.value)
    assert 3 == main(["report", "--db", url])
    captured = capsys.readouterr()
    assert PASSWORD not in captured.out + captured.err
    assert "shadow:***@127.0.0.1" in captured.err


def test_every_evidence_write_bumps_the_generation_and_stored_runs_follow_their_stamp(
    target: Path | str, open_ledger: Callable[..., Ledger]
) -> None:
    """On both backends: objects and history bump the generation; runs come back only under the
    stamp they were stored with, and new settings replace them all."""
    ledger = open_ledger(target)
    assert ledger.generation() == 0
    ledger.save_objects([StoredObject("runs/a/status.json", "e", 2, 1.0, 1.0, b"{}")], 1.0)
    ledger.append_observation("runs/a/", "queued", 1.0)
    ledger.append_observation("runs/a/", "queued", 2.0)  # no change: no new evidence
    ledger.replace_history("runs/b/", [("queued", 1.0)])
    assert ledger.generation() == 3
    big = -(2**63)  # signatures are signed 64-bit
    ledger.save_runs([("runs/a/", big, 1, b"[1]"), ("runs/b/", 7, 1, b"[2]")], [], "3:s1")
    assert ledger.stored_runs("3:s2") is None and ledger.stored_runs("4:s1") is None
    assert sorted(ledger.stored_runs("3:s1") or []) == [
        ("runs/a/", big, 1, b"[1]"),
        ("runs/b/", 7, 1, b"[2]"),
    ]
    ledger.save_runs([("runs/b/", 8, 2, b"[3]")], ["runs/a/"], "4:s1")  # same settings: a delta
    assert list(ledger.stored_runs("4:s1") or []) == [("runs/b/", 8, 2, b"[3]")]
    ledger.save_runs([("runs/c/", 9, 0, b"[4]")], [], "4:s2")  # new settings: all replaced
    assert list(ledger.stored_runs("4:s2") or []) == [("runs/c/", 9, 0, b"[4]")]
    many = [(f"runs/r{i:03d}/", i, 0, b"[5]") for i in range(7)]
    ledger.save_runs(many, [], "5:s2")
    in_pages = list(ledger.stored_runs("5:s2", page=3) or [])
    assert (
        sorted([("runs/c/", 9, 0, b"[4]"), *many]) == in_pages
    )  # pages of 3: none lost or repeated


class SavingLedger(CountingLedger):
    """A real ledger that records how many result rows each save wrote."""

    saved: list[tuple[int, bool]] = []  # noqa: RUF012 - set per instance below

    def save_judgement(
        self,
        rows: list[ResultRow],
        verdict: VerdictRow,
        *,
        since: str | None = None,
        gone: Sequence[str] = (),
    ) -> str | None:
        self.saved = [*self.saved, (len(rows), since is not None)]
        return super().save_judgement(rows, verdict, since=since, gone=gone)


def test_a_cycle_writes_only_the_result_rows_that_changed(tmp_path: Path) -> None:
    """Issue 19: after the first save, a cycle writes the rows of the pairs that changed, and
    the ledger holds what a full save writes (a restarted process saves every row again)."""
    corpus = write_demo(tmp_path / "b", now=NOW, runs=40, plant=False)
    db = tmp_path / "s.db"
    engine = _engine_on(db, corpus.root)
    engine.ledger.close()
    engine.ledger = SavingLedger(db)
    first = asyncio.run(engine.run_cycle(NOW.timestamp()))
    asyncio.run(engine.run_cycle(NOW.timestamp()))
    _add_run(corpus.root, "late-1")
    last = asyncio.run(engine.run_cycle(NOW.timestamp() + 60))
    assert first.judgement and last.judgement
    pairs = len(first.judgement.results)
    assert [(pairs, False), (0, True), (1, True)] == engine.ledger.saved  # type: ignore[attr-defined]
    delta = engine.ledger.results()
    engine.ledger.close()
    restarted = _engine_on(db, corpus.root)
    j, report = restarted.judge(NOW.timestamp() + 60)
    restarted.persist(j, report, NOW.timestamp() + 60)
    assert delta == restarted.ledger.results()
    assert len(delta) == pairs + 1
    restarted.ledger.close()


class FailingOnceLedger(CountingLedger):
    """A real ledger whose next write of normalized runs fails, as a full disk would."""

    fail_next = False

    def save_runs(
        self, upserts: list[tuple[str, int, int, bytes]], deletes: list[str], stamp: str
    ) -> None:
        if self.fail_next:
            self.fail_next = False
            raise StoreError("ledger: disk full")
        super().save_runs(upserts, deletes, stamp)


def _add_run(root: Path, run_id: str) -> None:
    (root / "runs" / run_id).mkdir(parents=True)
    (root / "runs" / run_id / "status.json").write_text(
        json.dumps({"run_id": run_id, "status": "queued"})
    )


def test_stored_runs_missed_by_a_failed_write_are_written_by_the_next_cycle(
    tmp_path: Path,
) -> None:
    """A restart after a failed write of the stored runs still sees every run."""
    corpus = write_demo(tmp_path / "b", now=NOW, runs=40, plant=False)
    db = tmp_path / "s.db"
    engine = _engine_on(db, corpus.root)
    engine.ledger.close()
    engine.ledger = FailingOnceLedger(db)
    asyncio.run(engine.run_cycle(NOW.timestamp()))
    _add_run(corpus.root, "late-1")
    engine.ledger.fail_next = True  # type: ignore[attr-defined]
    asyncio.run(engine.run_cycle(NOW.timestamp() + 60))
    _add_run(corpus.root, "late-2")
    last = asyncio.run(engine.run_cycle(NOW.timestamp() + 120))
    engine.ledger.close()
    assert last.report is not None
    restarted = _engine_on(db, corpus.root)
    _, report = restarted.judge(NOW.timestamp() + 120)
    assert restarted.ledger.index_reads == 0  # type: ignore[attr-defined]
    assert {"late-1", "late-2"} <= {r.run_id for r in report.runs}
    assert report.totals == last.report.totals
    restarted.ledger.close()
