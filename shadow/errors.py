"""shadow's own errors: infrastructure faults and broken invariants.

Bad data in the bucket is never an exception (see `records.Rejected`); these are for
configuration, the store and the object store. Messages name the bucket, key, file or setting
concerned and never carry credentials.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """Why a read or a cycle failed: the closed set of `shadow_scan_errors_total{kind}` values.

    The first ten are source errors (a listing, HEAD or GET); the last two name cycles that
    failed for another reason, so every failed cycle is counted under some kind.
    """

    ACCESS_DENIED = "access_denied"  # not transient: never retried
    NOT_FOUND = "not_found"
    THROTTLED = "throttled"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    IO = "io"  # a local read failed (the directory source)
    INVALID_KEY = "invalid_key"  # a key that points outside the source
    CONFIG = "config"  # no source configured, a setting or a file it names is wrong
    OTHER = "other"
    STORE = "store"  # the ledger failed (a StoreError)
    INTERNAL = "internal"  # anything else: a defect, reported and counted, never silent


class ShadowError(Exception):
    """Base of every error shadow raises on purpose."""


class ConfigError(ShadowError):
    """A setting or a file named by a setting is wrong; the message says which and the fix."""


class UsageError(ShadowError):
    """The command line is wrong (a malformed value, flags that contradict each other or the
    ledger): the CLI exits 64, EX_USAGE, never a verdict's code."""


class StoreError(ShadowError):
    """The ledger (SQLite or PostgreSQL) cannot be opened, read or written."""


class SourceError(ShadowError):
    """The watched bucket or directory could not be listed or read."""

    def __init__(
        self, message: str, *, kind: ErrorKind = ErrorKind.OTHER, transient: bool = True
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.transient = transient


def kind_of(exc: BaseException) -> ErrorKind:
    """The kind a failed cycle is counted under."""
    if isinstance(exc, SourceError):
        return exc.kind
    if isinstance(exc, StoreError):
        return ErrorKind.STORE
    if isinstance(exc, ConfigError):
        return ErrorKind.CONFIG
    return ErrorKind.INTERNAL
