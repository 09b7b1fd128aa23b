"""What the migration scenarios share: the corpus a builder returns, a dry run's noise, retries.

A migration scenario describes both sides of each run as `writer.Run`s (its behaviour, in
canonical terms) and names a shape per side; `scenarios.write_scenario` writes each side through
its shape, so every record is in its vendor's real format and the behaviour is known exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shadow.corpora.writer import Pair, Planted, Run, Step, StratumPlant, begun, jitter, twin

Shape = Callable[[Path, Run, str, datetime], None]  # root, run, directory id, now


@dataclass
class Built:
    """A scenario's runs, what was planted, the settings of its shadow.toml, and each side's
    shape."""

    pairs: list[Pair]
    planted: list[Planted]
    strata: list[StratumPlant]
    config: dict[str, Any]
    shapes: tuple[Shape, Shape]


def dry_run(rng: random.Random, p: Run, own_id: str, delay_s: tuple[float, float]) -> Run:
    """The dry run of primary `p`: the same steps, outcome and error, its own id and timing
    (each step and wait within +-10% of the primary's), linked to the primary by its id. Retries
    are the caller's: they are where the two vendors differ."""

    def step(s: Step) -> Step:
        ms_, gap = jitter(rng, s.ms - s.retry_ms), jitter(rng, s.gap_ms)
        return replace(s, ms=ms_, gap_ms=gap, attempts=1, retry_ms=0.0, retry_error=None)

    c = twin(rng, p, p.run_id, delay_s, step)
    wait = (begun(p) - p.queued_at).total_seconds() if p.queued_at else 0.5
    c.own_id, c.link, c.key, c.slot = own_id, p.ident, None, p.slot
    c.queued_at = begun(c) - timedelta(seconds=jitter(rng, wait))
    c.tail_ms, c.payload = jitter(rng, p.tail_ms), dict(p.payload)
    return c


def steps_of(rng: random.Random, spec: tuple[tuple[str, float, float], ...]) -> list[Step]:
    """Steps with drawn durations and short idle gaps between them."""
    return [Step(name, rng.uniform(lo, hi), rng.uniform(5, 40)) for name, lo, hi in spec]


def cancel(run: Run, at: int) -> None:
    """The user cancels the run while step `at` runs: that step is canceled, later ones never
    run (every vendor here reads a canceled step as skipped and the run as failed, CANCELED)."""
    run.steps = run.steps[: at + 1]
    run.steps[at].status = "skipped"
    run.steps[at].ms *= 0.4  # it ran until the cancel
    run.status, run.error = "failed", "CANCELED: canceled by the user"


def retry_run(
    rng: random.Random, run: Run, attempts: int, error: str, back_off_ms: float, at: int = 0
) -> None:
    """Whole-run retries: `attempts - 1` earlier attempts failed at step `at` with `error`,
    each followed by a back-off (Trigger.dev's attemptCount, a queue's redeliveries)."""
    run.attempts = attempts
    run.retry_at = at
    tried = sum(s.ms + s.gap_ms for s in run.steps[: at + 1])
    run.retry_ms = sum(tried * 0.5 + jitter(rng, back_off_ms * 2**i) for i in range(attempts - 1))
    run.steps[at].retry_error = error


def retry_like(rng: random.Random, c: Run, p: Run, attempts: int, error: str, at: int = 0) -> None:
    """The dry run retries like primary `p` did, `attempts` times: its own count, the same
    time spent (within +-10%), so a different retry count is no slower run."""
    retry_run(rng, c, attempts, error, 0.0, at)
    c.retry_ms = jitter(rng, p.retry_ms)


def retry_step(
    rng: random.Random, step: Step, attempts: int, error: str, back_off_ms: float
) -> None:
    """A step's own retries (Inngest): the failed attempts and their back-off come first."""
    step.attempts = attempts
    step.retry_error = error
    step.retry_ms = sum(
        step.ms * 0.3 + jitter(rng, back_off_ms * 2**i) for i in range(attempts - 1)
    )
    step.ms += step.retry_ms


def spread(rng: random.Random, n: int, begin: datetime, end: datetime) -> list[datetime]:
    """n start times in [begin, end), at least five minutes apart (a stratum's runs never
    overlap), the first and the last ten minutes taken, so the runs span the whole window."""
    last = int((end - begin).total_seconds() // 600) - 1
    slots = [0, last, *rng.sample(range(1, last), n - 2)]
    return sorted(begin + timedelta(seconds=s * 600 + rng.uniform(0, 300)) for s in slots)


def daily(at_hour: int, begin: datetime, end: datetime) -> list[datetime]:
    """Every fire of `0 <at_hour> * * *` in [begin, end)."""
    t = begin.replace(hour=at_hour, minute=0, second=0, microsecond=0)
    if t < begin:
        t += timedelta(days=1)
    out = []
    while t < end:
        out.append(t)
        t += timedelta(days=1)
    return out
