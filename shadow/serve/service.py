"""The running service: one engine, its metrics, the cycle lock, and bucket-notification hints.

Owned by the daemon, read by the API. Cycles never overlap: `cycle()` holds a lock, and the
scheduler is configured to skip (not queue) a run while one is in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from shadow.collectors.events import ObjectEvent
from shadow.collectors.survey import survey
from shadow.config import Settings
from shadow.engine import CycleSummary, Engine
from shadow.errors import ShadowError, kind_of
from shadow.progress import ScanProgress
from shadow.serve.metrics import ShadowMetrics

log = logging.getLogger("shadow.serve.service")

# Bounds on bucket notifications: keys one targeted fetch takes while it holds the cycle lock,
# and keys waiting for one (the rest are left to the next listing).
HINTS_PER_TURN = 1000
HINTS_QUEUED_MAX = 5000


def log_summary(what: str, summary: CycleSummary) -> None:
    """One INFO line per cycle; in JSON logs its figures are fields of their own."""
    s, head = summary.scan, summary.head
    fields = {
        "listed": s.listed,
        "fetched": s.fetched,
        "judged": head.totals.runs if head is not None else 0,
        "verdict": head.readiness.verdict.value if head is not None else "unchanged",
        "seconds": round(summary.duration_seconds, 3),
        "errors": sum(s.errors.values()),
    }
    log.info(
        "%s: listed %d, fetched %d, judged %d, verdict %s, %.2fs, errors %d",
        what,
        *fields.values(),
        extra=fields,
    )


@dataclass(slots=True)
class Health:
    last_good_scan: float | None = None
    last_cycle: float | None = None
    last_error: str | None = None
    cycles: int = 0


@dataclass
class Service:
    settings: Settings
    engine: Engine
    metrics: ShadowMetrics
    health: Health = field(default_factory=Health)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    hints: set[str] = field(default_factory=set)
    surveyed: bool = False  # told the log where the runs probably are (while none are found)
    # While a scan runs its counters move every tick, and a long one logs its progress.
    progress_tick_seconds: float = 1.0
    progress_log_seconds: float = 10.0

    async def cycle(self, now: float | None = None) -> CycleSummary | None:
        """One scan-and-judge cycle; errors are logged and counted, never raised to the scheduler."""
        async with self.lock:
            # The cycle lists the directories of the hinted keys even when they are settled.
            hinted, self.hints = self.hints, set()
            progress = ScanProgress(
                log_every=self.progress_log_seconds,
                on_tick=self.metrics.count_scan,
                tick=self.progress_tick_seconds,
            )
            started = time.monotonic()
            try:
                summary = await self.engine.run_cycle(now, progress, hinted=hinted)
            except Exception as exc:  # any cause: counted and named, never lost in a task
                self.hints |= hinted  # the next cycle lists them
                self._failed(exc, time.monotonic() - started, "scan cycle")
                return None
            self.metrics.update(summary)
            log_summary("cycle", summary)
            await self._look_around(summary)
            self.health.cycles += 1
            self.health.last_cycle = summary.finished
            if summary.scan.ok and summary.head is not None:
                self.health.last_good_scan = summary.finished
                self.health.last_error = None
                if summary.scan.error_messages:  # passed over, not failed: said, not fatal
                    log.warning("scan errors: %s", "; ".join(summary.scan.error_messages[:3]))
            else:
                self.health.last_error = "; ".join(summary.scan.error_messages[:3]) or "scan failed"
                log.warning("scan incomplete: %s", self.health.last_error)
            return summary

    def queue_hints(self, keys: Iterable[str]) -> int:
        """Queue notified keys for a targeted fetch, without waiting for the cycle lock; returns
        how many were queued. Past `HINTS_QUEUED_MAX` waiting keys the rest are left to the next
        listing, which sees every key anyway."""
        before = len(self.hints)
        for key in keys:
            if len(self.hints) >= HINTS_QUEUED_MAX:
                break
            self.hints.add(key)
        return len(self.hints) - before

    async def hinted(
        self, keys: Iterable[str] = (), now: float | None = None
    ) -> CycleSummary | None:
        """Targeted fetches of the queued keys, then a judgement; skipped while a full cycle runs.

        A turn of the cycle lock takes at most `HINTS_PER_TURN` keys (a HEAD each, in turn), so
        a flood of notifications holds the scan back by one bounded turn at most: the lock is
        fair, and a cycle waiting for it comes before the next turn (and its listing clears the
        queue)."""
        self.queue_hints(keys)
        summary = None
        while self.hints and not self.lock.locked():
            async with self.lock:
                if not self.hints:
                    break  # a full cycle took the lock first and covered them
                batch = sorted(self.hints)[:HINTS_PER_TURN]
                self.hints.difference_update(batch)
                started = time.monotonic()
                try:
                    summary = await self.engine.run_hinted(batch, now)
                except Exception as exc:  # any cause: counted and named, never lost in a task
                    self.hints.update(batch)  # the next turn or listing reads them
                    self._failed(exc, time.monotonic() - started, "targeted fetch")
                    return None
                self.metrics.update(summary)
                log_summary("hinted cycle", summary)
        return summary

    async def _look_around(self, summary: CycleSummary) -> None:
        """Say once where the runs probably are while a scan finds no run directory at all."""
        head, source = summary.head, self.engine.source
        if head is None or source is None:
            return
        if head.totals.runs:
            self.surveyed = False  # found some: a later empty source is news again
            return
        if self.surveyed:
            return
        self.surveyed = True
        try:
            hint = await survey(source, self.settings.source, self.engine.opts.layout)
        except ShadowError as exc:
            hint = f"could not look around the source: {exc}"
        log.warning("no run directory found: %s", hint)

    async def apply_events(self, events: Sequence[ObjectEvent], now: float | None = None) -> None:
        """Read the keys of bucket events now and commit them, waiting for a cycle in flight.

        Returns once the keys are in the ledger and judged, so the caller may acknowledge the
        events; raises (after counting the failure) to have them redelivered. An event whose
        ETag the ledger already holds (a redelivery, or a key a cycle read meanwhile) costs
        no request at all.
        """
        self.metrics.events.labels(source="nats").inc(len(events))
        known = self.engine.ledger.etags_of(sorted({e.key for e in events}))
        keys = sorted({e.key for e in events if e.etag is None or known.get(e.key) != e.etag})
        if not keys:
            return
        async with self.lock:
            started = time.monotonic()
            try:
                summary = await self.engine.run_hinted(keys, now)
            except Exception as exc:
                self._failed(exc, time.monotonic() - started, "events")
                raise
            self.metrics.update(summary)

    def _failed(self, exc: Exception, seconds: float, what: str) -> None:
        """A cycle that raised: `shadow_scans_total{result="failed"}`, its kind, `/readyz`."""
        kind = kind_of(exc)
        self.metrics.failed(kind, seconds)
        self.health.last_error = f"{kind.value}: {exc}" if str(exc) else kind.value
        if isinstance(exc, ShadowError):
            log.error("%s failed: %s", what, exc)
        else:  # a defect: the traceback is what a bug report needs
            log.exception("%s failed (%s)", what, type(exc).__name__)

    def ready(self, now: float | None = None) -> bool:
        """Ready while the last good scan is younger than three scan intervals."""
        last = self.health.last_good_scan
        at = now if now is not None else time.time()
        return last is not None and at - last < 3 * self.settings.scan_interval_seconds

    async def close(self) -> None:
        if self.engine.source is not None:
            await self.engine.source.close()
        self.engine.ledger.close()
