"""The S3 / MinIO source, on aiobotocore: list, head and get only.

Invariants:
- Read-only by construction: the class calls list_objects_v2 (with and without a delimiter),
  list_object_versions, head_object, get_object and get_bucket_versioning, and has no method
  that writes.
- The client is created lazily inside the running loop and closed by `close()`.
- Credentials are read from SecretStr only when the client is created; they appear in no
  message, repr or log line.
- botocore and network errors become SourceError naming the bucket and key, with a kind from
  a closed set: access_denied (not transient), not_found, throttled, server_error, timeout,
  connection, other. Transient errors are retried by botocore's standard mode (exponential
  backoff with jitter) before they reach shadow; access denied is never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    HTTPClientError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from shadow.collectors import ListedObject, ObjectVersion, Skipped
from shadow.collectors.settings import S3Settings
from shadow.errors import ConfigError, ErrorKind, SourceError

# Everything a request can fail with, from botocore's modeled errors to the socket.
_TRANSPORT_ERRORS = (TimeoutError, BotoCoreError, ClientError, aiohttp.ClientError, ConnectionError)
_DENIED = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "403",
    "AllAccessDisabled",
}
_NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}
_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "503"}


def classify(exc: BaseException) -> tuple[ErrorKind, bool]:
    """(kind, transient) for an error from botocore or the network."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _DENIED or status == 403:
            return ErrorKind.ACCESS_DENIED, False
        if code in _NOT_FOUND or status == 404:
            return ErrorKind.NOT_FOUND, False
        if code in _THROTTLED:
            return ErrorKind.THROTTLED, True
        if status >= 500:
            return ErrorKind.SERVER_ERROR, True
        return ErrorKind.OTHER, False
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError | asyncio.TimeoutError):
        return ErrorKind.TIMEOUT, True
    if isinstance(
        exc, BotoConnectionError | HTTPClientError | aiohttp.ClientError | ConnectionError
    ):
        return ErrorKind.CONNECTION, True  # refused, reset, closed without an answer
    return ErrorKind.OTHER, True


class S3Source:
    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        endpoint_url: str | None,
        region: str,
        credentials: tuple[str, str, str | None] | None,
        config: AioConfig,
        versioned: str = "auto",
        page_size: int = 1000,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.description = f"s3://{bucket}/{prefix}" + (
            f" at {endpoint_url}" if endpoint_url else ""
        )
        self._region = region
        self._credentials = credentials
        self._config = config
        self._versioned_setting = versioned
        self._versioned: bool | None = None
        self._page_size = page_size
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: Any = None
        self.requests: Counter[str] = Counter()  # S3 operations sent, by name (GetObject, ...)

    def __repr__(self) -> str:
        return f"S3Source({self.description!r})"

    @classmethod
    def from_settings(cls, source: str, s3: S3Settings) -> S3Source:
        rest = source[len("s3://") :]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ConfigError(
                "setting source (SHADOW_SOURCE): s3:// needs a bucket, e.g. s3://runs-bucket/"
            )
        creds = None
        if s3.access_key_id is not None and s3.secret_access_key is not None:
            token = s3.session_token.get_secret_value() if s3.session_token else None
            creds = (
                s3.access_key_id.get_secret_value(),
                s3.secret_access_key.get_secret_value(),
                token,
            )
        config = AioConfig(
            s3={"addressing_style": s3.addressing_style},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=s3.connect_timeout_seconds,
            read_timeout=s3.read_timeout_seconds,
            retries={"max_attempts": s3.max_attempts, "mode": "standard"},
            max_pool_connections=max(10, s3.concurrency),
        )
        return cls(
            bucket,
            prefix,
            endpoint_url=s3.endpoint_url,
            region=s3.region,
            credentials=creds,
            config=config,
            versioned=s3.versioned,
            page_size=s3.list_page_size,
        )

    async def _c(self) -> Any:
        if self._client is None:
            self._stack = contextlib.AsyncExitStack()
            kwargs: dict[str, Any] = {}
            if self._credentials is not None:
                key, secret, token = self._credentials
                kwargs = {"aws_access_key_id": key, "aws_secret_access_key": secret}
                if token:
                    kwargs["aws_session_token"] = token
            self._client = await self._stack.enter_async_context(
                get_session().create_client(
                    "s3",
                    endpoint_url=self.endpoint_url,
                    region_name=self._region,
                    config=self._config,
                    **kwargs,
                )
            )
            self._client.meta.events.register("before-call.s3", self._count)
        return self._client

    def _count(self, model: Any, **_: Any) -> None:
        self.requests[model.name] += 1

    def _error(self, exc: BaseException, action: str, key: str | None) -> SourceError:
        kind, transient = classify(exc)
        where = f"s3://{self.bucket}/{key}" if key else f"bucket {self.bucket!r}"
        code = ""
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
        detail = code or type(exc).__name__
        return SourceError(
            f"{action} {where} failed: {kind} ({detail})", kind=kind, transient=transient
        )

    async def list_pages(self, prefix: str) -> AsyncIterator[list[ListedObject]]:
        """Every object under the prefix (relative to ours), a listing page at a time."""
        full = self.prefix + prefix if not prefix.startswith(self.prefix) else prefix
        try:
            client = await self._c()
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full, PaginationConfig={"PageSize": self._page_size}
            )
            async for page in pages:
                yield [
                    ListedObject(
                        key=item["Key"],
                        etag=str(item.get("ETag", "")).strip('"'),
                        size=int(item.get("Size", 0)),
                        last_modified=item["LastModified"].timestamp(),
                    )
                    for item in page.get("Contents", [])
                ]
        except _TRANSPORT_ERRORS as exc:
            raise self._error(exc, "listing", full) from exc

    async def list_dirs(self, prefix: str) -> AsyncIterator[list[str]]:
        """The common prefixes directly below the prefix: one request per 1,000 of them."""
        full = self.prefix + prefix if not prefix.startswith(self.prefix) else prefix
        try:
            client = await self._c()
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket,
                Prefix=full,
                Delimiter="/",
                PaginationConfig={"PageSize": self._page_size},
            )
            async for page in pages:
                yield [str(cp["Prefix"]) for cp in page.get("CommonPrefixes", [])]
        except _TRANSPORT_ERRORS as exc:
            raise self._error(exc, "listing directories of", full) from exc

    def skipped(self) -> list[Skipped]:
        return []  # every S3 key is a UTF-8 name of an object: a listing passes nothing over

    async def list_objects(self, prefix: str) -> AsyncIterator[ListedObject]:
        async for page in self.list_pages(prefix):
            for obj in page:
                yield obj

    async def head(self, key: str) -> ListedObject | None:
        try:
            client = await self._c()
            resp = await client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if classify(exc)[0] is ErrorKind.NOT_FOUND:
                return None
            raise self._error(exc, "head of", key) from exc
        except _TRANSPORT_ERRORS as exc:
            raise self._error(exc, "head of", key) from exc
        return ListedObject(
            key,
            str(resp.get("ETag", "")).strip('"'),
            int(resp.get("ContentLength", 0)),
            resp["LastModified"].timestamp(),
        )

    async def fetch(self, key: str, *, version_id: str | None = None) -> bytes:
        try:
            client = await self._c()
            extra = {"VersionId": version_id} if version_id else {}
            resp = await client.get_object(Bucket=self.bucket, Key=key, **extra)
            async with resp["Body"] as stream:
                return bytes(await stream.read())
        except _TRANSPORT_ERRORS as exc:
            raise self._error(exc, "get of", key) from exc

    async def versioned(self) -> bool:
        if self._versioned_setting != "auto":
            return self._versioned_setting == "on"
        if self._versioned is None:
            try:
                client = await self._c()
                resp = await client.get_bucket_versioning(Bucket=self.bucket)
            except _TRANSPORT_ERRORS as exc:
                raise self._error(exc, "versioning status of", None) from exc
            self._versioned = resp.get("Status") == "Enabled"
        return self._versioned

    async def list_versions(self, key: str) -> list[ObjectVersion]:
        """The versions of exactly this key, oldest first, delete markers left out."""
        # A prefix listing also returns keys that merely start with `key`; they are skipped.
        if not await self.versioned():
            return []
        out: list[ObjectVersion] = []
        try:
            client = await self._c()
            pages = client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=key
            )
            async for page in pages:
                for v in page.get("Versions", []):
                    if v["Key"] == key:
                        out.append(
                            ObjectVersion(
                                key,
                                str(v["VersionId"]),
                                str(v.get("ETag", "")).strip('"'),
                                v["LastModified"].timestamp(),
                                bool(v.get("IsLatest")),
                                int(v.get("Size", 0)),
                            )
                        )
        except _TRANSPORT_ERRORS as exc:
            raise self._error(exc, "listing versions of", key) from exc
        # S3 lists a key's versions newest first; LastModified has only second resolution, so
        # the listing order, not the timestamp, is the history.
        return out[::-1]

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack, self._client = None, None
