"""The stored form of normalized runs: exact round trips, and refusal of anything else."""

from __future__ import annotations

import asyncio
from dataclasses import fields, replace
from pathlib import Path

import pytest

from shadow.bootstrap import make_engine
from shadow.config import load_settings
from shadow.core.runs import NormalizedRun
from shadow.corpora.demo import write_demo
from shadow.ledger import runcodec
from tests.e2e.conftest import NOW


@pytest.mark.slow
def test_every_run_of_a_planted_corpus_round_trips_exactly(tmp_path: Path) -> None:
    """Rejected objects, input findings, retries and histories come back equal, field by field."""
    corpus = write_demo(tmp_path / "b", now=NOW)
    engine = make_engine(load_settings(source=f"dir:{corpus.root}", db=tmp_path / "s.db"))
    asyncio.run(engine.run_cycle(NOW.timestamp()))
    cached = list(engine.runs._cache.values())
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
    _, _, run, rejected = next(iter(engine.runs._cache.values()))
    engine.ledger.close()
    odd = replace(run.steps[0], number=2**70, name="step-\udc80")
    exotic = replace(run, steps=(odd, *run.steps[1:]))
    again, _ = runcodec.decode(runcodec.encode(exotic, rejected))
    assert again == exotic


def test_the_codec_stores_every_field_of_a_normalized_run() -> None:
    """A field added to NormalizedRun must be added to the codec (and its VERSION bumped)."""
    # step_durations travel inside the steps rows: [number, name, state, code, duration_ms]
    stored = set(runcodec.ENCODED_FIELDS) | {"comparable", "step_durations"}
    assert {f.name for f in fields(NormalizedRun)} == stored


def test_runs_held_in_memory_share_recurring_values_and_still_compare_by_content(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twins share one pipeline shape and history; the sharing table never grows past its bound,
    and runs built beyond it still compare equal or unequal exactly as before."""
    from shadow.core import runs as normalized
    from tests.builders import run, steps, twin

    primary = run("r1")
    assert twin(primary).comparable[3] is primary.comparable[3]
    assert twin(primary).history is primary.history
    assert primary.unknown_fields is normalized.NO_FIELDS
    monkeypatch.setattr(normalized, "_shared", {})
    monkeypatch.setattr(normalized, "_SHARED_LIMIT", 3)
    distinct = [run(f"d{i}", step_list=steps(f"only-{i}")) for i in range(5)]
    assert len(normalized._shared) <= 3
    assert twin(primary).comparable == primary.comparable
    assert len({d.comparable for d in distinct}) == 5
    assert twin(distinct[4]).comparable == distinct[4].comparable != distinct[3].comparable


def test_vendor_runs_round_trip_with_their_links_and_retry_scopes() -> None:
    """A declarative profile's run keeps its link, slot, deliveries and whole-run retries."""
    from shadow.core.shipped import SHIPPED
    from tests.vendor_reading import read

    runs = [
        read(SHIPPED["trigger-dev"], "trigger-dev/current/retried-recovered.json"),
        read(SHIPPED["trigger-dev"], "trigger-dev/current/scheduled.json"),
        read(SHIPPED["cf-queues-consumer"], "cloudflare-queues/failed-final-attempt.json"),
        read(
            SHIPPED["inngest"],
            "inngest/v2/run-failed.json",
            {"trace": "inngest/v2/trace-failed.json"},
        ),
        read(SHIPPED["inngest"], {"data": {"status": "PAUSED"}}),  # rejected: no state
    ]
    assert runs[0].retries[0].whole_run and not runs[0].retries[0].error_seen
    for run in runs:
        again, _ = runcodec.decode(runcodec.encode(run, run.rejected))
        assert again == run and again.links == run.links and again.comparable == run.comparable
