"""A full re-normalization of a large ledger runs in a child process; the result is the same."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from shadow.bootstrap import engine_options, make_engine, make_source
from shadow.config import load_settings
from shadow.corpora.demo import write_demo
from shadow.engine import Engine
from tests.e2e.conftest import NOW
from tests.integration.test_ledger import CountingLedger


def test_a_cold_start_normalizes_in_a_child_and_judges_the_same(tmp_path: Path) -> None:
    """Forced to the child (threshold 0): this process never reads every object, restores the
    runs the child stored, and judges exactly what an in-process normalization judges."""
    corpus = write_demo(tmp_path / "b", now=NOW, runs=60, days=4)
    settings = load_settings(source=f"dir:{corpus.root}", db=tmp_path / "child.db")
    inline = make_engine(load_settings(source=f"dir:{corpus.root}", db=tmp_path / "inline.db"))
    expected = asyncio.run(inline.run_cycle(NOW.timestamp()))
    inline.ledger.close()
    opts = replace(engine_options(settings), renormalize_child_above=0)
    engine = Engine(make_source(settings), CountingLedger(tmp_path / "child.db"), opts)
    summary = asyncio.run(engine.run_cycle(NOW.timestamp()))
    assert 0 == engine.ledger.index_reads  # type: ignore[attr-defined]
    assert expected.report is not None and summary.report is not None
    assert expected.report.model_dump(exclude={"generated_at"}) == summary.report.model_dump(
        exclude={"generated_at"}
    )
    stamp = engine.ledger.get_meta("runs_stamp")
    assert stamp is not None and stamp.startswith(f"{engine.ledger.generation()}:")
    engine.ledger.close()
