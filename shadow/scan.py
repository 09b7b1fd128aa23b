"""The streaming scan: list the source, fetch what changed, store it in the ledger.

Neither the whole listing nor the ledger's whole ETag index is ever held: each page of the
listing is checked against the ledger on its own, so a scan's memory does not grow with the
bucket, and fetching overlaps listing. A failed fetch leaves its object unstored, so the next
scan fetches it again; a listing failure marks the listing incomplete, so the cycle does not
judge.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Protocol

from shadow.collectors import ListedObject, Source
from shadow.core.assemble import needs_body
from shadow.core.layout import KeyLayout, ObjectKind, Side
from shadow.core.objects import StoredObject
from shadow.core.pairing import shard_of
from shadow.core.profiles import Profile, translate
from shadow.core.records import parse_json
from shadow.core.vocabulary import RunState
from shadow.errors import SourceError
from shadow.ledger.store import Ledger

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
    listed: int = 0
    unchanged: int = 0
    fetched: int = 0
    skipped_too_large: int = 0
    versions_fetched: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    error_messages: list[str] = field(default_factory=list)
    failed_keys: set[str] = field(default_factory=set)
    processed: int = 0  # changed objects done with (stored or failed): progress, not a result
    listing_done: bool = False  # the listing has ended: `listed` is the whole count


class ScanObserver(Protocol):
    """Watches a scan in flight: it is handed the scan's live ScanStats, which it may read (a
    progress line, counters that move during the scan) but never writes."""

    def scan_started(self, stats: ScanStats) -> None: ...

    def scan_finished(self, stats: ScanStats) -> None: ...


class Scanner:
    """Reads the source into the ledger; knows nothing of normalizing or judging."""

    def __init__(self, source: Source | None, ledger: Ledger, opts: ScanOptions) -> None:
        self.source = source
        self.ledger = ledger
        self.opts = opts

    async def scan(self, now: float, observer: ScanObserver | None = None) -> ScanStats:
        """List the source and fetch what changed, while the listing is still going on."""
        stats = ScanStats()
        if self.source is None:
            raise SourceError("no source configured", kind="config", transient=False)
        if observer is not None:
            observer.scan_started(stats)
        try:
            await self._ingest(self._changed(self.source, stats), now, stats)
        finally:
            if observer is not None:
                observer.scan_finished(stats)
        return stats

    async def hinted(self, keys: list[str], now: float) -> ScanStats:
        """Fetch only these keys (a HEAD each, a GET if the ETag changed)."""
        stats = ScanStats()
        known = self.ledger.etags_of(keys)
        listed: list[ListedObject] = []
        for key in keys:
            if self.opts.layout.parse(key) is None or self.source is None:
                continue
            try:
                obj = await self.source.head(key)
            except SourceError as exc:
                stats.errors[exc.kind] += 1
                stats.error_messages.append(str(exc))
                stats.failed_keys.add(key)
                continue
            if obj is not None and known.get(key) != obj.etag:
                listed.append(obj)
        stats.listed = len(listed)
        await self._ingest(_each(listed), now, stats)
        return stats

    async def _changed(
        self, source: Source, stats: ScanStats
    ) -> AsyncGenerator[ListedObject, None]:
        async for page in source.list_pages(self.opts.layout.list_prefix):
            if self.opts.shard is not None:
                page = [o for o in page if self._mine(o.key)]
            for changed in self._unseen(page, stats):
                yield changed
        stats.listing_done = True
        for skipped in source.skipped():  # bad entries are counted; they do not fail the scan
            stats.errors[skipped.kind] += skipped.count
            stats.error_messages.append(skipped.message(source.description))

    def _unseen(self, page: list[ListedObject], stats: ScanStats) -> list[ListedObject]:
        """The objects of one listing page whose ETag the ledger does not hold (one query)."""
        stats.listed += len(page)
        known = self.ledger.etags_of([o.key for o in page])
        changed = [o for o in page if known.get(o.key) != o.etag]
        stats.unchanged += len(page) - len(changed)
        return changed

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
        batch = _Batch(self.ledger, now)
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
        if parsed is None or not needs_body(parsed.kind):
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
            stats.failed_keys.add(obj.key)
            return None
        stats.fetched += 1
        if parsed.kind is ObjectKind.STATUS:
            profile = self.opts.profiles[parsed.side]
            await self._observe(parsed.run_dir, obj.key, body, now, stats, profile)
        return StoredObject(obj.key, obj.etag, obj.size, obj.last_modified, first_seen, body)

    async def _observe(
        self, run_dir: str, key: str, body: bytes, now: float, stats: ScanStats, profile: Profile
    ) -> None:
        if self.opts.use_versions and self.source is not None:
            try:
                states = await self._versioned_states(key, stats, profile)
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
        self, key: str, stats: ScanStats, profile: Profile
    ) -> list[tuple[str, float]] | None:
        assert self.source is not None
        versions = await self.source.list_versions(key)
        if not versions:
            return None
        out: list[tuple[str, float]] = []
        for v in versions:  # oldest first, as the source returns them
            body = await self.source.fetch(key, version_id=v.version_id)
            stats.versions_fetched += 1
            state = _state_of(body, profile)
            if state is not None:
                out.append((state, v.last_modified))
        return out


class _Batch:
    """Fetched objects waiting to be written, in transactions of `_SAVE_BATCH` rows."""

    def __init__(self, ledger: Ledger, fetched_at: float) -> None:
        self._ledger, self._at = ledger, fetched_at
        self._rows: list[StoredObject] = []

    def add(self, row: StoredObject) -> None:
        self._rows.append(row)
        if len(self._rows) >= _SAVE_BATCH:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            rows, self._rows = self._rows, []
            self._ledger.save_objects(rows, self._at)


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
    state = translate(doc, "status", profile).get("status")
    return state if isinstance(state, str) and state in RunState._value2member_map_ else None
