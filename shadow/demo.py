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

from shadow.findings import Dimension, Kind

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
    t, out = run.start, []
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
    forms = (f"steps/{number}.json", f"steps/{number}-{name}.json", f"steps/{number:02d}-{name}.json")
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
    runs = root / "agents" / run.agent / "runs" if layout == "nested" else root / "runs"
    for rel, body, when in _files(run, dir_id, rng):
        path = runs / dir_id / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
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
    outputs = ["output/result.md"] + [f"output/proposal-{i + 1}.json" for i in range(len(proposals))]
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


PROFILES: tuple[tuple[float, Callable[[random.Random, SideRun, SideRun], None]], ...] = (
    (0.15, _retried),
    (0.05, _exhausted),
    (0.05, _same_failure),
)


def _clean_pair(rng: random.Random, slot: Slot, plain: bool) -> tuple[SideRun, SideRun]:
    p = _primary(rng, slot)
    c = _twin(rng, p)
    roll, edge, chosen = rng.random(), 0.0, _plain
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


def _agent_slots(
    rng: random.Random, i: int, n: int, begin: datetime, end: datetime
) -> list[Slot]:
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
