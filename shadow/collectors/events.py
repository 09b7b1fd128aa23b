"""Bucket notifications from NATS JetStream: MinIO's native NATS target, read as hints.

MinIO publishes each bucket event to the subject `MINIO_NOTIFY_NATS_SUBJECT`, through JetStream
when `MINIO_NOTIFY_NATS_JETSTREAM=on` (minio/minio internal/event/target/nats.go: `send`
marshals `event.Log{EventName, Key, Records: [event]}` with Go's default field names, `Key`
being `bucket/object`; each record is an S3 event record whose `s3.object.key` is
`url.QueryEscape`d, cmd/event-notification.go `ToEvent`). A stream must hold that subject;
shadow creates it when it is missing (`create_stream`).

Invariants:
- Events are hints: a message names keys to read now, between cycles; the periodic listing
  and its reconcile stay the source of truth.
- One durable pull consumer per shard (`<durable>-<i>-of-<n>`), so each shard sees every event,
  handles only the keys it owns and acknowledges the rest at once.
- A message is acknowledged only after `handle` returned, which is after the keys it named
  were read and committed to the ledger: a crash before that leaves it unacknowledged, and
  JetStream redelivers it after `ack_wait`. A redelivered event is harmless: the key's ETag
  is compared with the ledger's before anything is fetched.
- Connection loss (a NATS restart) is retried forever; nothing is acknowledged meanwhile.
- Read-only: shadow publishes nothing; it creates the stream and its consumer only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shadow.collectors.settings import NatsSettings
from shadow.errors import ConfigError

log = logging.getLogger("shadow.events")


@dataclass(frozen=True, slots=True)
class ObjectEvent:
    bucket: str
    key: str
    event_name: str
    etag: str | None  # absent on removals
    version_id: str | None


class _Object(BaseModel):
    model_config = ConfigDict(extra="allow")
    key: str
    eTag: str | None = None
    versionId: str | None = None


class _Bucket(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = ""


class _S3(BaseModel):
    model_config = ConfigDict(extra="allow")
    bucket: _Bucket = Field(default_factory=_Bucket)
    object: _Object


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow")
    eventName: str = ""
    s3: _S3


class MinioLog(BaseModel):
    """MinIO's `event.Log`: Go marshals its untagged fields under their own names. The webhook
    (`POST /events/minio`, shadow/serve/api.py) reads the same body."""

    model_config = ConfigDict(extra="allow")
    EventName: str | None = None
    Key: str | None = None
    Records: list[_Record] = Field(default_factory=list)


def parse_minio_message(data: bytes) -> list[ObjectEvent]:
    """The object events of one message MinIO published; ValueError for anything else."""
    try:
        doc = MinioLog.model_validate(orjson.loads(data))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise ValueError(f"not a MinIO event message: {str(exc).splitlines()[0]}") from None
    return [
        ObjectEvent(
            bucket=r.s3.bucket.name,
            key=unquote_plus(r.s3.object.key),  # MinIO escapes it with url.QueryEscape
            event_name=r.eventName or doc.EventName or "",
            etag=(r.s3.object.eTag or "").strip('"') or None,
            version_id=r.s3.object.versionId or None,
        )
        for r in doc.Records
    ]


Handler = Callable[[Sequence[ObjectEvent]], Awaitable[None]]


class JetStreamEvents:
    """Reads MinIO's events from a durable JetStream consumer and hands them to `handle`.

    `handle` gets this shard's events of one batch and returns once they are committed; it
    raises to have the batch redelivered. `mine` says whether a key belongs to this shard.
    """

    def __init__(
        self,
        settings: NatsSettings,
        handle: Handler,
        *,
        mine: Callable[[str], bool] = lambda _: True,
        shard: tuple[int, int] | None = None,
    ) -> None:
        if not settings.url:
            raise ConfigError("setting nats.url (SHADOW_NATS__URL) is needed to read events")
        self.settings = settings
        self.handle = handle
        self.mine = mine
        self.durable = settings.durable + ("" if shard is None else f"-{shard[0]}-of-{shard[1]}")
        self.received = 0  # events of this shard handled and acknowledged
        self.ignored = 0  # other shards', other buckets', unreadable messages
        self.connected = asyncio.Event()  # set while a subscription is live (tests, health)

    async def run(self) -> None:
        """Consume until cancelled, reconnecting after any failure of NATS."""
        try:
            import nats  # noqa: F401  (optional dependency: `pip install 'shadow[events]'`)
        except ImportError as exc:
            raise ConfigError(
                "nats.url is set but nats-py is not installed: pip install 'shadow[events]'"
            ) from exc
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS down or restarting: retried, nothing acknowledged
                self.connected.clear()
                log.warning("events: %s; reconnecting in 1s", self._describe(exc))
                await asyncio.sleep(1.0)

    async def _consume(self) -> None:
        import nats
        from nats.errors import TimeoutError as NatsTimeout
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        s = self.settings
        nc = await nats.connect(
            servers=[u.strip() for u in (s.url or "").split(",")],
            user=s.user,
            password=s.password.get_secret_value() if s.password else None,
            token=s.token.get_secret_value() if s.token else None,
            user_credentials=s.creds_file,
            name=f"shadow {self.durable}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=5,
            allow_reconnect=True,
        )
        try:
            js = nc.jetstream()
            if s.create_stream:
                await self._ensure_stream(js)
            sub = await js.pull_subscribe(
                s.subject,
                durable=self.durable,
                stream=s.stream,
                config=ConsumerConfig(
                    durable_name=self.durable,
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=s.ack_wait_seconds,
                    max_ack_pending=max(1000, 4 * s.batch),
                ),
            )
            self.connected.set()
            while True:
                try:
                    msgs = await sub.fetch(s.batch, timeout=1.0)
                except (NatsTimeout, TimeoutError):  # nothing new (or a slow answer): ask again
                    if not nc.is_connected:
                        raise  # a lost connection: reconnect from the top
                    continue
                await self._handle_batch(msgs)
        finally:
            self.connected.clear()
            with contextlib.suppress(Exception):
                await nc.close()

    async def _ensure_stream(self, js: Any) -> None:
        from nats.js.api import RetentionPolicy, StorageType, StreamConfig
        from nats.js.errors import NotFoundError

        s = self.settings
        try:
            await js.stream_info(s.stream)
        except NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=s.stream,
                    subjects=[s.subject],
                    retention=RetentionPolicy.LIMITS,
                    storage=StorageType.FILE,
                    max_age=s.stream_max_age_seconds,
                )
            )
            log.info("events: created stream %s on subject %s", s.stream, s.subject)

    async def _handle_batch(self, msgs: list[Any]) -> None:
        events: list[ObjectEvent] = []
        for m in msgs:
            try:
                parsed = parse_minio_message(m.data)
            except ValueError as exc:
                log.warning("events: skipped a message on %s: %s", m.subject, exc)
                self.ignored += 1
                continue
            for e in parsed:
                if self.settings.bucket and e.bucket != self.settings.bucket:
                    self.ignored += 1
                elif self.mine(e.key):
                    events.append(e)
                else:
                    self.ignored += 1
        if events:
            await self.handle(events)  # raises: nothing is acknowledged, all is redelivered
        for m in msgs:
            await m.ack()
        self.received += len(events)

    def _describe(self, exc: BaseException) -> str:
        """An error on one line, with every secret of the settings masked."""
        text = (str(exc) or type(exc).__name__).splitlines()[0][:300]
        s = self.settings
        secrets = [v.get_secret_value() for v in (s.password, s.token) if v is not None]
        for url in (s.url or "").split(","):
            if (pw := urlsplit(url.strip()).password) is not None:
                secrets.append(pw)
        for secret in filter(None, secrets):
            text = text.replace(secret, "***")
        return text
