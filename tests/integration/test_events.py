"""Bucket events through a real nats-server with JetStream, in MinIO's own message format.

Events are hints between cycles: they bring in changes the incremental scan does not list
(a settled run rewritten). A message is acknowledged only after its keys are committed to the
ledger, so neither a kill -9 of shadow nor a NATS restart loses one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from shadow.collectors.events import JetStreamEvents, parse_minio_message
from shadow.config import load_settings
from shadow.corpora.demo import write_demo
from shadow.ledger.store import Ledger
from shadow.serve.daemon import build_service
from shadow.serve.service import Service
from tests.e2e.conftest import NOW
from tests.e2e.test_daemon import free_port
from tests.natsserver import (
    NatsServer,
    consumer_state,
    eventually,
    minio_message,
    publish,
)

BUCKET = "shadow-runs"


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    server = NatsServer()
    server.start()
    yield server
    server.destroy()


def test_minio_messages_parse_to_unescaped_keys() -> None:
    """The key is MinIO's url.QueryEscape'd object name; spaces and '+' come back exactly."""
    msg = minio_message(BUCKET, "runs/a b+c/steps/1-x.json", etag="9bb58f26192e4ba0")
    [event] = parse_minio_message(msg)
    assert (BUCKET, "runs/a b+c/steps/1-x.json") == (event.bucket, event.key)
    assert ("s3:ObjectCreated:Put", "9bb58f26192e4ba0") == (event.event_name, event.etag)
    with pytest.raises(ValueError, match="not a MinIO event message"):
        parse_minio_message(b'{"Records": [{"s3": {}}]}')


def _settled_keys(ledger: Ledger, n: int) -> list[str]:
    rows = ledger._q("SELECT run_dir FROM dirs WHERE settled=1 ORDER BY run_dir LIMIT ?", (n,))
    return [f"{d}status.json" for (d,) in rows]


def _rewrite(root: Path, keys: list[str], n: int) -> None:
    for key in keys:
        doc = json.loads((root / key).read_text())
        doc["_orchestrator_meta"] = {"touched": n}
        (root / key).write_text(json.dumps(doc))


def _etag(root: Path, key: str) -> str:
    st = os.stat(root / key)
    return f"{st.st_size}-{st.st_mtime_ns}"


def _stored(db: Path, root: Path, keys: list[str]) -> bool:
    ledger = Ledger(db)
    try:
        held = ledger.etags_of(keys)
    finally:
        ledger.close()
    return all(held.get(k) == _etag(root, k) for k in keys)


async def _service(tmp_path: Path, server: NatsServer) -> tuple[Service, Path]:
    corpus = write_demo(tmp_path / "bucket", now=NOW, runs=40, days=3)
    settings = load_settings(
        source=f"dir:{corpus.root}",
        db=tmp_path / "s.db",
        nats={"url": server.url},
        reconcile_interval_seconds=1e9,  # only events can bring in a settled run's rewrite
    )
    svc = build_service(settings, CollectorRegistry())
    await svc.cycle(NOW.timestamp())
    return svc, corpus.root


async def test_events_bring_in_what_the_incremental_scan_skips(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    svc, root = await _service(tmp_path, nats_server)
    keys = _settled_keys(svc.engine.ledger, 5)
    _rewrite(root, keys, 1)
    quiet = await svc.cycle(NOW.timestamp())
    assert quiet is not None and 0 == quiet.scan.fetched  # settled: not listed
    consumer = JetStreamEvents(svc.settings.nats, svc.apply_events, mine=svc.engine.scanner.mine)
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(consumer.connected.wait(), 10)
        msgs = [minio_message(BUCKET, k) for k in keys]
        await publish(nats_server.url, msgs + msgs)  # each twice: the second is a no-op
        await eventually(
            lambda: _async(svc.engine.ledger.etags_of(keys) == {k: _etag(root, k) for k in keys})
        )
        await eventually(lambda: _async_state(nats_server.url, "shadow", (0, 0)))
        assert 10 == consumer.received
        assert 10.0 == svc.metrics.registry.get_sample_value(
            "shadow_events_received_total", {"source": "nats"}
        )
        assert svc.engine.last_judgement is not None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await svc.close()


async def _async(value: bool) -> bool:
    return value


async def _async_state(url: str, durable: str, want: tuple[int, int]) -> bool:
    return await consumer_state(url, durable) == want


async def test_a_nats_restart_loses_no_event(tmp_path: Path, nats_server: NatsServer) -> None:
    """Events stored before a kill -9 of nats-server, and those published after it came back,
    all reach the ledger; the consumer reconnects on its own and ends with nothing pending."""
    svc, root = await _service(tmp_path, nats_server)
    keys = _settled_keys(svc.engine.ledger, 12)
    first, second, third = keys[:4], keys[4:8], keys[8:]
    consumer = JetStreamEvents(svc.settings.nats, svc.apply_events, mine=svc.engine.scanner.mine)
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(consumer.connected.wait(), 10)
        _rewrite(root, first, 1)
        await publish(nats_server.url, [minio_message(BUCKET, k) for k in first])
        await eventually(lambda: _async(_stored(tmp_path / "s.db", root, first)))
        _rewrite(root, second, 2)
        await publish(nats_server.url, [minio_message(BUCKET, k) for k in second])
        nats_server.stop(signal.SIGKILL)  # stored by JetStream (publish returned), maybe unread
        _rewrite(root, third, 3)
        await asyncio.sleep(1.5)  # the consumer notices and keeps retrying
        nats_server.start()
        await publish(nats_server.url, [minio_message(BUCKET, k) for k in third])
        await eventually(lambda: _async(_stored(tmp_path / "s.db", root, keys)), timeout=60)
        await eventually(lambda: _async_state(nats_server.url, "shadow", (0, 0)), timeout=60)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await svc.close()


def _serve(root: Path, db: Path, url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SHADOW_SOURCE": f"dir:{root}",
        "SHADOW_DB": str(db),
        "SHADOW_NATS__URL": url,
        "SHADOW_PORT": str(port),
        "SHADOW_SCAN_INTERVAL_SECONDS": "3600",
        "SHADOW_RECONCILE_INTERVAL_SECONDS": "1000000000",
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "shadow", "serve"], env=env, stdout=out, stderr=out
        )


def _wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(log.read_text()[-3000:])


def test_a_kill_9_of_shadow_loses_no_event(tmp_path: Path, nats_server: NatsServer) -> None:
    """Events stream in while `shadow serve` is killed -9 mid-way and started again: every
    rewritten key reaches the ledger (only events can bring them: no reconcile, one scan an
    hour), and the durable consumer ends with nothing pending or unacknowledged."""
    corpus = write_demo(tmp_path / "bucket", now=NOW, runs=60, days=4)
    db, log, port = tmp_path / "s.db", tmp_path / "serve.log", free_port()
    first = subprocess.run(
        [sys.executable, "-m", "shadow", "scan", "--once", "--source", f"dir:{corpus.root}",
         "--db", str(db), "--now", NOW.isoformat()],
        capture_output=True, check=False,
    )  # fmt: skip
    assert first.returncode in (0, 2), first.stderr.decode()
    ledger = Ledger(db)
    keys = _settled_keys(ledger, 40)
    ledger.close()
    assert 40 == len(keys)
    proc = _serve(corpus.root, db, nats_server.url, port, log)
    try:
        _wait_ready(port, proc, log)
        for i, key in enumerate(keys):
            _rewrite(corpus.root, [key], i)
            asyncio.run(publish(nats_server.url, [minio_message(BUCKET, key)]))
            if i == 20:
                proc.send_signal(signal.SIGKILL)  # mid-stream: some read, some acknowledged
                proc.wait(timeout=10)
            time.sleep(0.05)
        proc = _serve(corpus.root, db, nats_server.url, port, log)
        _wait_ready(port, proc, log)
        deadline = time.monotonic() + 90
        while not _stored(db, corpus.root, keys):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        state = asyncio.run(consumer_state(nats_server.url, "shadow"))
        while state != (0, 0):
            assert time.monotonic() < deadline, state
            time.sleep(0.3)
            state = asyncio.run(consumer_state(nats_server.url, "shadow"))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


async def test_each_shard_consumes_only_its_own_keys(nats_server: NatsServer) -> None:
    """Two shards, one durable consumer each on the one stream: each handles exactly the keys
    it owns (nested layout: whole agents), together every key once, other buckets' none."""
    from shadow.bootstrap import engine_options
    from shadow.scan import Scanner

    got: dict[int, list[str]] = {0: [], 1: []}
    consumers = []
    for i in (0, 1):
        settings = load_settings(
            source="dir:.", layout="nested", shard=f"{i}/2", nats={"url": nats_server.url}
        )
        mine = Scanner(None, None, engine_options(settings).scan_options).mine  # type: ignore[arg-type]

        async def handle(batch: object, i: int = i) -> None:
            got[i].extend(e.key for e in batch)  # type: ignore[attr-defined]

        consumers.append(
            JetStreamEvents(
                settings.nats.model_copy(update={"bucket": BUCKET}), handle, mine=mine, shard=(i, 2)
            )
        )
    tasks = [asyncio.create_task(c.run()) for c in consumers]
    try:
        for c in consumers:
            await asyncio.wait_for(c.connected.wait(), 10)
        keys = [f"agents/agent-{a}/runs/r{n}/status.json" for a in range(12) for n in range(3)]
        await publish(
            nats_server.url,
            [minio_message(BUCKET, k) for k in keys] + [minio_message("other", keys[0])],
        )
        await eventually(lambda: _async(len(got[0]) + len(got[1]) == len(keys)))
        await eventually(lambda: _async_state(nats_server.url, "shadow-0-of-2", (0, 0)))
        await eventually(lambda: _async_state(nats_server.url, "shadow-1-of-2", (0, 0)))
        assert sorted(keys) == sorted(got[0] + got[1]) and got[0] and got[1]
        for i, c in enumerate(consumers):
            agents = {k.split("/")[1] for k in got[i]}
            assert all(c.mine(f"agents/{a}/runs/x/status.json") for a in agents)
            assert not agents & {k.split("/")[1] for k in got[1 - i]}
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
