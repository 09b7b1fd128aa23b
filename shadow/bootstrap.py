"""Composition root: Settings -> source, ledger and engine. No import-time singletons."""

from __future__ import annotations

from pathlib import Path

from shadow.collectors import Source
from shadow.collectors.directory import DirectorySource
from shadow.comparators import CompareOptions
from shadow.config import Settings
from shadow.core.layout import KeyLayout, Side
from shadow.core.normalize import NormalizeOptions
from shadow.core.pairing import PairingOptions
from shadow.core.schedules import Schedule
from shadow.core.waivers import load_waivers
from shadow.engine import Engine, EngineOptions
from shadow.errors import ConfigError
from shadow.judging.judge import JudgeOptions
from shadow.judging.verdict import LatencySLO, Thresholds
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
    return EngineOptions(
        layout=KeyLayout(settings.layout, _prefix(settings), settings.suffix),
        normalize=NormalizeOptions(settings.suffix, excluded, _vendor_fields(settings)),
        judge=JudgeOptions(
            pairing=PairingOptions(settings.grace_seconds, settings.run_timeout_seconds),
            compare=CompareOptions(
                excluded, settings.thresholds.timing_ratio, settings.timing_slack_ms
            ),
            thresholds=Thresholds(
                **settings.thresholds.model_dump(),
                slos=tuple(
                    (name, LatencySLO(s.p50_ms, s.p95_ms))
                    for name, s in sorted(settings.slos.items())
                ),
            ),
            schedules=tuple(
                Schedule(s.stratum, s.cron, s.tolerance_seconds, s.trigger)
                for s in settings.schedules
            ),
        ),
        waivers=waivers,
        config_hash=settings.judgement_fingerprint(waivers_text),
        max_object_bytes=settings.max_object_bytes,
        concurrency=settings.s3.concurrency,
        pair_by=settings.pair_by,
        stratum_noun=settings.stratum_noun,
        shard=settings.shard_pair,
        profiles={
            Side.PRIMARY: settings.profile(settings.primary_profile),
            Side.CANDIDATE: settings.profile(settings.candidate_profile),
        },
        use_versions=False,
        reconcile_interval=settings.reconcile_interval_seconds,
        settle_seconds=(
            settings.grace_seconds if settings.settle_seconds is None else settings.settle_seconds
        ),
    )


def _vendor_fields(settings: Settings) -> frozenset[str]:
    """Configured vendor fields plus those the two sides' profiles declare."""
    names = set(settings.vendor_fields)
    for name in (settings.primary_profile, settings.candidate_profile):
        names |= set(settings.profile(name).vendor_fields)
    return frozenset(names)


def _prefix(settings: Settings) -> str:
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


def make_engine(settings: Settings, *, with_source: bool = True) -> Engine:
    opts = engine_options(settings)
    source = make_source(settings) if with_source else None
    if source is not None and settings.source.startswith("s3://"):
        opts = _with_versions(opts, settings)
    return Engine(source, open_ledger(settings), opts)


def _with_versions(opts: EngineOptions, settings: Settings) -> EngineOptions:
    from dataclasses import replace

    return replace(opts, use_versions=settings.s3.versioned != "off")
