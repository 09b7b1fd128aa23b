"""Ledger URLs: which backend a `db` setting names, and how to show it without its password.

Pure string handling, shared by config (check-config, validation errors) and the backends.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def mask_url(target: str) -> str:
    """The URL with any password (in the authority or a `password=` parameter) replaced."""
    if "://" not in target:
        return target
    parts = urlsplit(target)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}{':***' if sep else ''}@{hostport}"
    query = urlencode(
        [
            (k, "***" if k.lower() == "password" else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def secrets_of(target: str) -> list[str]:
    """Every password in the URL, raw and percent-decoded, to scrub from driver messages."""
    parts = urlsplit(target)
    found = [v for k, v in parse_qsl(parts.query) if k.lower() == "password" and v]
    raw = parts.netloc.rpartition("@")[0].partition(":")[2]
    if raw:
        found += [raw, unquote(raw)]
    return sorted({s for s in found if s}, key=len, reverse=True)  # longest first: no partial scrub
