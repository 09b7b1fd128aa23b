"""Concurrency: a second run of an agent queues instead of running beside the first.

Window check per agent: two dry runs that overlap in time where their primaries were
serialized are a finding on the run that started second (spec section 9). When the primary
of that run was seen queued, the dry run bypassed the queue. Primaries that overlapped too
are parity, not a finding.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.pairing import Pair
from shadow.core.runs import NormalizedRun

Interval = tuple[float, float]


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
    by_agent: dict[str, list[tuple[Interval, Interval | None, Pair]]] = defaultdict(list)
    for pair in pairs:
        iv = _interval(pair.candidate, now)
        if iv is not None and pair.primary is not None:
            by_agent[pair.agent].append((iv, _interval(pair.primary, now), pair))
    out: dict[str, list[Finding]] = {}
    for runs in by_agent.values():
        runs.sort(key=lambda item: (item[0][0], item[2].key))
        active: list[tuple[Interval, Interval | None, Pair]] = []
        for item in runs:
            (start, end), primary, pair = item
            active = [e for e in active if e[0][1] > start]
            for (a_start, a_end), earlier_primary, earlier in active:
                # The dry runs overlap, and their primaries do not (two intervals overlap when
                # each starts before the other ends). Inlined: this runs for every pair against
                # each dry run still running when it started.
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
            active.append(item)
    return out
