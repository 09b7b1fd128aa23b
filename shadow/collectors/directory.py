"""The embedded default source: a local directory laid out like the bucket.

Read-only by construction: files are opened for reading only. The "ETag" is size plus
modification time in nanoseconds, so an unchanged file is never read twice. Symbolic links
are not followed, so nothing outside the root is read. A directory has no versions: history
comes from polling.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from shadow.collectors import ListedObject, ObjectVersion
from shadow.errors import ErrorKind, SourceError

_PAGE = 1000  # the same page size as an S3 listing


class DirectorySource:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = f"dir:{root}"
        self.skipped_names = 0  # names that are not valid UTF-8 cannot be keys

    def _check_root(self) -> None:
        if not self.root.is_dir():
            raise SourceError(
                f"source directory {self.root} does not exist or is not a directory",
                kind=ErrorKind.NOT_FOUND,
                transient=False,
            )

    def _start(self, prefix: str) -> Path | None:
        """The deepest directory that holds every key under the prefix; None when it is missing
        or reached through a symbolic link (nothing outside the root is read)."""
        start = self.root.joinpath(*prefix.split("/")[:-1])
        if start.resolve() != self.root.resolve().joinpath(*prefix.split("/")[:-1]):
            return None
        return start if start.is_dir() else None

    def _walk(self, prefix: str) -> Iterator[ListedObject]:
        self._check_root()
        start = self._start(prefix)
        if start is None:
            return
        # Walked from the prefix's own directory: listing one run directory reads that
        # directory, not the whole tree.
        for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, self.root)
            for name in sorted(filenames):
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                key = rel.replace(os.sep, "/")
                if not key.startswith(prefix):
                    continue
                try:
                    key.encode("utf-8")
                    st = os.lstat(os.path.join(dirpath, name))
                except UnicodeEncodeError:
                    self.skipped_names += 1
                    continue
                except OSError:
                    continue  # vanished between walk and stat: the next scan sees the truth
                if not os.path.isfile(os.path.join(dirpath, name)) or os.path.islink(
                    os.path.join(dirpath, name)
                ):
                    continue
                yield ListedObject(key, f"{st.st_size}-{st.st_mtime_ns}", st.st_size, st.st_mtime)

    def _dirs(self, prefix: str) -> list[str]:
        self._check_root()
        start = self._start(prefix)
        if start is None:
            return []
        head = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
        out = []
        with os.scandir(start) as entries:
            for e in entries:
                name = head + e.name + "/"
                if not name.startswith(prefix) or not e.is_dir(follow_symlinks=False):
                    continue
                try:
                    name.encode("utf-8")
                except UnicodeEncodeError:
                    self.skipped_names += 1
                    continue
                out.append(name)
        return sorted(out)

    async def list_dirs(self, prefix: str) -> AsyncIterator[list[str]]:
        dirs = await asyncio.to_thread(self._dirs, prefix)
        for i in range(0, len(dirs), _PAGE):
            yield dirs[i : i + _PAGE]

    async def list_pages(self, prefix: str) -> AsyncIterator[list[ListedObject]]:
        # Walked a page at a time, off the event loop: never the whole tree's listing at once.
        walk = self._walk(prefix)
        while page := await asyncio.to_thread(lambda: list(itertools.islice(walk, _PAGE))):
            yield page

    def _read(self, key: str) -> bytes:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise SourceError(
                f"key {key!r} points outside {self.root}",
                kind=ErrorKind.INVALID_KEY,
                transient=False,
            )
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except FileNotFoundError as exc:
            raise SourceError(
                f"{self.description}: {key} vanished before it was read", kind=ErrorKind.NOT_FOUND
            ) from exc
        except OSError as exc:
            raise SourceError(
                f"{self.description}: cannot read {key}: {exc.strerror}",
                kind=ErrorKind.IO,
                transient=True,
            ) from exc

    async def fetch(self, key: str, *, version_id: str | None = None) -> bytes:
        return await asyncio.to_thread(self._read, key)

    def _head(self, key: str) -> ListedObject | None:
        path = self.root / key
        if not path.resolve().is_relative_to(self.root.resolve()) or path.is_symlink():
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        return ListedObject(key, f"{st.st_size}-{st.st_mtime_ns}", st.st_size, st.st_mtime)

    async def head(self, key: str) -> ListedObject | None:
        return await asyncio.to_thread(self._head, key)

    async def versioned(self) -> bool:
        return False

    async def list_versions(self, key: str) -> list[ObjectVersion]:
        return []

    async def close(self) -> None:
        return None
