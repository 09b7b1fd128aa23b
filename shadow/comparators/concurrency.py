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


def _overlap(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


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
                if _overlap(a, iv) and not _primaries_overlap(earlier, pair, now):
                    out.setdefault(pair.key, []).append(_finding(pair, earlier))
                    break
            active.append((iv, pair))
    return out


def _primaries_overlap(a: Pair, b: Pair, now: float) -> bool:
    ia, ib = _interval(a.primary, now), _interval(b.primary, now)
    return ia is not None and ib is not None and _overlap(ia, ib)
