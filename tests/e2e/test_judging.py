"""End to end: generated buckets judged through the CLI, as a user runs shadow."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from shadow.cli import main
from shadow.core.findings import Severity
from tests.e2e.conftest import NOW_ISO, ScanFactory


def _report(capsys: pytest.CaptureFixture[str], scanned_db: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main(["report", "--json", "--db", str(scanned_db), "--now", NOW_ISO, *extra]) == 0
    return json.loads(capsys.readouterr().out)


def _tree_fingerprint(root: Path) -> str:
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath, name)
            st = p.stat()
            h.update(f"{p.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}|".encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("layout", ["flat", "nested"])
def test_every_planted_divergence_is_found_in_its_dimension(
    scanned: ScanFactory, capsys: pytest.CaptureFixture[str], layout: str
) -> None:
    """Each planted divergence shows up on its run with the planted dimension and kind."""
    s = scanned(layout=layout)
    report = _report(capsys, s.db, "--layout", layout)
    by_run = {r["run_id"]: r for r in report["runs"]}
    missing = []
    for plant in s.corpus.planted:
        found = {
            (f["dimension"], f["kind"]) for f in by_run.get(plant.run_id, {}).get("findings", [])
        }
        if (plant.dimension.value, plant.kind.value) not in found:
            missing.append((plant.run_id, plant.dimension.value, plant.kind.value, sorted(found)))
    assert missing == []
    assert report["readiness"]["verdict"] == "NOT_READY"


def test_equal_but_noisy_pairs_yield_no_error_and_are_ready(
    scanned: ScanFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clean corpus with every kind of allowed noise has no error finding and is READY."""
    s = scanned(plant=False)
    report = _report(capsys, s.db)
    errors = [
        (r["run_id"], f["kind"])
        for r in report["runs"]
        for f in r["findings"]
        if f["severity"] == Severity.ERROR.value
    ]
    warnings = [
        (r["run_id"], f["kind"])
        for r in report["runs"]
        for f in r["findings"]
        if f["severity"] == Severity.WARNING.value
    ]
    assert errors == []
    assert warnings == []
    assert report["rejected"] == []
    assert report["readiness"]["verdict"] == "READY", report["readiness"]
    assert main(["verdict", "--db", str(s.db), "--now", NOW_ISO]) == 0


def test_too_little_evidence_is_insufficient_data(scanned: ScanFactory) -> None:
    """A clean but small corpus exits 2 from `shadow verdict`."""
    s = scanned(plant=False, runs=40, days=5)
    assert main(["verdict", "--db", str(s.db), "--now", NOW_ISO]) == 2


def test_planted_corpus_gates_with_exit_code_one(scanned: ScanFactory) -> None:
    """`shadow verdict` exits 1 when a divergence blocks readiness."""
    s = scanned()
    assert main(["verdict", "--db", str(s.db), "--now", NOW_ISO]) == 1


def test_second_scan_fetches_nothing_and_changes_nothing(
    scanned: ScanFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Scanning an unchanged bucket again reads no file and leaves the report identical."""
    s = scanned()
    first = _report(capsys, s.db)
    assert (
        main(
            [
                "scan",
                "--once",
                "--source",
                f"dir:{s.corpus.root}",
                "--db",
                str(s.db),
                "--now",
                NOW_ISO,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "fetched 0," in out
    assert first == _report(capsys, s.db)


def test_scanning_never_writes_to_the_watched_tree(scanned: ScanFactory, tmp_path: Path) -> None:
    """The bucket directory is byte- and mtime-identical after scans and re-judging."""
    s = scanned()
    before = _tree_fingerprint(s.corpus.root)
    for _ in range(2):
        main(
            [
                "scan",
                "--once",
                "--source",
                f"dir:{s.corpus.root}",
                "--db",
                str(s.db),
                "--now",
                NOW_ISO,
            ]
        )
    main(["rejudge", "--db", str(s.db), "--now", NOW_ISO])
    assert before == _tree_fingerprint(s.corpus.root)


def test_waivers_mark_findings_and_expired_waivers_stop_applying(
    scanned: ScanFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A waiver keeps its findings visible as waived; an expired one says it expired."""
    s = scanned()
    plant = next(p for p in s.corpus.planted if p.kind.value == "step_extra")
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(
        f'[[waiver]]\nid = "extra-validate"\ndimension = "steps"\nkind = "step_extra"\nrun = "{plant.run_id}"\n'
        'owner = "platform@example.com"\nreason = "validate-output is new in the candidate"\nexpires = 2026-12-31\n'
        f'[[waiver]]\nid = "old"\ndimension = "completeness"\nkind = "lost_run"\n'
        'owner = "sre@example.com"\nreason = "queue migration"\nexpires = 2026-01-01\n'
    )
    report = _report(capsys, s.db, "--waivers", str(waivers))
    run = next(r for r in report["runs"] if r["run_id"] == plant.run_id)
    waived = [f for f in run["findings"] if f["kind"] == "step_extra"]
    assert [f["waived_by"] for f in waived] == ["extra-validate"]
    lost = [f for r in report["runs"] for f in r["findings"] if f["kind"] == "lost_run"]
    assert lost and all(f["waived_by"] is None and f["expired_waiver"] == "old" for f in lost)
    assert any("waiver old expired" in reason for reason in report["readiness"]["reasons"])
    listed = {w["id"]: w for w in report["waivers"]}
    assert (listed["extra-validate"]["active"], listed["old"]["active"]) == (True, False)


def test_rejudge_applies_a_new_config_without_reading_the_bucket(
    scanned: ScanFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`shadow rejudge` works from the ledger alone, even with the bucket gone."""
    s = scanned()
    before = _report(capsys, s.db)
    import shutil

    shutil.rmtree(s.corpus.root)
    config = tmp_path / "shadow.toml"
    config.write_text("grace_seconds = 1.0e9\n")  # nothing is lost when the grace never ends
    assert main(["rejudge", "--config", str(config), "--db", str(s.db), "--now", NOW_ISO]) == 0
    after = _report(capsys, s.db, "--config", str(config))
    assert before["totals"]["primary_only"] > 0
    assert after["totals"]["primary_only"] == 0
    assert before["config_hash"] != after["config_hash"]


def test_report_follows_the_published_schema(
    scanned: ScanFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """report.md's field names are all present with the documented vocabularies."""
    s = scanned()
    report = _report(capsys, s.db)
    assert report["schema_version"] == 1
    assert {"verdict", "reasons", "criteria", "evidence_days", "strata"} <= set(report["readiness"])
    assert {
        "runs",
        "paired",
        "matched",
        "mismatched",
        "waived",
        "primary_only",
        "candidate_only",
        "pending",
        "stuck",
        "rejected_objects",
    } <= set(report["totals"])
    names = {c["name"] for c in report["readiness"]["criteria"]}
    assert {
        "status",
        "steps",
        "retries",
        "timing",
        "completeness",
        "concurrency",
        "side_effects",
        "input",
        "evidence",
    } == names
    for c in report["readiness"]["criteria"]:
        assert {"name", "passed", "measured", "threshold", "evidence", "examples"} <= set(c)
    states = {r["state"] for r in report["runs"]}
    assert states <= {"paired", "primary_only", "candidate_only", "pending", "stuck"}
    assert {"paired", "primary_only", "candidate_only", "pending", "stuck"} == states
    assert {r["outcome"] for r in report["runs"]} <= {"match", "mismatch", "waived", "pending"}
    for stratum in report["readiness"]["strata"]:
        assert {"agent_slug", "verdict", "pairs"} <= set(stratum)
    assert report["rejected"] and {"key", "reason", "detail"} <= set(report["rejected"][0])
    assert report["clusters"] and {"signature", "count", "examples"} <= set(report["clusters"][0])
    assert report["totals"]["rejected_objects"] == len(report["rejected"])


def test_diff_marks_the_first_divergence(
    scanned: ScanFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """`shadow diff` prints both runs side by side and names the first divergence."""
    s = scanned()
    plant = next(p for p in s.corpus.planted if p.kind.value == "step_missing")
    capsys.readouterr()
    assert s.cli("diff", plant.run_id + "-dryrun") == 0
    out = capsys.readouterr().out
    assert "first divergence: steps/step_missing" in out
    assert "persist-results" in out


def test_unknown_run_and_missing_ledger_are_clear_errors(
    scanned: ScanFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Mistakes at the terminal get a one-line explanation and exit code 3, not a traceback."""
    s = scanned()
    capsys.readouterr()
    assert s.cli("diff", "no-such-run") == 3
    assert "not in the ledger" in capsys.readouterr().err
    assert main(["report", "--db", str(tmp_path / "nope.db")]) == 3
    assert "does not exist" in capsys.readouterr().err
    assert (
        main(["scan", "--once", "--source", "dir:/nonexistent/x", "--db", str(tmp_path / "x.db")])
        == 3
    )
    assert "shadow demo" in capsys.readouterr().err


def test_the_ledger_remembers_the_layout_and_prefix_it_was_scanned_with(
    scanned: ScanFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """A per-agent ledger is reported without repeating --layout; a flag that disagrees with the
    ledger is a usage error naming both values, not an empty report."""
    s = scanned(layout="nested", runs=20, days=2)
    capsys.readouterr()
    assert 0 == s.cli("report", "--json")
    out, err = capsys.readouterr()
    assert json.loads(out)["totals"]["runs"] > 0
    assert "" == err
    assert 0 == s.cli("report", "--layout", "nested")
    assert "" == capsys.readouterr().err
    for args, named in (
        (("--layout", "flat"), ("--layout flat", "'nested'")),
        (("--prefix", "elsewhere"), ("--prefix elsewhere", "prefix ''")),
    ):
        for command in ("report", "verdict", "rejudge"):
            assert 64 == s.cli(command, *args)
            err = capsys.readouterr().err
            assert all(n in err for n in named), err


def test_a_ledger_without_a_recorded_layout_read_under_another_says_so(
    scanned: ScanFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ledger written before it recorded its layout, reported as flat, reads as empty: the report
    warns and names the flags that exist to fix it."""
    s = scanned(layout="nested", runs=20, days=2)
    with sqlite3.connect(s.db) as db:
        db.execute("DELETE FROM meta WHERE name IN ('scanned_layout', 'scanned_prefix')")
    capsys.readouterr()
    assert 0 == s.cli("report")
    err = capsys.readouterr().err
    assert "no run directory under layout flat" in err
    assert "--layout and --prefix" in err
    assert 0 == s.cli("report", "--layout", "nested")
    assert "" == capsys.readouterr().err


def test_serve_takes_no_now(capsys: pytest.CaptureFixture[str]) -> None:
    """A daemon judges by the wall clock: `serve --now` is refused, not silently ignored."""
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--now", NOW_ISO])
    assert 64 == exited.value.code
    assert "--now" in capsys.readouterr().err
