"""Pairing states with time as an input, duplicates, and shards."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.layout import Side
from shadow.core.pairing import (
    PairBy,
    PairingOptions,
    PairState,
    classify,
    group_runs,
    pair_runs,
    shard_of,
)
from shadow.core.runs import NormalizedRun
from shadow.core.vocabulary import RunState
from tests.builders import T0, run, twin

OPTS = PairingOptions(grace_s=900, run_timeout_s=600)
DONE = run(start=T0, end=T0 + 60)
RUNNING = run(state=RunState.RUNNING, start=T0)

CASES = [
    ("both terminal", DONE, twin(DONE), T0 + 61, PairState.PAIRED),
    ("primary still running", RUNNING, twin(RUNNING), T0 + 120, PairState.PENDING),
    ("twin may still arrive", DONE, None, T0 + 60 + 899, PairState.PENDING),
    ("twin lost past grace", DONE, None, T0 + 60 + 901, PairState.PRIMARY_ONLY),
    ("twin still running inside timeout", DONE, twin(RUNNING), T0 + 600, PairState.PENDING),
    ("orphan past grace", None, twin(DONE), T0 + 901, PairState.CANDIDATE_ONLY),
    ("orphan inside grace", None, twin(DONE), T0 + 899, PairState.PENDING),
    ("stuck past timeout plus grace", RUNNING, twin(RUNNING), T0 + 1501, PairState.STUCK),
    ("not yet stuck", RUNNING, twin(RUNNING), T0 + 1499, PairState.PENDING),
    ("a stuck twin is stuck", DONE, twin(RUNNING), T0 + 1501, PairState.STUCK),
]


@pytest.mark.parametrize(
    ("primary", "candidate", "now", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_classify(primary, candidate, now, expected) -> None:  # type: ignore[no-untyped-def]
    """Each pairing state follows from the runs and the time given."""
    assert expected == classify(primary, candidate, now, OPTS)


def test_held_keys_stay_pending() -> None:
    """A key whose object could not be read this cycle is held pending, not judged lost."""
    [pair] = pair_runs({"r1": (DONE, None)}, T0 + 10_000, OPTS, held=frozenset({"r1"}))
    assert pair.state == PairState.PENDING


def test_duplicates_are_reported_and_never_paired_twice() -> None:
    """Two dry runs for one idempotency key: the earliest is paired, the other is a duplicate."""
    p = run("u1", idempotency_key="update-42")
    c1 = twin(run("u1x", start=T0 + 5, idempotency_key="update-42"))
    c2 = twin(run("u1y", start=T0 + 9, idempotency_key="update-42"))
    grouped = group_runs([p, c2, c1], PairBy.IDEMPOTENCY_KEY)
    assert list(grouped.sides) == ["update-42"]
    primary, candidate = grouped.sides["update-42"]
    assert (p, c1) == (primary, candidate)
    [dup] = grouped.duplicates["update-42"]
    assert (Kind.DUPLICATE_RUN, Side.CANDIDATE.value) == (dup.kind, dup.path)


def test_shards_are_stable_and_cover_every_key() -> None:
    """Every key lands in exactly one shard, the same one every time."""
    keys = [f"run_{i}" for i in range(2000)]
    shards = [shard_of(k, 4) for k in keys]
    assert shards == [shard_of(k, 4) for k in keys]
    assert {0, 1, 2, 3} == set(shards)
    assert min(shards.count(i) for i in range(4)) > 400


def _under(agent: str, r: NormalizedRun) -> NormalizedRun:
    """The run as the per-agent layout stores it, in agents/<agent>/runs/."""
    return replace(r, run_dir=f"agents/{agent}/{r.run_dir}", agent=agent)


def test_per_agent_layout_pairs_a_twin_only_beside_its_primary() -> None:
    """Spec section 9: the dry-run twin sits in the same agents/<slug>/runs/ as its primary."""
    p = run("n1")
    grouped = group_runs([_under("a1", p), _under("a1", twin(p))])
    assert ["n1"] == list(grouped.sides)  # the usual case keeps the plain run id
    assert {} == grouped.renamed
    elsewhere = group_runs([_under("a1", p), _under("a2", twin(p))])
    assert {"n1": (True, False), "n1@a2": (False, True)} == {
        k: (pr is not None, c is not None) for k, (pr, c) in elsewhere.sides.items()
    }
    assert {} == elsewhere.duplicates
    assert "n1@a2" == elsewhere.key_of("agents/a2/runs/n1-dryrun/", "n1")


def test_the_same_run_id_under_two_agents_is_two_pairs_not_duplicates() -> None:
    p = run("n3")
    grouped = group_runs([_under(a, r) for a in ("a1", "a2") for r in (p, twin(p))])
    assert ["n3", "n3@a2"] == sorted(grouped.sides)  # the first agent's keeps the plain id
    assert all(pr is not None and c is not None for pr, c in grouped.sides.values())
    assert {} == grouped.duplicates


def test_a_finished_run_counting_steps_the_store_does_not_list_yet_waits_out_the_grace() -> None:
    """Spec section 3: steps_completed never exceeds the step files once the store is consistent;
    a fresh read that says otherwise is stale, so the pair waits rather than show a missing step."""
    p = run("s1")
    ahead = Finding(
        dimension=Dimension.INPUT,
        kind=Kind.STEPS_COMPLETED_EXCEEDS_FILES,
        severity=Severity.WARNING,
        path="status.steps_completed",
        message="candidate status.json counts 4 steps but 3 step files exist",
    )
    c = twin(p, input_findings=(ahead,))
    assert p.finished_at is not None
    opts = PairingOptions()
    assert PairState.PENDING == classify(p, c, p.finished_at + 5, opts)
    assert PairState.PAIRED == classify(p, c, p.finished_at + opts.grace_s + 1, opts)


def test_an_idempotency_key_equal_to_a_run_id_still_pairs() -> None:
    """A dry run without a key falls back to its run id; when that is the primary's key, the two
    are one pair, not one silently dropped."""
    p = run("x", idempotency_key="x")
    c = twin(run("x"), idempotency_key=None)
    grouped = group_runs([p, c], PairBy.IDEMPOTENCY_KEY)
    assert {"x": (p, c)} == grouped.sides


def test_a_twin_that_failed_before_it_started_is_timed_from_its_finish() -> None:
    """Issue 16 item 19: no `started_at`, a `finished_at` two days before now, first seen now (a
    backfill judged with a past `--now` caps first_seen at now): an orphan past grace, not pending.
    Only a record with neither time waits from when shadow first saw it."""
    now = T0 + 2 * 86400
    failed_early = replace(
        twin(DONE),
        state=RunState.FAILED,
        history=(RunState.REQUESTED, RunState.FAILED),
        started_at=None,
        finished_at=T0,
        first_seen=now,
    )
    assert PairState.CANDIDATE_ONLY == classify(None, failed_early, now, OPTS)
    untimed = replace(failed_early, finished_at=None)
    assert PairState.PENDING == classify(None, untimed, now, OPTS)
    assert PairState.CANDIDATE_ONLY == classify(None, untimed, now + 901, OPTS)
