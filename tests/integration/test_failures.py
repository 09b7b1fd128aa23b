"""Failures are visible: every failed cycle is counted and named, every error kind is a series
from the start, and a judgement from the ledger alone holds what a scan could not read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, generate_latest

from shadow.bootstrap import make_engine
from shadow.collectors import ListedObject
from shadow.config import load_settings
from shadow.corpora.demo import write_demo
from shadow.errors import ErrorKind
from shadow.serve.api import create_app
from shadow.serve.daemon import build_service
from shadow.serve.metrics import ShadowMetrics
from tests.e2e.conftest import NOW
from tests.integration.conftest import settings_for
from tests.integration.faultproxy import FaultProxy
from tests.integration.test_s3_source import upload_tree
from tests.snapshots import bucket_unchanged


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_every_error_kind_is_a_series_from_the_start() -> None:
    """`config` (no source) and `invalid_key` (a key outside the directory) are emitted by the
    scan and the directory source: alerts and dashboards see them at 0 before the first one."""
    registry = CollectorRegistry()
    ShadowMetrics(registry)
    text = generate_latest(registry).decode()
    for kind in ErrorKind:
        assert f'shadow_scan_errors_total{{kind="{kind.value}"}} 0.0' in text, kind


class _BrokenListing:
    """A directory source whose listing fails with an error no source should raise (a defect)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.description = inner.description

    async def list_pages(self, prefix: str) -> AsyncIterator[list[ListedObject]]:
        raise RuntimeError("listing exploded")
        yield []  # pragma: no cover - makes this an async generator

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_failed_cycle_of_any_cause_is_counted_and_named_on_readyz(
    tmp_path: Path,
) -> None:
    corpus = write_demo(tmp_path / "bucket", now=NOW, runs=20, days=2)
    settings = load_settings(source=f"dir:{corpus.root}", db=tmp_path / "s.db")
    svc = build_service(settings, CollectorRegistry())
    reg = svc.metrics.registry
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(svc)), base_url="http://s"
    )
    try:
        assert await svc.cycle(NOW.timestamp()) is not None
        # an unexpected exception (a defect): the cycle returns, counts it and names it
        real = svc.engine.scanner.source
        svc.engine.scanner.source = _BrokenListing(real)  # type: ignore[assignment]
        assert await svc.cycle(NOW.timestamp()) is None
        assert 1.0 == _value(reg, "shadow_scans_total", result="failed")
        assert 1.0 == _value(reg, "shadow_scan_errors_total", kind="internal")
        body = (await client.get("/readyz")).json()
        assert "internal" in body["last_error"] and "listing exploded" in body["last_error"]
        # the ledger failing (a StoreError): counted under `store`
        svc.engine.scanner.source = real
        svc.engine.ledger.backend.close()  # type: ignore[attr-defined]
        assert await svc.cycle(NOW.timestamp()) is None
        assert 2.0 == _value(reg, "shadow_scans_total", result="failed")
        assert 1.0 == _value(reg, "shadow_scan_errors_total", kind="store")
        assert (await client.get("/readyz")).json()["last_error"].startswith("store: ledger")
    finally:
        await client.aclose()
        if svc.engine.source is not None:
            await svc.engine.source.close()


async def test_report_right_after_a_scan_with_failed_reads_judges_as_the_scan_did(
    s3: Any, s3_endpoint: str, tmp_path: Path
) -> None:
    """A scan whose GETs partly failed holds the affected pairs pending; `report`/`verdict`
    (a judgement from the ledger alone) must hold them too, not call the objects missing."""
    corpus = write_demo(tmp_path / "demo", now=NOW, runs=30, days=3)
    upload_tree(s3, corpus.root)
    with bucket_unchanged(s3), FaultProxy(s3_endpoint) as proxy:
        proxy.faults.error_every = 5
        settings = settings_for(proxy.url, tmp_path, s3={"max_attempts": 1})
        engine = make_engine(settings)
        try:
            scanned = await engine.run_cycle(NOW.timestamp())
        finally:
            await engine.source.close()  # type: ignore[union-attr]
            engine.ledger.close()
    assert scanned.scan.failed_keys and scanned.report is not None
    offline = make_engine(settings, with_source=False)  # what `shadow report` does
    try:
        _, report = offline.judge(NOW.timestamp())
    finally:
        offline.ledger.close()
    assert scanned.report.readiness.verdict == report.readiness.verdict
    assert [r.model_dump() for r in scanned.report.runs] == [r.model_dump() for r in report.runs]


def test_a_failed_read_is_retried_and_forgotten_once_read(tmp_path: Path) -> None:
    """A stored failure lasts until the key is read: then the pair is judged normally."""
    corpus = write_demo(tmp_path / "b", now=NOW, runs=20, days=2)
    engine = make_engine(load_settings(source=f"dir:{corpus.root}", db=tmp_path / "s.db"))
    first = asyncio.run(engine.run_cycle(NOW.timestamp()))
    key = next(iter(sorted(engine.ledger.known_etags())))
    run_dir = engine.opts.layout.parse(key)
    assert run_dir is not None and first.report is not None
    engine.ledger.replace_failures([(key, run_dir.run_dir, "timeout")], 1.0, run_dirs=[])
    assert {key} == engine.ledger.failed_keys()
    _, held = engine.judge(NOW.timestamp())
    assert held.totals.pending > first.report.totals.pending
    engine.ledger.set_meta("reconciled_at", "0")
    healed = asyncio.run(engine.run_cycle(NOW.timestamp()))
    assert frozenset() == engine.ledger.failed_keys()
    assert healed.report is not None and healed.report.totals == first.report.totals
    engine.ledger.close()
