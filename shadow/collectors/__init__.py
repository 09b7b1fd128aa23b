"""Collectors: thin, read-only access to the watched runs (a directory or an S3 bucket).

A collector lists objects with their ETag and size and fetches one object's bytes. It never
parses, and it has no method that writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ListedObject:
    key: str
    etag: str
    size: int
    last_modified: float  # epoch seconds


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    key: str
    version_id: str
    etag: str
    last_modified: float
    is_latest: bool
    size: int = 0


@dataclass(frozen=True, slots=True)
class Skipped:
    """Entries a listing passed over because they cannot be objects, of one kind (names that
    are not UTF-8, FIFOs, symbolic links): counted as scan errors, never passed over in silence."""

    kind: str  # the scan error kind they count under
    count: int
    why: str  # "not a regular file"
    examples: tuple[str, ...]  # printable names

    def message(self, where: str) -> str:
        more = ", ..." if self.count > len(self.examples) else ""
        entries = "entry" if self.count == 1 else "entries"
        return f"{where}: skipped {self.count} {entries} ({self.why}): {', '.join(self.examples)}{more}"


class Source(Protocol):
    """What the engine needs from a place where runs are written."""

    description: str

    def list_pages(self, prefix: str) -> AsyncIterator[list[ListedObject]]:
        """Every object under the prefix, a page at a time, as the source returns them."""
        ...

    def list_dirs(self, prefix: str) -> AsyncIterator[list[str]]:
        """The "directories" directly below the prefix (each ending in '/'), a page at a time:
        S3's common prefixes of a listing with the delimiter '/'."""
        ...

    def skipped(self) -> list[Skipped]:
        """What the last listing passed over and why (read once the listing has ended)."""
        ...

    async def fetch(self, key: str, *, version_id: str | None = None) -> bytes: ...

    async def head(self, key: str) -> ListedObject | None:
        """The object's listing entry, or None when it does not exist."""
        ...

    async def versioned(self) -> bool: ...

    async def list_versions(self, key: str) -> list[ObjectVersion]: ...

    async def close(self) -> None: ...
