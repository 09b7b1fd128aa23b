"""The concurrency sweep finds exactly what the plain scan of every active dry run found.

The sweep skips the scan when every active primary overlaps the run's primary (issue 19: dry
runs still running stay active for every later run). The reference below is the scan it
replaced; both must give the same findings, naming the same earlier run, on any window: ties,
zero-length runs, runs still going at `now`, primaries that never started.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from shadow.comparators import concurrency
from shadow.comparators.concurrency import Interval, _finding, _interval
from shadow.core.findings import Finding
from shadow.core.pairing import Pair, PairState
from shadow.core.runs import NormalizedRun
from shadow.core.vocabulary import RunState
from tests.builders import T0, run, twin

NOW = T0 + 100


def reference(pairs: list[Pair], now: float) -> dict[str, list[Finding]]:
    def overlap(a: Interval, b: Interval) -> bool:
        return a[0] < b[1] and b[0] < a[1]

    by_agent: dict[str, list[tuple[Interval, Pair]]] = defaultdict(list)
    for pair in pairs:
        iv = _interval(pair.candidate, now)
        if iv is not None and pair.primary is not None:
            by_agent[pair.agent].append((iv, pair))
    out: dict[str, list[Finding]] = {}
    for runs in by_agent.values():
        runs.sort(key=lambda item: (item[0][0], item[1].key))
        active: list[tuple[Interval, Pair]] = []
        for iv, pair in runs:
            active = [(a, p) for a, p in active if a[1] > iv[0]]
            for a, earlier in active:
                pa, pb = _interval(earlier.primary, now), _interval(pair.primary, now)
                both = pa is not None and pb is not None and overlap(pa, pb)
                if overlap(a, iv) and not both:
                    out.setdefault(pair.key, []).append(_finding(pair, earlier))
                    break
            active.append((iv, pair))
    return out


# (start, length or None: still running; None start: never started), primary then dry run
side = st.tuples(st.one_of(st.none(), st.integers(0, 20)), st.one_of(st.none(), st.integers(0, 10)))


Shape = tuple[int | None, int | None]


def _run(key: str, agent: str, shape: Shape, dry: bool) -> NormalizedRun:
    start, length = shape
    base = run(key, agent=agent)
    if length is None:
        r = replace(base, state=RunState.RUNNING, finished_at=None)
    else:
        at = T0 + (start or 0)
        r = replace(base, finished_at=at + length)
    r = replace(r, started_at=None if start is None else T0 + start)
    return twin(r) if dry else r


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ab"), side, side, st.booleans()), max_size=25))
def test_the_sweep_finds_what_the_scan_found(shapes: list[tuple[str, Shape, Shape, bool]]) -> None:
    """Same keys, same findings, same earlier run named, in the same order."""
    pairs = []
    for i, (agent, p_shape, c_shape, queued) in enumerate(shapes):
        p = replace(_run(f"k{i:02}", agent, p_shape, False), queued_observed=queued)
        c = _run(f"k{i:02}", agent, c_shape, True)
        pairs.append(Pair(f"k{i:02}", p, c, PairState.PAIRED))
    expected = {k: [f.model_dump_json() for f in fs] for k, fs in reference(pairs, NOW).items()}
    actual = concurrency.compare(pairs, NOW)
    assert expected == {k: [f.model_dump_json() for f in fs] for k, fs in actual.items()}
