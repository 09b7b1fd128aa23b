"""What the JSON API and the console pages share: the running service, what its judgement
serves, token checks, the cross-origin check, pair lookup.

One place compares tokens (in constant time), one place decides whether a state-changing
request came from the console's own pages, and one place resolves a run id from a URL to its
pairing key, so the API and the pages can never disagree on any of them.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from fastapi import Request
from pydantic import SecretStr

from shadow.judging.judge import Judgement
from shadow.serve.served import Served, ServedCache
from shadow.serve.service import Service

COOKIE = "shadow_token"  # the console's login cookie: HttpOnly, SameSite=Strict


def service_of(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


async def served_of(request: Request) -> Served | None:
    """What the engine's current judgement serves; None before the first judgement."""
    engine = service_of(request).engine
    cache: ServedCache = request.app.state.served
    return await cache.get(engine.last_head, engine.last_judgement)


def presented_token(request: Request) -> str | None:
    """The API token a request presents: a bearer header (scripts) or the login cookie (people)."""
    presented = bearer(request.headers.get("authorization"))
    return presented if presented is not None else request.cookies.get(COOKIE)


def cross_origin(request: Request) -> str | None:
    """Why a state-changing request did not come from this server's own pages, or None.

    The rule of Go's `net/http.CrossOriginProtection` (src/net/http/csrf.go): browsers since
    2023 send `Sec-Fetch-Site`, which a page cannot forge: only `same-origin` (a form on these
    pages) and `none` (typed by the user) pass. Without it, an `Origin` header must name this
    host. A request with neither is not from a browser (curl, a script): no cookie rides on it
    unasked, so there is nothing to forge, and it passes.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return None if site in ("same-origin", "none") else f"Sec-Fetch-Site is {site}"
    origin = request.headers.get("origin")
    if origin is None:
        return None
    if urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower():
        return None
    return "its Origin is not this server"


def token_matches(expected: SecretStr | None, presented: str | None) -> bool:
    """True when no token is configured, or when `presented` is it (constant-time compare)."""
    if expected is None:
        return True
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode(), expected.get_secret_value().encode())


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (the scheme in any case, RFC 7235),
    None for anything else."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def pair_key(j: Judgement, run_id: str, suffix: str) -> str | None:
    """The pairing key a URL's run id names: the key itself, or a dry run's directory id."""
    key = run_id if run_id in j.pairs else run_id.removesuffix(suffix)
    return key if key in j.pairs else None
