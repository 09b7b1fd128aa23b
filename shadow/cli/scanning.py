"""`shadow scan`, `shadow serve` and `shadow check-config`: one cycle over the source, the
daemon that runs the cycle on a schedule, and the configuration both would run with."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from shadow.cli.parser import EXIT_ERROR, parse_now, settings_of
from shadow.errors import ShadowError


def cmd_scan(args: argparse.Namespace) -> int:
    from shadow.bootstrap import make_engine
    from shadow.progress import ScanProgress

    settings = settings_of(args)
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


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    print(json.dumps(settings.masked(), indent=2, default=str))
    from shadow.bootstrap import engine_options

    print(f"config fingerprint: {engine_options(settings).config_hash}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from shadow.serve.daemon import serve

    return serve(settings_of(args))
