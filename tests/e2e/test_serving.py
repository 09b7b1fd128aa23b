"""What a judgement serves is built once per judgement, and the event loop keeps answering while
a cycle judges (issue 16, item 16), through the real app (httpx over ASGI) on a demo bucket.
The throughput these buy is measured by bench/serve_load.py against a real server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from shadow.config import load_settings
from shadow.corpora.demo import write_demo
from shadow.judging.report import RunOut
from shadow.serve.api import create_app
from shadow.serve.daemon import build_service
from shadow.serve.service import Service
from tests.e2e.conftest import NOW

TOKEN = "serving-t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    corpus = write_demo(tmp_path / "bucket", now=NOW, runs=200, days=4)
    settings = load_settings(source=f"dir:{corpus.root}", db=tmp_path / "s.db", api_token=TOKEN)
    svc = build_service(settings, CollectorRegistry())
    await svc.cycle(NOW.timestamp())
    yield svc
    await svc.close()


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://shadow") as c:
        yield c


@pytest.fixture
def rows_built(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every run row (`RunOut`) built from a judgement, by run id."""
    built: list[str] = []
    real = RunOut.of.__func__  # type: ignore[attr-defined]

    def of(cls: type[RunOut], r: Any) -> RunOut:
        built.append(r.key)
        return real(cls, r)  # type: ignore[no-any-return]

    monkeypatch.setattr(RunOut, "of", classmethod(of))
    yield built


async def test_requests_do_not_rebuild_the_runs(
    client: httpx.AsyncClient, service: Service, rows_built: list[str]
) -> None:
    """/readiness builds no run rows; a page of runs (API or console) builds its page's rows
    once per judgement, however often it is asked for; a new judgement is served at once."""
    for _ in range(10):
        assert 412 == (await client.get("/readiness", headers=AUTH)).status_code
        assert 200 == (await client.get("/", headers=AUTH)).status_code
    assert [] == rows_built  # it used to be every run, on every request
    pages = [await client.get("/report?limit=20&offset=40", headers=AUTH) for _ in range(10)]
    assert 20 == len(rows_built) and len({p.content for p in pages}) == 1
    for _ in range(10):
        html = await client.get("/ui/runs?page=2&outcome=match", headers=AUTH)
        assert 200 == html.status_code and "page 2 of" in html.text
    assert 20 == len(rows_built)  # the console's rows are built from the results directly
    before = (await client.get("/readiness", headers=AUTH)).json()["generated_at"]
    later = NOW.timestamp() + 3600
    assert (await service.cycle(later)) is not None
    after = (await client.get("/readiness", headers=AUTH)).json()["generated_at"]
    assert before != after  # the new judgement, not the cached one


async def test_the_loop_answers_while_a_cycle_judges(
    client: httpx.AsyncClient, service: Service
) -> None:
    """While the engine judges (seconds of CPU on a large bucket), /healthz and /readiness are
    answered: judging runs in a worker thread, not on the event loop."""
    judging, answered = threading.Event(), threading.Event()
    real = service.engine.judge

    def slow_judge(*args: Any, **kwargs: Any) -> Any:
        judging.set()
        answered.wait(timeout=20)  # on the event loop this would hold every request back
        return real(*args, **kwargs)

    service.engine.judge = slow_judge  # type: ignore[method-assign]
    cycle = asyncio.create_task(service.cycle(NOW.timestamp() + 60))
    while not judging.is_set():
        await asyncio.sleep(0.01)
    assert 200 == (await client.get("/healthz")).status_code
    assert 412 == (await client.get("/readiness", headers=AUTH)).status_code
    assert not cycle.done()  # answered mid-judgement
    answered.set()
    assert (await cycle) is not None
