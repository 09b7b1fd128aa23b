"""The progress of a scan in flight: what the line says, and that a watcher ticks while it runs."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shadow.engine import ScanStats
from shadow.progress import Progress, ScanProgress


def test_the_line_says_listed_fetched_rate_and_eta() -> None:
    listing = Progress(
        listed=29_000,
        changed=29_000,
        done=27_711,
        fetched=22_170,
        errors=0,
        listing_done=False,
        elapsed=13.2,
        rate=2_142.0,
    )
    assert (
        "scan 13s: listed 29,000…, fetched 22,170, done 27,711/29,000 changed, 2,142/s, ETA ≥1s"
        == listing.line()
    )
    listed = Progress(4_000, 3_000, 1_000, 900, 2, True, 95.0, 20.0)
    assert listed.line().endswith("20/s, ETA 1m40s, errors 2")
    assert 100.0 == listed.eta_seconds
    assert Progress(10, 10, 0, 0, 0, False, 0.1, None).line().endswith("done 0/10 changed")


async def test_a_watcher_logs_and_counts_while_the_scan_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Off a terminal: a log line every `log_every` seconds with the figures as fields, and the
    tick (which moves the metrics) called during the scan, not only at its end."""
    stats = ScanStats()
    ticks: list[int] = []
    progress = ScanProgress(log_every=0.1, on_tick=lambda s: ticks.append(s.fetched), tick=0.02)
    with caplog.at_level(logging.INFO, logger="shadow.progress"):
        progress.scan_started(stats)
        for _ in range(20):
            stats.listed += 10
            stats.processed += 10
            stats.fetched += 10
            await asyncio.sleep(0.02)
        stats.listing_done = True
        progress.scan_finished(stats)
    lines = [r for r in caplog.records if r.name == "shadow.progress"]
    assert len(lines) >= 2
    assert lines[-1].getMessage().startswith("scan ")
    assert lines[-1].listed > 0 and lines[-1].rate > 0  # type: ignore[attr-defined]
    assert 200 == ticks[-1]  # the last tick is the scan's end
    assert any(0 < t < 200 for t in ticks)  # and there were ticks before it
