"""The S3 source's settings: a typed model the config file and `SHADOW_S3__*` fill.

It sits with the collectors, not in `config.py`, so the S3 collector depends only on its own
settings and never on the wiring above it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr


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
