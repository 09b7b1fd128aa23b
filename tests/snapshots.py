"""Proof that shadow only reads: the watched bucket or tree is byte-identical after a scan.

Wrap the part of a test that scans in `bucket_unchanged(s3)` or `tree_unchanged(root)`; the
test's own seeding and edits stay outside. The bucket snapshot covers every version (key,
version id, ETag, size), so even a write that a later version hides is caught; the tree
snapshot covers every file's path, SHA-256, size and modification time, and every directory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BucketRow = tuple[str, str, str, int]
TreeRow = tuple[str, str, int, int]


def bucket_snapshot(s3: Any, bucket: str) -> list[BucketRow]:
    rows: list[BucketRow] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            rows.append(
                (v["Key"], str(v.get("VersionId")), v.get("ETag", "<delete>"), v.get("Size", -1))
            )
    return sorted(rows)


def tree_snapshot(root: Path) -> list[TreeRow]:
    rows: list[TreeRow] = []
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "<dir>"
        rows.append((path.relative_to(root).as_posix(), digest, st.st_size, st.st_mtime_ns))
    return rows


@contextmanager
def bucket_unchanged(s3: Any, bucket: str | None = None) -> Iterator[None]:
    from tests.integration.conftest import BUCKET

    name = bucket or BUCKET
    before = bucket_snapshot(s3, name)
    assert before, "an empty bucket proves nothing; seed it before the scan"
    yield
    assert before == bucket_snapshot(s3, name)


@contextmanager
def tree_unchanged(root: Path) -> Iterator[None]:
    before = tree_snapshot(root)
    assert before, "an empty tree proves nothing; write it before the scan"
    yield
    assert before == tree_snapshot(root)
