"""Fixtures shared by every test tier: a real PostgreSQL server for the ledger's second backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pgserver import PgServer


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the session; each test takes its own database from it."""
    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL (with password) of a fresh, empty database."""
    return pg_server.create_database()
