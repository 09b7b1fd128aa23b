"""The sources' settings: typed models the config file and `SHADOW_S3__*`, `SHADOW_NATS__*` fill.

It sits with the collectors, not in `config.py`, so the S3 collector depends only on its own
settings and never on the wiring above it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class S3Settings(BaseModel):
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    addressing_style: Literal["path", "virtual", "auto"] = "path"
    concurrency: int = Field(16, ge=1, le=256)
    versioned: Literal["auto", "on", "off"] = "auto"
    connect_timeout_seconds: float = Field(5.0, gt=0)
    read_timeout_seconds: float = Field(30.0, gt=0)
    max_attempts: int = Field(4, ge=1, le=20)
    list_page_size: int = Field(1000, ge=1, le=1000)  # keys per ListObjectsV2 page (S3's max)


class NatsSettings(BaseModel):
    """`[nats]`: where MinIO's bucket notifications arrive (off while `url` is unset)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None  # nats://host:4222; several servers comma-separated
    subject: str = "minio.events"  # MinIO's MINIO_NOTIFY_NATS_SUBJECT
    stream: str = "MINIO_EVENTS"
    create_stream: bool = True  # create the stream (file storage, limits) when it is missing
    stream_max_age_seconds: float = Field(7 * 86400.0, gt=0)  # older events: the reconcile's
    durable: str = Field("shadow", pattern=r"^[A-Za-z0-9_-]+$")
    user: str | None = None
    password: SecretStr | None = None
    token: SecretStr | None = None
    creds_file: str | None = None  # a NATS .creds file (JWT + NKey seed)
    bucket: str | None = None  # only this bucket's events; default: the s3:// source's bucket
    batch: int = Field(256, ge=1)  # messages read and handled together
    ack_wait_seconds: float = Field(60.0, gt=0)  # unacknowledged this long: redelivered
