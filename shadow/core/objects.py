"""StoredObject: one object of the bucket as the ledger keeps it, the unit assembly reads. Pure.

It lives in the core, not in the ledger, so that assembling a run from its objects imports nothing
of the store: the ledger produces these values, the core consumes them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    etag: str
    size: int
    last_modified: float
    first_seen: float
    body: bytes | None  # None: not fetched (outputs) or too large
    too_large: bool = False
