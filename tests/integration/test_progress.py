"""A long scan is visible while it runs: counters move on /metrics and a terminal gets a live
line, over a real S3 endpoint slowed by a proxy."""

from __future__ import annotations

import asyncio
import logging
import os
import pty
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from shadow.cli import main
from shadow.corpora.demo import write_demo
from shadow.serve.daemon import build_service
from tests.e2e.conftest import NOW
from tests.integration.conftest import ACCESS_KEY, BUCKET, SECRET_KEY, settings_for
from tests.integration.faultproxy import FaultProxy
from tests.integration.test_s3_source import upload_tree
from tests.snapshots import bucket_unchanged


@pytest.fixture
def seeded(s3: Any, tmp_path: Path) -> Any:
    corpus = write_demo(tmp_path / "demo", now=NOW, runs=12, days=1, plant=False)
    upload_tree(s3, corpus.root)
    return s3


@pytest.mark.slow
async def test_counters_move_while_a_scan_runs_and_count_each_object_once(
    seeded: Any, s3_endpoint: str, tmp_path: Path
) -> None:
    """shadow_objects_fetched_total and shadow_scan_errors_total rise during the scan (not only
    after the cycle), and end equal to what the cycle fetched and failed: nothing twice."""
    registry = CollectorRegistry()
    with bucket_unchanged(seeded), FaultProxy(s3_endpoint) as proxy:
        proxy.faults.delay_s = 0.005
        proxy.faults.error_every = 3
        settings = settings_for(proxy.url, tmp_path, s3={"concurrency": 2, "max_attempts": 1})
        svc = build_service(settings, registry)
        svc.progress_tick_seconds = 0.05
        seen: list[tuple[float, float]] = []
        try:
            cycle = asyncio.create_task(svc.cycle(NOW.timestamp()))
            while not cycle.done():
                fetched = registry.get_sample_value("shadow_objects_fetched_total") or 0.0
                errors = (
                    registry.get_sample_value("shadow_scan_errors_total", {"kind": "throttled"})
                    or 0.0
                )
                seen.append((fetched, errors))
                await asyncio.sleep(0.02)
            summary = await cycle
        finally:
            await svc.close()
    assert summary is not None
    final_fetched, final_errors = summary.scan.fetched, summary.scan.errors["throttled"]
    assert final_fetched > 50 and final_errors > 0, summary.scan
    assert any(0 < f < final_fetched for f, _ in seen), "fetched moved only after the cycle"
    assert any(e > 0 for f, e in seen if f < final_fetched), "errors moved only after the scan"
    assert final_fetched == registry.get_sample_value("shadow_objects_fetched_total")
    assert final_errors == registry.get_sample_value(
        "shadow_scan_errors_total", {"kind": "throttled"}
    )


def test_a_terminal_gets_a_live_progress_line(
    seeded: Any,
    s3_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`shadow scan --once` on a terminal redraws one line in place (listed, fetched, rate,
    ETA), then clears it before the summary."""
    for chatty in ("werkzeug",):  # moto's request lines: not ours
        caplog.set_level(logging.WARNING, logger=chatty)
    master, slave = pty.openpty()
    terminal = os.fdopen(slave, "w", encoding="utf-8", closefd=True)
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setenv("TERM", "xterm")
    for name, value in (
        ("SHADOW_S3__ACCESS_KEY_ID", ACCESS_KEY),
        ("SHADOW_S3__SECRET_ACCESS_KEY", SECRET_KEY),
        ("SHADOW_S3__CONCURRENCY", "2"),
    ):
        monkeypatch.setenv(name, value)
    chunks: list[bytes] = []

    def drain() -> None:  # a terminal whose output nobody reads blocks its writer
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the writing side is closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        # a slowed S3 (20 ms a GET, 2 at a time): the scan outlasts several 0.5 s redraws on any
        # machine, where an idle moto can finish it within one
        with bucket_unchanged(seeded), FaultProxy(s3_endpoint) as proxy:
            proxy.faults.delay_s = 0.02
            monkeypatch.setenv("SHADOW_S3__ENDPOINT_URL", proxy.url)
            db = str(tmp_path / "t.db")
            code = main(["scan", "--once", "--source", f"s3://{BUCKET}/", "--db", db])
    finally:
        monkeypatch.setattr(sys, "stderr", sys.__stderr__)
        terminal.close()
    reader.join(timeout=10)
    os.close(master)
    assert 0 == code
    shown = b"".join(chunks).decode()
    frames = shown.split("\r\x1b[K")
    live = [f for f in frames if f.startswith("scan ") and " done " in f]
    assert len(live) >= 2, shown  # redrawn in place while the scan runs
    assert all("listed " in f and "fetched " in f for f in live), live
    # The rate and the ETA appear once a rate can be measured (not on the first frame).
    assert any("/s" in f and "ETA " in f for f in live), live
    assert shown.endswith("\r\x1b[K")  # the line is taken off before the summary on stdout
    assert "scanned s3://" in capsys.readouterr().out
