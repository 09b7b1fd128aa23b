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
from shadow.core.findings import Finding
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


def compare_pair(
    primary: NormalizedRun, candidate: NormalizedRun, opts: CompareOptions
) -> list[Finding]:
    """All pair-level findings; the canonical projection short-circuits equal structure."""
    found: list[Finding] = []
    if primary.comparable != candidate.comparable:
        for comparator in STRUCTURAL:
            found.extend(comparator(primary, candidate, opts))
    elif not status.lawful(primary.history):
        # Equal histories can still both break the lifecycle: parity is not enough there.
        found.extend(status.forbidden_moves(primary))
        found.extend(status.forbidden_moves(candidate))
    for comparator in ALWAYS:
        found.extend(comparator(primary, candidate, opts))
    return found
