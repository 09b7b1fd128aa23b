"""Write the demo bucket into a local directory: the agent runs on a timeline, with plants.

The directory is laid out like the bucket of spec run-records.md: primaries under
`runs/<id>/`, dry-run twins under `runs/<id><suffix>/` (or both under `agents/<slug>/runs/`).
Clean pairs (`shadow.corpora.agents`) carry every kind of noise the contract allows, so shadow
finds no error or warning in them. Each planted divergence sits on its own otherwise clean pair
and is listed with the dimension and kind shadow must report. Deterministic for a seed: nothing
reads the wall clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shadow.core.findings import Dimension, Kind
from shadow.corpora.agents import AGENTS, PIPELINE, PLANTERS, Slot, clean_pair
from shadow.corpora.shapes import garden
from shadow.corpora.writer import MARKER, Pair, Planted, Run, prepare, timed

CRON_MINUTES = (5, 17, 30, 42, 55)  # each agent's cron fires at its own fixed minute
CRON_HOURS = (1, 2, 3, 4, 6, 8, 12, 24)  # "M */h * * *", densest first
SLOT = timedelta(minutes=5)  # manual runs start in 5-minute slots, 2 free slots around each
STUCK_AGENT = AGENTS[4]
MIN_PLANT_RUNS = len(PLANTERS) + 3  # plus the lost run and the two runs of the overlap
__all__ = ["AGENTS", "MARKER", "DemoCorpus", "write_clean", "write_demo"]


@dataclass(frozen=True)
class DemoCorpus:
    root: Path
    now: datetime  # the `now` the corpus was generated for (UTC aware)
    pairs: int  # number of primary runs written
    planted: tuple[Planted, ...]


# --- the timeline ----------------------------------------------------------------------------


def _cron_fires(minute: int, n: int, begin: datetime, end: datetime) -> list[datetime]:
    """Every fire of the densest `M */h * * *` schedule giving at most 3/4 of the agent's runs."""
    midnight = begin.replace(hour=0, minute=minute, second=0, microsecond=0)
    for hours in CRON_HOURS:
        step = timedelta(hours=hours)
        count = int((end - midnight) / step) + 1
        fires = [t for t in (midnight + k * step for k in range(count)) if begin <= t <= end]
        if len(fires) <= 0.75 * n:
            return fires
    return []


def _manual_slots(rng: random.Random, count: int, taken: set[int], total: int) -> list[int]:
    order = list(range(total))
    rng.shuffle(order)
    chosen: list[int] = []
    for s in order:
        if len(chosen) == count:
            break
        if all(s + d not in taken for d in range(-2, 3)):
            taken.add(s)
            chosen.append(s)
    if len(chosen) < count:
        raise ValueError("too many runs for the number of days: increase days or lower runs")
    return chosen


def _agent_slots(rng: random.Random, i: int, n: int, begin: datetime, end: datetime) -> list[Slot]:
    agent = AGENTS[i]
    fires = _cron_fires(CRON_MINUTES[i], n, begin, end)
    taken = {int((t - begin) / SLOT) for t in fires}
    total = int((end - begin) / SLOT)
    manual = _manual_slots(rng, n - len(fires), taken, total)
    out = [(agent, "cron", t + timedelta(seconds=rng.uniform(1, 40))) for t in fires]
    pick = [begin + s * SLOT + timedelta(seconds=rng.uniform(0, 240)) for s in manual]
    return out + [(agent, "manual", t) for t in pick]


def _timeline(rng: random.Random, runs: int, days: int, now: datetime) -> list[Slot]:
    """Start times per agent (never overlapping), ending an hour before `now`, oldest first."""
    out: list[Slot] = []
    begin = now - timedelta(days=days)
    for i, agent in enumerate(AGENTS):
        n = runs // len(AGENTS) + (1 if i < runs % len(AGENTS) else 0)
        quiet = timedelta(hours=2, minutes=20) if agent == STUCK_AGENT else timedelta(hours=1)
        out += _agent_slots(rng, i, n, begin, now - quiet)
    return sorted(out, key=lambda s: (s[2], s[0]))


# --- where the plants go ---------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """Which timeline slots carry which plant."""

    kinds: dict[int, Kind]
    lost: int  # the oldest run: it ended long before `now`
    overlap: tuple[int, int]  # (earlier, later) runs of one agent

    @property
    def used(self) -> set[int]:
        return {*self.kinds, self.lost, *self.overlap}


def _choose(slots: list[Slot]) -> Choice:
    """Spread the plants over time and agents: one plain pair each, never shared."""
    later = next(i for i in range(len(slots) - 1, 0, -1) if _previous(slots, i) is not None)
    earlier = _previous(slots, later)
    assert earlier is not None
    used = {0, earlier, later}
    free = [i for i in range(len(slots)) if i not in used]
    kinds: dict[int, Kind] = {}
    for n, kind in enumerate(PLANTERS):
        pos = (2 * n + 1) * len(free) // (2 * len(PLANTERS))
        agent = AGENTS[n % len(AGENTS)]
        ranked = sorted(range(len(free)), key=lambda k: (slots[free[k]][0] != agent, abs(k - pos)))
        idx = next(free[k] for k in ranked if free[k] not in kinds)
        kinds[idx] = kind
    return Choice(kinds, 0, (earlier, later))


def _previous(slots: list[Slot], i: int) -> int | None:
    return next((j for j in range(i - 1, -1, -1) if slots[j][0] == slots[i][0]), None)


def _plant(rng: random.Random, pairs: list[Pair], choice: Choice) -> list[Planted]:
    planted = []
    for idx, kind in sorted(choice.kinds.items()):
        p, (c,) = pairs[idx]
        dimension, planter = PLANTERS[kind]
        planter(rng, p, c, _neighbour(pairs, idx))
        planted.append(Planted(p.run_id, dimension, kind))
    lost = pairs[choice.lost][0]
    pairs[choice.lost] = (lost, [])
    planted.append(Planted(lost.run_id, Dimension.COMPLETENESS, Kind.LOST_RUN))
    planted.append(_overlap(pairs, *choice.overlap))
    return planted


def _neighbour(pairs: list[Pair], idx: int) -> str:
    return pairs[idx - 1 if idx > 0 else idx + 1][0].run_id


def _overlap(pairs: list[Pair], earlier: int, later: int) -> Planted:
    """The earlier dry run is delivered late and still runs when the agent's next one starts."""
    (first,), (second,) = pairs[earlier][1], pairs[later][1]
    assert first.start is not None
    _, end = timed(first)
    assert end is not None and second.start is not None
    first.start = second.start - (end - first.start) / 2
    return Planted(second.run_id, Dimension.CONCURRENCY, Kind.OVERLAP)


def _as_pair(pair: tuple[Run, Run]) -> Pair:
    return pair[0], [pair[1]]


# --- runs around `now` -----------------------------------------------------------------------


def _running(run: Run, steps_done: int) -> Run:
    """Cut a run to `steps_done` finished steps plus one still running; no manifest yet."""
    run.steps = run.steps[: steps_done + 1]
    run.steps[-1].status, run.steps[-1].summary = "running", None
    run.status, run.error, run.retries, run.proposals, run.outputs = "running", None, None, [], []
    return run


def _queued(run: Run, now: datetime, position: int) -> Run:
    """A run waiting behind the agent's running one: not started, no steps yet."""
    assert run.start is not None
    run.queued_at, run.start = min(run.start, now - timedelta(seconds=5)), None
    run.status, run.queue_position, run.steps, run.steps_total = "queued", position, [], None
    run.retries, run.proposals, run.outputs = None, [], []
    return run


def _in_flight(rng: random.Random, now: datetime) -> list[Pair]:
    """Running on both sides, one queued behind a running run, one twin not written yet."""
    out: list[Pair] = []
    ago = [timedelta(seconds=s + rng.uniform(0, 30)) for s in (100, 150, 200, 30, 360)]
    for i, agent in enumerate(AGENTS[:3]):
        p, c = clean_pair(rng, (agent, "manual", now - ago[i]), True)
        out.append((_running(p, 1), [_running(c, 1)]))
    p, c = clean_pair(rng, (AGENTS[0], "manual", now - ago[3]), True)
    out.append((_queued(p, now, 1), [_queued(c, now, rng.choice((1, 2)))]))
    late, _ = clean_pair(rng, (AGENTS[3], "manual", now - ago[4]), True)
    return [*out, (late, [])]


def _stuck_and_orphan(rng: random.Random, now: datetime) -> tuple[list[Pair], list[Planted]]:
    p, c = clean_pair(rng, (STUCK_AGENT, "cron", now - timedelta(hours=2)), True)
    gone, orphan = clean_pair(rng, (AGENTS[1], "manual", now - timedelta(days=2, minutes=7)), True)
    gone.stored = False
    planted = [
        Planted(p.run_id, Dimension.COMPLETENESS, Kind.STUCK_RUN),
        Planted(orphan.run_id, Dimension.COMPLETENESS, Kind.ORPHAN_RUN),
    ]
    return [(_running(p, 1), [_running(c, 1)]), (gone, [orphan])], planted


# --- the entry points ------------------------------------------------------------------------


def _check(now: datetime, layout: str, runs: int, days: int, plant: bool, suffix: str) -> None:
    if layout not in ("flat", "nested"):
        raise ValueError(f"layout must be 'flat' or 'nested', not {layout!r}")
    if not suffix or "/" in suffix:
        raise ValueError("the dry-run suffix must be non-empty and contain no '/'")
    if days < 1 or runs < (MIN_PLANT_RUNS if plant else 1):
        raise ValueError(
            f"need days >= 1 and runs >= {MIN_PLANT_RUNS if plant else 1} (got {days}, {runs})"
        )
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")


def write_demo(
    out: Path,
    *,
    now: datetime,
    seed: int = 7,
    layout: str = "flat",
    runs: int = 260,
    days: int = 16,
    plant: bool = True,
    suffix: str = "-dryrun",
) -> DemoCorpus:
    """Write the demo bucket under `out` and say what was planted where."""
    _check(now, layout, runs, days, plant, suffix)
    now = now.astimezone(UTC)
    rng = random.Random(seed)
    slots = _timeline(rng, runs, days, now)
    choice = _choose(slots) if plant else None
    used = choice.used if choice else set()
    pairs: list[Pair] = [_as_pair(clean_pair(rng, s, i in used)) for i, s in enumerate(slots)]
    planted = _plant(rng, pairs, choice) if choice else []
    pairs += _in_flight(rng, now)
    if plant:
        more, extra = _stuck_and_orphan(rng, now)
        pairs, planted = pairs + more, planted + extra
    prepare(out)
    for p, cs in pairs:
        if p.stored:
            garden.write(str(out), p, p.run_id, layout, rng, PIPELINE[-1])
        for c in cs:
            garden.write(str(out), c, c.run_id + suffix, layout, rng, PIPELINE[-1])
    count = sum(1 for p, _ in pairs if p.stored)
    return DemoCorpus(out, now, count, tuple(planted))


def write_clean(
    out: Path,
    *,
    now: datetime,
    seed: int = 7,
    runs: int = 260,
    days: int = 16,
    layout: str = "flat",
) -> DemoCorpus:
    """A demo bucket without planted divergences: every pair is equal for shadow."""
    return write_demo(out, now=now, seed=seed, runs=runs, days=days, layout=layout, plant=False)
