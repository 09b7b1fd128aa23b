"""The MinIO webhook under hostile input, through the real app (httpx over ASGI) on a scanned demo
bucket: short errors that never echo the body, bounded bodies and key counts, and a flood of
notifications that never holds the scan back (issue 16, items 11 and 12)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from shadow.config import load_settings
from shadow.corpora.demo import write_demo
from shadow.serve import service as service_module
from shadow.serve.api import MAX_EVENT_BYTES, MAX_EVENT_KEYS, create_app
from shadow.serve.daemon import build_service
from shadow.serve.service import Service
from tests.e2e.conftest import NOW

HOOK = {"Authorization": "Bearer hook-token", "Content-Type": "application/json"}


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    corpus = write_demo(tmp_path / "bucket", now=NOW, runs=40, days=2)
    settings = load_settings(
        source=f"dir:{corpus.root}", db=tmp_path / "s.db", webhook_token="hook-token"
    )
    svc = build_service(settings, CollectorRegistry())
    await svc.cycle(NOW.timestamp())
    yield svc
    await svc.close()


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://shadow") as c:
        yield c


def event(*keys: str, pad: str = "") -> dict[str, Any]:
    records = [{"s3": {"object": {"key": k, "pad": pad}}} for k in keys]
    return {"EventName": "s3:ObjectCreated:Put", "Records": records}


async def test_errors_are_short_and_never_echo_the_body(client: httpx.AsyncClient) -> None:
    """Not JSON is a 400, JSON that is not an event a 422; either answer is a few hundred bytes
    and repeats nothing that was sent (a 7 MB body of bad records used to come back as 23 MB)."""
    marker = "ECHO-" + "x" * 1000
    for body in (b'{"Records": [', b"\xff\xfe not utf-8", marker.encode()):
        r = await client.post("/events/minio", content=body, headers=HOOK)
        assert 400 == r.status_code
        assert "not JSON" in r.json()["detail"] and len(r.content) < 200
    bad = {"Records": [{"s3": {"object": {"kez": marker}}} for _ in range(100)]}
    r = await client.post("/events/minio", content=json.dumps(bad), headers=HOOK)
    assert 422 == r.status_code
    assert len(r.content) < 2000 and "ECHO" not in r.text
    detail = r.json()["detail"]
    assert ["Records", 0, "s3", "object", "key"] == detail[0]["loc"]
    assert "and 95 more" == detail[-1]["msg"]
    lone = json.dumps(event("runs/a\ud800/status.json"))  # valid JSON, not a UTF-8 key
    r = await client.post("/events/minio", content=lone, headers=HOOK)
    assert 422 == r.status_code and "UTF-8" in r.json()["detail"]


async def test_bodies_and_key_counts_are_bounded(client: httpx.AsyncClient) -> None:
    """A body over the limit is refused with 413, by its Content-Length or while it streams in
    without one; so is an event with more records than the limit. Within both, 202."""
    big = json.dumps(event("runs/x/status.json", pad="p" * MAX_EVENT_BYTES))
    r = await client.post("/events/minio", content=big, headers=HOOK)
    assert 413 == r.status_code and len(r.content) < 200

    async def chunks() -> AsyncIterator[bytes]:  # sent chunked: no Content-Length to go by
        for _ in range(64):
            yield b" " * (MAX_EVENT_BYTES // 32)

    r = await client.post("/events/minio", content=chunks(), headers=HOOK)
    assert 413 == r.status_code
    many = [f"runs/r{i}/status.json" for i in range(20_000)]
    assert len(json.dumps(event(*many))) > MAX_EVENT_BYTES  # 20,000 keys: over by size
    r = await client.post("/events/minio", content=json.dumps(event(*many)), headers=HOOK)
    assert 413 == r.status_code
    over = json.dumps(event(*many[: MAX_EVENT_KEYS + 1]))
    assert len(over) < MAX_EVENT_BYTES  # within the size limit, over the key limit
    r = await client.post("/events/minio", content=over, headers=HOOK)
    assert 413 == r.status_code and str(MAX_EVENT_KEYS) in r.json()["detail"]
    ok = json.dumps(event(*many[:MAX_EVENT_KEYS]))
    assert 202 == (await client.post("/events/minio", content=ok, headers=HOOK)).status_code


@pytest.fixture
def calls(service: Service) -> Iterator[list[tuple[str, int]]]:
    """The engine's targeted fetches and cycles, in order, with the keys each hinted one took."""
    seen: list[tuple[str, int]] = []
    engine = service.engine
    hinted, cycle = engine.run_hinted, engine.run_cycle
    started = asyncio.Event()

    async def run_hinted(keys: list[str], now: float | None = None) -> Any:
        seen.append(("hinted", len(keys)))
        started.set()
        await asyncio.sleep(0.05)  # a turn takes a while: HEADs against a real bucket
        return await hinted(keys, now)

    async def run_cycle(*args: Any, **kwargs: Any) -> Any:
        seen.append(("cycle", 0))
        return await cycle(*args, **kwargs)

    engine.run_hinted = run_hinted  # type: ignore[method-assign]
    engine.run_cycle = run_cycle  # type: ignore[method-assign]
    service.hint_started = started  # type: ignore[attr-defined]
    yield seen
    engine.run_hinted, engine.run_cycle = hinted, cycle  # type: ignore[method-assign]


async def test_a_flood_of_notifications_never_holds_the_scan_back(
    client: httpx.AsyncClient, service: Service, calls: list[tuple[str, int]]
) -> None:
    """20,000 keys notified during a cycle (20 requests of 1,000): the queue keeps a bounded
    number, a targeted fetch takes a bounded batch per turn of the cycle lock, and the next
    scheduled cycle runs after at most one turn; its listing covers every key still queued."""
    keys = [f"runs/flood-{i}/status.json" for i in range(20_000)]
    queued = 0
    async with service.lock:  # a cycle in flight: the requests are answered all the same
        for n in range(20):
            batch = json.dumps(event(*keys[n * 1000 : (n + 1) * 1000]))
            r = await client.post("/events/minio", content=batch, headers=HOOK)
            assert 202 == r.status_code
            queued += r.json()["queued"]
    assert service_module.HINTS_QUEUED_MAX == queued == len(service.hints)
    drain = asyncio.create_task(service.hinted())  # what the next notification starts
    await service.hint_started.wait()  # type: ignore[attr-defined]
    summary = await service.cycle(NOW.timestamp())
    assert summary is not None and summary.scan.ok
    await drain
    assert [("hinted", service_module.HINTS_PER_TURN), ("cycle", 0)] == calls
    assert not service.hints  # the listing covered what was still queued
