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

    async def fetch(self, key: str, *, version_id: str | None = None) -> bytes: ...

    async def head(self, key: str) -> ListedObject | None:
        """The object's listing entry, or None when it does not exist."""
        ...

    async def versioned(self) -> bool: ...

    async def list_versions(self, key: str) -> list[ObjectVersion]: ...

    async def close(self) -> None: ...
