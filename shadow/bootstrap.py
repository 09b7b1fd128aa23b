"""Composition root: Settings -> source, ledger and engine. No import-time singletons."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from shadow.collectors import Source
from shadow.collectors.directory import DirectorySource
from shadow.comparators import CompareOptions
from shadow.config import Settings
from shadow.core.layout import KeyLayout, Layout, Side
from shadow.core.normalize import NormalizeOptions, cron_key
from shadow.core.pairing import PairingOptions
from shadow.core.profiles import Profile
from shadow.core.schedules import Schedule
from shadow.core.vocabulary import class_table
from shadow.core.waivers import load_waivers
from shadow.engine import Engine, EngineOptions
from shadow.errors import ConfigError, UsageError
from shadow.judging.judge import JudgeOptions
from shadow.ledger.store import Ledger


def engine_options(settings: Settings) -> EngineOptions:
    waivers_text = ""
    if settings.waivers is not None:
        try:
            waivers_text = settings.waivers.read_text(encoding="utf-8")
        except OSError:
            waivers_text = ""  # load_waivers below raises the error that names the fix
    waivers = load_waivers(settings.waivers)
    excluded = frozenset(settings.excluded_steps)
    profiles = {
        Side.PRIMARY: settings.profile(settings.primary_profile),
        Side.CANDIDATE: settings.profile(settings.candidate_profile),
    }
    return EngineOptions(
        layout=KeyLayout(settings.layout, effective_prefix(settings), settings.suffix),
        normalize=NormalizeOptions(
            settings.suffix,
            excluded,
            _vendor_fields(settings),
            settings.max_steps_per_run,
            class_table(settings.error_classes),
            _cron_strata(settings),
        ),
        judge=JudgeOptions(
            pairing=PairingOptions(settings.grace_seconds, settings.run_timeout_seconds),
            compare=CompareOptions(
                excluded, settings.thresholds.timing_ratio, settings.timing_slack_ms
            ),
            thresholds=settings.thresholds.judged(settings.slos),
            schedules=tuple(
                Schedule(s.stratum, s.cron, s.tolerance_seconds, s.trigger)
                for s in settings.schedules
            ),
            max_findings=settings.max_findings_per_run,
            blind=blind_dimensions(profiles),
        ),
        waivers=waivers,
        config_hash=settings.judgement_fingerprint(waivers_text),
        max_object_bytes=settings.max_object_bytes,
        concurrency=settings.s3.concurrency,
        pair_by=settings.pair_by,
        stratum_noun=settings.stratum_noun,
        shard=settings.shard_pair,
        profiles=profiles,
        use_versions=False,
        reconcile_interval=settings.reconcile_interval_seconds,
        settle_seconds=(
            settings.grace_seconds if settings.settle_seconds is None else settings.settle_seconds
        ),
    )


def blind_dimensions(profiles: dict[Side, Profile]) -> tuple[tuple[str, str], ...]:
    """Dimensions a side's profile cannot see at all, with why, for the evidence rules."""
    why: dict[str, list[str]] = {}
    for side in Side:
        for dim, reason in profiles[side].blind_to().items():
            why.setdefault(dim, []).append(f"the {side.value}'s {reason}")
    return tuple((dim, " and ".join(reasons)) for dim, reasons in sorted(why.items()))


def _cron_strata(settings: Settings) -> dict[str, str]:
    """cron line -> the stratum of the one schedule with it (ambiguous lines map to none)."""
    found: dict[str, set[str]] = {}
    for s in settings.schedules:
        found.setdefault(cron_key(s.cron), set()).add(s.stratum)
    return {cron: next(iter(strata)) for cron, strata in found.items() if len(strata) == 1}


def _vendor_fields(settings: Settings) -> frozenset[str]:
    """Configured vendor fields plus those the two sides' profiles declare."""
    names = set(settings.vendor_fields)
    for name in (settings.primary_profile, settings.candidate_profile):
        names |= set(settings.profile(name).vendor_fields)
    return frozenset(names)


def effective_prefix(settings: Settings) -> str:
    """The prefix in effect: an s3://BUCKET/PREFIX source sets it, else the prefix setting."""
    prefix = settings.prefix
    if settings.source.startswith("s3://"):
        _, _, rest = settings.source[len("s3://") :].partition("/")
        prefix = rest or prefix
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return prefix


def make_source(settings: Settings) -> Source:
    if settings.source.startswith("dir:"):
        root = Path(settings.source[len("dir:") :]).expanduser()
        if not root.is_dir():
            raise ConfigError(
                f"source directory {root} does not exist (setting source / SHADOW_SOURCE / --source); "
                "run `shadow demo --out DIR` to create a demo bucket, or point at your bucket's copy"
            )
        return DirectorySource(root)
    from shadow.collectors.s3 import S3Source

    return S3Source.from_settings(settings.source, settings.s3)


def open_ledger(settings: Settings) -> Ledger:
    return Ledger(settings.ledger_target, settings.shard_pair)


# The layout and prefix the ledger's objects were scanned with (meta rows): `report`, `verdict`,
# `diff` and `rejudge` read the ledger under them, so a user need not repeat them.
_SCANNED_LAYOUT, _SCANNED_PREFIX = "scanned_layout", "scanned_prefix"


def make_engine(settings: Settings, *, with_source: bool = True) -> Engine:
    opts = engine_options(settings)
    source = make_source(settings) if with_source else None
    if source is not None and settings.source.startswith("s3://"):
        opts = _with_versions(opts, settings)
    ledger = open_ledger(settings)
    if source is not None:
        try:
            _remember_layout(ledger, opts.layout)
        except BaseException:
            ledger.close()
            raise
    return Engine(source, ledger, opts)


def _remember_layout(ledger: Ledger, layout: KeyLayout) -> None:
    if scanned_layout(ledger) != (layout.layout, layout.prefix):
        ledger.set_meta(_SCANNED_LAYOUT, layout.layout.value)
        ledger.set_meta(_SCANNED_PREFIX, layout.prefix)


def scanned_layout(ledger: Ledger) -> tuple[Layout, str] | None:
    """The layout and prefix the ledger was last scanned with; None for a ledger that never
    recorded them (never scanned, or scanned by a shadow before they were recorded)."""
    layout, prefix = ledger.get_meta(_SCANNED_LAYOUT), ledger.get_meta(_SCANNED_PREFIX)
    if layout is None or layout not in Layout._value2member_map_ or prefix is None:
        return None
    return Layout(layout), prefix


def adopt_scanned_layout(
    settings: Settings, ledger: Ledger, explicit: Mapping[str, str]
) -> Settings:
    """Settings that read the ledger under the layout and prefix it was scanned with.

    `explicit` names how the user set "layout" or "prefix", if they did (say `--layout flat`);
    a value set that way which disagrees with the ledger is an error naming both, since reading
    the evidence under another layout would report an empty ledger.
    """
    scanned = scanned_layout(ledger)
    if scanned is None:
        return settings
    layout, prefix = scanned
    mine = {"layout": settings.layout.value, "prefix": effective_prefix(settings)}
    theirs = {"layout": layout.value, "prefix": prefix}
    for name in ("layout", "prefix"):
        how = explicit.get(name)
        if how is not None and mine[name] != theirs[name]:
            error = UsageError if how.startswith("--") else ConfigError
            raise error(
                f"{how} gives {name} {mine[name]!r}, but the ledger {ledger.describe()} was "
                f"scanned with {name} {theirs[name]!r}: leave {name} unset to read the ledger "
                f"as it was scanned, or scan again with {name} {mine[name]!r}"
            )
    if (settings.layout, effective_prefix(settings)) == (layout, prefix):
        return settings
    # Not set by the user, so the source names no prefix: the prefix setting is the one in effect.
    return settings.model_copy(update={"layout": layout, "prefix": prefix})


def _with_versions(opts: EngineOptions, settings: Settings) -> EngineOptions:
    from dataclasses import replace

    return replace(opts, use_versions=settings.s3.versioned != "off")
