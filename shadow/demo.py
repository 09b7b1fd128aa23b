"""A realistic dual-run bucket in a local directory, with planted divergences.

The clean pairs carry every kind of noise the contract allows (timestamps, ids, vendor meta,
output text, error text after the code, proposal ids, model fields, retry attempt counts, the
INTERNAL_ERROR ~ AGENT_TIMEOUT equivalence, all step-file namings, both candidate run-id forms),
so a correct judge finds no error in them. Each planted divergence sits on its own pair and is
listed with the dimension and kind shadow must report. Deterministic for a seed: no wall clock.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shadow.findings import Dimension, Kind

MARKER = ".shadow-demo"
AGENTS = ("archivist-violin", "curator-piano", "scribe-cello", "herald-flute", "warden-oboe")
PIPELINE = ("load-context", "execute-agent", "persist-results", "finalize")
MOCKED = "execute-agent"
BASE_MS = {
    "load-context": (200, 800),
    "execute-agent": (5000, 60000),
    "persist-results": (100, 900),
    "finalize": (20, 100),
}


@dataclass(frozen=True)
class Planted:
    run_id: str
    dimension: Dimension
    kind: Kind


@dataclass(frozen=True)
class DemoCorpus:
    root: Path
    now: datetime
    pairs: int
    planted: tuple[Planted, ...]


@dataclass
class Step:
    name: str
    status: str = "completed"
    ms: float = 0.0
    gap_ms: float = 10.0
    error: str | None = None
    number: int | None = None  # None: position in the list


@dataclass
class Run:
    """One side of one run, before it is written."""

    run_id: str
    agent: str
    trigger: str
    start: datetime
    steps: list[Step]
    status: str = "completed"
    error: str | None = None
    retries: dict[str, Any] | None = None
    proposals: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=lambda: ["output/result.md"])
    meta: dict[str, Any] = field(default_factory=dict)
    status_run_id: str | None = None
    manifest: bool = True
    naming: int = 0
    extra_status: dict[str, Any] = field(default_factory=dict)
    extra_manifest: dict[str, Any] = field(default_factory=dict)
    raw_files: dict[str, bytes] = field(default_factory=dict)  # written verbatim, after the rest
    finished: bool = True

    @property
    def end(self) -> datetime:
        total = sum(s.ms + s.gap_ms for s in self.steps if s.status != "skipped")
        return self.start + timedelta(milliseconds=total)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _step_file(step: Step, index: int, naming: int) -> str:
    n = step.number if step.number is not None else index + 1
    return [f"steps/{n}.json", f"steps/{n}-{step.name}.json", f"steps/{n:02d}-{step.name}.json"][
        naming % 3
    ]


def _write_json(path: Path, doc: Any, compact: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, separators=(",", ":")) if compact else json.dumps(doc, indent=2)
    path.write_text(text + "\n", encoding="utf-8")


def _status_doc(run: Run) -> dict[str, Any]:
    running = not run.finished
    done = [s for s in run.steps if s.status in ("completed", "failed")]
    failing = next((s.name for s in run.steps if s.status == "failed"), None)
    doc: dict[str, Any] = {
        "run_id": run.status_run_id or run.run_id,
        "agent_slug": run.agent,
        "status": "running" if running else run.status,
        "trigger": run.trigger,
        "started_at": _iso(run.start),
        "finished_at": None if running else _iso(run.end),
        "current_step": run.steps[-1].name if running else (failing or "finalize"),
        "steps_total": len(PIPELINE),
        "steps_completed": len(done),
        "proposals_created": run.proposals,
        "error": None if running else run.error,
        "_orchestrator_meta": run.meta,
    }
    doc.update(run.extra_status)
    return doc


def _manifest_doc(run: Run, rng: random.Random) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "status": run.status,
        "trigger": run.trigger,
        "steps_count": len(PIPELINE),
        "proposals_created": len(run.proposals),
        "error": run.error,
        "model_used": rng.choice(["claude-sonnet", "gpt-4.1", "mock-model"]),
        "tokens_used": rng.randint(0, 90000),
        "agent_version": f"1.{rng.randint(0, 9)}.{rng.randint(0, 30)}",
    }
    if run.retries is not None:
        doc["retries"] = run.retries
    doc.update(run.extra_manifest)
    return doc


def _write_run(root: Path, run: Run, dir_id: str, layout: str, rng: random.Random) -> None:
    base = root / (f"agents/{run.agent}/runs/{dir_id}" if layout == "nested" else f"runs/{dir_id}")
    compact = rng.random() < 0.3
    _write_json(base / "status.json", _status_doc(run), compact)
    if run.manifest and run.finished:
        _write_json(base / "manifest.json", _manifest_doc(run, rng), compact)
    t = run.start
    for i, step in enumerate(run.steps):
        t += timedelta(milliseconds=step.gap_ms)
        end = t + timedelta(milliseconds=step.ms)
        doc: dict[str, Any] = {
            "step_number": step.number if step.number is not None else i + 1,
            "step_name": step.name,
            "status": step.status,
            "started_at": _iso(t),
            "finished_at": _iso(end),
            "duration_ms": round(step.ms) if rng.random() > 0.08 else None,
            "output_summary": f"{step.name} done in {rng.randint(1, 999)} units",
            "error": step.error,
        }
        if step.status != "skipped":
            t = end
        _write_json(base / _step_file(step, i, run.naming), doc, compact)
    for out in run.outputs:
        path = base / out
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"artifact {rng.random()}\n", encoding="utf-8")
    for name, body in run.raw_files.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_bytes(body)


Pair = tuple[Run | None, Run | None]


# --- generating clean pairs ------------------------------------------------------------------


def _primary(rng: random.Random, agent: str, trigger: str, start: datetime) -> Run:
    steps = [
        Step(name, ms=rng.uniform(*BASE_MS[name]), gap_ms=rng.uniform(5, 50)) for name in PIPELINE
    ]
    run_id = f"run_{start:%Y-%m-%d_%H%M%S}_{rng.getrandbits(24):06x}"
    run = Run(
        run_id,
        agent,
        trigger,
        start,
        steps,
        naming=rng.randrange(3),
        proposals=[f"prop_{rng.getrandbits(32):08x}" for _ in range(rng.randint(0, 3))],
        meta={"inngest": {"fn_id": f"fn-{rng.getrandbits(16):04x}", "attempt": 1}},
    )
    run.outputs = ["output/result.md"] + [
        f"output/proposal-{i + 1}.json" for i in range(len(run.proposals))
    ]
    roll = rng.random()
    if roll < 0.08:
        _make_failed(run, rng)
    elif roll < 0.25:
        run.retries = {
            "step_2_execute-agent": {
                "attempts": 2,
                "last_error": "NLM_UNAVAILABLE: 503 from upstream",
                "recovered": True,
            }
        }
    elif roll < 0.4:
        run.retries = {}
    return run


def _make_failed(run: Run, rng: random.Random) -> None:
    run.status, run.error = "failed", "INTERNAL_ERROR: retries exhausted after 3 attempts"
    run.steps = run.steps[:2]
    run.steps[1].status, run.steps[1].error = "failed", "INTERNAL_ERROR: upstream kept failing"
    run.retries = {
        "step_2_execute-agent": {
            "attempts": 3,
            "last_error": "UPSTREAM_UNAVAILABLE: 503",
            "recovered": False,
        }
    }
    run.proposals, run.outputs = [], []


def _twin(rng: random.Random, p: Run) -> Run:
    """The dry run of a primary: same behaviour, every allowed kind of noise."""
    steps = []
    for s in p.steps:
        ms = rng.uniform(50, 300) if s.name == MOCKED else s.ms * math.exp(rng.uniform(-0.06, 0.06))
        error = s.error.split(":")[0] + ": mocked upstream said no" if s.error else None
        steps.append(replace(s, ms=ms, error=error))
    c = Run(
        p.run_id,
        p.agent,
        p.trigger,
        p.start + timedelta(seconds=rng.uniform(2, 60)),
        steps,
        status=p.status,
        naming=rng.randrange(3),
        meta={"trigger.dev": {"run": f"run_{rng.getrandbits(40):010x}", "machine": "small-1x"}},
        status_run_id=p.run_id + ("-dryrun" if rng.random() < 0.5 else ""),
    )
    if p.error is not None:
        c.error = (
            "AGENT_TIMEOUT: no answer within 300 s"
            if p.error.startswith("INTERNAL_ERROR")
            else p.error
        )
        for s in c.steps:
            if s.status == "failed":
                s.error = "AGENT_TIMEOUT: no answer within 300 s"
    if p.retries:
        c.retries = {
            k: {
                **v,
                "attempts": v["attempts"] + 1,
                "last_error": v["last_error"].split(":")[0] + ": retry later",
            }
            for k, v in p.retries.items()
        }
    elif p.retries == {} and rng.random() < 0.5:
        c.retries = None
    elif p.retries is None and rng.random() < 0.3:
        c.retries = {}
    return c


def _timeline(
    rng: random.Random, runs: int, days: int, end: datetime
) -> list[tuple[str, str, datetime]]:
    """(agent, trigger, start) for every run: per agent, cron slots every 12 h plus manual runs."""
    begin = end - timedelta(days=days)
    out: list[tuple[str, str, datetime]] = []
    per_agent = [
        runs // len(AGENTS) + (1 if i < runs % len(AGENTS) else 0) for i in range(len(AGENTS))
    ]
    for i, (agent, n) in enumerate(zip(AGENTS, per_agent, strict=True)):
        span = (end - begin).total_seconds()
        slots = sorted(rng.sample(range(int(span // 1800)), n))  # 30-minute slots, never shared
        for slot in slots:
            t = begin + timedelta(seconds=slot * 1800 + i * 60 + rng.uniform(1, 40))
            out.append((agent, "cron" if slot % 2 == 0 else "manual", t))
    return sorted(out, key=lambda x: x[2])


# --- planting ------------------------------------------------------------------------------


def _plant(kind: Kind, p: Run, c: Run, rng: random.Random) -> tuple[Run, Run | None]:
    """Change one clean pair so it shows exactly the planted divergence."""
    if kind is Kind.TERMINAL_STATE_DIFFERS:
        c.status, c.error = "failed", "VALIDATION_FAILED: output rejected"
        c.steps = c.steps[:3]
        c.steps[2].status, c.steps[2].error = "failed", "VALIDATION_FAILED: output rejected"
        c.proposals = []
    elif kind is Kind.ERROR_CODE_DIFFERS:
        _make_failed(p, rng)
        p.error, p.steps[1].error, p.retries = (
            "UPSTREAM_UNAVAILABLE: 502",
            "UPSTREAM_UNAVAILABLE: 502",
            None,
        )
        c.steps = [replace(s) for s in c.steps[:2]]
        c.steps[1].status, c.steps[1].error = "failed", "RATE_LIMITED: 429"
        c.status, c.error, c.retries = "failed", "RATE_LIMITED: 429", None
    elif kind is Kind.STEP_MISSING:
        c.steps = [s for s in c.steps if s.name != "persist-results"]
    elif kind is Kind.STEP_EXTRA:
        c.steps.insert(3, Step("validate-output", ms=40, gap_ms=8))
    elif kind is Kind.STEP_REORDERED:
        c.steps[1], c.steps[2] = c.steps[2], c.steps[1]
    elif kind is Kind.STEP_STATUS_DIFFERS:
        c.steps[2].status = "skipped"
    elif kind is Kind.RETRY_MISSING:
        p.retries = {
            "step_2_execute-agent": {
                "attempts": 2,
                "last_error": "NLM_UNAVAILABLE: 503",
                "recovered": True,
            }
        }
        c.retries = None
    elif kind is Kind.RETRY_OUTCOME_DIFFERS:
        p.retries = {
            "step_3_persist-results": {
                "attempts": 2,
                "last_error": "RATE_LIMITED: 429",
                "recovered": True,
            }
        }
        c.retries = {
            "step_3_persist-results": {
                "attempts": 3,
                "last_error": "RATE_LIMITED: 429",
                "recovered": False,
            }
        }
        c.status, c.error = "failed", "RATE_LIMITED: retries exhausted"
        c.steps = c.steps[:3]
        c.steps[2].status, c.steps[2].error = "failed", "RATE_LIMITED: 429"
    elif kind is Kind.RUN_SLOWER:
        for s in c.steps:
            if s.name != MOCKED:
                s.ms *= 2.5
    elif kind is Kind.LOST_RUN:
        return p, None
    elif kind is Kind.PROPOSALS_CREATED:
        c.proposals = [f"prop_{rng.getrandbits(32):08x}"]
    elif kind is Kind.PROPOSAL_OUTPUT:
        c.outputs = ["output/result.md", "output/proposal-1.json"]
    elif kind is Kind.INVALID_JSON:
        c.raw_files["steps/3-persist-results.json"] = b'{"step_number": 3, "step_name": '
        c.naming = 1
    elif kind is Kind.UNKNOWN_STATUS:
        c.steps[2].status = "done"
    elif kind is Kind.SCHEMA_VIOLATION:
        c.extra_manifest = {"steps_count": "four"}
    elif kind is Kind.STEP_WITHOUT_NUMBER:
        c.raw_files["steps/final-notes.json"] = b'{"note": "written by a debugging hook"}\n'
    elif kind is Kind.STEP_IDENTITY_MISMATCH:
        c.naming = 1
        c.raw_files["steps/3-persist.json"] = json.dumps(
            {
                "step_number": 3,
                "step_name": "persist-results",
                "status": "completed",
                "duration_ms": round(c.steps[2].ms),
            }
        ).encode()
        c.steps[2].number = 3
        c.raw_files["__rename__"] = b"steps/3-persist-results.json"
    elif kind is Kind.RUN_ID_MISMATCH:
        c.status_run_id = f"run_{rng.getrandbits(48):012x}"
    return p, c


PLANTS: tuple[tuple[Dimension, Kind], ...] = (
    (Dimension.STATUS, Kind.TERMINAL_STATE_DIFFERS),
    (Dimension.STATUS, Kind.ERROR_CODE_DIFFERS),
    (Dimension.STEPS, Kind.STEP_MISSING),
    (Dimension.STEPS, Kind.STEP_EXTRA),
    (Dimension.STEPS, Kind.STEP_REORDERED),
    (Dimension.STEPS, Kind.STEP_STATUS_DIFFERS),
    (Dimension.RETRIES, Kind.RETRY_MISSING),
    (Dimension.RETRIES, Kind.RETRY_OUTCOME_DIFFERS),
    (Dimension.TIMING, Kind.RUN_SLOWER),
    (Dimension.COMPLETENESS, Kind.LOST_RUN),
    (Dimension.SIDE_EFFECTS, Kind.PROPOSALS_CREATED),
    (Dimension.SIDE_EFFECTS, Kind.PROPOSAL_OUTPUT),
    (Dimension.INPUT, Kind.INVALID_JSON),
    (Dimension.INPUT, Kind.UNKNOWN_STATUS),
    (Dimension.INPUT, Kind.SCHEMA_VIOLATION),
    (Dimension.INPUT, Kind.STEP_WITHOUT_NUMBER),
    (Dimension.INPUT, Kind.STEP_IDENTITY_MISMATCH),
    (Dimension.INPUT, Kind.RUN_ID_MISMATCH),
)


def _prepare(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise ValueError(
                f"{out} is not empty and was not written by `shadow demo`; choose another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by shadow demo; safe to delete\n", encoding="utf-8")


def _clean_pairs(
    rng: random.Random, runs: int, days: int, now: datetime
) -> list[tuple[Run, Run | None]]:
    pairs: list[tuple[Run, Run | None]] = []
    for agent, trigger, start in _timeline(rng, runs, days, now - timedelta(hours=1)):
        p = _primary(rng, agent, trigger, start)
        pairs.append((p, _twin(rng, p)))
    return pairs


def _plant_all(rng: random.Random, pairs: list[tuple[Run, Run | None]]) -> list[Planted]:
    clean = [i for i, (p, _) in enumerate(pairs) if p.status == "completed" and not p.retries]
    step = max(1, len(clean) // (len(PLANTS) + 2))
    planted = []
    for n, (dim, kind) in enumerate(PLANTS):
        i = clean[(n + 1) * step % len(clean)]
        p, c = pairs[i]
        assert c is not None
        pairs[i] = _plant(kind, p, c, rng)
        planted.append(Planted(p.run_id, dim, kind))
    planted.append(_plant_overlap(pairs, clean, step))
    return planted


def _plant_overlap(pairs: list[tuple[Run, Run | None]], clean: list[int], step: int) -> Planted:
    """Move a dry run so it overlaps the agent's previous dry run; its primary stays serialized."""
    used = {(n + 1) * step % len(clean) for n in range(len(PLANTS))}
    for idx in clean[::-1]:
        if idx in used:
            continue
        p, c = pairs[idx]
        prev = next(
            (pairs[j] for j in range(idx - 1, -1, -1) if pairs[j][0].agent == p.agent), None
        )
        if c is None or prev is None or prev[1] is None or prev[0].status != "completed":
            continue
        c.start = prev[1].start + timedelta(milliseconds=100)
        return Planted(p.run_id, Dimension.CONCURRENCY, Kind.OVERLAP)
    raise RuntimeError("no pair to plant an overlap on")


def _in_flight(rng: random.Random, now: datetime) -> list[tuple[Run, Run | None]]:
    """Runs near `now`: running on both sides, and one primary whose twin may still come."""
    out: list[tuple[Run, Run | None]] = []
    for i, agent in enumerate(AGENTS[:3]):
        p = _primary(rng, agent, "manual", now - timedelta(minutes=2 + i))
        p.status, p.error, p.retries, p.finished = "running", None, None, False
        p.steps = [Step(n, ms=rng.uniform(*BASE_MS[n])) for n in PIPELINE[:2]]
        c = _twin(rng, p)
        c.finished = False
        out.append((p, c))
    late = _primary(rng, AGENTS[3], "manual", now - timedelta(minutes=6))
    late.status, late.error, late.retries = "completed", None, None
    late.steps = [Step(n, ms=rng.uniform(*BASE_MS[n]) / 10) for n in PIPELINE]
    out.append((late, None))
    return out


def _stuck_and_orphan(rng: random.Random, now: datetime) -> tuple[list[Pair], list[Planted]]:
    p = _primary(rng, AGENTS[4], "cron", now - timedelta(hours=2))
    p.status, p.error, p.retries, p.finished = "running", None, None, False
    p.steps = [Step(n, ms=rng.uniform(*BASE_MS[n])) for n in PIPELINE[:2]]
    c = _twin(rng, p)
    c.finished = False
    orphan_p = _primary(rng, AGENTS[1], "manual", now - timedelta(days=2))
    orphan_p.retries = None
    orphan = _twin(rng, orphan_p)
    orphan.run_id = orphan_p.run_id  # the primary is never written
    planted = [
        Planted(p.run_id, Dimension.COMPLETENESS, Kind.STUCK_RUN),
        Planted(orphan.run_id, Dimension.COMPLETENESS, Kind.ORPHAN_RUN),
    ]
    return [(p, c), (None, orphan)], planted


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
    if layout not in ("flat", "nested"):
        raise ValueError("layout must be flat or nested")
    rng = random.Random(seed)
    now = now.astimezone(UTC)
    _prepare(out)
    clean = _clean_pairs(rng, runs, days, now)
    planted = _plant_all(rng, clean) if plant else []
    pairs: list[Pair] = [*clean, *_in_flight(rng, now)]
    if plant:
        more, extra = _stuck_and_orphan(rng, now)
        pairs += more
        planted += extra
    for p, c in pairs:
        if p is not None:
            _write_run(out, p, p.run_id, layout, rng)
        if c is not None:
            _write_twin(out, c, suffix, layout, rng)
    count = sum(1 for p, _ in pairs if p is not None)
    return DemoCorpus(out, now, count, tuple(planted))


def _write_twin(out: Path, c: Run, suffix: str, layout: str, rng: random.Random) -> None:
    rename = c.raw_files.pop("__rename__", None)
    _write_run(out, c, c.run_id + suffix, layout, rng)
    if rename is not None:  # the identity-mismatch plant: the step lives under another file name
        base = out / (
            f"agents/{c.agent}/runs/{c.run_id}{suffix}"
            if layout == "nested"
            else f"runs/{c.run_id}{suffix}"
        )
        (base / rename.decode()).unlink()
