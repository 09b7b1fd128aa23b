"""Step alignment: the bounded algorithm picks exactly what the quadratic table walk picked.

Which longest common subsequence is chosen decides which step of a swapped pair reads as
`step_reordered`, so the fast alignment must agree with the textbook one on every input, not
only in length. The reference below is the O(n*m) table `comparators/steps.lcs` used before.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shadow.comparators.steps import Tag, lcs


def reference_lcs(a: list[Tag], b: list[Tag]) -> set[Tag]:
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            table[i][j] = (
                table[i + 1][j + 1] + 1 if a[i] == b[j] else max(table[i + 1][j], table[i][j + 1])
            )
    keep: set[Tag] = set()
    i = j = 0
    while i < n and j < m:
        if a[i] == b[j]:
            keep.add(a[i])
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return keep


def _tags(names: list[str]) -> list[Tag]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append((name, seen[name]))
    return out


NAMES = st.lists(st.sampled_from("abcdefgh"), max_size=24)


@settings(max_examples=600, deadline=None)
@given(NAMES, NAMES)
def test_alignment_matches_the_quadratic_reference(a: list[str], b: list[str]) -> None:
    """On any two step lists (repeated names included) the same tags are aligned."""
    ta, tb = _tags(a), _tags(b)
    assert reference_lcs(ta, tb) == lcs(ta, tb)


@settings(max_examples=100, deadline=None)
@given(st.permutations([f"s{i}" for i in range(40)]))
def test_a_shuffled_pipeline_aligns_like_the_reference(order: list[str]) -> None:
    """A pipeline against any reordering of itself: the same steps stay in order."""
    ta, tb = _tags([f"s{i}" for i in range(40)]), _tags(order)
    assert reference_lcs(ta, tb) == lcs(ta, tb)
