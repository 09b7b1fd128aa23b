"""Comparators: one module per parity dimension, run in the order of the tuples below.

A pair comparator is a pure function `(primary, candidate, options) -> list[Finding]` over two
terminal, normalized runs. A window comparator sees every pair at once (completeness,
concurrency). Adding a dimension is one module and one line here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from shadow.comparators import (
    completeness,
    concurrency,
    retries,
    side_effects,
    status,
    steps,
    timing,
)
from shadow.comparators.options import CompareOptions
from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.pairing import Pair
from shadow.core.runs import NormalizedRun


class PairComparator(Protocol):
    def __call__(
        self, primary: NormalizedRun, candidate: NormalizedRun, opts: CompareOptions
    ) -> list[Finding]: ...


WindowComparator = Callable[[Sequence[Pair], float], dict[str, list[Finding]]]

__all__ = ["ALWAYS", "STRUCTURAL", "WINDOW", "CompareOptions", "compare_pair"]

# Comparators that only read what `NormalizedRun.comparable` holds: skipped when it is equal.
STRUCTURAL: tuple[PairComparator, ...] = (status.compare, steps.compare, retries.compare)
# Comparators that read timing and side data, run on every pair.
ALWAYS: tuple[PairComparator, ...] = (timing.compare, side_effects.compare)
WINDOW: tuple[WindowComparator, ...] = (completeness.compare, concurrency.compare)


def unseen(primary: NormalizedRun, candidate: NormalizedRun) -> frozenset[Dimension]:
    """Dimensions a side's records do not show (a declarative profile read no steps or no
    attempts): they are not judged for this pair, and the pair is no evidence for them."""
    if primary.links is None and candidate.links is None:
        return _NONE  # the garden contract shows both, always
    out = set()
    if not (primary.steps_visible and candidate.steps_visible):
        out.add(Dimension.STEPS)
    if not (primary.retries_visible and candidate.retries_visible):
        out.add(Dimension.RETRIES)
    return frozenset(out)


_NONE: frozenset[Dimension] = frozenset()
_DIMENSION: dict[PairComparator, Dimension] = {
    status.compare: Dimension.STATUS,
    steps.compare: Dimension.STEPS,
    retries.compare: Dimension.RETRIES,
}


def compare_pair(
    primary: NormalizedRun, candidate: NormalizedRun, opts: CompareOptions
) -> list[Finding]:
    """All pair-level findings; the canonical projection short-circuits equal structure."""
    found: list[Finding] = []
    # The garden's runs (links None) show every dimension: no call on the hot path.
    blind = _NONE if primary.links is None is candidate.links else unseen(primary, candidate)
    if primary.comparable != candidate.comparable:
        for comparator in STRUCTURAL:
            if blind and _DIMENSION[comparator] in blind:
                continue
            found.extend(comparator(primary, candidate, opts))
    elif not status.lawful(primary.history):
        # Equal histories can still both break the lifecycle: parity is not enough there.
        found.extend(status.forbidden_moves(primary))
        found.extend(status.forbidden_moves(candidate))
    for comparator in ALWAYS:
        found.extend(comparator(primary, candidate, opts))
    if blind:
        found.extend(not_seen(primary, candidate, blind))
    return found


def not_seen(
    primary: NormalizedRun, candidate: NormalizedRun, blind: frozenset[Dimension]
) -> list[Finding]:
    """An info finding where one side shows steps or retries the other side's records cannot:
    a difference there would go unnoticed, so say it was not judged."""
    out = []
    for run, other in ((primary, candidate), (candidate, primary)):
        if Dimension.STEPS in blind and run.steps_visible and run.steps:
            out.append(_not_seen_finding(Dimension.STEPS, run.side.value, other.side.value))
        if Dimension.RETRIES in blind and run.retries_visible and run.retries:
            out.append(_not_seen_finding(Dimension.RETRIES, run.side.value, other.side.value))
    return out


def _not_seen_finding(dim: Dimension, shown_on: str, hidden_on: str) -> Finding:
    return Finding(
        dimension=dim,
        kind=Kind.NOT_SEEN,
        severity=Severity.INFO,
        path=dim.value,
        subject=hidden_on,
        message=f"{dim.value} not judged: the {shown_on} shows {dim.value}, the {hidden_on}'s "
        f"records do not (its profile reads them from a record this run lacks, or not at all)",
    )
