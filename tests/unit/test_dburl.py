"""Ledger URLs shown without their passwords, whatever shape the password takes."""

from __future__ import annotations

import pytest

from shadow.ledger.dburl import is_postgres, mask_url, secrets_of


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgres://u@h/db", "postgres://u@h/db"),
        ("postgresql://u:p%40ss%3Aw@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:a@b@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:pw@[::1]:5432/db", "postgresql://u:***@[::1]:5432/db"),
        (
            "postgresql://h/db?user=u&password=pw&sslmode=require",
            "postgresql://h/db?user=u&password=***&sslmode=require",
        ),
        ("/var/lib/shadow/shadow.db", "/var/lib/shadow/shadow.db"),
    ],
)
def test_mask_url_hides_every_password(url: str, shown: str) -> None:
    assert shown == mask_url(url)
    for secret in secrets_of(url):
        assert secret not in mask_url(url)


def test_percent_encoded_passwords_are_scrubbed_in_both_forms() -> None:
    """A driver message may quote the password decoded: both spellings are known secrets."""
    assert {"p%40ss", "p@ss"} <= set(secrets_of("postgresql://u:p%40ss@h/db"))


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("postgresql://h/d", True),
        ("postgres://h/d", True),
        ("shadow.db", False),
        ("mysql://h/d", False),
    ],
)
def test_is_postgres_by_scheme(target: str, expected: bool) -> None:
    assert expected == is_postgres(target)
