"""What the JSON API and the console pages share: the running service, token checks, pair lookup.

One place compares tokens (in constant time) and one place resolves a run id from a URL to its
pairing key, so the API and the pages can never disagree on either.
"""

from __future__ import annotations

import hmac

from fastapi import Request
from pydantic import SecretStr

from shadow.judging.judge import Judgement
from shadow.serve.service import Service


def service_of(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


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
