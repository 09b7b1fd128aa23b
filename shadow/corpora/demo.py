"""Write a realistic dual-run bucket into a local directory, with planted divergences.

The directory is laid out like the bucket of spec run-records.md: primaries under
`runs/<id>/`, dry-run twins under `runs/<id><suffix>/` (or both under `agents/<slug>/runs/`).
Clean pairs carry every kind of noise the contract allows (timestamps, ids, vendor meta, output
text, error text after the code, proposal ids, model fields, retry attempt counts, `retries: {}`
against no block, the INTERNAL_ERROR ~ AGENT_TIMEOUT equivalence, all step-file namings, both
candidate run-id forms, a mocked fast execute-agent), so shadow finds no error or warning in
them. Each planted divergence sits on its own otherwise clean pair and is listed with the
dimension and kind shadow must report. File modification times follow the records (as an S3
LastModified would). Deterministic for a seed: nothing reads the wall clock.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shadow.core.findings import Dimension, Kind

MARKER = ".shadow-demo"
AGENTS = ("archivist-violin", "curator-piano", "scribe-cello", "herald-flute", "warden-oboe")
CRON_MINUTES = (5, 17, 30, 42, 55)  # each agent's cron fires at its own fixed minute
CRON_HOURS = (1, 2, 3, 4, 6, 8, 12, 24)  # "M */h * * *", densest first
PIPELINE = ("load-context", "execute-agent", "persist-results", "finalize")
MOCKED = "execute-agent"
STEP_MS = {
    "load-context": (200.0, 800.0),
    "execute-agent": (5_000.0, 60_000.0),
    "persist-results": (100.0, 900.0),
    "finalize": (20.0, 100.0),
}
MOCK_MS = (50.0, 300.0)
JITTER = math.log(1.10)  # the dry run's real steps take the primary's time within +-10%
SLOT = timedelta(minutes=5)  # manual runs start in 5-minute slots, 2 free slots around each
STUCK_AGENT = AGENTS[4]
TERMINAL = ("completed", "failed")
RETRY_KEY = "step_2_execute-agent"


@dataclass(frozen=True)
class Planted:
    run_id: str  # pairing key (primary run id, no suffix)
    dimension: Dimension
    kind: Kind


@dataclass(frozen=True)
class DemoCorpus:
    root: Path
    now: datetime  # the `now` the corpus was generated for (UTC aware)
    pairs: int  # number of primary runs written
    planted: tuple[Planted, ...]


@dataclass
class Step:
    name: str
    ms: float
    gap_ms: float
    status: str = "completed"
    error: str | None = None
    summary: str | None = None
    file: str | None = None  # a file name other than the writer's naming
    raw: bytes | None = None  # verbatim file content instead of the document


@dataclass
class SideRun:
    """One side of one run, before it is written."""

    run_id: str  # the pairing key
    agent: str
    trigger: str
    start: datetime | None
    steps: list[Step]
    primary: bool
    status: str = "completed"
    error: str | None = None
    retries: dict[str, Any] | None = None
    proposals: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    meta: dict[str, Any] | None = None
    status_run_id: str | None = None
    naming: int = 0
    style: int = 0
    steps_total: int | None = len(PIPELINE)
    queue_position: int | None = None
    queued_at: datetime | None = None
    tail_ms: float = 10.0
    model: tuple[str, int, str] = ("", 0, "")
    manifest_extra: dict[str, Any] = field(default_factory=dict)
    extra_files: dict[str, bytes] = field(default_factory=dict)


Slot = tuple[str, str, datetime]  # agent, trigger, start
Pair = tuple[SideRun | None, SideRun | None]
Timed = tuple[Step, datetime | None, datetime | None]

# --- time and the bucket's files -------------------------------------------------------------


def _iso(t: datetime | None, primary: bool) -> str | None:
    """Primaries write `...Z`, dry runs `...+00:00`: both are ISO-8601 UTC."""
    if t is None:
        return None
    text = t.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z") if primary else text


def _ms(ms: float) -> timedelta:
    return timedelta(milliseconds=ms)


def _timed(run: SideRun) -> tuple[list[Timed], datetime | None]:
    """Each step with its start and end, and when the run ended (None while not terminal)."""
    if run.start is None:
        return [], None
    t, out = run.start, list[Timed]()
    for step in run.steps:
        if step.status == "skipped":
            out.append((step, None, None))
            continue
        t += _ms(step.gap_ms)
        begin = t
        if step.status == "running":
            out.append((step, begin, None))
            continue
        t = begin + _ms(step.ms)
        out.append((step, begin, t))
    return out, (t + _ms(run.tail_ms) if run.status in TERMINAL else None)


def _dump(doc: dict[str, Any], style: int) -> bytes:
    if style == 1:
        return json.dumps(doc, separators=(",", ":")).encode() + b"\n"
    return json.dumps(doc, indent=2, sort_keys=style == 2).encode() + b"\n"


def _step_file(number: int, name: str, naming: int) -> str:
    forms = (
        f"steps/{number}.json",
        f"steps/{number}-{name}.json",
        f"steps/{number:02d}-{name}.json",
    )
    return forms[naming % 3]


def _current_step(run: SideRun) -> str | None:
    if run.status == "completed":
        return "finalize"
    if not run.steps:
        return None
    busy = ("failed",) if run.status == "failed" else ("running", "failed")
    return next((s.name for s in run.steps if s.status in busy), run.steps[-1].name)


def _status_doc(run: SideRun, end: datetime | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "run_id": run.status_run_id or run.run_id,
        "agent_slug": run.agent,
        "status": run.status,
        "trigger": run.trigger,
        "started_at": _iso(run.start, run.primary),
        "finished_at": _iso(end, run.primary),
        "current_step": _current_step(run),
        "steps_total": run.steps_total,
        "steps_completed": sum(1 for s in run.steps if s.status == "completed"),
        "proposals_created": list(run.proposals),
        "error": run.error,
    }
    if run.queue_position is not None:
        doc["queue_position"] = run.queue_position
    if run.meta is not None:
        doc["_orchestrator_meta"] = run.meta
    return doc


def _manifest_doc(run: SideRun, dir_id: str, end: datetime) -> dict[str, Any]:
    assert run.start is not None
    doc: dict[str, Any] = {
        "run_id": dir_id,
        "agent_slug": run.agent,
        "status": run.status,
        "trigger": run.trigger,
        "started_at": _iso(run.start, run.primary),
        "finished_at": _iso(end, run.primary),
        "duration_ms": round((end - run.start).total_seconds() * 1000),
        "steps_count": run.steps_total,
        "proposals_created": len(run.proposals),
        "error": run.error,
        "model_used": run.model[0],
        "tokens_used": run.model[1],
        "agent_version": run.model[2],
    }
    if run.retries is not None:
        doc["retries"] = run.retries
    doc.update(run.manifest_extra)
    return doc


def _step_doc(number: int, timed: Timed, rng: random.Random, primary: bool) -> dict[str, Any]:
    step, begin, end = timed
    duration = round(step.ms) if end is not None else None
    if end is not None and rng.random() < 0.08:
        duration = None  # shadow derives it from the two timestamps
    return {
        "step_number": number,
        "step_name": step.name,
        "status": step.status,
        "started_at": _iso(begin, primary),
        "finished_at": _iso(end, primary),
        "duration_ms": duration,
        "output_summary": step.summary,
        "error": step.error,
    }


Files = list[tuple[str, bytes, datetime]]  # relative path, body, modification time


def _files(run: SideRun, dir_id: str, rng: random.Random) -> Files:
    timed, end = _timed(run)
    out: Files = []
    for number, item in enumerate(timed, start=1):
        step, begin, stop = item
        name = step.file or _step_file(number, step.name, run.naming)
        body = step.raw or _dump(_step_doc(number, item, rng, run.primary), run.style)
        out.append((name, body, stop or begin or run.start or _written(run)))
    last = max((t for _, _, t in out), default=_written(run))
    out.append(("status.json", _dump(_status_doc(run, end), run.style), end or last))
    if end is not None:
        out.append(("manifest.json", _dump(_manifest_doc(run, dir_id, end), run.style), end))
        for path in run.outputs:
            body = f"# {run.agent}\n\nartifact {rng.getrandbits(64):016x}\n".encode()
            out.append((path, body, end))
    out += [(path, body, end or last) for path, body in run.extra_files.items()]
    return out


def _written(run: SideRun) -> datetime:
    when = run.start or run.queued_at
    assert when is not None
    return when


def _write_run(root: Path, run: SideRun, dir_id: str, layout: str, rng: random.Random) -> None:
    runs = f"{root}/agents/{run.agent}/runs" if layout == "nested" else f"{root}/runs"
    made: set[str] = set()
    for rel, body, when in _files(run, dir_id, rng):
        path = f"{runs}/{dir_id}/{rel}"
        parent = os.path.dirname(path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        with open(path, "wb") as fh:
            fh.write(body)
        os.utime(path, (when.timestamp(), when.timestamp()))


# --- clean pairs -----------------------------------------------------------------------------


def _run_id(rng: random.Random, start: datetime) -> str:
    return f"run_{start:%Y-%m-%d_%H%M%S}_{rng.getrandbits(24):06x}"


def _primary(rng: random.Random, slot: Slot) -> SideRun:
    agent, trigger, start = slot
    steps = [Step(n, rng.uniform(*STEP_MS[n]), rng.uniform(5, 40)) for n in PIPELINE]
    for step in steps:
        step.summary = f"{step.name}: {rng.randint(2, 90)} items in {rng.randint(1, 9)} batches"
    proposals = [f"prop_{rng.getrandbits(40):010x}" for _ in range(rng.choice((0, 0, 1, 2, 3)))]
    outputs = ["output/result.md"] + [
        f"output/proposal-{i + 1}.json" for i in range(len(proposals))
    ]
    return SideRun(
        _run_id(rng, start),
        agent,
        trigger,
        start,
        steps,
        primary=True,
        proposals=proposals,
        outputs=outputs,
        meta={"inngest": {"event_id": f"01J{rng.getrandbits(60):015X}", "attempt": 1}},
        naming=rng.randrange(3),
        style=rng.choice((0, 0, 1)),
        tail_ms=rng.uniform(5, 30),
        model=(rng.choice(("claude-sonnet-4-5", "gpt-4.1")), rng.randint(2_000, 90_000), "2.7.3"),
    )


def _jitter(rng: random.Random, ms: float) -> float:
    return ms * math.exp(rng.uniform(-JITTER, JITTER))


def _twin_step(rng: random.Random, s: Step) -> Step:
    ms = rng.uniform(*MOCK_MS) if s.name == MOCKED else _jitter(rng, s.ms)
    summary = f"[dry-run] {s.name} ok" if rng.random() < 0.7 else None
    return Step(s.name, ms, _jitter(rng, s.gap_ms), summary=summary)


def _twin(rng: random.Random, p: SideRun) -> SideRun:
    """The dry run of a clean primary: same behaviour, its own noise."""
    assert p.start is not None
    meta = {"trigger.dev": {"run": f"run_{rng.getrandbits(48):012x}", "machine": "small-1x"}}
    return SideRun(
        p.run_id,
        p.agent,
        p.trigger,
        p.start + timedelta(seconds=rng.uniform(2, 60)),
        [_twin_step(rng, s) for s in p.steps],
        primary=False,
        outputs=["output/result.md"],
        meta=meta if rng.random() < 0.9 else None,
        status_run_id=p.run_id + ("-dryrun" if rng.random() < 0.5 else ""),
        naming=rng.randrange(3),
        style=rng.choice((0, 1, 2)),
        tail_ms=_jitter(rng, p.tail_ms),
        model=("mock-llm", 0, "2.8.0-rc.1"),
    )


def _fail(run: SideRun, at: int, error: str, step_error: str | None = None) -> None:
    """End the run at step `at` (0-based), failed with `error`."""
    run.steps = run.steps[: at + 1]
    run.steps[at].status, run.steps[at].error = "failed", step_error or error
    run.status, run.error, run.proposals, run.outputs = "failed", error, [], []


def _plain(rng: random.Random, p: SideRun, c: SideRun) -> None:
    roll = rng.random()
    if roll < 0.2:
        p.retries, c.retries = {}, (None if rng.random() < 0.5 else {})
    elif roll < 0.3:
        c.retries = {}


def _retried(rng: random.Random, p: SideRun, c: SideRun) -> None:
    """execute-agent retried and recovered on both sides: attempts and back-off differ."""
    attempts = rng.choice((2, 3))
    c_attempts = attempts + rng.choice((0, 1))
    p.steps[1].ms += sum(1000 * 2**i for i in range(attempts - 1))  # 1/2/4 s back-off
    c.steps[1].ms += sum((10_000, 30_000, 90_000)[: c_attempts - 1])  # 10/30/90 s back-off
    p.retries = {RETRY_KEY: _retry(attempts, "NLM_UNAVAILABLE: 503 from upstream", True)}
    c.retries = {RETRY_KEY: _retry(c_attempts, "NLM_UNAVAILABLE: service unavailable", True)}


def _retry(attempts: int, last_error: str, recovered: bool) -> dict[str, Any]:
    return {"attempts": attempts, "last_error": last_error, "recovered": recovered}


def _exhausted(rng: random.Random, p: SideRun, c: SideRun) -> None:
    """execute-agent never recovered: INTERNAL_ERROR in the primary, AGENT_TIMEOUT in the dry run."""
    _retried(rng, p, c)
    for run in (p, c):
        run.retries = {k: {**v, "recovered": False} for k, v in (run.retries or {}).items()}
    _fail(p, 1, "INTERNAL_ERROR: retries exhausted after 3 attempts")
    _fail(c, 1, "AGENT_TIMEOUT: agent did not answer within 300 s")


def _same_failure(rng: random.Random, p: SideRun, c: SideRun) -> None:
    """Both sides fail the same way at the same step; only the message text differs."""
    at, code = rng.choice(((2, "VALIDATION_FAILED"), (0, "NOT_FOUND"), (2, "DUPLICATE_ENTRY")))
    _fail(p, at, f"{code}: rejected by the store (request {rng.getrandbits(32):08x})")
    _fail(c, at, f"{code}: dry-run store said no")


Profile = Callable[[random.Random, SideRun, SideRun], None]
PROFILES: tuple[tuple[float, Profile], ...] = (
    (0.15, _retried),
    (0.05, _exhausted),
    (0.05, _same_failure),
)


def _clean_pair(rng: random.Random, slot: Slot, plain: bool) -> tuple[SideRun, SideRun]:
    p = _primary(rng, slot)
    c = _twin(rng, p)
    roll, edge = rng.random(), 0.0
    chosen: Profile = _plain
    for share, profile in PROFILES:
        edge += share
        if roll < edge:
            chosen = profile
            break
    (_plain if plain else chosen)(rng, p, c)
    return p, c


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


# --- planted divergences ---------------------------------------------------------------------

Planter = Callable[[random.Random, SideRun, SideRun, str], None]


def _terminal_state(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    _fail(c, 2, "VALIDATION_FAILED: result does not match the output schema")


def _error_code(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    _fail(p, 1, "UPSTREAM_UNAVAILABLE: 502 bad gateway")
    _fail(c, 1, "RATE_LIMITED: 429 too many requests")


def _step_missing(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    c.steps = [s for s in c.steps if s.name != "persist-results"]  # finalize becomes step 3
    c.steps_total = len(c.steps)


def _step_extra(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    c.steps.insert(3, Step("validate-output", rng.uniform(30, 90), rng.uniform(5, 40)))
    c.steps_total = len(c.steps)


def _step_reordered(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    c.steps[1], c.steps[2] = c.steps[2], c.steps[1]


def _step_status(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    c.steps[2].status = "skipped"


def _retry_missing(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    p.steps[1].ms += 1000
    p.retries, c.retries = {RETRY_KEY: _retry(2, "NLM_UNAVAILABLE: 503", True)}, None


def _retry_outcome(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    """persist-results retried on both sides: recovered in the primary, exhausted in the dry run."""
    key = "step_3_persist-results"
    p.steps[2].ms += 2000
    p.retries = {key: _retry(2, "RATE_LIMITED: 429", True)}
    c.retries = {key: _retry(3, "RATE_LIMITED: 429 slow down", False)}
    _fail(c, 2, "RATE_LIMITED: retries exhausted", "RATE_LIMITED: 429")


def _run_slower(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    for step in c.steps:
        step.gap_ms *= 2.5
        if step.name != MOCKED:
            step.ms *= 2.5


def _proposals(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    c.proposals = [f"prop_{rng.getrandbits(40):010x}"]


def _proposal_output(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    c.outputs.append("output/proposal-1.json")


def _invalid_json(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    c.naming = 1
    c.steps[2].raw = b'{"step_number": 3, "step_name": '


def _unknown_status(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    c.steps[2].status = "done"


def _schema_violation(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    c.manifest_extra["steps_count"] = "four"


def _without_number(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    note = {"step_name": "final-notes", "status": "completed", "output_summary": "debug hook"}
    c.extra_files["steps/final-notes.json"] = _dump(note, 0)


def _identity_mismatch(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    c.naming = 1
    c.steps[2].file = "steps/3-persist.json"  # the content says 3 persist-results, and wins


def _run_id_mismatch(rng: random.Random, p: SideRun, c: SideRun, other: str) -> None:
    c.status_run_id = other


PLANTERS: dict[Kind, tuple[Dimension, Planter]] = {
    Kind.TERMINAL_STATE_DIFFERS: (Dimension.STATUS, _terminal_state),
    Kind.ERROR_CODE_DIFFERS: (Dimension.STATUS, _error_code),
    Kind.STEP_MISSING: (Dimension.STEPS, _step_missing),
    Kind.STEP_EXTRA: (Dimension.STEPS, _step_extra),
    Kind.STEP_REORDERED: (Dimension.STEPS, _step_reordered),
    Kind.STEP_STATUS_DIFFERS: (Dimension.STEPS, _step_status),
    Kind.RETRY_MISSING: (Dimension.RETRIES, _retry_missing),
    Kind.RETRY_OUTCOME_DIFFERS: (Dimension.RETRIES, _retry_outcome),
    Kind.RUN_SLOWER: (Dimension.TIMING, _run_slower),
    Kind.PROPOSALS_CREATED: (Dimension.SIDE_EFFECTS, _proposals),
    Kind.PROPOSAL_OUTPUT: (Dimension.SIDE_EFFECTS, _proposal_output),
    Kind.INVALID_JSON: (Dimension.INPUT, _invalid_json),
    Kind.UNKNOWN_STATUS: (Dimension.INPUT, _unknown_status),
    Kind.SCHEMA_VIOLATION: (Dimension.INPUT, _schema_violation),
    Kind.STEP_WITHOUT_NUMBER: (Dimension.INPUT, _without_number),
    Kind.STEP_IDENTITY_MISMATCH: (Dimension.INPUT, _identity_mismatch),
    Kind.RUN_ID_MISMATCH: (Dimension.INPUT, _run_id_mismatch),
}
MIN_PLANT_RUNS = len(PLANTERS) + 3  # plus the lost run and the two runs of the overlap


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
        p, c = pairs[idx]
        assert p is not None and c is not None
        dimension, planter = PLANTERS[kind]
        planter(rng, p, c, _neighbour(pairs, idx))
        planted.append(Planted(p.run_id, dimension, kind))
    lost = pairs[choice.lost][0]
    assert lost is not None
    pairs[choice.lost] = (lost, None)
    planted.append(Planted(lost.run_id, Dimension.COMPLETENESS, Kind.LOST_RUN))
    planted.append(_overlap(pairs, *choice.overlap))
    return planted


def _neighbour(pairs: list[Pair], idx: int) -> str:
    p = pairs[idx - 1 if idx > 0 else idx + 1][0]
    assert p is not None
    return p.run_id


def _overlap(pairs: list[Pair], earlier: int, later: int) -> Planted:
    """The earlier dry run is delivered late and still runs when the agent's next one starts."""
    first, second = pairs[earlier][1], pairs[later][1]
    assert first is not None and second is not None and first.start is not None
    _, end = _timed(first)
    assert end is not None and second.start is not None
    first.start = second.start - (end - first.start) / 2
    return Planted(second.run_id, Dimension.CONCURRENCY, Kind.OVERLAP)


# --- runs around `now` -----------------------------------------------------------------------


def _running(run: SideRun, steps_done: int) -> SideRun:
    """Cut a run to `steps_done` finished steps plus one still running; no manifest yet."""
    run.steps = run.steps[: steps_done + 1]
    run.steps[-1].status, run.steps[-1].summary = "running", None
    run.status, run.error, run.retries, run.proposals, run.outputs = "running", None, None, [], []
    return run


def _queued(run: SideRun, now: datetime, position: int) -> SideRun:
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
        p, c = _clean_pair(rng, (agent, "manual", now - ago[i]), True)
        out.append((_running(p, 1), _running(c, 1)))
    p, c = _clean_pair(rng, (AGENTS[0], "manual", now - ago[3]), True)
    out.append((_queued(p, now, 1), _queued(c, now, rng.choice((1, 2)))))
    late, _ = _clean_pair(rng, (AGENTS[3], "manual", now - ago[4]), True)
    return [*out, (late, None)]


def _stuck_and_orphan(rng: random.Random, now: datetime) -> tuple[list[Pair], list[Planted]]:
    p, c = _clean_pair(rng, (STUCK_AGENT, "cron", now - timedelta(hours=2)), True)
    _, orphan = _clean_pair(rng, (AGENTS[1], "manual", now - timedelta(days=2, minutes=7)), True)
    planted = [
        Planted(p.run_id, Dimension.COMPLETENESS, Kind.STUCK_RUN),
        Planted(orphan.run_id, Dimension.COMPLETENESS, Kind.ORPHAN_RUN),
    ]
    return [(_running(p, 1), _running(c, 1)), (None, orphan)], planted


# --- the entry points ------------------------------------------------------------------------


def _prepare(out: Path) -> None:
    """Refuse a directory this module did not write; wipe one it did."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise ValueError(
                f"{out} is not empty and was not written by `shadow demo`; choose another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by shadow demo; safe to delete\n", encoding="utf-8")


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
    pairs: list[Pair] = [_clean_pair(rng, s, i in used) for i, s in enumerate(slots)]
    planted = _plant(rng, pairs, choice) if choice else []
    pairs += _in_flight(rng, now)
    if plant:
        more, extra = _stuck_and_orphan(rng, now)
        pairs, planted = pairs + more, planted + extra
    _prepare(out)
    for p, c in pairs:
        if p is not None:
            _write_run(out, p, p.run_id, layout, rng)
        if c is not None:
            _write_run(out, c, c.run_id + suffix, layout, rng)
    count = sum(1 for p, _ in pairs if p is not None)
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
