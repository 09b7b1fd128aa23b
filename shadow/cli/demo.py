"""`shadow demo`: write the demo dual-run bucket, or a migration scenario's corpus with its
shadow.toml (shadow/corpora holds the writers)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from shadow.cli.parser import parse_now
from shadow.errors import ShadowError, UsageError


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
