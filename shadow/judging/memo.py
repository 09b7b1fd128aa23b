"""Remembered judgements: a judgement judges again only the pairs whose inputs changed.

The engine keeps each normalized run as one object while its objects are unchanged, so a pair
can be recognised by the identity of its two runs. Each pair's result (findings after waivers
and the cap, outcome, ratio) is kept under its pairing key with everything it was computed from:

- the two run objects, by identity (the entry holds them, so their ids are never reused);
- the pair's state and slot flag, which pairing decides afresh from `now` each judgement (a
  pending pair turning lost, a grace period ending);
- the judgement's findings for its key that come from outside the pair: window checks
  (completeness, concurrency: other runs and `now` move them), grouping (duplicates) and unknown
  fields. They are compared by their JSON, not `==`: pydantic models equal by `==` can still
  serialize differently (`1 == True`);
- the context: the waivers and the day they are judged on (a waiver expires by date).

A result is reused only when all of them are unchanged; any other pair is judged exactly as from
scratch. Judge options (compare options, the findings cap) are fixed per memo: `JudgeOptions`
holds it, and `replace` gives new options a memo of their own. Thresholds do not enter a pair's
result, only the readiness computed over all of them.

When a pair has to be judged again while its runs are the same objects (its state, a window
finding, a waiver or the day changed), the comparison of its runs is reused: `compare_pair` is
a pure function of the two runs and the options, and aligning the steps of big pairs is the
costly part.

Entries live for one judgement: a key that is not judged again (its run left, it was renamed)
is dropped, and with it the runs it held.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

from shadow.core.findings import Finding
from shadow.core.pairing import Pair, PairState
from shadow.core.results import PairResult


class Judged:
    """One pair's result, what it was computed from, and the waivers it used."""

    __slots__ = (
        "by_slot",
        "candidate",
        "context",
        "covered",
        "found",
        "notes",
        "primary",
        "result",
        "state",
        "would_cover",
    )

    def __init__(
        self,
        pair: Pair,
        found: tuple[Finding, ...],
        notes: tuple[Finding, ...],
        context: Hashable,
        result: PairResult,
        waived: tuple[Mapping[str, int], Mapping[str, int]],
    ) -> None:
        self.primary = pair.primary
        self.candidate = pair.candidate
        self.state: PairState = pair.state
        self.by_slot = pair.by_slot
        self.found = found  # the pair's own findings (inputs, comparison), before the notes
        self.notes = notes
        self.context = context
        self.result = result
        # Waiver uses are counted per judgement, so a reused result counts its own again.
        self.covered = dict(waived[0]) if waived[0] else None
        self.would_cover = dict(waived[1]) if waived[1] else None

    def fits(self, pair: Pair, notes: tuple[Finding, ...], context: Hashable) -> bool:
        """Whether this result is the pair's: nothing it was computed from changed."""
        return (
            self.same_runs(pair)
            and self.state is pair.state
            and self.by_slot == pair.by_slot
            and self.context is context
            and _same(self.notes, notes)
        )

    def same_runs(self, pair: Pair) -> bool:
        return self.primary is pair.primary and self.candidate is pair.candidate


def _same(a: tuple[Finding, ...], b: tuple[Finding, ...]) -> bool:
    if len(a) != len(b):
        return False
    return all(
        x is y or x.model_dump_json() == y.model_dump_json() for x, y in zip(a, b, strict=True)
    )


class ResultMemo:
    """Every pair's judged result by pairing key, for one set of judge options."""

    def __init__(self) -> None:
        self._last: dict[str, Judged] = {}
        self._context: Hashable = None
        self.hits = 0  # results reused
        self.misses = 0  # pairs judged again
        self.compared = 0  # pairs whose runs were compared (not reused from a miss's entry)

    def start(self, context: Hashable) -> tuple[Hashable, dict[str, Judged]]:
        """Begin a judgement: its context (one object while equal, so that entries compare it
        by identity) and the previous judgement's entries."""
        if context != self._context:
            self._context = context
        return self._context, self._last

    def finish(self, entries: dict[str, Judged]) -> None:
        """Keep this judgement's entries, and only them, for the next one."""
        self._last = entries
