"""`shadow profile list | show | check`: what a team uses to write its profile."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from shadow.cli import main
from shadow.core.profiles import Profile
from shadow.core.shipped import SHIPPED
from tests.vendor_reading import VENDORS


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["profile", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_shows_each_field_what_it_read_and_the_normalized_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    record = VENDORS / "inngest/v2/run-failed.json"
    trace = VENDORS / "inngest/v2/trace-failed.json"
    code, out, _ = run(capsys, "check", "inngest", str(record), "--document", f"trace={trace}")
    assert code == 0
    assert "run.state" in out and "'FAILED'  => 'failed'" in out
    assert "run.started_at       ['startedAt', " not in out  # one branch fired, named alone
    assert "'startedAt': '2026-03-01T10:02:51.270400Z'" in out
    assert "error.code" in out and "=> 'UPSTREAM_UNAVAILABLE'" in out
    assert "retries [charge-card x3 exhausted (UPSTREAM_UNAVAILABLE)]" in out
    assert "words not understood: none" in out


def test_check_shows_a_schedule_slot_as_iso_time(capsys: pytest.CaptureFixture[str]) -> None:
    """The slot a scheduled run serves reads as ISO-8601 UTC, like the record's own times."""
    record = VENDORS / "cloudflare-queues/cron.json"
    code, out, _ = run(capsys, "check", "cf-queues-consumer", str(record))
    assert code == 0
    (normalized,) = [line for line in out.splitlines() if "normalized:" in line]
    assert "scheduled, slot 2026-03-01T12:00:00Z;" in normalized


def test_check_names_a_retry_error_not_recorded_once(capsys: pytest.CaptureFixture[str]) -> None:
    """A retry whose records name no error says so in one pair of parentheses."""
    record = VENDORS / "cloudflare-queues/redelivered/delivery-2.json"
    code, out, _ = run(capsys, "check", "cf-queues-consumer", str(record))
    assert code == 0
    assert "retries [run x2 recovered (not recorded)]" in out
    assert "((" not in out


def test_check_names_every_word_not_understood_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i, word in enumerate(["PAUSED", "PAUSED", "RESUMING"]):
        doc = json.loads((VENDORS / "trigger-dev/current/completed.json").read_bytes())
        (tmp_path / f"r{i}.json").write_text(json.dumps({**doc, "status": word}))
    code, out, _ = run(capsys, "check", "trigger-dev", str(tmp_path), "--json")
    assert code == 1
    result = json.loads(out)
    assert result["not_understood"] == {"PAUSED": 2, "RESUMING": 1}
    assert result["rejected"] == 3 and result["records"][0]["run"] is None


def test_check_reads_a_directory_of_fixtures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "trigger-dev", str(VENDORS / "trigger-dev/legacy"))
    assert code == 0 and "4 record(s): 4 read, 0 with problems" in out


def test_check_a_profile_written_in_a_file_that_extends_a_shipped_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Inngest v1 names functions by UUID: a team adds its map and nothing else."""
    profile = tmp_path / "mine.toml"
    profile.write_text(
        "[profiles.inngest-v1]\n"
        'extends = "inngest"\n'
        "[profiles.inngest-v1.run]\n"
        'stratum = ["function.id", { path = "function_id", map = '
        '{ "6b1f3c2e-8a4d-4f7e-9c2b-1d5e7a9f0c34" = "meter-org" } }]\n'
    )
    code, out, _ = run(
        capsys, "check", str(profile), str(VENDORS / "inngest/v1/run-failed.json"), "--json"
    )
    assert code == 0
    (record,) = json.loads(out)["records"]
    assert record["run"]["stratum"] == "meter-org"
    assert record["run"]["error_code"] == "UPSTREAM_UNAVAILABLE"


def test_list_and_show_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list")
    assert code == 0 and {line.split()[0] for line in out.splitlines()} == set(SHIPPED)
    for name in ("trigger-dev", "inngest", "cf-queues-consumer", "telegram-bot"):
        code, out, _ = run(capsys, "show", name)
        table = tomllib.loads(out)["profiles"][name]
        assert code == 0 and Profile.model_validate({"name": name, **table}) == SHIPPED[name]
    config = tmp_path / "shadow.toml"
    config.write_text('[profiles.mine]\nextends = "telegram-bot"\ndescription = "ours"\n')
    code, out, _ = run(capsys, "show", "mine", "--config", str(config))
    table = tomllib.loads(out)["profiles"]["mine"]
    assert (
        Profile.model_validate({"name": "mine", **table}).retries == SHIPPED["telegram-bot"].retries
    )


def test_usage_errors_exit_64(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "show", "nope")[0] == 64
    assert run(capsys, "check", "nope", str(VENDORS))[0] == 64
    assert run(capsys, "check", "inngest", str(tmp_path / "missing.json"))[0] == 64
    code, _, err = run(capsys, "check", "inngest", str(VENDORS), "--document", "trace")
    assert code == 64 and "NAME=FILE" in err
