"""The embedded default source: a local directory laid out like the bucket.

Read-only by construction: files are opened for reading only. The "ETag" is size plus
modification time in nanoseconds, so an unchanged file is never read twice. Symbolic links
are not followed, so nothing outside the root is read. A directory has no versions: history
comes from polling.

Only regular files are objects. A file is opened non-blocking and checked with `fstat` before
it is read, so a FIFO or a device swapped in for an object is refused instead of blocking a
thread forever. Blocking calls run on this source's own daemon threads: a read stuck in the
kernel (a hung network mount) holds one of them, never the process's exit.

Nothing is passed over in silence. Entries that cannot be objects (names that are not UTF-8,
symbolic links, FIFOs, sockets, devices) are counted and named as scan errors, and the
listing goes on. A directory that cannot be read makes the listing incomplete, so the cycle
does not judge: what it holds is unknown, and judging without it would call its runs lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import os
import queue
import stat
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from shadow.collectors import ListedObject, ObjectVersion, Skipped
from shadow.errors import ErrorKind, SourceError

_PAGE = 1000  # the same page size as an S3 listing
_THREADS = 16  # blocking calls in flight at once (the fetch concurrency's default)
_EXAMPLES = 3  # entries named in a message about skipped entries
T = TypeVar("T")


class DirectorySource:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = f"dir:{root}"
        self._threads = DaemonThreads(_THREADS)
        self._skipped: dict[str, list[str]] = {}  # what the last walk passed over, by why

    # listing -----------------------------------------------------------------------------
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
        self._skipped = {}
        start = self._start(prefix)
        if start is None:
            return
        unreadable: list[OSError] = []
        # Walked from the prefix's own directory: listing one run directory reads that
        # directory, not the whole tree (a settled bucket lists only its active runs).
        for dirpath, dirnames, filenames in os.walk(
            start, onerror=unreadable.append, followlinks=False
        ):
            rel_dir = os.path.relpath(dirpath, self.root)
            base = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
            # Descend only where keys under the prefix can be (a mount's lost+found is not ours).
            dirnames[:] = sorted(d for d in dirnames if self._keep_dir(dirpath, base, d, prefix))
            for name in sorted(filenames):
                key = base + name
                if not key.startswith(prefix):
                    continue
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue  # vanished between walk and stat: the next scan sees the truth
                if not _utf8(key):
                    self._skip("name not valid UTF-8", key)
                elif not stat.S_ISREG(st.st_mode):
                    self._skip("not a regular file", f"{key} ({_type(st)})")
                else:
                    yield ListedObject(
                        key, f"{st.st_size}-{st.st_mtime_ns}", st.st_size, st.st_mtime
                    )
        if unreadable:
            raise self._unreadable(unreadable)

    def _keep_dir(self, dirpath: str, base: str, name: str, prefix: str) -> bool:
        rel = base + name + "/"
        if not (rel.startswith(prefix) or prefix.startswith(rel)):
            return False
        if not _utf8(rel):
            self._skip("name not valid UTF-8", rel)
            return False
        if os.path.islink(os.path.join(dirpath, name)):
            self._skip("not a regular file", f"{rel} (symbolic link)")
            return False
        return True

    def _skip(self, why: str, what: str) -> None:
        self._skipped.setdefault(why, []).append(_printable(what))

    def _unreadable(self, errors: list[OSError]) -> SourceError:
        denied = all(e.errno in (errno.EACCES, errno.EPERM) for e in errors)
        named = "; ".join(f"{self._rel(e.filename)}: {e.strerror}" for e in errors[:_EXAMPLES]) + (
            f"; and {len(errors) - _EXAMPLES} more" if len(errors) > _EXAMPLES else ""
        )
        return SourceError(
            f"{self.description}: cannot list {len(errors)} "
            f"director{'y' if len(errors) == 1 else 'ies'} ({named}); the listing is "
            "incomplete, so this cycle does not judge",
            kind=ErrorKind.ACCESS_DENIED if denied else ErrorKind.IO,
            transient=not denied,
        )

    def _rel(self, filename: Any) -> str:
        path = os.fsdecode(filename) if filename is not None else str(self.root)
        rel = os.path.relpath(path, self.root)
        return _printable("." if rel == "." else rel.replace(os.sep, "/") + "/")

    def skipped(self) -> list[Skipped]:
        """What the last listing passed over, and why (read once the listing has ended)."""
        return [
            Skipped(ErrorKind.INVALID_KEY, len(keys), why, tuple(keys[:_EXAMPLES]))
            for why, keys in sorted(self._skipped.items())
        ]

    async def list_pages(self, prefix: str) -> AsyncIterator[list[ListedObject]]:
        # Walked a page at a time, off the event loop: never the whole tree's listing at once.
        walk = self._walk(prefix)
        while page := await self._threads.run(lambda: list(itertools.islice(walk, _PAGE))):
            yield page

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
                if _utf8(name):
                    out.append(name)
                else:
                    self._skip("name not valid UTF-8", name)
        return sorted(out)

    async def list_dirs(self, prefix: str) -> AsyncIterator[list[str]]:
        dirs = await self._threads.run(lambda: self._dirs(prefix))
        for i in range(0, len(dirs), _PAGE):
            yield dirs[i : i + _PAGE]

    # reading -----------------------------------------------------------------------------
    def _read(self, key: str) -> bytes:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise SourceError(
                f"key {key!r} points outside {self.root}",
                kind=ErrorKind.INVALID_KEY,
                transient=False,
            )
        try:
            # O_NONBLOCK: opening a FIFO waits for a writer otherwise; fstat then tells the
            # regular file (for which O_NONBLOCK changes nothing) from anything else.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
            with open(fd, "rb", closefd=True) as fh:
                st = os.fstat(fh.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise SourceError(
                        f"{self.description}: {key} is not a regular file ({_type(st)}); not read",
                        kind=ErrorKind.INVALID_KEY,
                        transient=False,
                    )
                return fh.read()
        except FileNotFoundError as exc:
            raise SourceError(
                f"{self.description}: {key} vanished before it was read", kind=ErrorKind.NOT_FOUND
            ) from exc
        except OSError as exc:  # opening or reading
            raise SourceError(
                f"{self.description}: cannot read {key}: {exc.strerror}",
                kind=ErrorKind.IO,
                transient=True,
            ) from exc

    async def fetch(self, key: str, *, version_id: str | None = None) -> bytes:
        return await self._threads.run(lambda: self._read(key))

    def _head(self, key: str) -> ListedObject | None:
        """The key's listing entry; None unless it is a regular file inside the root."""
        path = self.root / key
        if not path.resolve().is_relative_to(self.root.resolve()):
            return None
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None  # a FIFO named by a hint is no object: the listing counts it
        return ListedObject(key, f"{st.st_size}-{st.st_mtime_ns}", st.st_size, st.st_mtime)

    async def head(self, key: str) -> ListedObject | None:
        return await self._threads.run(lambda: self._head(key))

    async def versioned(self) -> bool:
        return False

    async def list_versions(self, key: str) -> list[ObjectVersion]:
        return []

    async def close(self) -> None:
        self._threads.stop()


class DaemonThreads:
    """A fixed set of daemon threads for blocking calls, awaited from the event loop.

    `asyncio.to_thread` uses the loop's default executor, whose threads `asyncio.run` joins on
    the way out and the interpreter joins again at exit: one call stuck in the kernel keeps a
    stopped daemon alive. These threads are never joined; a caller that stops waiting (a
    cancelled cycle at shutdown) leaves a stuck call behind, not a process that cannot exit.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._calls: queue.SimpleQueue[tuple[Callable[[], Any], Any, Any] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    async def run(self, call: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._start()
        self._calls.put((call, future, loop))
        return await future

    def _start(self) -> None:
        with self._lock:
            if not self._threads:
                for i in range(self.size):
                    t = threading.Thread(target=self._work, name=f"shadow-dir-{i}", daemon=True)
                    t.start()
                    self._threads.append(t)

    def stop(self) -> None:
        """Let idle threads end; a thread stuck in a call is left to the kernel."""
        with self._lock:
            for _ in self._threads:
                self._calls.put(None)
            self._threads = []

    def _work(self) -> None:
        while (item := self._calls.get()) is not None:
            call, future, loop = item
            try:
                result, error = call(), None
            except BaseException as exc:  # handed to the awaiting coroutine, not lost
                result, error = None, exc
            # A closed loop (RuntimeError) means nobody waits for this answer any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.walk decodes undecodable bytes as lone surrogates
        return False
    return True


def _printable(name: str) -> str:
    """A name that prints and stores anywhere: undecodable bytes shown as `\\xff`."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _type(st: os.stat_result) -> str:
    for test, name in (
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISDIR, "directory"),
    ):
        if test(st.st_mode):
            return name
    return "not a regular file"
