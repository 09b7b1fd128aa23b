"""Waivers: matching, expiry, counting, and clear errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.waivers import WaiverSet, load_waivers, parse_waivers
from shadow.errors import ConfigError

F = Finding(
    dimension=Dimension.STEPS,
    kind=Kind.STEP_EXTRA,
    severity=Severity.ERROR,
    path="steps[3]",
    message="extra",
    subject="validate-output",
)
DOC = """
[[waiver]]
id = "extra"
dimension = "steps"
kind = "step_extra"
agent = "curator-*"
path = "steps[*]"
run = "run_2026-02-*"
owner = "platform@example.com"
reason = "validate-output is new"
expires = 2026-03-31
"""


@pytest.mark.parametrize(
    ("agent", "run", "today", "waived", "expired"),
    [
        ("curator-piano", "run_2026-02-14_x", date(2026, 3, 1), "extra", None),
        (
            "curator-piano",
            "run_2026-02-14_x",
            date(2026, 3, 31),
            "extra",
            None,
        ),  # through the expiry day
        ("curator-piano", "run_2026-02-14_x", date(2026, 4, 1), None, "extra"),
        ("archivist-violin", "run_2026-02-14_x", date(2026, 3, 1), None, None),
        ("curator-piano", "run_2026-03-01_x", date(2026, 3, 1), None, None),
    ],
)
def test_matching_and_expiry(
    agent: str, run: str, today: date, waived: str | None, expired: str | None
) -> None:
    """A waiver applies on its agent, path and run patterns until its expiry day ends."""
    ws = WaiverSet(parse_waivers(DOC, "w.toml"), today)
    [out] = ws.apply([F], agent, run)
    assert (waived, expired) == (out.waived_by, out.expired_waiver)
    assert (1 if waived else 0, 1 if expired else 0) == (
        ws.covered["extra"],
        ws.would_cover["extra"],
    )


def test_other_dimensions_and_kinds_do_not_match() -> None:
    """A steps waiver never waives a status finding."""
    ws = WaiverSet(parse_waivers(DOC, "w.toml"), date(2026, 3, 1))
    other = F.model_copy(
        update={"dimension": Dimension.STATUS, "kind": Kind.TERMINAL_STATE_DIFFERS}
    )
    assert [other] == ws.apply([other], "curator-piano", "run_2026-02-14_x")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[[waiver]\n", "not valid TOML"),
        ('[[waiver]]\ndimension = "steps"\nreason = "r"\nexpires = 2026-01-01\n', "owner"),
        (
            '[[waiver]]\ndimension = "nope"\nowner = "o"\nreason = "r"\nexpires = 2026-01-01\n',
            "dimension",
        ),
    ],
)
def test_bad_waiver_files_name_the_file_and_the_field(
    tmp_path: Path, text: str, needle: str
) -> None:
    """A broken waivers file is a ConfigError that names the file and what is wrong."""
    path = tmp_path / "waivers.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_waivers(path)
    assert str(path) in str(err.value) and needle in str(err.value)
