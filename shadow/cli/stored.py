"""The subcommands that judge the evidence a ledger already holds, without reading the source:
`report`, `verdict`, `rejudge`, `diff`, and `merge` (the reports of disjoint shards, or their
schemas in one PostgreSQL ledger, re-judged as a whole)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shadow.cli.parser import VERDICT_EXIT, parse_now, settings_of
from shadow.errors import ShadowError, UsageError


def _judge_stored(args: argparse.Namespace, persist: bool) -> Any:
    settings = settings_of(args)
    target = settings.ledger_target
    if isinstance(target, Path) and not target.exists():
        raise ShadowError(
            f"ledger {target} does not exist; run `shadow scan --once --db {target}` first"
        )
    engine = _stored_engine(args, settings)
    now = parse_now(args.now)
    at = now if now is not None else datetime.now(UTC).timestamp()
    try:
        j, report = engine.judge(at)
        if persist:
            engine.persist(j, report, at)
        if report.totals.runs == 0:
            _warn_if_other_layout(engine)
    finally:
        engine.ledger.close()
    return engine, j, report


def _stored_engine(args: argparse.Namespace, settings: Any) -> Any:
    """An engine over the ledger alone, reading it under the layout and prefix it was scanned
    with unless the user set them (a set value that disagrees with the ledger is an error)."""
    from shadow.bootstrap import adopt_scanned_layout, make_engine

    engine = make_engine(settings, with_source=False)
    try:
        adopted = adopt_scanned_layout(settings, engine.ledger, _explicit_layout(args, settings))
    except BaseException:
        engine.ledger.close()
        raise
    if adopted is settings:
        return engine
    engine.ledger.close()
    return make_engine(adopted, with_source=False)


def _explicit_layout(args: argparse.Namespace, settings: Any) -> dict[str, str]:
    """How the user set the layout and the prefix, for those they set, in their own words."""
    out: dict[str, str] = {}
    setting = "set by SHADOW_{} or the config file"
    if getattr(args, "layout", None) is not None:
        out["layout"] = f"--layout {args.layout}"
    elif "layout" in settings.model_fields_set:
        out["layout"] = "layout " + setting.format("LAYOUT")
    s3_prefix = (
        settings.source.startswith("s3://") and settings.source[len("s3://") :].partition("/")[2]
    )
    if getattr(args, "prefix", None) is not None:
        out["prefix"] = f"--prefix {args.prefix}"
    elif s3_prefix and getattr(args, "source", None) is not None:
        out["prefix"] = f"--source {args.source}"
    elif s3_prefix and "source" in settings.model_fields_set:
        out["prefix"] = "source " + setting.format("SOURCE")
    elif "prefix" in settings.model_fields_set:
        out["prefix"] = "prefix " + setting.format("PREFIX")
    return out


def _warn_if_other_layout(engine: Any) -> None:
    """A ledger scanned under another layout or prefix reads as empty: say so, not just 0 runs.
    The layout and prefix named are the ones in effect (an s3://bucket/prefix source sets it)."""
    count, keys = engine.ledger.some_keys(1)
    layout = engine.opts.layout
    if count:
        print(
            f"shadow: warning: {engine.ledger.describe()} holds {count} objects (e.g. {keys[0]}) "
            f"but no run directory under layout {layout.layout.value}, prefix {layout.prefix!r}: "
            "pass the --layout and --prefix it was scanned with",
            file=sys.stderr,
        )


def cmd_report(args: argparse.Namespace) -> int:
    from shadow.render import render_report

    _, _, report = _judge_stored(args, persist=False)
    print(report.model_dump_json(indent=2) if args.json else render_report(report))
    return 0


def cmd_verdict(args: argparse.Namespace) -> int:
    _, _, report = _judge_stored(args, persist=False)
    r = report.readiness
    print(r.verdict.value)
    for reason in [*r.reasons, *r.needs]:
        print(f"  - {reason}")
    return VERDICT_EXIT[r.verdict.value]


def cmd_rejudge(args: argparse.Namespace) -> int:
    _engine, _, report = _judge_stored(args, persist=True)
    print(
        f"re-judged {report.totals.runs} runs from the ledger under config {report.config_hash}: "
        f"{report.readiness.verdict.value}"
    )
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from shadow.judging.judge import first_divergence
    from shadow.render import render_diff

    _, j, _ = _judge_stored(args, persist=False)
    key = args.run_id
    pair = j.pairs.get(key) or j.pairs.get(key.removesuffix(settings_of(args).suffix))
    if pair is None:
        raise ShadowError(f"run {key!r} is not in the ledger; `shadow report` lists the runs")
    result = next(r for r in j.results if r.key == pair.key)
    print(
        render_diff(
            pair.key,
            pair.primary,
            pair.candidate,
            result.findings,
            first_divergence(result.findings),
            pair.state.value,
            frozenset(settings_of(args).excluded_steps),
        )
    )
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from shadow.bootstrap import engine_options
    from shadow.judging.report import Report
    from shadow.judging.reporting import merge_reports

    if bool(args.reports) == bool(args.shards):
        raise UsageError("merge needs either shard report files or --shards N, not both")
    now = parse_now(args.now)
    at = now if now is not None else datetime.now(UTC).timestamp()
    reports = _shard_reports(args, at) if args.shards else []
    for path in args.reports:
        try:
            reports.append(Report.model_validate_json(path.read_bytes()))
        except (OSError, ValueError) as exc:
            raise ShadowError(f"{path}: not a readable shadow report ({exc})") from None
    try:
        judge_opts = engine_options(settings_of(args)).judge
        merged = merge_reports(reports, judge_opts.thresholds, at, dict(judge_opts.blind))
    except ValueError as exc:
        raise ShadowError(str(exc)) from None
    print(merged.model_dump_json(indent=2))
    return 0


def _shard_reports(args: argparse.Namespace, at: float) -> list[Any]:
    """Each shard's report, judged from its own schema of the shared PostgreSQL ledger."""
    from shadow.ledger.backends import postgres_schema_exists, schema_for
    from shadow.ledger.dburl import is_postgres, mask_url

    count = args.shards
    if count < 1:
        raise UsageError(f"--shards must be at least 1; got {count}")
    base = settings_of(args)
    if not is_postgres(base.ledger_target):
        raise UsageError(
            "--shards reads the shards' schemas from one PostgreSQL ledger (--db postgresql://...); "
            "shards on SQLite each have their own file: merge their `report --json` files instead"
        )
    reports = []
    for i in range(count):
        shard = f"{i}/{count}"
        schema = schema_for((i, count))
        # Checked in the catalog first: opening the ledger of a shard that never ran would
        # create its schema, and merge only reads.
        if not postgres_schema_exists(base.ledger_target, schema):
            raise _no_evidence(shard, f"{mask_url(base.ledger_target)} (schema {schema})")
        engine = _stored_engine(args, base.model_copy(update={"shard": shard}))
        try:
            if engine.ledger.generation() == 0:
                raise _no_evidence(shard, engine.ledger.describe())
            reports.append(engine.judge(at)[1])
        finally:
            engine.ledger.close()
    return reports


def _no_evidence(shard: str, where: str) -> ShadowError:
    return ShadowError(
        f"shard {shard} has no evidence in {where} yet: "
        f"has `shadow serve --shard {shard}` run against this database?"
    )
