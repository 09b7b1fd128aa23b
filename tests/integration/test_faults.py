"""Failures between shadow and S3: scans report them, keep the previous judgement, and the next
good scan converges to exactly the report of a clean run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shadow.bootstrap import make_engine
from shadow.corpora.demo import write_demo
from shadow.judging.report import Report
from tests.e2e.conftest import NOW
from tests.integration.conftest import settings_for
from tests.integration.faultproxy import FaultProxy
from tests.integration.test_s3_source import upload_tree
from tests.snapshots import bucket_unchanged

pytestmark = pytest.mark.slow  # each test waits out retries against a faulty S3 proxy


def comparable(report: Report | None) -> dict[str, Any]:
    assert report is not None
    data = report.model_dump(mode="json", exclude={"generated_at"})
    data["readiness"].pop("since")
    return data


async def clean_report(endpoint: str, tmp_path: Path) -> dict[str, Any]:
    engine = make_engine(settings_for(endpoint, tmp_path / "clean", db=tmp_path / "clean.db"))
    try:
        return comparable((await engine.run_cycle(NOW.timestamp())).report)
    finally:
        await engine.source.close()  # type: ignore[union-attr]
        engine.ledger.close()


@pytest.fixture
def seeded(s3: Any, tmp_path: Path) -> Any:
    corpus = write_demo(tmp_path / "demo", now=NOW, runs=30, days=3)
    upload_tree(s3, corpus.root)
    return s3


@pytest.mark.parametrize("fault", ["error_every", "truncate_every"])
async def test_5xx_bursts_and_truncated_bodies_converge(
    seeded: Any, s3_endpoint: str, tmp_path: Path, fault: str
) -> None:
    """A scan through failing GETs is incomplete and holds the affected runs; the next clean scan matches a clean run."""
    expected = await clean_report(s3_endpoint, tmp_path)
    with bucket_unchanged(seeded), FaultProxy(s3_endpoint) as proxy:
        setattr(proxy.faults, fault, 7)
        engine = make_engine(settings_for(proxy.url, tmp_path, s3={"max_attempts": 1}))
        try:
            broken = await engine.run_cycle(NOW.timestamp())
            assert not broken.scan.ok and sum(broken.scan.errors.values()) > 0
            assert broken.report is not None
            lost = {r.run_id for r in broken.report.runs if r.state.value == "primary_only"}
            assert lost <= {r["run_id"] for r in expected["runs"] if r["state"] == "primary_only"}
            setattr(proxy.faults, fault, 0)
            healed = await engine.run_cycle(NOW.timestamp())
            again = await engine.run_cycle(NOW.timestamp())
        finally:
            await engine.source.close()  # type: ignore[union-attr]
            engine.ledger.close()
    assert healed.scan.ok and expected == comparable(healed.report)
    assert 0 == again.scan.fetched and expected == comparable(again.report)


async def test_endpoint_down_mid_life_keeps_the_previous_judgement(
    seeded: Any, s3_endpoint: str, tmp_path: Path
) -> None:
    """With the endpoint gone the cycle fails before judging; the last report stands and nothing is recounted."""
    with bucket_unchanged(seeded), FaultProxy(s3_endpoint) as proxy:
        engine = make_engine(
            settings_for(proxy.url, tmp_path, s3={"max_attempts": 1, "connect_timeout_seconds": 1})
        )
        try:
            good = await engine.run_cycle(NOW.timestamp())
            proxy.faults.down = True
            down = await engine.run_cycle(NOW.timestamp())
            assert down.report is None and not down.scan.ok
            assert {"connection"} >= set(down.scan.errors) and down.scan.errors
            assert engine.last_judgement is good.judgement  # not re-judged
            assert comparable(good.report) == comparable(engine.last_report)
            proxy.faults.down = False
            back = await engine.run_cycle(NOW.timestamp())
        finally:
            await engine.source.close()  # type: ignore[union-attr]
            engine.ledger.close()
    assert 0 == back.scan.fetched
    assert comparable(good.report) == comparable(back.report)


async def test_a_listing_broken_half_way_judges_nothing_and_keeps_what_it_fetched(
    seeded: Any, s3_endpoint: str, tmp_path: Path
) -> None:
    """The listing fails on its third page: the cycle does not judge, what was fetched meanwhile
    is stored (a long backfill does not start over), and the next scan matches a clean run."""
    expected = await clean_report(s3_endpoint, tmp_path)
    with bucket_unchanged(seeded), FaultProxy(s3_endpoint) as proxy:
        proxy.faults.fail_listing_after = 2
        engine = make_engine(
            settings_for(proxy.url, tmp_path, s3={"max_attempts": 1, "list_page_size": 50})
        )
        try:
            broken = await engine.run_cycle(NOW.timestamp())
            kept = engine.ledger.known_etags()
            proxy.faults.fail_listing_after = 0
            healed = await engine.run_cycle(NOW.timestamp())
            last = engine.last_report
        finally:
            await engine.source.close()  # type: ignore[union-attr]
            engine.ledger.close()
    assert broken.report is None and comparable(healed.report) == comparable(last)
    assert not broken.scan.listing_complete and {"server_error": 1} == dict(broken.scan.errors)
    assert 0 < len(kept) <= 100  # at most the two pages listed before the failure
    assert healed.scan.ok and len(kept) == healed.scan.unchanged
    assert expected == comparable(healed.report)
