"""Grouping again after some runs changed in place, without walking every run.

A steady cycle re-normalizes the few runs whose objects changed (a running run rewrote its
status); grouping every tracked run again for them cost as much as judging the rest. When the
set of run directories is the same and each changed run agrees with its old self on everything
`pairing.group_runs` reads, grouping gives the same keys, the same choice of run per side, the
same duplicates and renames: only the run objects differ. What `group_runs` reads of a run: its
pairing key, side, agent, directory, idempotency key and links (the declared key, slot,
identity and delivery attempt), and the times that order runs sharing a key (started, finished,
first seen). Anything else changed, or an old run that was not the one judged for its key (a
duplicate, a superseded delivery), and `regrouped` declines: the caller groups from scratch.
"""

from __future__ import annotations

from collections.abc import Sequence

from shadow.core.layout import Side
from shadow.core.pairing import Grouped
from shadow.core.runs import NormalizedRun


def _grouping_view(run: NormalizedRun) -> tuple[object, ...]:
    """Everything `group_runs` reads of one run."""
    return (
        run.pairing_key,
        run.side,
        run.agent,
        run.run_dir,
        run.idempotency_key,
        run.links,
        run.started_at,
        run.finished_at,
        run.first_seen,
    )


def regrouped(
    grouped: Grouped, swaps: Sequence[tuple[NormalizedRun, NormalizedRun]]
) -> Grouped | None:
    """`grouped` with each (old, new) run swapped, if that equals grouping from scratch; else
    None. The run directories must be the same set as when `grouped` was made."""
    sides = dict(grouped.sides)
    for old, new in swaps:
        if _grouping_view(old) != _grouping_view(new):
            return None
        i = 0 if old.side is Side.PRIMARY else 1
        # The key `group_runs` gave it: a rename or declared link, else its own id or key.
        keys = (grouped.renamed.get(old.run_dir), old.pairing_key, old.idempotency_key)
        for key in (k for k in keys if k is not None):
            pair = sides.get(key)
            if pair is not None and pair[i] is old:
                sides[key] = (new, pair[1]) if i == 0 else (pair[0], new)
                break
        else:
            return None  # not the run judged for its key
    return Grouped(sides, grouped.duplicates, grouped.renamed, grouped.slotted)
