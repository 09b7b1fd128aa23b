"""Configuration a user writes: the README's example, env overrides, errors, and masked secrets."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shadow.cli import main
from shadow.config import load_settings
from shadow.core.profiles import translate
from shadow.core.records import StatusRecord, validate
from shadow.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SHADOW = [sys.executable, "-m", "shadow.cli"]


def readme_config() -> str:
    """The TOML block of the profiles documentation, exactly as a user would copy it."""
    text = (REPO / "docs/profiles.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    return next(b for b in blocks if "[profiles.cf-queues]" in b)


def test_the_documented_profile_example_loads_and_translates(tmp_path: Path) -> None:
    """The documented custom profile is valid config and maps a queue record to a canonical one."""
    path = tmp_path / "shadow.toml"
    path.write_text(readme_config())
    settings = load_settings(path)
    profile = settings.profile(settings.candidate_profile)
    doc = {
        "run_id": "m1",
        "jobType": "meter-org",
        "status": "dead_lettered",
        "message": {"id": "msg-9"},
        "startedAt": 1_772_000_000_000,
        "ackedAt": 1_772_000_001_500,
    }
    rec = validate("k", translate(doc, "status", profile), StatusRecord)
    assert isinstance(rec, StatusRecord)
    assert ("failed", "meter-org", "msg-9") == (
        rec.status.value,
        rec.agent_slug,
        rec.idempotency_key,
    )
    assert ["usage-reset"] == [s.stratum for s in settings.schedules]


def test_environment_overrides_the_file_and_errors_name_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SHADOW_* beats the file; a bad value names its variable and what was wrong."""
    path = tmp_path / "shadow.toml"
    path.write_text("grace_seconds = 60\n[thresholds]\nmin_pairs = 10\n")
    monkeypatch.setenv("SHADOW_THRESHOLDS__MIN_PAIRS", "99")
    assert (60.0, 99) == (
        load_settings(path).grace_seconds,
        load_settings(path).thresholds.min_pairs,
    )
    monkeypatch.setenv("SHADOW_THRESHOLDS__MIN_PAIRS", "-1")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert "SHADOW_THRESHOLDS__MIN_PAIRS" in str(err.value)
    monkeypatch.delenv("SHADOW_THRESHOLDS__MIN_PAIRS")
    with pytest.raises(ConfigError) as err2:
        load_settings(path, candidate_profile="nope")
    assert "candidate_profile 'nope'" in str(err2.value) and "trigger-dev" in str(err2.value)
    with pytest.raises(ConfigError) as err3:
        load_settings(path, schedules=[{"stratum": "x", "cron": "every day"}])
    assert "cron" in str(err3.value)


def test_check_config_masks_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`shadow check-config` prints the effective config with every secret masked."""
    secrets = {
        "SHADOW_S3__SECRET_ACCESS_KEY": "s3-secret-value-123",
        "SHADOW_API_TOKEN": "api-token-value-456",
        "SHADOW_WEBHOOK_TOKEN": "hook-token-value-789",
        "SHADOW_S3__ACCESS_KEY_ID": "AKIAKEYID000",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    assert 0 == main(["check-config"])
    out = capsys.readouterr()
    for value in secrets.values():
        assert value not in out.out + out.err
    shown = json.loads(out.out.split("\nconfig fingerprint")[0])
    assert "**********" == shown["api_token"]


def test_secrets_never_reach_error_messages(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad secret-bearing setting is reported without its value."""
    monkeypatch.setenv("SHADOW_S3__SECRET_ACCESS_KEY", "s3-secret-value-123")
    monkeypatch.setenv("SHADOW_S3__CONCURRENCY", "0")
    assert 3 == main(["check-config"])
    err = capsys.readouterr().err
    assert "SHADOW_S3__CONCURRENCY" in err and "s3-secret-value-123" not in err


def test_a_postgres_url_is_masked_in_check_config_and_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ledger URL's password (in the authority or a parameter) never reaches the output."""
    monkeypatch.setenv("SHADOW_DB", "postgresql://shadow:pg-pass-123@db.internal:5432/ledger")
    assert 0 == main(["check-config"])
    out = capsys.readouterr()
    assert "pg-pass-123" not in out.out + out.err
    shown = json.loads(out.out.split("\nconfig fingerprint")[0])
    assert "postgresql://shadow:***@db.internal:5432/ledger" == shown["db"]
    assert 0 == main(["check-config", "--db", "postgres://u@h/d?password=pw-in-query-456"])
    out = capsys.readouterr()
    assert "pw-in-query-456" not in out.out and "password=***" in out.out
    assert 3 == main(["check-config", "--db", "mysql://root:mysql-pass-789@h/d"])
    err = capsys.readouterr().err
    assert "SHADOW_DB" in err and "postgresql://" in err and "mysql-pass-789" not in err


def test_thresholds_are_defined_once_and_everything_else_derives_them(tmp_path: Path) -> None:
    """`criteria.Thresholds` holds the defaults: the settings name the same fields with the same
    defaults, the comparators' tolerance is the timing threshold, and the metrics export them."""
    from dataclasses import fields

    from prometheus_client import CollectorRegistry

    from shadow.comparators import CompareOptions
    from shadow.config import ThresholdSettings
    from shadow.judging.criteria import Thresholds
    from shadow.serve.daemon import build_service

    assert {f.name for f in fields(Thresholds)} - {"slos"} == set(ThresholdSettings.model_fields)
    assert Thresholds() == ThresholdSettings().judged({})
    assert Thresholds().timing_ratio == CompareOptions().timing_tolerance
    settings = load_settings(
        source=f"dir:{tmp_path}",
        db=tmp_path / "s.db",
        thresholds={"steps": 0.99, "timing_ratio": 1.5},
    )
    metrics = build_service(settings, CollectorRegistry()).metrics
    assert ({"status": 1.0, "steps": 0.99, "retries": 1.0}, 1.5) == (
        metrics.parity_thresholds,
        metrics.timing_threshold,
    )


def test_the_new_caps_change_the_fingerprint_only_when_set() -> None:
    """`max_steps_per_run` and `max_findings_per_run` at their defaults leave the fingerprint of an
    unchanged configuration as it was; set, they change it (they change the judgement)."""
    base = load_settings().judgement_fingerprint()
    assert (
        base
        == load_settings(max_steps_per_run=1000, max_findings_per_run=100).judgement_fingerprint()
    )
    assert base != load_settings(max_steps_per_run=50).judgement_fingerprint()
    assert base != load_settings(max_findings_per_run=5).judgement_fingerprint()


def test_log_level_and_format_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """SHADOW_LOG_LEVEL takes any case; a format other than text or json names its variable."""
    monkeypatch.setenv("SHADOW_LOG_LEVEL", "debug")
    monkeypatch.setenv("SHADOW_LOG_FORMAT", "json")
    settings = load_settings()
    assert ("DEBUG", "json") == (settings.log_level, settings.log_format)
    monkeypatch.setenv("SHADOW_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="SHADOW_LOG_FORMAT"):
        load_settings()


@pytest.mark.parametrize("variable", ["SHADOW_API_TOKEN", "SHADOW_WEBHOOK_TOKEN"])
def test_an_empty_token_stops_serve_at_start_up(variable: str, tmp_path: Path) -> None:
    """An empty (or blank) token is a configuration error naming its variable: `shadow serve`
    exits 3 before it listens, instead of comparing an empty cookie with an empty token."""
    env = {**os.environ, variable: " "}
    proc = subprocess.run(
        [*SHADOW, "serve", "--source", f"dir:{tmp_path}", "--db", str(tmp_path / "s.db")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert 3 == proc.returncode
    assert variable in proc.stderr and "empty" in proc.stderr
    assert not (tmp_path / "s.db").exists()
