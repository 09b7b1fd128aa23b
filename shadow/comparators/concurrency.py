"""Concurrency: a second run of an agent queues instead of running beside the first.

Window check per agent: two dry runs that overlap in time where their primaries were
serialized are a finding on the run that started second (spec section 9). When the primary
of that run was seen queued, the dry run bypassed the queue. Primaries that overlapped too
are parity, not a finding.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence

from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.pairing import Pair
from shadow.core.runs import NormalizedRun

Interval = tuple[float, float]
Entry = tuple[Interval, Interval | None, Pair]  # a dry run's interval, its primary's, the pair


def _interval(run: NormalizedRun | None, now: float) -> Interval | None:
    if run is None or run.started_at is None:
        return None
    end = (
        run.finished_at
        if run.finished_at is not None
        else (run.started_at if run.terminal else now)
    )
    return (run.started_at, end)


def _finding(later: Pair, earlier: Pair) -> Finding:
    assert later.primary is not None
    kind = Kind.QUEUE_BYPASSED if later.primary.queued_observed else Kind.OVERLAP
    return Finding(
        dimension=Dimension.CONCURRENCY,
        kind=kind,
        severity=Severity.ERROR,
        path="started_at",
        primary=None,
        candidate=earlier.key,
        message=f"the dry run of {later.agent} ran in parallel with {earlier.key}; "
        "the primary runs were serialized"
        + (" (this run queued in the primary)" if kind is Kind.QUEUE_BYPASSED else ""),
    )


def compare(pairs: Sequence[Pair], now: float) -> dict[str, list[Finding]]:
    # Each run's interval is computed once (a check against every active earlier run asked
    # for both primaries' again: a third of a steady judgement at 10,000 pairs).
    by_agent: dict[str, list[Entry]] = defaultdict(list)
    for pair in pairs:
        iv = _interval(pair.candidate, now)
        if iv is not None and pair.primary is not None:
            by_agent[pair.agent].append((iv, _interval(pair.primary, now), pair))
    out: dict[str, list[Finding]] = {}
    for runs in by_agent.values():
        runs.sort(key=lambda item: (item[0][0], item[2].key))
        _sweep(runs, out)
    return out


def _sweep(runs: list[Entry], out: dict[str, list[Finding]]) -> None:
    """Each dry run, in order of start, against the earlier dry runs still running when it
    started (the active ones, in order): the first that overlaps it while their primaries do
    not is its finding.

    Dry runs still running stay active for every later run (their interval ends at `now`):
    with 1% of 100,000 pairs running, scanning the active ones for each run was most of a
    judgement. When every active run's primary overlaps this run's primary (the latest active
    primary start before its end, the earliest active primary end after its start: two heaps)
    none can be its finding, and the scan is skipped; otherwise the scan is as it was.
    """
    active: dict[int, Entry] = {}  # by position in `runs`: insertion keeps their order
    ending: list[tuple[float, int]] = []  # (dry run's end, position): leaves when one starts after
    primary_starts: list[tuple[float, int]] = []  # (-start, position): the latest on top
    primary_ends: list[tuple[float, int]] = []  # (end, position): the earliest on top
    untimed = 0  # active runs whose primary has no interval (it never started)
    for i, item in enumerate(runs):
        (start, end), primary, pair = item
        while ending and ending[0][0] <= start:
            if active.pop(heapq.heappop(ending)[1])[1] is None:
                untimed -= 1
        if active and not (
            primary is not None
            and not untimed
            and _all_overlap(primary, active, primary_starts, primary_ends)
        ):
            for (a_start, a_end), earlier_primary, earlier in active.values():
                # The dry runs overlap, and their primaries do not (two intervals overlap when
                # each starts before the other ends).
                if a_start < end and start < a_end:
                    if (
                        primary is not None
                        and earlier_primary is not None
                        and earlier_primary[0] < primary[1]
                        and primary[0] < earlier_primary[1]
                    ):
                        continue
                    out.setdefault(pair.key, []).append(_finding(pair, earlier))
                    break
        active[i] = item
        heapq.heappush(ending, (end, i))
        if primary is None:
            untimed += 1
        else:
            heapq.heappush(primary_starts, (-primary[0], i))
            heapq.heappush(primary_ends, (primary[1], i))


def _all_overlap(
    primary: Interval,
    active: dict[int, Entry],
    starts: list[tuple[float, int]],
    ends: list[tuple[float, int]],
) -> bool:
    """Whether every active run's primary overlaps `primary`; each has one. Heap entries of
    runs no longer active are dropped when they come to the top."""
    while starts[0][1] not in active:
        heapq.heappop(starts)
    while ends[0][1] not in active:
        heapq.heappop(ends)
    return -starts[0][0] < primary[1] and primary[0] < ends[0][0]
