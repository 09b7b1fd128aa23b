"""The streaming scan: list the source, fetch what changed, store it in the ledger.

Two kinds of scan. A full scan (a reconcile) lists every object under the layout's prefix. An
incremental scan lists the run directories with a delimiter (one request per 1,000) and the
objects of only those that can still change: not settled, new to the ledger, or hinted by a
bucket notification. A settled run directory is terminal, judged, and quiet past the grace
period (the cycle settles them); a change found in one by a full scan is counted.

Neither the whole listing nor the ledger's whole ETag index is ever held: each page of the
listing is checked against the ledger on its own, so a scan's memory does not grow with the
bucket, and fetching overlaps listing. A failed fetch leaves its object unstored and is
recorded in the ledger until the key is read, so the next scan fetches it again and a judgement
from the ledger alone holds its pair; a listing failure marks the listing incomplete, so the
cycle does not judge.

Over 400 lines on purpose: both scans, the hinted reads and the versioned history feed one
ingest pipeline (bounded queue, fetchers, batched writes), and splitting it would spread that
pipeline's invariants over several files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Collection
from dataclasses import dataclass, field
from typing import Protocol

from shadow.collectors import ListedObject, Source
from shadow.core.assemble import wants_body
from shadow.core.layout import KeyLayout, Layout, ObjectKind, Side
from shadow.core.objects import StoredObject
from shadow.core.pairing import shard_of
from shadow.core.profiles import Profile, translate
from shadow.core.reading import read_state
from shadow.core.records import parse_json
from shadow.core.vocabulary import RunState
from shadow.errors import ErrorKind, SourceError
from shadow.ledger.store import Ledger

log = logging.getLogger("shadow.scan")

_QUEUED = 1000  # listed objects waiting for a fetcher, at most
_SAVE_BATCH = 500  # fetched objects written in one transaction


@dataclass(frozen=True, slots=True)
class ScanOptions:
    layout: KeyLayout
    profiles: dict[Side, Profile]
    max_object_bytes: int = 1024 * 1024
    concurrency: int = 16
    use_versions: bool = False
    shard: tuple[int, int] | None = None  # (index, count): this process reads one slice


@dataclass(slots=True)
class ScanStats:
    ok: bool = True
    listing_complete: bool = True  # False: the cycle does not judge (the last judgement stands)
    full: bool = True  # every object listed (a reconcile); False: only what can still change
    listed: int = 0  # objects listed
    unchanged: int = 0
    fetched: int = 0
    skipped_too_large: int = 0
    versions_fetched: int = 0
    dirs_listed: int = 0  # run directories seen in the delimiter listing (incremental scans)
    dirs_skipped: int = 0  # of those, settled ones whose objects were not listed
    # settled run directories in which a full scan found a change (re-read and judged)
    settled_changed: set[str] = field(default_factory=set)
    errors: Counter[ErrorKind] = field(default_factory=Counter)
    error_messages: list[str] = field(default_factory=list)
    failed_keys: dict[str, ErrorKind] = field(default_factory=dict)
    covered: set[str] = field(default_factory=set)  # run dirs whose objects were listed in full
    seconds: float = 0.0  # wall time of the scan alone (the cycle's rest is judging)
    processed: int = 0  # changed objects done with (stored or failed): progress, not a result
    listing_done: bool = False  # the listing has ended: `listed` is the whole count


class ScanObserver(Protocol):
    """Watches a scan in flight: it is handed the scan's live ScanStats, which it may read (a
    progress line, counters that move during the scan) but never writes."""

    def scan_started(self, stats: ScanStats) -> None: ...

    def scan_finished(self, stats: ScanStats) -> None: ...


class Scanner:
    """Reads the source into the ledger; knows nothing of normalizing or judging.

    `progress`, when set, is called with the running stats after each listing page and each
    batch of stored objects (a progress line or log; it must not block).
    """

    def __init__(
        self,
        source: Source | None,
        ledger: Ledger,
        opts: ScanOptions,
        progress: Callable[[ScanStats], None] | None = None,
    ) -> None:
        self.source = source
        self.ledger = ledger
        self.opts = opts
        self.progress = progress

    async def scan(
        self,
        now: float,
        observer: ScanObserver | None = None,
        *,
        full: bool = True,
        hinted: Collection[str] = (),
    ) -> ScanStats:
        """List the source and fetch what changed, while the listing is still going on.

        `full`: list every object (a reconcile); otherwise only the run directories that can
        still change, and those of the `hinted` keys.
        """
        stats = ScanStats(full=full)
        if self.source is None:
            raise SourceError("no source configured", kind=ErrorKind.CONFIG, transient=False)
        if full:
            objects = self._changed(self.source, stats)
        else:
            dirs = {p.run_dir for k in hinted if (p := self.opts.layout.parse(k)) is not None}
            objects = self._changed_in_dirs(self.source, stats, dirs)
        if observer is not None:
            observer.scan_started(stats)
        started = time.monotonic()
        try:
            await self._ingest(objects, now, stats)
        finally:
            stats.seconds = time.monotonic() - started
            if observer is not None:
                observer.scan_finished(stats)
        if stats.listing_complete:
            self._record_failures(stats, now, None if full else sorted(stats.covered), ())
        else:  # what was not listed keeps its stored failures
            self._record_failures(stats, now, [], ())
        return stats

    async def hinted(self, keys: list[str], now: float) -> ScanStats:
        """Fetch only these keys (a HEAD each, a GET if the ETag changed)."""
        stats = ScanStats(full=False)
        known = self.ledger.etags_of(keys)
        source = self.source
        gate = asyncio.Semaphore(max(1, self.opts.concurrency))

        async def head(key: str) -> ListedObject | None:
            if self.opts.layout.parse(key) is None or source is None:
                return None
            async with gate:
                try:
                    return await source.head(key)
                except SourceError as exc:
                    stats.errors[exc.kind] += 1
                    stats.error_messages.append(str(exc))
                    stats.failed_keys[key] = exc.kind
                    return None

        heads = await asyncio.gather(*(head(k) for k in keys))
        listed = [o for o in heads if o is not None and known.get(o.key) != o.etag]
        stats.listed = len(listed)
        await self._ingest(_each(listed), now, stats)
        self._record_failures(stats, now, [], keys)
        return stats

    def _record_failures(
        self, stats: ScanStats, now: float, run_dirs: list[str] | None, keys: Collection[str]
    ) -> None:
        failures = [
            (k, p.run_dir, kind.value)
            for k, kind in sorted(stats.failed_keys.items())
            if (p := self.opts.layout.parse(k)) is not None
        ]
        if failures or run_dirs is None or run_dirs or keys:
            self.ledger.replace_failures(failures, now, run_dirs=run_dirs, keys=sorted(keys))

    async def _changed(
        self, source: Source, stats: ScanStats
    ) -> AsyncGenerator[ListedObject, None]:
        async for page in source.list_pages(self.opts.layout.list_prefix):
            if self.opts.shard is not None:
                page = [o for o in page if self._mine(o.key)]
            changed = self._unseen(page, stats)
            self._note_dirs(page, changed, stats)
            self._report(stats)
            for obj in changed:
                yield obj
        self._listing_ended(source, stats)

    def _listing_ended(self, source: Source, stats: ScanStats) -> None:
        stats.listing_done = True
        for skipped in source.skipped():  # bad entries are counted; they do not fail the scan
            stats.errors[ErrorKind(skipped.kind)] += skipped.count
            stats.error_messages.append(skipped.message(source.description))

    def _note_dirs(
        self, page: list[ListedObject], changed: list[ListedObject], stats: ScanStats
    ) -> None:
        """A full scan: count settled directories found changed; track untracked ones."""
        latest: dict[str, float] = {}
        for o in page:
            if (p := self.opts.layout.parse(o.key)) is not None:
                latest[p.run_dir] = max(latest.get(p.run_dir, 0.0), o.last_modified)
        if not latest:
            return
        states = self.ledger.dir_states(sorted(latest))
        touched = {p.run_dir for o in changed if (p := self.opts.layout.parse(o.key)) is not None}
        found = sorted(d for d in touched if states.get(d))
        if found:
            log.warning(
                "%d settled run(s) changed since they were judged (e.g. %s): re-reading them",
                len(found),
                found[0],
            )
            stats.settled_changed.update(found)
        new = [(d, t) for d, t in sorted(latest.items()) if d not in states and d not in touched]
        if new:
            self.ledger.know_dirs(new)

    async def _changed_in_dirs(
        self, source: Source, stats: ScanStats, hinted: set[str]
    ) -> AsyncGenerator[ListedObject, None]:
        """The changed objects of the run directories that can still change."""
        async for dirs in self._run_dirs(source):
            stats.dirs_listed += len(dirs)
            states = self.ledger.dir_states(dirs)
            todo = [d for d in dirs if not states.get(d) or d in hinted]
            stats.dirs_skipped += len(dirs) - len(todo)
            # A chunk's directories are listed concurrently; the fetchers work meanwhile.
            step = max(1, self.opts.concurrency) * 4
            for i in range(0, len(todo), step):
                chunk = todo[i : i + step]
                pages = await self._list_each(source, chunk)
                for d, page in zip(chunk, pages, strict=True):
                    stats.covered.add(d)
                    changed = self._unseen(page, stats)
                    if d not in states and not changed and page:
                        self.ledger.know_dirs([(d, max(o.last_modified for o in page))])
                    for obj in changed:
                        yield obj
                self._report(stats)
        self._listing_ended(source, stats)

    async def _run_dirs(self, source: Source) -> AsyncGenerator[list[str], None]:
        """Pages of the run directories under the layout's prefix (this shard's only)."""
        layout = self.opts.layout
        if layout.layout is Layout.FLAT:
            async for page in source.list_dirs(layout.list_prefix):
                yield [d for d in page if self._mine_dir(d)]
            return
        async for agents in source.list_dirs(layout.list_prefix):
            for agent in agents:
                # A shard owns whole agents in the nested layout: others' are not even listed.
                if self.opts.shard is not None and not self._mine_dir(agent + "runs/x/"):
                    continue
                async for page in source.list_dirs(agent + "runs/"):
                    yield [d for d in page if self._mine_dir(d)]

    async def _list_each(self, source: Source, dirs: list[str]) -> list[list[ListedObject]]:
        """The objects of each of these directories, listed `concurrency` at a time."""
        gate = asyncio.Semaphore(max(1, self.opts.concurrency))

        async def one(d: str) -> list[ListedObject]:
            async with gate:
                return [o for page in [p async for p in source.list_pages(d)] for o in page]

        tasks = [asyncio.ensure_future(one(d)) for d in dirs]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)  # none left unretrieved

    def _unseen(self, page: list[ListedObject], stats: ScanStats) -> list[ListedObject]:
        """The objects of one listing page whose ETag the ledger does not hold (one query)."""
        stats.listed += len(page)
        known = self.ledger.etags_of([o.key for o in page])
        changed = [o for o in page if known.get(o.key) != o.etag]
        stats.unchanged += len(page) - len(changed)
        return changed

    def _report(self, stats: ScanStats) -> None:
        if self.progress is not None:
            self.progress(stats)

    def _mine_dir(self, run_dir: str) -> bool:
        """Whether this shard owns a run directory (judged by a key inside it)."""
        return self.opts.shard is None or self._mine(run_dir + "status.json")

    def mine(self, key: str) -> bool:
        """Whether this process reads the key (always, unsharded)."""
        return self.opts.shard is None or self._mine(key)

    def _mine(self, key: str) -> bool:
        """Whether this shard owns the key's run (keys outside any run belong to shard 0).

        In the nested layout the agent is in the key, so a shard owns whole agents and every
        window check (concurrency, schedules, per-agent verdicts) stays inside one process. In the
        flat layout only the run id is known before reading, so shards split agents and a
        concurrency overlap between runs of different shards goes unseen (docs/scaling.md).
        """
        assert self.opts.shard is not None
        parsed = self.opts.layout.parse(key)
        index, count = self.opts.shard
        if parsed is None:
            return index == 0
        return index == shard_of(parsed.agent_from_path or parsed.pairing_key, count)

    async def _ingest(
        self, objects: AsyncGenerator[ListedObject, None], now: float, stats: ScanStats
    ) -> None:
        """Fetch and store what `objects` yields, `concurrency` fetches at a time.

        A fixed pool of fetchers reads a bounded queue, so a backfill of a million objects holds
        a queue's worth of them, not a million pending tasks. Stored rows are written in batches
        as they arrive: a backfill interrupted half-way keeps the half it fetched. A listing
        failure stops the feeding (what was not yet started is left for the next scan) and
        marks the listing incomplete, so the cycle does not judge.
        """
        queue: asyncio.Queue[ListedObject | None] = asyncio.Queue(maxsize=_QUEUED)
        batch = _Batch(self.ledger, now, self.opts.layout, lambda: self._report(stats))
        broken: list[Exception] = []  # an unexpected error in a fetcher (the ledger failing)

        async def fetcher() -> None:
            while (obj := await queue.get()) is not None:
                if broken:
                    continue  # keep draining so the feeder never blocks
                try:
                    row = await self._fetch_one(obj, now, stats)
                    if row is not None:
                        batch.add(row)
                except Exception as exc:  # re-raised below, once every fetcher has stopped
                    broken.append(exc)
                stats.processed += 1

        workers = [asyncio.create_task(fetcher()) for _ in range(max(1, self.opts.concurrency))]
        try:
            try:
                async with contextlib.aclosing(objects):  # a break closes the listing now
                    async for obj in objects:
                        if broken:
                            break
                        await queue.put(obj)
            except SourceError as exc:
                stats.ok = stats.listing_complete = False
                stats.errors[exc.kind] += 1
                stats.error_messages.append(str(exc))
                while not queue.empty():
                    queue.get_nowait()
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()  # only when the scan itself was cancelled; a no-op otherwise
            if not broken:
                batch.flush()
        if broken:
            raise broken[0]

    async def _fetch_one(
        self, obj: ListedObject, now: float, stats: ScanStats
    ) -> StoredObject | None:
        """The row to store for a listed object, or None when fetching it failed."""
        parsed = self.opts.layout.parse(obj.key)
        first_seen = min(obj.last_modified, now)
        if parsed is None or not wants_body(parsed, self.opts.profiles[parsed.side]):
            return StoredObject(obj.key, obj.etag, obj.size, obj.last_modified, first_seen, None)
        if obj.size > self.opts.max_object_bytes:
            stats.skipped_too_large += 1
            return StoredObject(
                obj.key, obj.etag, obj.size, obj.last_modified, first_seen, None, True
            )
        assert self.source is not None
        try:
            body = await self.source.fetch(obj.key)
        except SourceError as exc:
            stats.ok = False
            stats.errors[exc.kind] += 1
            stats.error_messages.append(str(exc))
            stats.failed_keys[obj.key] = exc.kind
            return None
        stats.fetched += 1
        if parsed.kind is ObjectKind.STATUS:
            profile = self.opts.profiles[parsed.side]
            await self._observe(parsed.run_dir, obj, body, now, stats, profile)
        return StoredObject(obj.key, obj.etag, obj.size, obj.last_modified, first_seen, body)

    async def _observe(
        self,
        run_dir: str,
        obj: ListedObject,
        body: bytes,
        now: float,
        stats: ScanStats,
        profile: Profile,
    ) -> None:
        if self.opts.use_versions and self.source is not None:
            try:
                states = await self._versioned_states(obj, body, stats, profile)
            except SourceError as exc:
                stats.errors[exc.kind] += 1
                stats.error_messages.append(str(exc))
                states = None
            if states is not None:
                self.ledger.replace_history(run_dir, states)
                return
        state = _state_of(body, profile)
        if state is not None:
            self.ledger.append_observation(run_dir, state, now)

    async def _versioned_states(
        self, obj: ListedObject, current: bytes, stats: ScanStats, profile: Profile
    ) -> list[tuple[str, float]] | None:
        """The states of every version of a status.json, oldest first.

        Only versions not read before are fetched (a key's history grows one version at a
        time; re-reading all of them on every change is quadratic over a run's life), each
        under `max_object_bytes` by the listing's size, and the current version is the body
        just read.
        """
        assert self.source is not None
        key = obj.key
        versions = await self.source.list_versions(key)
        if not versions:
            return None
        seen = self.ledger.seen_versions(key)
        new: list[tuple[str, int, str | None, float]] = []
        out: list[tuple[str, float]] = []
        for i, v in enumerate(versions):  # oldest first, as the source returns them
            if v.version_id in seen:
                state = seen[v.version_id]
            elif v.size > self.opts.max_object_bytes:
                stats.skipped_too_large += 1
                state = None
                new.append((v.version_id, i, None, v.last_modified))
            else:
                if v.is_latest and v.etag == obj.etag:
                    body = current
                else:
                    body = await self.source.fetch(key, version_id=v.version_id)
                    stats.versions_fetched += 1
                state = _state_of(body, profile)
                new.append((v.version_id, i, state, v.last_modified))
            if state is not None:
                out.append((state, v.last_modified))
        if new:
            self.ledger.save_versions(key, new)
        return out


class _Batch:
    """Fetched objects waiting to be written, in transactions of `_SAVE_BATCH` rows."""

    def __init__(
        self, ledger: Ledger, fetched_at: float, layout: KeyLayout, saved: Callable[[], None]
    ) -> None:
        self._ledger, self._at, self._layout, self._saved = ledger, fetched_at, layout, saved
        self._rows: list[StoredObject] = []

    def add(self, row: StoredObject) -> None:
        self._rows.append(row)
        if len(self._rows) >= _SAVE_BATCH:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            rows, self._rows = self._rows, []
            dirs: dict[str, float] = {}
            for o in rows:
                if (p := self._layout.parse(o.key)) is not None:
                    dirs[p.run_dir] = max(dirs.get(p.run_dir, 0.0), o.last_modified)
            self._ledger.save_objects(rows, self._at, dirs)
            self._saved()


async def _each(items: list[ListedObject]) -> AsyncGenerator[ListedObject, None]:
    for item in items:
        yield item


def _state_of(body: bytes, profile: Profile) -> str | None:
    """The canonical state a status.json body records, for the transition history."""
    try:
        doc = parse_json(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    if profile.declarative:
        read = read_state(doc, profile.compiled)
        return read.value if read is not None else None
    state = translate(doc, "status", profile).get("status")
    return state if isinstance(state, str) and state in RunState._value2member_map_ else None
