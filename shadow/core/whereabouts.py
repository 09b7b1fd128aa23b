"""Where the runs probably are, when a scan finds no run directory where the layout puts them.

Pure: it reads the directory names a source listed (one level, S3's common prefixes) and the
place the source points at, and says what it found there and which source was probably meant.
The usual mistakes, in the order they are checked:

1. the place holds `runs/` (or `agents/`) but nothing under it yet: nothing was written;
2. it holds the other layout's top directory: `--layout`;
3. it sits inside the bucket, below `runs/` (`dir:bucket/runs`): the bucket root is the source;
4. it sits above the bucket (`dir:.` next to `bucket/`): the child that holds `runs/` is;
5. it holds a run id next to its dry-run twin but no `runs/`: runs were copied without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from shadow.core.layout import Layout

_TOP = {Layout.FLAT: "runs", Layout.NESTED: "agents"}
_SEPARATORS = "_-."


@dataclass(frozen=True, slots=True)
class Place:
    """Where a source points: `dir:` and a path, or `s3://` and a bucket then prefix segments."""

    scheme: str  # "dir:" or "s3://"
    parts: tuple[str, ...]

    def child(self, name: str) -> Place:
        return Place(self.scheme, (*self.parts, name))

    def __str__(self) -> str:
        if self.scheme == "dir:":
            return "dir:" + str(PurePosixPath(*self.parts))
        bucket, *rest = self.parts
        return f"s3://{bucket}/" + "".join(f"{p}/" for p in rest)


def place_of(source: str, prefix: str) -> Place:
    """The place a `source` setting and the prefix in effect point at."""
    below = [p for p in prefix.split("/") if p]
    if source.startswith("dir:"):
        path = PurePosixPath(source[len("dir:") :] or ".")
        return Place("dir:", (*(p for p in path.parts if p != "."), *below))
    bucket = source[len("s3://") :].split("/", 1)[0]
    return Place("s3://", (bucket, *below))


@dataclass(frozen=True, slots=True)
class Listing:
    """Directory names (no slash) directly in the place, and in a few of its children."""

    dirs: Sequence[str]
    more: bool = False  # the listing stopped at a page: there are more than `len(dirs)`
    below: Mapping[str, Sequence[str]] = field(default_factory=dict)


def children_to_look_into(listing: Listing, layout: Layout, limit: int = 10) -> list[str]:
    """The children worth one more listing each: only when the place is not plainly explained
    by its own names (checks 1-3 need none)."""
    if set(_TOP.values()) & set(listing.dirs):
        return []
    return list(listing.dirs[:limit])


def diagnose(place: Place, layout: Layout, suffix: str, listing: Listing) -> str:
    """One sentence: what the place holds and the source (or flag) probably meant."""
    top, other = _TOP[layout], _TOP[_other(layout)]
    holds = f"{place} holds {_describe(listing.dirs, listing.more)}"
    if top in listing.dirs:
        return f"{place.child(top)} holds no run directory yet: nothing has been written there"
    if other in listing.dirs:
        return f"{holds}: that is the {_other(layout).value} layout, pass --layout {_other(layout).value}"
    root = _bucket_root(place)
    if root is not None:
        bucket, layout_there = root
        flag = f" with --layout {layout_there.value}" if layout_there is not layout else ""
        return f"{holds}: the source is the bucket root, {bucket}{flag}"
    holders = [d for d in listing.dirs if set(_TOP.values()) & set(listing.below.get(d, ()))]
    if holders:
        named = ", ".join(str(place.child(d)) for d in holders[:3])
        if len(holders) > 1:
            return (
                f"{holds} and no {top}/, but several of them do ({named}): point one source at each"
            )
        return f"{holds} and no {top}/, but {named} does: the source is {named}"
    if any(d + suffix in listing.dirs for d in listing.dirs):
        return (
            f"{holds}, run ids beside their {suffix} twins, but no {top}/: run directories live "
            f"under {top}/ at the bucket root (run-records.md section 2); point the source at "
            f"the directory that holds {top}/"
        )
    if not listing.dirs:
        return f"{place} holds no directory: is it the bucket's copy?"
    return f"{holds} and no {top}/ directory, where the {layout.value} layout keeps run directories"


def _other(layout: Layout) -> Layout:
    return Layout.NESTED if layout is Layout.FLAT else Layout.FLAT


def _bucket_root(place: Place) -> tuple[Place, Layout] | None:
    """The bucket root above a place inside `runs/` (or `agents/<slug>/runs/`), if it is one."""
    first = 1 if place.scheme == "s3://" else 0  # an S3 bucket may be named runs
    for i in range(len(place.parts) - 1, first - 1, -1):
        if place.parts[i] == "runs":
            if i - 2 >= first and place.parts[i - 2] == "agents":
                return Place(place.scheme, place.parts[: i - 2]), Layout.NESTED
            return Place(place.scheme, place.parts[:i]), Layout.FLAT
        if place.parts[i] == "agents":
            return Place(place.scheme, place.parts[:i]), Layout.NESTED
    return None


def _describe(names: Sequence[str], more: bool) -> str:
    """`260 directories named run_*`, or `3 directories (a, b, c)`."""
    if not names:
        return "no directory"
    count = f"{len(names):,}{'+' if more else ''} director{'y' if len(names) == 1 else 'ies'}"
    common = _common_prefix(names)
    stem = next((common[: i + 1] for i, c in enumerate(common) if c in _SEPARATORS and i), "")
    if len(names) > 1 and stem:
        return f"{count} named {stem}*"
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 or more else "")
    return f"{count} ({shown})"


def _common_prefix(names: Sequence[str]) -> str:
    first, last = min(names), max(names)
    i = 0
    while i < min(len(first), len(last)) and first[i] == last[i]:
        i += 1
    return first[:i]
