"""Remembered pair comparisons: a cycle where a big pair did not change does not compare it again.

The engine keeps each normalized run as one object while its objects are unchanged, so a pair
whose two runs are the very same objects as in the previous judgement has the same findings:
`compare_pair` is a pure function of the two runs and the options. Only pairs with many steps
are remembered (below `MIN_STEPS` a comparison costs less than the bookkeeping, and a daemon
tracking 100,000 ordinary pairs holds nothing more); entries live one judgement past their last
use, so a run that changed or left frees its entry at the next judgement.

Keys are the runs' identities, and the entry holds both runs: while it exists their ids cannot
be reused by other objects, and a hit is checked by identity, never by a possibly stale id.
"""

from __future__ import annotations

from collections.abc import Callable

from shadow.comparators import CompareOptions
from shadow.core.findings import Finding
from shadow.core.runs import NormalizedRun

MIN_STEPS = 64  # steps of both runs together from which a pair's comparison is remembered

_Entry = tuple[NormalizedRun, NormalizedRun, tuple[Finding, ...]]
Compare = Callable[[NormalizedRun, NormalizedRun, CompareOptions], list[Finding]]


class PairMemo:
    """Findings of large pairs by the identity of their runs, for one set of compare options."""

    def __init__(self) -> None:
        self._last: dict[tuple[int, int], _Entry] = {}  # used by the previous judgement
        self._now: dict[tuple[int, int], _Entry] = {}  # used by this one
        self.hits = 0
        self.misses = 0

    def next_judgement(self) -> None:
        """Forget what the judgement before the last did not use."""
        self._last, self._now = self._now, {}

    def findings(
        self,
        primary: NormalizedRun,
        candidate: NormalizedRun,
        opts: CompareOptions,
        compare: Compare,
    ) -> list[Finding]:
        if len(primary.steps) + len(candidate.steps) < MIN_STEPS:
            return compare(primary, candidate, opts)
        key = (id(primary), id(candidate))
        entry = self._now.get(key) or self._last.get(key)
        if entry is not None and entry[0] is primary and entry[1] is candidate:
            self.hits += 1
        else:
            self.misses += 1
            entry = (primary, candidate, tuple(compare(primary, candidate, opts)))
        self._now[key] = entry
        return list(entry[2])
