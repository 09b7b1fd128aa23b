"""A real S3 endpoint for the tests: moto's server over HTTP on a free loopback port.

`mock_aws` cannot intercept aiobotocore, so every S3 test talks HTTP to this server, exactly
as shadow talks to MinIO. State is wiped between tests through moto's reset endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

BUCKET = "runs-bucket"
ACCESS_KEY = "AKIATESTSHADOW00001"
SECRET_KEY = "test-secret-never-logged-0123456789"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A plain boto3 client for seeding the bucket, on a freshly reset server."""
    httpx.post(f"{s3_endpoint}/moto-api/reset")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    client.close()


def settings_for(endpoint: str, tmp_path: Any, **extra: Any) -> Any:
    from shadow.config import load_settings

    s3 = {
        "endpoint_url": endpoint,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        "concurrency": 8,
        **extra.pop("s3", {}),
    }
    return load_settings(
        **{"source": f"s3://{BUCKET}/", "db": tmp_path / "shadow.db", "s3": s3, **extra}
    )
