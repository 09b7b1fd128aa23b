"""shadow's own errors: infrastructure faults and broken invariants.

Bad data in the bucket is never an exception (see `records.Rejected`); these are for
configuration, the store and the object store. Messages name the bucket, key, file or setting
concerned and never carry credentials.
"""

from __future__ import annotations


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

    def __init__(self, message: str, *, kind: str = "other", transient: bool = True) -> None:
        super().__init__(message)
        self.kind = kind
        self.transient = transient
