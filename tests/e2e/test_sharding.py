"""Scale-out by sharding: two processes cover disjoint slices whose merge equals one process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shadow.cli import main
from shadow.corpora.demo import write_demo
from tests.e2e.conftest import NOW, NOW_ISO
from tests.snapshots import tree_unchanged


def _scan_report(
    capsys: pytest.CaptureFixture[str], root: Path, db: Path, layout: str, *extra: str
) -> dict:  # type: ignore[type-arg]
    common = ["--db", str(db), "--now", NOW_ISO, "--layout", layout, *extra]
    with tree_unchanged(root):
        assert 0 == main(["scan", "--once", "--source", f"dir:{root}", *common])
    capsys.readouterr()
    assert 0 == main(["report", "--json", *common])
    return json.loads(capsys.readouterr().out)


def _shards(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, layout: str
) -> tuple[dict, list[dict]]:  # type: ignore[type-arg]
    corpus = write_demo(tmp_path / "bucket", now=NOW, layout=layout)
    whole = _scan_report(capsys, corpus.root, tmp_path / "all.db", layout)
    parts = [
        _scan_report(capsys, corpus.root, tmp_path / f"s{i}.db", layout, "--shard", f"{i}/2")
        for i in range(2)
    ]
    return whole, parts


def _merge(capsys: pytest.CaptureFixture[str], tmp_path: Path, parts: list[dict]) -> dict:  # type: ignore[type-arg]
    files = []
    for i, part in enumerate(parts):
        files.append(tmp_path / f"s{i}.json")
        files[-1].write_text(json.dumps(part))
    assert 0 == main(["merge", *map(str, files), "--now", NOW_ISO])
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["nested", "flat"])
def test_two_shards_are_disjoint_and_cover_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], layout: str
) -> None:
    """--shard 0/2 and 1/2 judge disjoint sets of runs whose union is every run."""
    whole, parts = _shards(capsys, tmp_path, layout)
    keys = [{r["run_id"] for r in p["runs"]} for p in parts]
    assert keys[0] and keys[1]
    assert set() == keys[0] & keys[1]
    assert {r["run_id"] for r in whole["runs"]} == keys[0] | keys[1]


@pytest.mark.slow
def test_merged_shards_equal_one_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In the nested layout shards own whole agents, so `shadow merge` equals the unsharded report."""
    whole, parts = _shards(capsys, tmp_path, "nested")
    merged = _merge(capsys, tmp_path, parts)
    assert whole["totals"] == merged["totals"]
    assert whole["readiness"]["verdict"] == merged["readiness"]["verdict"]
    assert whole["readiness"]["criteria"] == merged["readiness"]["criteria"]
    assert whole["runs"] == merged["runs"]


@pytest.mark.slow
def test_overlapping_reports_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Merging a report with itself is an error, not a double count."""
    whole, _ = _shards(capsys, tmp_path, "nested")
    path = tmp_path / "r.json"
    path.write_text(json.dumps(whole))
    assert 3 == main(["merge", str(path), str(path)])
    assert "overlap" in capsys.readouterr().err
