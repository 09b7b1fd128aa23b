"""The running service: one engine, its metrics, the cycle lock, and bucket-notification hints.

Owned by the daemon, read by the API. Cycles never overlap: `cycle()` holds a lock, and the
scheduler is configured to skip (not queue) a run while one is in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from shadow.collectors.events import ObjectEvent
from shadow.config import Settings
from shadow.engine import CycleSummary, Engine
from shadow.errors import ShadowError, kind_of
from shadow.serve.metrics import ShadowMetrics

log = logging.getLogger("shadow.serve.service")


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

    async def cycle(self, now: float | None = None) -> CycleSummary | None:
        """One scan-and-judge cycle; errors are logged and counted, never raised to the scheduler."""
        async with self.lock:
            # The cycle lists the directories of the hinted keys even when they are settled.
            hinted, self.hints = self.hints, set()
            started = time.monotonic()
            try:
                summary = await self.engine.run_cycle(now, hinted=hinted)
            except Exception as exc:  # any cause: counted and named, never lost in a task
                self.hints |= hinted  # the next cycle lists them
                self._failed(exc, time.monotonic() - started, "scan cycle")
                return None
            self.metrics.update(summary)
            self.health.cycles += 1
            self.health.last_cycle = summary.finished
            if summary.scan.ok and summary.head is not None:
                self.health.last_good_scan = summary.finished
                self.health.last_error = None
            else:
                self.health.last_error = "; ".join(summary.scan.error_messages[:3]) or "scan failed"
                log.warning("scan incomplete: %s", self.health.last_error)
            return summary

    async def hinted(self, keys: list[str], now: float | None = None) -> CycleSummary | None:
        """Targeted fetch of notified keys, then a judgement; skipped while a full cycle runs."""
        self.hints.update(keys)
        if self.lock.locked():
            return None  # the cycle in flight lists everything anyway
        async with self.lock:
            pending, self.hints = sorted(self.hints), set()
            started = time.monotonic()
            try:
                summary = await self.engine.run_hinted(pending, now)
            except Exception as exc:
                self._failed(exc, time.monotonic() - started, "targeted fetch")
                return None
            self.metrics.update(summary)
            return summary

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
