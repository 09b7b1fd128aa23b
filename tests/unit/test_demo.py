"""The demo bucket generator: determinism, layouts, planted runs, clean records, safety."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from shadow.core.findings import Dimension, Kind
from shadow.corpora.demo import AGENTS, MARKER, DemoCorpus, write_clean, write_demo

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SUFFIX = "-dryrun"
STATUS_FIELDS = {
    "run_id": str,
    "agent_slug": str,
    "status": str,
    "trigger": str,
    "steps_completed": int,
    "proposals_created": list,
}
NULLABLE = ("started_at", "finished_at", "current_step", "steps_total", "error")
MANIFEST_FIELDS = ("status", "trigger", "steps_count", "proposals_created", "error")
PLANTED_TWIN_FILES = {
    Kind.INVALID_JSON: "steps/3-persist-results.json",
    Kind.STEP_IDENTITY_MISMATCH: "steps/3-persist.json",
    Kind.STEP_WITHOUT_NUMBER: "steps/final-notes.json",
    Kind.PROPOSAL_OUTPUT: "output/proposal-1.json",
}


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _run_dirs(root: Path) -> dict[str, Path]:
    return {p.parent.name: p.parent for p in root.rglob("status.json")}


def _load(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), path
    return doc


def _ts(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> DemoCorpus:
    return write_clean(tmp_path_factory.mktemp("clean") / "bucket", now=NOW, runs=60, days=5)


@pytest.mark.slow
def test_same_seed_writes_the_same_tree(tmp_path: Path) -> None:
    """Two runs with one seed give byte-identical trees; another seed gives another tree."""
    a = write_demo(tmp_path / "a", now=NOW, runs=40, days=4)
    b = write_demo(tmp_path / "b", now=NOW, runs=40, days=4)
    c = write_demo(tmp_path / "c", now=NOW, runs=40, days=4, seed=8)
    assert _tree(a.root) == _tree(b.root)
    assert a.planted == b.planted
    assert _tree(a.root) != _tree(c.root)


def test_nested_layout_puts_runs_under_their_agent(tmp_path: Path) -> None:
    """With layout nested every run directory, twins included, sits in agents/<slug>/runs/."""
    corpus = write_demo(tmp_path / "bucket", now=NOW, runs=30, days=3, layout="nested")
    assert not (corpus.root / "runs").exists()
    dirs = _run_dirs(corpus.root)
    assert any(name.endswith(SUFFIX) for name in dirs)
    for run_dir in dirs.values():
        slug = run_dir.parent.parent.name
        assert ("agents", slug, "runs") == run_dir.relative_to(corpus.root).parts[:3]
        assert slug == _load(run_dir / "status.json")["agent_slug"]


def test_every_planted_run_is_in_the_tree_in_its_expected_form(tmp_path: Path) -> None:
    """Lost runs lack a twin, orphans lack a primary, stuck runs are running, others are pairs."""
    corpus = write_demo(tmp_path / "bucket", now=NOW, runs=40, days=4)
    runs = corpus.root / "runs"
    kinds = {p.kind for p in corpus.planted}
    assert Kind.FORBIDDEN_TRANSITION not in kinds and len(kinds) == len(corpus.planted) == 21
    assert len({p.run_id for p in corpus.planted}) == len(corpus.planted)
    for plant in corpus.planted:
        primary, twin = runs / plant.run_id, runs / f"{plant.run_id}{SUFFIX}"
        expected = (plant.kind is not Kind.ORPHAN_RUN, plant.kind is not Kind.LOST_RUN)
        assert expected == (primary.is_dir(), twin.is_dir()), plant
        if plant.kind is Kind.STUCK_RUN:
            assert "running" == _load(primary / "status.json")["status"]
            assert _ts(_load(primary / "status.json")["started_at"]) < NOW - timedelta(hours=1)
        if plant.kind is Kind.LOST_RUN:
            assert _ts(_load(primary / "status.json")["finished_at"]) < NOW - timedelta(days=1)
        if plant.kind in PLANTED_TWIN_FILES:
            assert (twin / PLANTED_TWIN_FILES[plant.kind]).is_file(), plant
    dims = {p.kind: p.dimension for p in corpus.planted}
    assert Dimension.CONCURRENCY == dims[Kind.OVERLAP]
    broken = next(p.run_id for p in corpus.planted if p.kind is Kind.INVALID_JSON)
    with pytest.raises(json.JSONDecodeError):
        json.loads((runs / f"{broken}{SUFFIX}" / PLANTED_TWIN_FILES[Kind.INVALID_JSON]).read_text())
    assert corpus.pairs == sum(1 for name in _run_dirs(corpus.root) if not name.endswith(SUFFIX))


def test_clean_status_files_follow_the_contract(clean: DemoCorpus) -> None:
    """Every status.json of a clean corpus is an object with the spec's fields and types."""
    dirs = _run_dirs(clean.root)
    assert len(dirs) > 2 * 60
    for name, run_dir in dirs.items():
        doc = _load(run_dir / "status.json")
        for field, kind in STATUS_FIELDS.items():
            assert isinstance(doc[field], kind), (name, field)
        assert all(f in doc for f in NULLABLE), name
        key = name.removesuffix(SUFFIX)
        assert doc["run_id"] in ({key, key + SUFFIX} if name.endswith(SUFFIX) else {key})
        assert doc["agent_slug"] in AGENTS
        steps = [_load(p) for p in (run_dir / "steps").glob("*.json")]
        done = sum(1 for s in steps if s["status"] == "completed")
        assert doc["steps_completed"] == done <= len(steps)
        assert ("queue_position" in doc) == (doc["status"] == "queued")
        if name.endswith(SUFFIX):
            assert [] == doc["proposals_created"]


def test_clean_terminal_runs_have_a_consistent_manifest(clean: DemoCorpus) -> None:
    """A finished run has a manifest agreeing with its status and timestamps that add up."""
    for name, run_dir in _run_dirs(clean.root).items():
        doc = _load(run_dir / "status.json")
        if doc["status"] not in ("completed", "failed"):
            assert not (run_dir / "manifest.json").exists(), name
            continue
        manifest = _load(run_dir / "manifest.json")
        assert all(f in manifest for f in MANIFEST_FIELDS), name
        assert (doc["status"], doc["error"]) == (manifest["status"], manifest["error"])
        assert len(doc["proposals_created"]) == manifest["proposals_created"]
        steps = [_load(p) for p in (run_dir / "steps").glob("*.json")]
        failed = [s["step_name"] for s in steps if s["status"] == "failed"]
        assert (doc["error"] is None) == (doc["status"] == "completed") == (not failed)
        assert doc["current_step"] == (failed[0] if failed else "finalize")
        last = max(_ts(s["finished_at"]) for s in steps)
        assert _ts(doc["started_at"]) < last <= _ts(doc["finished_at"])


def test_clean_runs_of_one_agent_never_overlap_on_either_side(clean: DemoCorpus) -> None:
    """Primaries and dry runs are each serialized per agent."""
    spans: dict[tuple[str, bool], list[tuple[datetime, datetime]]] = defaultdict(list)
    for name, run_dir in _run_dirs(clean.root).items():
        doc = _load(run_dir / "status.json")
        if doc["started_at"] is not None:
            end = _ts(doc["finished_at"]) if doc["finished_at"] else clean.now
            spans[(doc["agent_slug"], name.endswith(SUFFIX))].append((_ts(doc["started_at"]), end))
    for side in spans.values():
        side.sort()
        assert all(a[1] < b[0] for a, b in pairwise(side))


def test_dry_run_real_steps_take_about_the_primary_time(clean: DemoCorpus) -> None:
    """A twin's real steps are within 10% of the primary's; its execute-agent is mocked and fast."""
    runs = clean.root / "runs"
    for twin in runs.glob(f"*{SUFFIX}"):
        steps = (runs / twin.name.removesuffix(SUFFIX)).glob("steps/*.json")
        primary = {s["step_name"]: s for s in map(_load, steps)}
        manifest = twin / "manifest.json"
        retried = manifest.exists() and bool(_load(manifest).get("retries"))
        for step in map(_load, twin.glob("steps/*.json")):
            ms, theirs = step["duration_ms"], primary[step["step_name"]]["duration_ms"]
            if ms is None or theirs is None or step["status"] == "running":
                continue
            if step["step_name"] == "execute-agent":
                assert ms < 1000 or retried, (twin.name, step)
            else:
                assert 0.85 < ms / max(1, theirs) < 1.15 or ms < 120, (twin.name, step)


def test_refuses_a_foreign_directory_and_rewrites_its_own(tmp_path: Path) -> None:
    """A non-empty directory without the marker is refused; a previous demo is wiped."""
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty"):
        write_demo(foreign, now=NOW, runs=30, days=3)
    assert ["precious.txt"] == [p.name for p in foreign.iterdir()]
    corpus = write_demo(tmp_path / "demo", now=NOW, runs=30, days=3)
    (corpus.root / "stale.txt").write_text("old")
    again = write_demo(corpus.root, now=NOW, runs=30, days=3)
    assert (again.root / MARKER).is_file() and not (again.root / "stale.txt").exists()


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    """Unknown layouts, naive times and corpora too small to plant in raise ValueError."""
    with pytest.raises(ValueError, match="layout"):
        write_demo(tmp_path / "a", now=NOW, layout="sideways")
    with pytest.raises(ValueError, match="timezone"):
        write_demo(tmp_path / "b", now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="runs"):
        write_demo(tmp_path / "c", now=NOW, runs=5)
    assert not any((tmp_path / n).exists() for n in "abc")
