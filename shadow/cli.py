"""The `shadow` command line: scan, report, diff, verdict, rejudge, demo, check-config, serve.

Exit codes: 0 success (and READY for `verdict`), 1 NOT_READY, 2 INSUFFICIENT_DATA, 3 an error
shadow explains on stderr (bad config, unreadable ledger or source), 64 a usage error (EX_USAGE
from sysexits.h: an unknown flag, a malformed value). 0, 1 and 2 belong to the verdict, so a
typo in a pipeline's gate can never read as one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from shadow import __version__, profilecheck
from shadow.errors import ShadowError, UsageError
from shadow.logs import configure as configure_logging
from shadow.malloc import pin_mmap_threshold

EXIT_ERROR = 3
EXIT_USAGE = 64  # EX_USAGE (sysexits.h); argparse's own 2 would read as INSUFFICIENT_DATA
VERDICT_EXIT = {"READY": 0, "NOT_READY": 1, "INSUFFICIENT_DATA": 2}


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on EX_USAGE instead of 2; subcommands inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def parse_now(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--now {text!r} is not an ISO-8601 time such as 2026-03-01T12:00:00Z"
        ) from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def _iso_time(text: str) -> str:
    """argparse `type` for --now: a malformed time is a usage error, found before any work."""
    try:
        parse_now(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--now ")) from None
    return text


def _common(p: argparse.ArgumentParser, *, source: bool = True, now: bool = True) -> None:
    p.add_argument("--config", type=Path, help="TOML config file (also SHADOW_CONFIG)")
    p.add_argument("--db", help="ledger: a SQLite file (default shadow.db) or a postgresql:// URL")
    p.add_argument("--waivers", type=Path, help="waivers TOML file")
    if now:  # not for serve: a daemon judges by the wall clock, cycle after cycle
        p.add_argument(
            "--now", type=_iso_time, help="judge as of this ISO-8601 time (default: the wall clock)"
        )
    if source:
        p.add_argument("--source", help="dir:PATH or s3://BUCKET[/PREFIX]")
        p.add_argument(
            "--layout",
            choices=["flat", "nested"],
            help="run directory layout (default flat; report, verdict, diff and rejudge use the "
            "one the ledger was scanned with)",
        )
        p.add_argument(
            "--prefix",
            help="key prefix above runs/ or agents/ (default none; an s3://BUCKET/PREFIX source "
            "sets it; remembered by the ledger like --layout)",
        )
        p.add_argument(
            "--shard", help="i/n: judge only the runs whose pairing key hashes to slice i of n"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="shadow",
        description="Dual-run shadow comparison and cutover readiness.",
        epilog="exit codes: 0 success (verdict: READY), 1 NOT_READY, 2 INSUFFICIENT_DATA, "
        "3 an error explained on stderr, 64 a usage error",
    )
    parser.add_argument("--version", action="version", version=f"shadow {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    scan = sub.add_parser("scan", help="scan the source and judge")
    _common(scan)
    scan.add_argument(
        "--once", action="store_true", help="one cycle, then exit (the default; `serve` loops)"
    )
    rep = sub.add_parser("report", help="print the parity report from the ledger")
    _common(rep)
    rep.add_argument("--json", action="store_true", help="print report.md's JSON document")
    diff = sub.add_parser("diff", help="show one run and its twin side by side")
    _common(diff)
    diff.add_argument("run_id", help="the run's id, the primary's or its dry-run twin's")
    ver = sub.add_parser("verdict", help="exit 0 READY, 1 NOT_READY, 2 INSUFFICIENT_DATA")
    _common(ver)
    rej = sub.add_parser(
        "rejudge", help="re-judge stored evidence under the current config and waivers"
    )
    _common(rej)
    demo = sub.add_parser("demo", help="write a realistic demo dual-run bucket")
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("demo-bucket"),
        help="directory to write the bucket to (default demo-bucket)",
    )
    demo.add_argument(
        "--now", type=_iso_time, help="generate runs ending just before this ISO-8601 time"
    )
    demo.add_argument(
        "--layout",
        choices=["flat", "nested"],
        default="flat",
        help="run directory layout to write (default flat)",
    )
    demo.add_argument(
        "--seed", type=int, default=7, help="random seed: the same seed writes the same bucket"
    )
    demo.add_argument(
        "--runs", type=int, help="primary runs (default 260); per stratum with --scenario"
    )
    demo.add_argument(
        "--scenario",
        help="a migration scenario: agents, long-pipelines, queues, chat (writes its shadow.toml)",
    )
    demo.add_argument("--clean", action="store_true", help="plant no divergence")
    mrg = sub.add_parser(
        "merge",
        help="merge disjoint shards into one report and re-judge: their --json reports, "
        "or with --shards N their schemas in one PostgreSQL ledger (--db)",
    )
    mrg.add_argument(
        "reports", nargs="*", type=Path, help="the shards' `shadow report --json` files"
    )
    mrg.add_argument("--config", type=Path, help="TOML config file (thresholds)")
    mrg.add_argument("--now", type=_iso_time, help="report time (default: the wall clock)")
    mrg.add_argument(
        "--shards", type=int, help="judge shards 0/N .. N-1/N from the --db PostgreSQL ledger"
    )
    mrg.add_argument("--db", help="with --shards: the postgresql:// URL the shards share")
    mrg.add_argument("--waivers", type=Path, help="with --shards: the waivers file")
    mrg.add_argument(
        "--layout", choices=["flat", "nested"], help="with --shards: the shards' run layout"
    )
    chk = sub.add_parser("check-config", help="print the effective configuration, secrets masked")
    _common(chk)
    profilecheck.register(sub)
    srv = sub.add_parser("serve", help="watch the source continuously and serve the API")
    _common(srv, now=False)
    srv.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=int, help="port to listen on (default 8000)")
    for choice in sub._choices_actions:  # each command's --help opens with its one-line summary
        command, summary = sub.choices[choice.dest], choice.help or ""
        command.description = command.description or f"{summary[:1].upper()}{summary[1:]}."
        command.epilog = parser.epilog
    return parser


def _settings(args: argparse.Namespace) -> Any:
    from shadow.config import load_settings

    overrides = {
        "db": args.db,
        "waivers": args.waivers,
        "source": getattr(args, "source", None),
        "layout": getattr(args, "layout", None),
        "prefix": getattr(args, "prefix", None),
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "shard": getattr(args, "shard", None),
    }
    config = args.config or (
        Path(os.environ["SHADOW_CONFIG"]) if os.environ.get("SHADOW_CONFIG") else None
    )
    settings = load_settings(config, **overrides)
    configure_logging(settings.log_level, settings.log_format)
    return settings


def cmd_scan(args: argparse.Namespace) -> int:
    from shadow.bootstrap import make_engine
    from shadow.progress import ScanProgress

    settings = _settings(args)
    engine = make_engine(settings)
    now = parse_now(args.now)
    hint: list[str] = []
    # A live line on a terminal; elsewhere (a pipe, a CI log) a log line every 5 seconds.
    live = sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    progress = ScanProgress(line=sys.stderr if live else None, log_every=None if live else 5.0)

    async def go() -> Any:
        try:
            summary = await engine.run_cycle(now, progress)
            if summary.head is not None and summary.head.totals.runs == 0:
                hint.append(await _survey(engine, settings))
            return summary
        finally:
            progress.close()
            engine.ledger.close()
            if engine.source is not None:
                await engine.source.close()

    summary = asyncio.run(go())
    s = summary.scan
    print(
        f"scanned {engine.source.description if engine.source else '-'}: listed {s.listed}, "
        f"unchanged {s.unchanged}, fetched {s.fetched}, errors {sum(s.errors.values())}"
    )
    for msg in s.error_messages[:10]:
        print(f"  error: {msg}", file=sys.stderr)
    if summary.report is None:
        print("scan failed before judging; the previous judgement stands", file=sys.stderr)
        return EXIT_ERROR
    r = summary.report
    print(
        f"verdict {r.readiness.verdict.value}: {r.totals.paired} paired, {r.totals.mismatched} mismatched, "
        f"{r.totals.primary_only} lost, {r.totals.rejected_objects} rejected objects"
    )
    for line in hint:
        print(f"shadow: warning: no run directory found: {line}", file=sys.stderr)
    return 0


async def _survey(engine: Any, settings: Any) -> str:
    """What the source holds, when a scan found no run directory (a few read-only listings)."""
    from shadow.collectors.survey import survey

    try:
        return await survey(engine.source, settings.source, engine.opts.layout)
    except ShadowError as exc:  # the scan listed fine; a failed look around is only a lost hint
        return f"could not look around the source: {exc}"


def _judge_stored(args: argparse.Namespace, persist: bool) -> Any:
    settings = _settings(args)
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
    pair = j.pairs.get(key) or j.pairs.get(key.removesuffix(_settings(args).suffix))
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
        )
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from shadow.corpora.demo import write_demo

    now = parse_now(args.now)
    at = (
        datetime.fromtimestamp(now, UTC)
        if now is not None
        else datetime.now(UTC).replace(microsecond=0)
    )
    if args.scenario is not None:
        return _scenario(args, at)
    corpus = write_demo(
        args.out,
        now=at,
        seed=args.seed,
        layout=args.layout,
        runs=args.runs if args.runs is not None else 260,
        plant=not args.clean,
    )
    print(
        f"wrote a demo bucket to {corpus.root}: {corpus.pairs} primary runs, "
        f"{len(corpus.planted)} planted divergences, as of {at.isoformat()}"
    )
    return 0


def _scenario(args: argparse.Namespace, at: datetime) -> int:
    from shadow.corpora.scenarios import SCENARIOS, write_scenario

    if args.scenario not in SCENARIOS:
        raise UsageError(
            f"unknown scenario {args.scenario!r}; choose one of {', '.join(SCENARIOS)}"
        )
    try:
        corpus = write_scenario(
            args.scenario,
            args.out,
            now=at,
            plant=not args.clean,
            seed=args.seed,
            size=args.runs,
            layout=args.layout,
        )
    except ValueError as exc:
        raise ShadowError(str(exc)) from None
    print(
        f"wrote scenario {corpus.name} ({SCENARIOS[corpus.name].title}) to {corpus.root}: "
        f"{corpus.pairs} primary runs, {len(corpus.planted) + len(corpus.stratum_plants)} "
        f"planted divergences, as of {at.isoformat()}\n"
        f"judge it: shadow scan --once --config {corpus.config} --db {corpus.root}.db "
        f"--now {at.isoformat()}"
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
        judge_opts = engine_options(_settings(args)).judge
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
    base = _settings(args)
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


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    print(json.dumps(settings.masked(), indent=2, default=str))
    from shadow.bootstrap import engine_options

    print(f"config fingerprint: {engine_options(settings).config_hash}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from shadow.serve.daemon import serve

    return serve(_settings(args))


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "scan": cmd_scan,
    "report": cmd_report,
    "diff": cmd_diff,
    "verdict": cmd_verdict,
    "rejudge": cmd_rejudge,
    "demo": cmd_demo,
    "check-config": cmd_check_config,
    "merge": cmd_merge,
    "serve": cmd_serve,
    "profile": lambda args: profilecheck.run(args),
}


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands' parsers by name (for errors in their own usage, and the docs)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # named in the subcommand's usage, which lists the flags it does take
        subcommands(parser)[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    pin_mmap_threshold()  # shadow serve runs for months: keep big freed blocks off the heap
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"shadow {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ShadowError as exc:
        print(f"shadow: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
