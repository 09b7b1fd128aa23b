"""Settings: the only reader of the environment and of the config file.

Precedence: command-line flags > `SHADOW_*` environment variables (nested with `__`, e.g.
`SHADOW_THRESHOLDS__MIN_PAIRS`) > the TOML file named by `--config` or `SHADOW_CONFIG` >
defaults. Secrets are `SecretStr`: they print masked everywhere. A bad setting raises a
ConfigError that names the setting, its variable, and the fix.
"""

from __future__ import annotations

import hashlib
import json
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from shadow.collectors.settings import NatsSettings, S3Settings
from shadow.core.layout import Layout
from shadow.core.normalize import DEFAULT_MAX_STEPS
from shadow.core.pairing import PairBy
from shadow.core.profiles import Profile, resolve_extends
from shadow.core.shipped import SHIPPED, SHIPPED_RAW
from shadow.core.vocabulary import DEFAULT_ERROR_CLASSES
from shadow.errors import ConfigError
from shadow.judging.criteria import LatencySLO, Thresholds
from shadow.judging.judge import DEFAULT_MAX_FINDINGS
from shadow.ledger.dburl import is_postgres, mask_url

_CONFIG_FILE: ContextVar[Path | None] = ContextVar("shadow_config_file", default=None)


_T = Thresholds()  # the defaults, defined once in the judging layer


class ThresholdSettings(BaseModel):
    """`[thresholds]`: the fields of `criteria.Thresholds` (its defaults), with their bounds."""

    status: float = Field(_T.status, ge=0, le=1)
    steps: float = Field(_T.steps, ge=0, le=1)
    retries: float = Field(_T.retries, ge=0, le=1)
    timing_ratio: float = Field(_T.timing_ratio, gt=1)
    timing_min_pairs: int = Field(_T.timing_min_pairs, ge=1)
    timing_confidence: float = Field(_T.timing_confidence, gt=0.5, lt=1)
    completeness: int = Field(_T.completeness, ge=0)
    concurrency: int = Field(_T.concurrency, ge=0)
    side_effects: int = Field(_T.side_effects, ge=0)
    input: int = Field(_T.input, ge=0)
    min_pairs: int = Field(_T.min_pairs, ge=0)
    min_pairs_per_agent: int = Field(_T.min_pairs_per_agent, ge=0)
    min_days: float = Field(_T.min_days, ge=0)

    def judged(self, slos: dict[str, SLOSettings]) -> Thresholds:
        """The thresholds the verdict applies, with each stratum's latency objectives."""
        return Thresholds(
            **self.model_dump(),
            slos=tuple((name, LatencySLO(s.p50_ms, s.p95_ms)) for name, s in sorted(slos.items())),
        )


class SLOSettings(BaseModel):
    """Absolute latency objectives for one stratum (milliseconds), beside the relative rule."""

    p50_ms: float | None = Field(None, gt=0)
    p95_ms: float | None = Field(None, gt=0)


class ScheduleSettings(BaseModel):
    stratum: str = Field(min_length=1)
    cron: str
    tolerance_seconds: float = Field(900.0, gt=0)
    trigger: str | None = "cron"

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        from shadow.core.schedules import valid_cron

        if not valid_cron(v):
            raise ValueError("not a 5-field cron expression such as '0 12 * * *'")
        return v


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SHADOW_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    source: str = "dir:./demo-bucket"
    layout: Layout = Layout.FLAT
    prefix: str = ""
    suffix: str = Field("-dryrun", min_length=1)
    db: str = "shadow.db"  # a SQLite file path, or a postgresql:// URL (password masked in output)
    waivers: Path | None = None
    grace_seconds: float = Field(900.0, ge=0)
    run_timeout_seconds: float = Field(600.0, gt=0)
    max_object_bytes: int = Field(1024 * 1024, gt=0)
    max_steps_per_run: int = Field(DEFAULT_MAX_STEPS, ge=1)
    max_findings_per_run: int = Field(DEFAULT_MAX_FINDINGS, ge=1)
    excluded_steps: list[str] = Field(default_factory=lambda: ["execute-agent"])
    vendor_fields: list[str] = Field(default_factory=list)
    timing_slack_ms: float = Field(100.0, ge=0)
    thresholds: ThresholdSettings = Field(default_factory=ThresholdSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    scan_interval_seconds: float = Field(60.0, gt=0)
    nats: NatsSettings = Field(default_factory=NatsSettings)  # bucket events via JetStream
    # A full listing of every object (the source of truth) at most this often; the cycles in
    # between list run directories and the objects of those that can still change. 0: every
    # cycle lists everything.
    reconcile_interval_seconds: float = Field(3600.0, ge=0)
    # How long a terminal run's latest object must be older than before its directory is
    # settled (no longer listed between reconciles); None: grace_seconds.
    settle_seconds: float | None = Field(None, ge=0)
    shutdown_grace_seconds: float = Field(30.0, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    api_token: SecretStr | None = None
    webhook_token: SecretStr | None = None
    schedules: list[ScheduleSettings] = Field(default_factory=list)
    slos: dict[str, SLOSettings] = Field(default_factory=dict)
    pair_by: PairBy = PairBy.RUN_ID
    shard: str | None = Field(None, pattern=r"^\d+/\d+$")  # "i/n": judge one slice of the runs
    stratum_noun: str = "agents"  # what a stratum is called in summaries: agents, job types
    primary_profile: str = "garden"
    candidate_profile: str = "garden"
    profiles: dict[str, Profile] = Field(default_factory=dict)
    # class -> codes: run-level error codes this migration treats as one (replaces the default)
    error_classes: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ERROR_CLASSES.items()}
    )
    schedule_alert_window_seconds: float = Field(86400.0, gt=0)
    agent_label_allowlist: list[str] = Field(default_factory=list)
    agent_label_top_k: int = Field(10, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @field_validator("db", mode="before")
    @classmethod
    def _db_target(cls, v: object) -> object:
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, str) and "://" in v and not is_postgres(v):
            raise ValueError(
                "must be a SQLite file path or a postgresql://USER@HOST[:PORT]/DBNAME URL"
            )
        return v

    @property
    def ledger_target(self) -> Path | str:
        """The SQLite file as a Path, or the PostgreSQL URL as given."""
        return self.db if is_postgres(self.db) else Path(self.db).expanduser()

    @field_validator("api_token", "webhook_token")
    @classmethod
    def _token_not_empty(cls, v: SecretStr | None) -> SecretStr | None:
        # An empty token would be compared with an empty cookie or header and let anyone in:
        # a token is either unset (no protection, on purpose) or something to present.
        if v is not None and not v.get_secret_value().strip():
            raise ValueError(
                "is empty (or only whitespace); set a token, or unset the variable to serve "
                "without one"
            )
        return v

    @field_validator("source")
    @classmethod
    def _source_scheme(cls, v: str) -> str:
        if not (v.startswith("dir:") or v.startswith("s3://")):
            raise ValueError("must be dir:PATH or s3://BUCKET[/PREFIX]")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _CONFIG_FILE.get()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @field_validator("profiles", mode="before")
    @classmethod
    def _profiles_extend(cls, v: object) -> object:
        """`extends = "NAME"` merges a profile onto a shipped or another configured one; a
        profile's name is its key."""
        if not isinstance(v, dict):
            return v
        raw = {k: ({"name": k, **p} if isinstance(p, dict) else p) for k, p in v.items()}
        return resolve_extends(raw, SHIPPED_RAW)

    @field_validator("error_classes")
    @classmethod
    def _classes_disjoint(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        owner: dict[str, str] = {}
        for name, codes in v.items():
            if not codes:
                raise ValueError(f"class {name!r} lists no codes")
            for code in codes:
                if code in owner and owner[code] != name:
                    raise ValueError(
                        f"code {code!r} is in two classes ({owner[code]!r} and {name!r})"
                    )
                owner[code] = name
        return v

    @model_validator(mode="after")
    def _profiles_known(self) -> Settings:
        known = set(SHIPPED) | set(self.profiles)
        for setting in ("primary_profile", "candidate_profile"):
            name = getattr(self, setting)
            if name not in known:
                raise ValueError(
                    f"{setting} {name!r} is not a shipped profile ({', '.join(sorted(SHIPPED))}) "
                    "nor defined under [profiles.<name>] in the config file"
                )
        return self

    @property
    def shard_pair(self) -> tuple[int, int] | None:
        if self.shard is None:
            return None
        index, count = (int(x) for x in self.shard.split("/"))
        return index, count

    @model_validator(mode="after")
    def _shard_in_range(self) -> Settings:
        pair = self.shard_pair
        if pair is not None and not (pair[1] >= 1 and 0 <= pair[0] < pair[1]):
            raise ValueError(f"shard {self.shard!r} must be i/n with 0 <= i < n")
        return self

    def profile(self, name: str) -> Profile:
        return self.profiles.get(name) or SHIPPED[name]

    def judgement_fingerprint(self, waivers_text: str = "") -> str:
        """Hash of everything that changes a judgement: stored with each verdict."""
        relevant = self.model_dump(
            mode="json",
            include={
                "layout",
                "prefix",
                "suffix",
                "grace_seconds",
                "run_timeout_seconds",
                "max_object_bytes",
                "excluded_steps",
                "vendor_fields",
                "timing_slack_ms",
                "thresholds",
                "schedules",
                "slos",
                "pair_by",
                "primary_profile",
                "candidate_profile",
                "profiles",
            },
        )
        # Settings added since count only when set away from their default: upgrading shadow
        # does not change the fingerprint of a configuration that did not change.
        for name in _COUNTED_WHEN_SET:
            value = getattr(self, name)
            if value != type(self).model_fields[name].default:
                relevant[name] = value
        if self.error_classes != {k: list(v) for k, v in DEFAULT_ERROR_CLASSES.items()}:
            relevant["error_classes"] = self.error_classes  # the default leaves old hashes alone
        blob = json.dumps(relevant, sort_keys=True) + "\n" + waivers_text
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def masked(self) -> dict[str, Any]:
        """The effective config for display: secrets masked, nothing else hidden."""
        data: dict[str, Any] = json.loads(self.model_dump_json())
        data["db"] = mask_url(self.db)
        if self.nats.url:
            data["nats"]["url"] = ",".join(mask_url(u.strip()) for u in self.nats.url.split(","))
        return data


_COUNTED_WHEN_SET = ("max_steps_per_run", "max_findings_per_run")


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings; every error names the setting, its environment variable and the fix."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file {config_file} does not exist; fix --config / SHADOW_CONFIG")
    token = _CONFIG_FILE.set(config_file)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(describe_validation(exc)) from None
    except ValueError as exc:  # e.g. a TOML syntax error in the config file
        raise ConfigError(f"config file {config_file}: {exc}") from None
    finally:
        _CONFIG_FILE.reset(token)


def describe_validation(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        env = "SHADOW_" + "__".join(str(p) for p in err["loc"]).upper()
        got = err.get("input")
        if any(s in loc for s in ("token", "secret", "key_id")):
            shown = "(hidden)"
        elif loc == "db" and isinstance(got, str):
            shown = repr(mask_url(got) if "://" in got else got)
        else:
            shown = repr(got)
        lines.append(f"setting {loc} ({env}): {err['msg']}; got {shown}")
    return "invalid configuration:\n  " + "\n  ".join(lines)
