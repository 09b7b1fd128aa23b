"""The scan-and-judge cycle: the only place that knows the order of the pipeline.

    list -> fetch what changed -> store -> assemble -> normalize -> judge -> report -> store

`shadow scan --once` runs one cycle, the daemon schedules it, tests call it directly. Time is
an argument. The scan (shadow/scan.py) reads the source into the ledger; the run cache
(shadow/runcache.py) turns the ledger's objects into normalized runs, re-doing only what
changed; this module orders them and judges. A listing failure ends the cycle before judging,
so the previous judgement stands.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shadow.collectors import Source
from shadow.core.layout import KeyLayout, Side
from shadow.core.normalize import NormalizeOptions
from shadow.core.pairing import Grouped, PairBy
from shadow.core.profiles import GARDEN, Profile
from shadow.core.records import Rejected
from shadow.core.results import PairResult
from shadow.core.waivers import Waiver
from shadow.judging.judge import Judgement, JudgeOptions, judge
from shadow.judging.report import Report
from shadow.judging.reporting import build_report, with_runs_of
from shadow.ledger.store import Ledger, ResultRow, VerdictRow
from shadow.runcache import CacheOptions, RunCache
from shadow.scan import Scanner, ScanObserver, ScanOptions, ScanStats

__all__ = ["CycleSummary", "Engine", "EngineOptions", "ScanObserver", "ScanStats"]


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
    reconcile_interval: float = 3600.0  # seconds between full listings; 0: every cycle
    settle_seconds: float = 900.0  # a terminal run quiet this long is no longer listed
    renormalize_child_above: int = 20_000  # objects: a full re-normalization runs in a child

    @property
    def scan_options(self) -> ScanOptions:
        return ScanOptions(
            layout=self.layout,
            profiles=self.profiles,
            max_object_bytes=self.max_object_bytes,
            concurrency=self.concurrency,
            use_versions=self.use_versions,
            shard=self.shard,
        )

    @property
    def cache_options(self) -> CacheOptions:
        return CacheOptions(
            layout=self.layout,
            normalize=self.normalize,
            profiles=self.profiles,
            max_object_bytes=self.max_object_bytes,
            pair_by=self.pair_by,
            child_above_objects=self.renormalize_child_above,
            schedules=self.judge.schedules,
        )


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
        self.opts = opts
        self.scanner = Scanner(source, ledger, opts.scan_options)
        self.runs = RunCache(ledger, opts.cache_options)
        self._ledger = ledger
        # The last report without its runs: they are rebuilt from the judgement when asked for
        # (a RunOut per pair was a sixth of the memory held per tracked run).
        self.last_head: Report | None = None
        self.last_judgement: Judgement | None = None
        # The stamp of this engine's last save of results and the results it saved (the
        # judgement's own tuple, held anyway), so the next save writes only what changed.
        self._saved: tuple[str, tuple[PairResult, ...]] | None = None

    @property
    def ledger(self) -> Ledger:
        return self._ledger

    @ledger.setter
    def ledger(self, ledger: Ledger) -> None:
        """One ledger for the cycle, the scan and the run cache (tests swap in an instrumented one)."""
        self._ledger = self.scanner.ledger = self.runs.ledger = ledger

    async def scan(
        self,
        now: float,
        observer: ScanObserver | None = None,
        *,
        full: bool = True,
        hinted: Collection[str] = (),
    ) -> ScanStats:
        """List the source and fetch what changed (shadow/scan.py)."""
        return await self.scanner.scan(now, observer, full=full, hinted=hinted)

    def reconcile_due(self, wall: float) -> bool:
        """Whether this cycle lists every object: never done, or `reconcile_interval` ago."""
        last = self.ledger.get_meta("reconciled_at")
        return last is None or wall - float(last) >= self.opts.reconcile_interval

    def normalized_runs(self) -> tuple[Grouped, list[Rejected]]:
        """Every run, normalized, grouped into pairs (shadow/runcache.py)."""
        return self.runs.normalized_runs()

    def judge(
        self, now: float, failed_keys: frozenset[str] = frozenset(), *, with_runs: bool = True
    ) -> tuple[Judgement, Report]:
        """Judge every run in the ledger. A pair with an object whose read failed (in this
        scan, or stored from an earlier one and not read since) is held pending."""
        runs, rejected = self.normalized_runs()
        held = frozenset(
            runs.key_of(p.run_dir, p.pairing_key)
            for k in failed_keys | self.ledger.failed_keys()
            if (p := self.opts.layout.parse(k)) is not None
        )
        j = judge(
            runs.sides,
            now,
            self.opts.judge,
            self.opts.waivers,
            held,
            runs.duplicates,
            runs.slotted,
        )
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

    async def _conclude(self, at: float, stats: ScanStats) -> tuple[Judgement, Report]:
        """Judge after a scan, store the judgement, and keep it (and the report's head) to serve.

        Judging a large bucket is seconds of CPU: it runs in a worker thread, so the event loop
        keeps answering requests meanwhile (nothing else touches the ledger while the cycle lock
        is held). Both are published together on the loop: a request sees both or neither."""
        j, head = await asyncio.to_thread(self._judge_and_persist, at, stats)
        self.last_head, self.last_judgement = head, j
        return j, head

    def _judge_and_persist(self, at: float, stats: ScanStats) -> tuple[Judgement, Report]:
        j, head = self.judge(at, frozenset(stats.failed_keys), with_runs=False)
        self.persist(j, head, at)
        return j, head

    def _settle(self, wall: float) -> int:
        """Settle the run directories that are terminal, judged (this cycle just did) and whose
        latest object is older than `settle_seconds` by the store's clock; a directory with a
        failed read stays listed until it is read. Returns how many are settled now."""
        failed = {p.run_dir for k in self.ledger.failed_keys() if (p := self.opts.layout.parse(k))}
        ready = [
            d
            for d, changed in self.ledger.unsettled()
            if changed + self.opts.settle_seconds <= wall
            and d not in failed
            and self.runs.terminal(d)
        ]
        if ready:
            self.ledger.settle(ready)
        return len(ready)

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
        """Store the judgement: only the result rows that changed since this engine's last
        save, while the ledger still holds that save's (else every row, as a fresh process).

        A remembered result is the same object from one judgement to the next
        (judging/memo.py), so a row is written again only when its result object is new."""
        verdict = VerdictRow(
            now, report.readiness.verdict.value, self.opts.config_hash, report.readiness.reasons
        )
        saved, self._saved = self._saved, None  # unknown until this save succeeds
        stamp = None
        if saved is not None:
            since, before = saved
            old = {r.key: r for r in before}
            rows = [_row(r) for r in j.results if old.pop(r.key, None) is not r]
            stamp = self.ledger.save_judgement(rows, verdict, since=since, gone=sorted(old))
        if stamp is None:
            stamp = self.ledger.save_judgement([_row(r) for r in j.results], verdict)
        self._saved = (stamp, j.results) if stamp is not None else None

    async def run_hinted(self, keys: list[str], now: float | None = None) -> CycleSummary:
        """Fetch only the notified keys (a HEAD each, a GET if the ETag changed), then judge."""
        started = time.time()
        at = now if now is not None else started
        stats = await self.scanner.hinted(keys, at)
        j, head = await self._conclude(at, stats)
        return CycleSummary(started, time.time(), stats, head, j)

    async def run_cycle(
        self,
        now: float | None = None,
        observer: ScanObserver | None = None,
        *,
        hinted: Collection[str] = (),
    ) -> CycleSummary:
        """One cycle: scan (a full listing when a reconcile is due, otherwise the directories
        that can still change and those of `hinted` keys), judge, store, settle.

        `now` is the judgement's time; listing and settling follow the wall clock, which is
        the store's (a backfill judged at a past `now` still settles by today's quiet).
        """
        started = time.time()
        at = now if now is not None else started
        full = self.reconcile_due(started)
        stats = await self.scan(at, observer, full=full, hinted=hinted)
        errors = {k.value: n for k, n in stats.errors.items()}
        if not stats.listing_complete:
            self.ledger.record_scan(started, time.time(), False, 0, 0, errors)
            return CycleSummary(started, time.time(), stats, None, None)
        j, head = await self._conclude(at, stats)
        self._settle(started)
        if full:
            self.ledger.set_meta("reconciled_at", repr(started))
        self.ledger.record_scan(started, time.time(), stats.ok, stats.listed, stats.fetched, errors)
        return CycleSummary(started, time.time(), stats, head, j)


def _row(r: PairResult) -> ResultRow:
    return ResultRow(
        r.key,
        r.agent,
        r.state.value,
        r.outcome.value,
        json.dumps([f.model_dump(mode="json") for f in r.findings], sort_keys=True),
        r.duration_ratio,
    )
