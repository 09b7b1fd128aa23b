"""Migration scenarios: a realistic dual-run corpus per migration, written in each side's format.

`agents` is the demo bucket (Inngest -> Trigger.dev in the spec's own format,
`shadow.corpora.demo`). The others (`long_pipelines`, `queues`, `chat`) write each side in its
vendor's real record format, through that side's shape (`shadow.corpora.shapes`). Each scenario
also writes the `shadow.toml` it needs (profiles per side, pairing key, strata noun, schedules,
SLOs, thresholds) next to the corpus, and says what it planted where. A clean variant plants
nothing. Deterministic for a seed: nothing reads the wall clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shadow.corpora import chat, long_pipelines, queues
from shadow.corpora.demo import write_demo
from shadow.corpora.migration import Built
from shadow.corpora.writer import (
    CONFIG_NAME,
    MARKER,
    Planted,
    StratumPlant,
    config_toml,
    prepare,
)

Builder = Callable[[random.Random, datetime, bool, int], Built]


@dataclass(frozen=True)
class ScenarioCorpus:
    name: str
    root: Path
    config: Path
    now: datetime
    pairs: int  # primary runs written
    planted: tuple[Planted, ...]  # run_id is the key shadow pairs the run under
    stratum_plants: tuple[StratumPlant, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    default_size: int  # runs per stratum the CLI writes
    build: Builder | None = None  # None: the demo bucket


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("agents", "Inngest -> Trigger.dev, agent runs (the spec as written)", 260),
        Scenario(
            "long-pipelines",
            "Inngest -> Trigger.dev, nine-step, streaming and nightly runs",
            24,
            long_pipelines.build,
        ),
        Scenario("queues", "Trigger.dev -> Cloudflare Queues, background jobs", 20, queues.build),
        Scenario("chat", "Telegram bot server -> Trigger.dev, chat interactions", 24, chat.build),
    )
}


def write_scenario(
    name: str,
    out: Path,
    *,
    now: datetime,
    plant: bool = True,
    seed: int = 7,
    size: int | None = None,
    layout: str = "flat",
) -> ScenarioCorpus:
    """Write scenario `name`'s corpus and its shadow.toml under `out`; say what was planted."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    scenario = SCENARIOS[name]
    n = size if size is not None else scenario.default_size
    if scenario.build is None:
        corpus = write_demo(out, now=now, seed=seed, runs=n, plant=plant, layout=layout)
        config = out / CONFIG_NAME
        config.write_text(config_toml(out, {"layout": layout}), encoding="utf-8")
        return ScenarioCorpus(name, out, config, now, corpus.pairs, corpus.planted)
    if layout != "flat":
        raise ValueError(f"scenario {name} is written in the flat layout only")
    if n < 16:
        raise ValueError(f"scenario {name} needs at least 16 runs per stratum (got {n})")
    built = scenario.build(random.Random(seed), now, plant, n)
    primary, candidate = built.shapes
    prepare(out)
    for p, cs in built.pairs:
        primary(out, p, p.ident, now)
        for c in cs:
            candidate(out, c, c.ident + "-dryrun", now)
    config = out / CONFIG_NAME
    config.write_text(config_toml(out, built.config), encoding="utf-8")
    assert (out / MARKER).is_file()
    return ScenarioCorpus(
        name,
        out,
        config,
        now,
        len(built.pairs),
        tuple(built.planted),
        tuple(built.strata),
    )
