"""Scale-out by sharding: two processes cover disjoint slices whose merge equals one process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shadow.cli import main
from shadow.demo import write_demo
from tests.e2e.conftest import NOW, NOW_ISO


def _scan_report(capsys: pytest.CaptureFixture[str], root: Path, db: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    assert (
        main(
            ["scan", "--once", "--source", f"dir:{root}", "--db", str(db), "--now", NOW_ISO, *extra]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["report", "--json", "--db", str(db), "--now", NOW_ISO, *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_two_shards_are_disjoint_cover_everything_and_merge_to_the_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--shard 0/2 and 1/2 judge disjoint runs; `shadow merge` of both equals the unsharded report."""
    corpus = write_demo(tmp_path / "bucket", now=NOW)
    whole = _scan_report(capsys, corpus.root, tmp_path / "all.db")
    parts = [
        _scan_report(capsys, corpus.root, tmp_path / f"s{i}.db", "--shard", f"{i}/2")
        for i in range(2)
    ]
    keys = [{r["run_id"] for r in p["runs"]} for p in parts]
    assert keys[0] and keys[1]
    assert set() == keys[0] & keys[1]
    assert {r["run_id"] for r in whole["runs"]} == keys[0] | keys[1]
    files = []
    for i, p in enumerate(parts):
        files.append(tmp_path / f"s{i}.json")
        files[-1].write_text(json.dumps(p))
    assert main(["merge", *map(str, files), "--now", NOW_ISO]) == 0
    merged = json.loads(capsys.readouterr().out)
    assert whole["totals"] == merged["totals"]
    assert whole["readiness"]["verdict"] == merged["readiness"]["verdict"]
    assert whole["readiness"]["criteria"] == merged["readiness"]["criteria"]
    assert whole["runs"] == merged["runs"]
    assert whole["unknown_fields"] == {}


def test_overlapping_reports_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Merging a report with itself is an error, not a double count."""
    corpus = write_demo(tmp_path / "bucket", now=NOW)
    report = _scan_report(capsys, corpus.root, tmp_path / "all.db")
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report))
    assert main(["merge", str(path), str(path)]) == 3
    assert "overlap" in capsys.readouterr().err
