"""Prometheus metrics: all written by `update(summary)` once per cycle, on one registry.

Rules: names are `shadow_<thing>_<unit>`; label values come from closed enums or bounded sets
(agent only through the allow-list or the top K by pairs, the rest as `other`); never a run id
or an object key. The scanner's counters and the scan histogram are ordinary client objects,
defined here; the current-state gauges are computed from each cycle's judgement into a
snapshot and served from it by a custom collector (`gauges.py`), so a label value that
disappears stops being exported.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)

from shadow import __version__
from shadow.engine import CycleSummary, ScanStats
from shadow.errors import ErrorKind
from shadow.judging.criteria import PARITY, Thresholds
from shadow.serve.gauges import Snapshot, SnapshotCollector, snapshot_of


class ShadowMetrics:
    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        allow_agents: Sequence[str] = (),
        top_k: int = 10,
        thresholds: Thresholds = Thresholds(),  # noqa: B008 (frozen: one shared default is safe)
        scan_interval_seconds: float = 60.0,
        schedule_alert_window_seconds: float = 86400.0,
    ) -> None:
        self.registry = registry
        self.parity_thresholds = {d.value: float(getattr(thresholds, d.value)) for d in PARITY}
        self.timing_threshold = thresholds.timing_ratio
        self.scan_interval_seconds = scan_interval_seconds
        self.schedule_window = schedule_alert_window_seconds
        self.allow_agents = tuple(allow_agents)
        self.top_k = top_k
        self.snapshot = Snapshot()
        # The scan being counted and what of it was counted: (fetched, versions, errors).
        self._counting: ScanStats | None = None
        self._counted: tuple[int, int, Tally[str]] = (0, 0, Tally())
        self.scan_duration = Histogram(
            "shadow_scan_duration_seconds",
            "Wall time of one scan-and-judge cycle.",
            buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=registry,
        )
        self.scans = Counter(
            "shadow_scans", "Scan cycles run, by result.", ["result"], registry=registry
        )
        self.scan_errors = Counter(
            "shadow_scan_errors",
            "Errors during scan cycles, by kind: source errors, and every failed cycle's cause.",
            ["kind"],
            registry=registry,
        )
        self.fetched = Counter(
            "shadow_objects_fetched", "Objects downloaded from the source.", registry=registry
        )
        self.versions_fetched = Counter(
            "shadow_object_versions_fetched",
            "Old status.json versions downloaded.",
            registry=registry,
        )
        self.settled_changed = Counter(
            "shadow_settled_runs_changed",
            "Settled run directories (terminal, judged, quiet) that a full listing found "
            "changed and re-read: a store rewriting old runs.",
            registry=registry,
        )
        self.last_success = Gauge(
            "shadow_last_successful_scan_timestamp_seconds",
            "When the last fully successful scan finished.",
            registry=registry,
        )
        self.events = Counter(
            "shadow_events_received",
            "Bucket notification events accepted.",
            ["source"],
            registry=registry,
        )
        self.info = Info("shadow_build", "shadow's version.", registry=registry)
        self.info.info({"version": __version__})
        for kind in ErrorKind:  # the closed set: every series exists from the start, at 0
            self.scan_errors.labels(kind=kind.value)
        for result in ("ok", "failed"):
            self.scans.labels(result=result)
        registry.register(SnapshotCollector(self))
        # client_python's own: process_* (memory, CPU, open files), python_info and python_gc_*,
        # on shadow's registry (not the library's global one) like every other metric.
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)

    def count_scan(self, s: ScanStats) -> None:
        """Bring the scan counters up to what the scan `s` has seen so far.

        Called while a scan runs (its progress observer ticks) and once more by `update`, so
        `shadow_objects_fetched_total` and `shadow_scan_errors_total` move during a long
        backfill, and each object or error is still counted exactly once.
        """
        if self._counting is not s:
            self._counting, self._counted = s, (0, 0, Tally())
        fetched, versions, errors = self._counted
        self.fetched.inc(s.fetched - fetched)
        self.versions_fetched.inc(s.versions_fetched - versions)
        for kind, n in s.errors.items():
            if n > errors[kind]:
                self.scan_errors.labels(kind=kind).inc(n - errors[kind])
        self._counted = (s.fetched, s.versions_fetched, Tally(s.errors))

    def failed(self, kind: ErrorKind, seconds: float) -> None:
        """A cycle that raised before it could summarize itself: counted, with its cause."""
        self.scan_duration.observe(seconds)
        self.scans.labels(result="failed").inc()
        self.scan_errors.labels(kind=kind.value).inc()

    def update(self, summary: CycleSummary) -> None:
        s = summary.scan
        self.scan_duration.observe(summary.duration_seconds)
        self.scans.labels(result="ok" if s.ok else "failed").inc()
        self.count_scan(s)
        self.settled_changed.inc(len(s.settled_changed))
        if s.ok:
            self.last_success.set(summary.finished)
        if summary.head is None or summary.judgement is None:
            return
        self.snapshot = snapshot_of(
            summary,
            s.listed,
            allow_agents=self.allow_agents,
            top_k=self.top_k,
            schedule_window=self.schedule_window,
        )
