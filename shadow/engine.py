"""The scan-and-judge cycle: the only place that knows the order of the pipeline.

    list -> fetch what changed -> store -> assemble -> normalize -> judge -> report -> store

`shadow scan --once` runs one cycle, the daemon schedules it, tests call it directly. Time is
an argument. A listing failure ends the cycle before judging, so the previous judgement stands;
a failed fetch leaves its object unstored, so the next cycle fetches it again. Normalized runs
are cached by the (key, ETag) signature of their objects: an unchanged run is not re-parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shadow.collectors import ListedObject, Source
from shadow.core import normalize as normalize_rules
from shadow.core.assemble import RunObjects, assemble, group_objects, needs_body
from shadow.core.layout import KeyLayout, ObjectKind, Side
from shadow.core.normalize import NormalizeOptions, normalize
from shadow.core.objects import StoredObject
from shadow.core.pairing import Grouped, PairBy, group_runs, shard_of
from shadow.core.profiles import GARDEN, Profile, translate
from shadow.core.records import Rejected, parse_json
from shadow.core.runs import NormalizedRun
from shadow.core.vocabulary import RunState
from shadow.core.waivers import Waiver
from shadow.errors import SourceError, StoreError
from shadow.judging.judge import Judgement, JudgeOptions, judge
from shadow.judging.report import Report, build_report, with_runs_of
from shadow.ledger import runcodec
from shadow.ledger.store import Ledger, ResultRow, VerdictRow

log = logging.getLogger("shadow.engine")

_QUEUED = 1000  # listed objects waiting for a fetcher, at most
_SAVE_BATCH = 500  # fetched objects written in one transaction


@dataclass(frozen=True, slots=True)
class EngineOptions:
    layout: KeyLayout
    normalize: NormalizeOptions
    judge: JudgeOptions
    waivers: tuple[Waiver, ...] = ()
    config_hash: str = ""
    max_object_bytes: int = 1024 * 1024
    concurrency: int = 16
    use_versions: bool = False
    pair_by: PairBy = PairBy.RUN_ID
    stratum_noun: str = "agents"
    shard: tuple[int, int] | None = None  # (index, count): this process judges one slice
    profiles: dict[Side, Profile] = field(default_factory=lambda: {s: GARDEN for s in Side})


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


@dataclass(frozen=True, slots=True)
class CycleSummary:
    started: float
    finished: float
    scan: ScanStats
    head: Report | None  # the report without its runs; None when the cycle could not judge
    judgement: Judgement | None

    @property
    def duration_seconds(self) -> float:
        return self.finished - self.started

    @property
    def report(self) -> Report | None:
        """The whole report, runs included, built on each access (metrics need only `head`)."""
        if self.head is None or self.judgement is None:
            return None
        return with_runs_of(self.head, self.judgement)


class Engine:
    def __init__(self, source: Source | None, ledger: Ledger, opts: EngineOptions) -> None:
        self.source = source
        self.ledger = ledger
        self.opts = opts
        # run dir -> (signature of its objects, history length, normalized run, rejections)
        self._cache: dict[str, tuple[int, int, NormalizedRun, tuple[Rejected, ...]]] = {}
        # The ledger generation and settings the cache reflects, and the runs grouped from it.
        self._cache_stamp: str | None = None
        self._grouped: tuple[Grouped, list[Rejected]] | None = None
        self._settings = _normalization_fingerprint(opts)
        # The last report without its runs: they are rebuilt from the judgement when asked for
        # (a RunOut per pair was a sixth of the memory held per tracked run).
        self.last_head: Report | None = None
        self.last_judgement: Judgement | None = None

    # scanning ----------------------------------------------------------------------------
    async def scan(self, now: float) -> ScanStats:
        """List the source and fetch what changed, while the listing is still going on.

        Neither the whole listing nor the ledger's whole ETag index is ever held: each page of
        the listing is checked against the ledger on its own, so a scan's memory does not grow
        with the bucket, and fetching overlaps listing.
        """
        stats = ScanStats()
        if self.source is None:
            raise SourceError("no source configured", kind="config", transient=False)
        await self._ingest(self._changed(self.source, stats), now, stats)
        return stats

    async def _changed(
        self, source: Source, stats: ScanStats
    ) -> AsyncGenerator[ListedObject, None]:
        async for page in source.list_pages(self.opts.layout.list_prefix):
            if self.opts.shard is not None:
                page = [o for o in page if self._mine(o.key)]
            for changed in self._unseen(page, stats):
                yield changed

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

    # judging -----------------------------------------------------------------------------
    def normalized_runs(self) -> tuple[Grouped, list[Rejected]]:
        """Every run, normalized, grouped into pairs; work done only for what changed.

        The ledger's generation names the evidence: while it stands still nothing is re-read.
        A fresh process first tries the normalized runs stored under the same generation and
        settings (one row per run); otherwise changed runs are re-assembled from their objects.
        """
        stamp = f"{self.ledger.generation()}:{self._settings}"
        if stamp != self._cache_stamp or self._grouped is None:
            with _gc_paused():
                if not (self._cache_stamp is None and self._restore(stamp)):
                    self._refresh(stamp, self._cache_stamp)
                self._cache_stamp = stamp
                rejected: list[Rejected] = []
                normalized: list[NormalizedRun] = []
                for d in sorted(self._cache):
                    _, _, run, rej = self._cache[d]
                    rejected.extend(rej)
                    normalized.append(run)
                self._grouped = (group_runs(normalized, self.opts.pair_by), rejected)
        grouped, rejected = self._grouped
        return grouped, list(rejected)

    def _restore(self, stamp: str) -> bool:
        rows = self.ledger.stored_runs(stamp)
        if rows is None:
            return False
        cache = {}
        try:
            for _, signature, hist_len, body in rows:
                run, rejected = runcodec.decode(body)
                cache[run.run_dir] = (signature, hist_len, run, rejected)  # one string, not two
        except runcodec.CodecError as exc:
            log.warning("stored normalized runs unreadable (%s); re-normalizing", exc)
            return False
        self._cache = cache
        return True

    def _refresh(self, stamp: str, previous: str | None) -> None:
        index = self.ledger.object_index()
        groups = group_objects(index, self.opts.layout)
        histories = self.ledger.histories()
        stale = [g for d, g in groups.items() if not self._fresh(d, g, histories)]
        first_versions = self.ledger.first_versions() if stale else {}
        bodies = self.ledger.bodies([k.key for g in stale for k in g.keys if needs_body(k.kind)])
        for g in stale:
            profile = self.opts.profiles[g.keys[0].side]
            ev = assemble(
                g,
                bodies,
                histories.get(g.run_dir),
                self.opts.max_object_bytes,
                profile,
                first_versions.get(g.run_dir),
            )
            hist_len = len(histories.get(g.run_dir, ("", []))[1])
            run = normalize(ev, self.opts.normalize)
            self._cache[g.run_dir] = (g.signature, hist_len, run, ev.rejected + run.rejected)
        gone = sorted(set(self._cache) - set(groups))
        for d in gone:
            del self._cache[d]
        self._store_runs(stamp, previous, [g.run_dir for g in stale], gone)

    def _store_runs(
        self, stamp: str, previous: str | None, changed: list[str], gone: list[str]
    ) -> None:
        """Keep the ledger's copy of the normalized runs current; it is a cache, so best effort.

        A delta applies only on top of what this cache last matched (`previous`): after a failed
        save, or rows written by another process, every run is written again.
        """
        stored = self.ledger.get_meta("runs_stamp")
        if stored == stamp and not changed and not gone:
            return
        if stored is None or stored != previous:
            changed = list(self._cache)
        rows = [(d, *self._cache[d][:2], runcodec.encode(*self._cache[d][2:])) for d in changed]
        try:
            self.ledger.save_runs(rows, gone, stamp)
        except StoreError as exc:
            log.warning("could not store normalized runs (%s); the next cycle retries", exc)

    def _fresh(
        self, run_dir: str, g: RunObjects, histories: dict[str, tuple[str, list[str]]]
    ) -> bool:
        cached = self._cache.get(run_dir)
        hist_len = len(histories.get(run_dir, ("", []))[1])
        return cached is not None and cached[0] == g.signature and cached[1] == hist_len

    def judge(
        self, now: float, failed_keys: frozenset[str] = frozenset(), *, with_runs: bool = True
    ) -> tuple[Judgement, Report]:
        runs, rejected = self.normalized_runs()
        held = frozenset(
            runs.key_of(p.run_dir, p.pairing_key)
            for k in failed_keys
            if (p := self.opts.layout.parse(k)) is not None
        )
        j = judge(runs.sides, now, self.opts.judge, self.opts.waivers, held, runs.duplicates)
        since = self._since(j.readiness.verdict.value)
        report = build_report(
            j,
            rejected,
            now,
            waivers=self.opts.waivers,
            config_hash=self.opts.config_hash,
            since=since,
            stratum_noun=self.opts.stratum_noun,
            with_runs=with_runs,
        )
        return j, report

    @property
    def last_report(self) -> Report | None:
        """The last cycle's whole report, runs included (None before the first judgement)."""
        if self.last_head is None or self.last_judgement is None:
            return None
        return with_runs_of(self.last_head, self.last_judgement)

    def _settle(self, at: float, stats: ScanStats) -> tuple[Judgement, Report]:
        """Judge after a scan, store the judgement, and keep it (and the report's head) to serve."""
        j, head = self.judge(at, frozenset(stats.failed_keys), with_runs=False)
        self.persist(j, head, at)
        self.last_head, self.last_judgement = head, j
        return j, head

    def _since(self, verdict: str) -> datetime | None:
        rows = self.ledger.verdicts()
        if rows and rows[-1].verdict == verdict:
            start = rows[-1].at
            for row in reversed(rows):
                if row.verdict != verdict:
                    break
                start = row.at
            return datetime.fromtimestamp(start, UTC)
        return None

    def persist(self, j: Judgement, report: Report, now: float) -> None:
        rows = [
            ResultRow(
                r.key,
                r.agent,
                r.state.value,
                r.outcome.value,
                json.dumps([f.model_dump(mode="json") for f in r.findings], sort_keys=True),
                r.duration_ratio,
            )
            for r in j.results
        ]
        verdict = VerdictRow(
            now, report.readiness.verdict.value, self.opts.config_hash, report.readiness.reasons
        )
        self.ledger.save_judgement(rows, verdict)

    async def run_hinted(self, keys: list[str], now: float | None = None) -> CycleSummary:
        """Fetch only the notified keys (a HEAD each, a GET if the ETag changed), then judge."""
        started = time.time()
        at = now if now is not None else started
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
        await self._ingest(_each(listed), at, stats)
        j, head = self._settle(at, stats)
        return CycleSummary(started, time.time(), stats, head, j)

    async def run_cycle(self, now: float | None = None) -> CycleSummary:
        started = time.time()
        at = now if now is not None else started
        stats = await self.scan(at)
        if not stats.listing_complete:
            self.ledger.record_scan(started, time.time(), False, 0, 0, dict(stats.errors))
            return CycleSummary(started, time.time(), stats, None, None)
        j, head = self._settle(at, stats)
        self.ledger.record_scan(
            started, time.time(), stats.ok, stats.listed, stats.fetched, dict(stats.errors)
        )
        return CycleSummary(started, time.time(), stats, head, j)


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


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Build the run cache without the cyclic collector, then freeze what was built.

    The cache is millions of long-lived, acyclic objects (frozen dataclasses, tuples, records).
    Left to the collector, each growth step rescans all of it (half the throughput at 5,000
    pairs), and the first collection after a pause walks every new object once more. Frozen
    objects are skipped by later collections and still freed by reference counting when a run
    leaves the cache. A reference cycle frozen here would never be collected: the build creates
    none, and garbage left by the rest of the process (requests served meanwhile) is collected
    first, cheaply, since the cache frozen by earlier cycles is no longer walked.
    """
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _normalization_fingerprint(opts: EngineOptions) -> str:
    """Everything that shapes a normalized run: stored runs apply only under the same value."""
    n = opts.normalize
    parts = [
        runcodec.VERSION,
        normalize_rules.RULES_VERSION,
        opts.layout.layout.value,
        opts.layout.prefix,
        opts.layout.suffix,
        opts.max_object_bytes,
        n.suffix,
        sorted(n.excluded_steps),
        sorted(n.vendor_fields),
        n.max_steps,
        {side.value: p.model_dump(mode="json") for side, p in sorted(opts.profiles.items())},
    ]
    text = json.dumps(parts, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


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
