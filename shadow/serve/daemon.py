"""`shadow serve`: the scheduler, the HTTP server and their lifecycle, in one owner.

APScheduler 3 runs `Service.cycle` every interval on the asyncio loop (one at a time, missed
runs coalesced). On SIGTERM uvicorn runs the lifespan exit: stop scheduling, let the cycle in
flight finish within `shutdown_grace_seconds`, close the source and the ledger, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from shadow.bootstrap import make_engine
from shadow.collectors.events import JetStreamEvents
from shadow.config import Settings
from shadow.logs import configure as configure_logging
from shadow.serve.api import create_app
from shadow.serve.metrics import ShadowMetrics
from shadow.serve.service import Service

log = logging.getLogger("shadow.serve.daemon")


def build_service(settings: Settings, registry: CollectorRegistry | None = None) -> Service:
    reg = registry if registry is not None else CollectorRegistry()
    engine = make_engine(settings)
    metrics = ShadowMetrics(
        reg,
        allow_agents=settings.agent_label_allowlist,
        top_k=settings.agent_label_top_k,
        thresholds=engine.opts.judge.thresholds,
        scan_interval_seconds=settings.scan_interval_seconds,
        schedule_alert_window_seconds=settings.schedule_alert_window_seconds,
    )
    return Service(settings=settings, engine=engine, metrics=metrics)


def build_app(settings: Settings, service: Service | None = None) -> FastAPI:
    svc = service if service is not None else build_service(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = AsyncIOScheduler(timezone=UTC)
        interval = settings.scan_interval_seconds
        scheduler.add_job(
            svc.cycle,
            "interval",
            seconds=interval,
            id="scan",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(interval)),
            next_run_time=datetime.now(UTC),
        )
        scheduler.start()
        consumer = _events_task(settings, svc)
        log.info(
            "watching %s every %gs",
            svc.engine.source.description if svc.engine.source else "-",
            interval,
        )
        try:
            yield
        finally:
            scheduler.pause()
            if consumer is not None:  # unacknowledged events are redelivered to the next start
                consumer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await consumer
            try:
                async with asyncio.timeout(settings.shutdown_grace_seconds):
                    async with svc.lock:
                        pass
            except TimeoutError:
                log.warning(
                    "the cycle in flight did not finish within %gs; stopping anyway",
                    settings.shutdown_grace_seconds,
                )
            scheduler.shutdown(wait=False)
            await svc.close()
            log.info("clean shutdown")

    return create_app(svc, lifespan=lifespan)


def _events_task(settings: Settings, svc: Service) -> asyncio.Task[None] | None:
    """The JetStream consumer of MinIO's bucket events, when `nats.url` is set."""
    if not settings.nats.url:
        return None
    nats = settings.nats
    if nats.bucket is None and settings.source.startswith("s3://"):
        bucket = settings.source[len("s3://") :].partition("/")[0]
        nats = nats.model_copy(update={"bucket": bucket})
    consumer = JetStreamEvents(
        nats, svc.apply_events, mine=svc.engine.scanner.mine, shard=settings.shard_pair
    )
    log.info("reading bucket events from stream %s (%s)", nats.stream, consumer.durable)
    task = asyncio.get_running_loop().create_task(consumer.run(), name="shadow-events")
    task.add_done_callback(_log_end)
    return task


def _log_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the events consumer stopped: %s", task.exception())


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after a graceful shutdown (exit status -15); a daemon whose
    shutdown went well should exit 0, so shadow owns the signals instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {
            sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(settings: Settings) -> int:
    configure_logging(settings.log_level, settings.log_format)
    app = build_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # shadow.logs configured uvicorn's loggers with everyone else's
        log_level=None,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        access_log=False,
    )
    _Server(config).run()
    return 0
