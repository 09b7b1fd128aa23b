"""The stored form of normalized runs: exact round trips, and refusal of anything else."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from shadow import runcodec
from shadow.bootstrap import make_engine
from shadow.config import load_settings
from shadow.demo import write_demo
from shadow.vocabulary import RunState
from tests.e2e.conftest import NOW


def test_every_run_of_a_planted_corpus_round_trips_exactly(tmp_path: Path) -> None:
    """Rejected objects, input findings, retries and histories come back equal, field by field."""
    corpus = write_demo(tmp_path / "b", now=NOW)
    engine = make_engine(load_settings(source=f"dir:{corpus.root}", db=tmp_path / "s.db"))
    asyncio.run(engine.run_cycle(NOW.timestamp()))
    cached = list(engine._cache.values())
    assert any(rej for *_, rej in cached) and any(run.input_findings for _, _, run, _ in cached)
    for _, _, run, rejected in cached:
        again, again_rejected = runcodec.decode(runcodec.encode(run, rejected))
        assert again == run and again.comparable == run.comparable
        assert again_rejected == rejected
    engine.ledger.close()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"{}",
        b"[]",
        b"[99]",  # another codec version
        b'[1, "too short"]',
        b"[1" + b', "x"' * 25 + b"]",  # the right length, the wrong types
    ],
)
def test_anything_but_a_stored_run_is_a_codec_error(data: bytes) -> None:
    with pytest.raises(runcodec.CodecError):
        runcodec.decode(data)


def test_values_orjson_refuses_still_round_trip(tmp_path: Path) -> None:
    """A 70-bit step number and a lone surrogate in a name are kept, through the fallback."""
    corpus = write_demo(tmp_path / "b", now=NOW, runs=30, plant=False)
    engine = make_engine(load_settings(source=f"dir:{corpus.root}", db=tmp_path / "s.db"))
    asyncio.run(engine.run_cycle(NOW.timestamp()))
    _, _, run, rejected = next(iter(engine._cache.values()))
    engine.ledger.close()
    odd = replace(run.steps[0], number=2**70, name="step-\udc80")
    exotic = replace(run, steps=(odd, *run.steps[1:]))
    again, _ = runcodec.decode(runcodec.encode(exotic, rejected))
    assert again == exotic


def test_runs_held_in_memory_share_recurring_values_and_still_compare_by_content(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twins share one comparable tuple; a full sharing table is emptied, never grown past its
    bound, and runs built after that still compare equal or unequal exactly as before."""
    from shadow import normalized
    from tests.builders import run, twin

    primary = run("r1")
    assert twin(primary).comparable is primary.comparable
    assert primary.unknown_fields is normalized.EMPTY
    monkeypatch.setattr(normalized, "_SHARED", {})
    monkeypatch.setattr(normalized, "_SHARED_MAX", 3)
    failed = [run(f"f{i}", error=f"E{i}", state=RunState.FAILED) for i in range(5)]
    assert len(normalized._SHARED) <= 3
    assert twin(primary).comparable == primary.comparable
    assert len({f.comparable for f in failed}) == 5
    assert twin(failed[0]).comparable == failed[0].comparable != failed[1].comparable
