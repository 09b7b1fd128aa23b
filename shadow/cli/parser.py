"""The command line's surface: every subcommand and its flags (docs/cli.md is generated from
`build_parser`), the exit codes its epilog names, and what the arguments become (a time, the
settings). The subcommands themselves: scanning.py, stored.py, demo.py, and
shadow/profilecheck.py for `shadow profile`.

The flags stay here rather than beside each subcommand: they are added in the order `--help`
lists them and share `_common`, and one parser is what docs/cli.md is generated from.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from shadow import __version__, profilecheck
from shadow.errors import UsageError
from shadow.logs import configure as configure_logging

EXIT_ERROR = 3
EXIT_USAGE = 64  # EX_USAGE (sysexits.h); argparse's own 2 would read as INSUFFICIENT_DATA
EXIT_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a command whose reader went away
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


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands' parsers by name (for errors in their own usage, and the docs)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def settings_of(args: argparse.Namespace) -> Any:
    """The settings: the config file (--config or SHADOW_CONFIG) under the flags; logging set up."""
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
