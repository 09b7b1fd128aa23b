"""Migration scenarios: a realistic dual-run corpus per migration, written in each side's format.

`agents` is the demo bucket (Inngest -> Trigger.dev in the spec's own format). The others write
each side in the record format of its writer, encoded from one canonical description through
that side's profile (the inverse of `profiles.translate`): camelCase and epoch milliseconds for
Trigger.dev, `acked`/`dead_lettered` for a queue consumer, a bot server's update ids and epoch
seconds. Each scenario also writes the `shadow.toml` it needs (profiles per side, pairing key,
strata noun, schedules, SLOs, thresholds) next to the corpus, and says what it planted where.
A clean variant plants nothing. Deterministic for a seed: nothing reads the wall clock.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shadow.core.findings import Dimension, Kind
from shadow.core.layout import Side
from shadow.core.profiles import TIME_FIELDS, Profile, RecordKind
from shadow.corpora.demo import MARKER, Planted, _prepare, write_demo
from shadow.corpora.invented import INVENTED

JITTER = math.log(1.10)  # the dry run takes the primary's time within +-10%
CONFIG_NAME = "shadow.toml"


@dataclass(frozen=True)
class StratumPlant:
    """A divergence that belongs to no run: a missed schedule, a stratum that must fail."""

    stratum: str
    dimension: Dimension
    kind: Kind
    side: Side | None = None  # the side that missed a schedule


@dataclass(frozen=True)
class ScenarioCorpus:
    name: str
    root: Path
    config: Path
    now: datetime
    pairs: int  # primary runs written
    planted: tuple[Planted, ...]  # run_id is the pairing key (an idempotency key where paired so)
    stratum_plants: tuple[StratumPlant, ...] = ()
    rejected_keys: tuple[str, ...] = ()  # objects shadow must reject (relative to the root)


@dataclass
class Step:
    name: str
    ms: float
    status: str = "completed"  # canonical step state
    error: str | None = None
    word: str | None = None  # the writer's own word, overriding the profile's


@dataclass
class Run:
    """One side of one run in canonical terms; encoded through the side's profile on write."""

    run_id: str
    stratum: str
    trigger: str
    start: datetime
    steps: list[Step]
    status: str = "completed"  # canonical run state
    error: str | None = None
    word: str | None = None  # the writer's own state word (dead_lettered, CANCELED, a rename)
    manifest_word: str | None = None  # a different word in manifest.json only
    key: str | int | None = None  # idempotency key
    retries: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    leaked: dict[str, Any] = field(default_factory=dict)  # vendor fields outside the meta
    gap_ms: float = 15.0

    @property
    def end(self) -> datetime:
        return self.start + timedelta(milliseconds=sum(s.ms + self.gap_ms for s in self.steps))


Pair = tuple[Run, list[Run]]  # a primary and its candidate runs (none if lost, two if duplicated)


# --- encoding canonical documents in a writer's format --------------------------------------


def _vocabulary(table: dict[str, Any]) -> dict[str, str]:
    """Canonical state -> the writer's first word for it in the profile."""
    out: dict[str, str] = {}
    for word, state in table.items():
        out.setdefault(str(state.value), word)
    return out


def _time(value: datetime, profile: Profile) -> Any:
    if profile.times == "epoch_ms":
        return round(value.timestamp() * 1000)
    if profile.times == "epoch_s":
        return round(value.timestamp(), 3)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(doc: dict[str, Any], kind: RecordKind, profile: Profile) -> dict[str, Any]:
    """A canonical document in the writer's field names, time format and state words."""
    names = profile.field_map(kind)
    states = _vocabulary(profile.step_states if kind == "step" else profile.run_states)
    out: dict[str, Any] = {}
    for name, value in doc.items():
        if name in TIME_FIELDS and isinstance(value, datetime):
            value = _time(value, profile)
        if name == "status" and isinstance(value, str):
            value = states.get(value, value)
        node, parts = out, names.get(name, name).split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=2).encode() + b"\n"


def _write(root: Path, run: Run, dir_id: str, profile: Profile, candidate: bool) -> None:
    base = root / "runs" / dir_id
    (base / "steps").mkdir(parents=True, exist_ok=True)
    t = run.start
    terminal = run.status in ("completed", "failed")
    for n, step in enumerate(run.steps, start=1):
        begin = t + timedelta(milliseconds=run.gap_ms)
        t = begin + timedelta(milliseconds=step.ms)
        doc = {
            "step_number": n,
            "step_name": step.name,
            "status": step.status,
            "started_at": begin,
            "finished_at": t,
            "duration_ms": round(step.ms),
            "error": step.error,
        }
        body = encode(doc, "step", profile)
        if step.word is not None:
            body[profile.field_map("step").get("status", "status")] = step.word
        _put(base / "steps" / f"{n:02d}-{step.name}.json", body, t)
    done = [s for s in run.steps if s.status == "completed"]
    common: dict[str, Any] = {
        "run_id": dir_id.removesuffix("-dryrun") if candidate else dir_id,
        "agent_slug": run.stratum,
        "status": run.status,
        "trigger": run.trigger,
        "started_at": run.start,
        "finished_at": run.end if terminal else None,
        "error": run.error,
    }
    if run.key is not None:
        common["idempotency_key"] = run.key
    status = {
        **common,
        "current_step": run.steps[-1].name if run.steps else None,
        "steps_total": len(run.steps),
        "steps_completed": len(done),
        "proposals_created": [],
    }
    if run.meta is not None:
        status["_orchestrator_meta"] = run.meta
    status.update(run.leaked)
    _put(base / "status.json", _with_word(encode(status, "status", profile), run), run.end)
    if terminal:
        manifest = {
            **common,
            "duration_ms": round((run.end - run.start).total_seconds() * 1000),
            "steps_count": len(run.steps),
            "proposals_created": 0,
        }
        if run.retries is not None:
            manifest["retries"] = run.retries
        body = _with_word(encode(manifest, "manifest", profile), run)
        if run.manifest_word is not None:
            body["status"] = run.manifest_word
        _put(base / "manifest.json", body, run.end)


def _with_word(doc: dict[str, Any], run: Run) -> dict[str, Any]:
    if run.word is not None:
        doc["status"] = run.word
    return doc


def _put(path: Path, doc: dict[str, Any], when: datetime) -> None:
    path.write_bytes(_dump(doc))
    os.utime(path, (when.timestamp(), when.timestamp()))  # as an S3 LastModified would be


# --- building blocks ------------------------------------------------------------------------


def _jitter(rng: random.Random, ms: float) -> float:
    return ms * math.exp(rng.uniform(-JITTER, JITTER))


def _twin(rng: random.Random, p: Run, run_id: str, delay_s: float = 3.0) -> Run:
    """The dry run of a primary: same steps and outcome, its own ids, timing and noise."""
    return Run(
        run_id,
        p.stratum,
        p.trigger,
        p.start + timedelta(seconds=rng.uniform(0.2, delay_s)),
        [Step(s.name, _jitter(rng, s.ms), s.status, s.error) for s in p.steps],
        p.status,
        p.error,
        key=p.key,
        retries=_twin_retries(rng, p.retries),
        meta={"trigger.dev": {"machine": "small-1x"}},
        gap_ms=_jitter(rng, p.gap_ms),
    )


def _twin_retries(rng: random.Random, retries: dict[str, Any] | None) -> dict[str, Any] | None:
    if retries is None:
        return None
    return {k: {**v, "attempts": v["attempts"] + rng.choice((0, 1))} for k, v in retries.items()}


def _steps(rng: random.Random, spec: tuple[tuple[str, float, float], ...]) -> list[Step]:
    return [Step(name, rng.uniform(lo, hi)) for name, lo, hi in spec]


def _exhaust(run: Run, at: int, error: str) -> None:
    """The run fails at step `at` after its retries ran out."""
    run.steps = run.steps[: at + 1]
    run.steps[at].status, run.steps[at].error = "failed", error
    run.status, run.error = "failed", error
    key = f"step_{at + 1}_{run.steps[at].name}"
    run.retries = {key: {"attempts": 3, "last_error": error, "recovered": False}}


def _rid(rng: random.Random, prefix: str, at: datetime) -> str:
    return f"{prefix}_{at:%Y%m%d_%H%M%S}_{rng.getrandbits(24):06x}"


def _spread(rng: random.Random, n: int, begin: datetime, end: datetime) -> list[datetime]:
    """n start times in [begin, end), at least a minute apart (runs of a stratum never overlap)."""
    span = (end - begin).total_seconds()
    slots = rng.sample(range(int(span // 600)), n)
    return sorted(begin + timedelta(seconds=s * 600 + rng.uniform(0, 300)) for s in slots)


# --- scenario: long pipelines (Inngest -> Trigger.dev) ---------------------------------------

GENERATOR = tuple(
    (name, lo, hi)
    for name, lo, hi in (
        ("scaffold-repo", 800, 2000),
        ("design-schema", 3000, 9000),
        ("generate-models", 4000, 12000),
        ("generate-api", 5000, 15000),
        ("generate-ui", 6000, 18000),
        ("write-tests", 4000, 10000),
        ("write-docs", 2000, 6000),
        ("configure-ci", 1000, 3000),
        ("publish-preview", 1500, 5000),
    )
)
STREAM = (("open-stream", 100, 400), ("stream-tokens", 3000, 20000), ("close-stream", 50, 200))


def _long(rng: random.Random, now: datetime, plant: bool, size: int) -> _Built:
    begin = now - timedelta(days=15)
    pairs: list[Pair] = []
    for stratum, spec in (("project-generator", GENERATOR), ("chat-stream", STREAM)):
        for i, at in enumerate(_spread(rng, size, begin, now - timedelta(hours=1))):
            p = Run(_rid(rng, "run", at), stratum, "manual", at, _steps(rng, spec))
            p.meta = {"inngest": {"event_id": f"01J{rng.getrandbits(60):015X}"}}
            if stratum == "project-generator" and i % 5 == 1:  # each step has its own retries
                p.retries = {"step_4_generate-api": _retry(2, True)}
            if stratum == "chat-stream" and i % 4 == 1:  # the user canceled the stream
                p.steps[1].status, p.steps = "skipped", p.steps[:2]
                p.status, p.word = "failed", "CANCELLED"
            c = _twin(rng, p, p.run_id)
            if p.word == "CANCELLED":
                c.word = "CANCELED"  # Trigger.dev's spelling: both mean canceled
            pairs.append((p, [c]))
    planted: list[Planted] = []
    if plant:
        gens = [pr for pr in pairs if pr[0].stratum == "project-generator"]
        streams = [pr for pr in pairs if pr[0].stratum == "chat-stream"]
        planted += _plant_regroup(gens[3], "skip", Kind.STEP_MISSING)
        planted += _plant_regroup(gens[7], "merge", Kind.STEP_MERGED)
        planted += _plant_regroup(gens[9], "split", Kind.STEP_SPLIT)
        p, (c,) = next(pr for pr in streams[4:] if pr[0].word is None)
        c.steps[1].status, c.steps = "skipped", c.steps[:2]
        c.status, c.word = "failed", "CANCELED"  # canceled in the dry run only
        planted.append(Planted(c.run_id, Dimension.STATUS, Kind.TERMINAL_STATE_DIFFERS))
    config = {
        "primary_profile": "inngest",
        "candidate_profile": "trigger-dev",
        "stratum_noun": "pipelines",
        "excluded_steps": [],
        "thresholds": {"min_pairs": size, "min_pairs_per_agent": 15, "timing_min_pairs": 15},
    }
    return _Built(pairs, planted, [], [], config)


def _retry(
    attempts: int, recovered: bool, error: str = "UPSTREAM_UNAVAILABLE: 502"
) -> dict[str, Any]:
    return {"attempts": attempts, "last_error": error, "recovered": recovered}


def _plant_regroup(pair: Pair, how: str, kind: Kind) -> list[Planted]:
    _, (c,) = pair
    s = c.steps
    if how == "skip":
        c.steps = s[:4] + s[5:]  # generate-ui never ran
    elif how == "merge":
        merged = Step("generate-code", s[2].ms + s[3].ms)  # models and api in one step
        c.steps = [*s[:2], merged, *s[4:]]
    else:
        c.steps = [
            *s[:5],
            Step("write-unit-tests", s[5].ms / 2),
            Step("write-e2e-tests", s[5].ms / 2),
            *s[6:],
        ]
    return [Planted(c.run_id, Dimension.STEPS, kind)]


# --- scenario: background jobs (Trigger.dev -> Cloudflare Queues) ----------------------------

JOBS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "document-ingestion": (
        ("fetch-document", 200, 1500),
        ("extract-text", 300, 3000),
        ("embed-chunks", 500, 4000),
        ("upsert-index", 100, 800),
    ),
    "delete-document": (("delete-vectors", 50, 400), ("delete-blob", 30, 200)),
    "delete-ingest-job": (("delete-job-row", 20, 150),),
    "delete-namespace": (("delete-vectors", 200, 2000), ("delete-namespace-row", 20, 150)),
    "delete-organization": (("delete-namespaces", 500, 4000), ("delete-org-row", 20, 200)),
    "meter-org-documents": (("count-documents", 50, 600), ("write-meter", 20, 200)),
    "reingest": (
        ("load-document", 100, 900),
        ("embed-chunks", 500, 4000),
        ("upsert-index", 100, 800),
    ),
    "usage-reset": (("reset-counters", 200, 1500),),
}
BATCH = "meter-org-documents"
CRON = "usage-reset"


def _queues(rng: random.Random, now: datetime, plant: bool, size: int) -> _Built:
    begin = now - timedelta(days=15)
    pairs: list[Pair] = []

    def job(stratum: str, at: datetime, trigger: str = "queue") -> Pair:
        p = Run(_rid(rng, "run", at), stratum, trigger, at, _steps(rng, JOBS[stratum]))
        p.key = f"msg_{rng.getrandbits(64):016x}"
        c = _twin(rng, p, _rid(rng, "cfq", at), delay_s=4.0)
        c.meta = {"cfMessageId": p.key, "cfQueue": f"jobs-{stratum}", "attempts": 1}
        return p, [c]

    for stratum in JOBS:
        if stratum in (CRON,):
            continue
        for i, at in enumerate(_spread(rng, size, begin, now - timedelta(hours=1))):
            p, cs = job(stratum, at)
            if i % 9 == 4:  # retries exhausted on both sides: FAILED here, dead-lettered there
                _exhaust(p, len(p.steps) - 1, "INTERNAL_ERROR: upstream kept failing")
                c = cs[0]
                _exhaust(c, len(c.steps) - 1, "INTERNAL_ERROR: upstream kept failing")
                c.error, c.word = None, "dead_lettered"  # the consumer writes no error text
            pairs.append((p, cs))
    day = begin.replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while day < now - timedelta(hours=1):
        pairs.append(job(CRON, day + timedelta(seconds=rng.uniform(1, 20)), "cron"))
        day += timedelta(days=1)
    burst = now - timedelta(days=2, hours=3)  # a batch enqueued at once: 120 meter jobs
    batch = [job(BATCH, burst + timedelta(milliseconds=rng.uniform(0, 40))) for _ in range(120)]
    pairs += batch
    planted: list[Planted] = []
    strata: list[StratumPlant] = []
    rejected: list[str] = []
    if plant:
        lost_p, _ = batch[57]
        pairs[pairs.index(batch[57])] = (lost_p, [])  # lost under batch load
        planted.append(Planted(str(lost_p.key), Dimension.COMPLETENESS, Kind.LOST_RUN))
        plain = [pr for pr in pairs if pr[0].stratum == "document-ingestion"]
        plain = [pr for pr in plain if pr[0].status == "completed"]
        p, (c,) = plain[1]
        _exhaust(c, 2, "INTERNAL_ERROR: embedding service down")  # dead-lettered in the dry run
        c.error, c.word = None, "dead_lettered"
        planted.append(Planted(str(p.key), Dimension.STATUS, Kind.TERMINAL_STATE_DIFFERS))
        p, (c,) = plain[3]
        dup = _twin(rng, p, _rid(rng, "cfq", p.start))  # redelivered, processed twice
        dup.start = c.end + timedelta(seconds=30)
        pairs[pairs.index(plain[3])] = (p, [c, dup])
        planted.append(Planted(str(p.key), Dimension.COMPLETENESS, Kind.DUPLICATE_RUN))
        p, (c,) = plain[5]
        c.word = "processed"  # a consumer release renamed acked: both records are rejected
        rejected += [f"runs/{c.run_id}-dryrun/{n}.json" for n in ("status", "manifest")]
        planted.append(Planted(str(p.key), Dimension.INPUT, Kind.UNKNOWN_STATUS))
        p, (c,) = plain[7]
        c.leaked = {"cfMessageId": p.key}  # the contract guard: only _orchestrator_meta may
        planted.append(Planted(str(p.key), Dimension.SIDE_EFFECTS, Kind.VENDOR_FIELD_LEAK))
        p, (c,) = plain[9]
        p.steps = p.steps[:2]  # a bad document fails once in the primary, no retry
        p.steps[1].status, p.steps[1].error = "failed", "VALIDATION_FAILED: not a PDF"
        p.status, p.error = "failed", "VALIDATION_FAILED: not a PDF"
        _exhaust(c, 1, "INTERNAL_ERROR: parser crashed")  # dead-lettered: not the same failure
        c.error, c.word = None, "dead_lettered"
        planted.append(Planted(str(p.key), Dimension.STATUS, Kind.ERROR_CODE_DIFFERS))
        crons = [pr for pr in pairs if pr[0].stratum == CRON]
        _, (c,) = crons[len(crons) // 2]
        c.start += timedelta(hours=3)  # the dry run's cron fired three hours late
        strata.append(
            StratumPlant(CRON, Dimension.COMPLETENESS, Kind.MISSED_SCHEDULE, Side.CANDIDATE)
        )
    config = {
        "primary_profile": "trigger-dev",
        "candidate_profile": "queue-consumer",
        "pair_by": "idempotency_key",
        "stratum_noun": "job types",
        "excluded_steps": [],
        "vendor_fields": ["cfMessageId", "cfQueue"],
        "schedules": [{"stratum": CRON, "cron": "0 12 * * *", "tolerance_seconds": 900}],
        "thresholds": {"min_pairs": 100, "min_pairs_per_agent": 12, "timing_min_pairs": 12},
    }
    return _Built(pairs, planted, strata, rejected, config)


# --- scenario: chat interactions (bot server -> Trigger.dev) --------------------------------

CHAT: dict[str, tuple[tuple[str, float, float], ...]] = {
    "chat-message": (
        ("parse-update", 5, 30),
        ("generate-reply", 400, 2500),
        ("send-reply", 50, 300),
    ),
    "command": (("parse-update", 5, 30), ("run-command", 100, 900), ("send-reply", 50, 300)),
    "callback-query": (
        ("parse-update", 5, 30),
        ("update-message", 80, 600),
        ("answer-callback", 30, 200),
    ),
}
SLOW = "callback-query"


def _chat(rng: random.Random, now: datetime, plant: bool, size: int) -> _Built:
    begin = now - timedelta(days=15)
    pairs: list[Pair] = []
    update = 700_000_000 + rng.getrandbits(20)
    for stratum, spec in CHAT.items():
        for at in _spread(rng, size, begin, now - timedelta(hours=1)):
            update += rng.randint(1, 500)
            steps = _steps(rng, spec)
            if plant and stratum == SLOW:
                steps[1].ms *= rng.uniform(6.0, 14.0)  # a slow edit API: p95 above 5 s
            p = Run(f"ia_{update}", stratum, "webhook", at, steps, key=update)
            c = _twin(rng, p, _rid(rng, "run", at), delay_s=0.5)
            c.key = str(update)  # Trigger.dev idempotency keys are strings
            pairs.append((p, [c]))
    planted: list[Planted] = []
    strata: list[StratumPlant] = []
    rejected: list[str] = []
    if plant:
        msgs = [pr for pr in pairs if pr[0].stratum == "chat-message"]
        p, _ = msgs[7]
        pairs[pairs.index(msgs[7])] = (p, [])  # the update never reached the candidate
        planted.append(Planted(str(p.key), Dimension.COMPLETENESS, Kind.LOST_RUN))
        p, (c,) = msgs[11]
        again = _twin(rng, p, _rid(rng, "run", p.start))  # webhook redelivered, handled twice
        again.start = c.end + timedelta(seconds=2)
        pairs[pairs.index(msgs[11])] = (p, [c, again])
        planted.append(Planted(str(p.key), Dimension.COMPLETENESS, Kind.DUPLICATE_RUN))
        p, (c,) = msgs[15]
        c.steps[2].word = "DONE"  # not a Trigger.dev step state: the record is rejected
        rejected.append(f"runs/{c.run_id}-dryrun/steps/03-{c.steps[2].name}.json")
        planted.append(Planted(str(p.key), Dimension.INPUT, Kind.UNKNOWN_STATUS))
        strata.append(StratumPlant(SLOW, Dimension.TIMING, Kind.RUN_SLOWER))
    slo = {"p50_ms": 2000, "p95_ms": 5000}
    config = {
        "primary_profile": "bot-server",
        "candidate_profile": "trigger-dev",
        "pair_by": "idempotency_key",
        "stratum_noun": "interaction types",
        "excluded_steps": [],
        "slos": {s: slo for s in CHAT},
        "thresholds": {"min_pairs": 2 * size, "min_pairs_per_agent": 15, "timing_min_pairs": 15},
    }
    return _Built(pairs, planted, strata, rejected, config)


# --- the entry points -----------------------------------------------------------------------


@dataclass
class _Built:
    pairs: list[Pair]
    planted: list[Planted]
    strata: list[StratumPlant]
    rejected: list[str]
    config: dict[str, Any]


Builder = Callable[[random.Random, datetime, bool, int], _Built]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    default_size: int  # runs per stratum the CLI writes
    build: Builder | None = None  # None: the demo bucket
    notes: tuple[str, ...] = field(default=())


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("agents", "Inngest -> Trigger.dev, agent runs (the spec as written)", 260),
        Scenario(
            "long-pipelines", "Inngest -> Trigger.dev, nine-step and streaming runs", 40, _long
        ),
        Scenario("queues", "Trigger.dev -> Cloudflare Queues, background jobs", 30, _queues),
        Scenario("chat", "Bot server -> Trigger.dev, chat interactions", 40, _chat),
    )
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(f"no TOML for {value!r}")


def config_toml(root: Path, settings: dict[str, Any]) -> str:
    """The scenario's settings as the TOML `shadow --config` reads (a small, closed subset)."""
    lines = [f"source = {_toml_value(f'dir:{root.resolve()}')}"]
    tables: list[str] = []
    for key, value in settings.items():
        if key == "schedules":
            for sched in value:
                tables += [
                    "",
                    "[[schedules]]",
                    *(f"{k} = {_toml_value(v)}" for k, v in sched.items()),
                ]
        elif key == "profiles":
            for name, table in value.items():
                tables += [
                    "",
                    f"[profiles.{name}]",
                    *(f"{k} = {_toml_value(v)}" for k, v in table.items()),
                ]
        elif key == "slos":
            for stratum, slo in value.items():
                tables += [
                    "",
                    f"[slos.{stratum}]",
                    *(f"{k} = {_toml_value(v)}" for k, v in slo.items()),
                ]
        elif isinstance(value, dict):
            tables += ["", f"[{key}]", *(f"{k} = {_toml_value(v)}" for k, v in value.items())]
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join([*lines, *tables]) + "\n"


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
    settings = built.config
    profiles = {s: INVENTED[settings[f"{s}_profile"]] for s in ("primary", "candidate")}
    settings["profiles"] = {
        p.name: p.model_dump(mode="json", exclude_defaults=True, exclude={"name"})
        for p in profiles.values()
        if p.name != "garden"
    }
    _prepare(out)
    for p, cs in built.pairs:
        _write(out, p, p.run_id, profiles["primary"], candidate=False)
        for c in cs:
            _write(out, c, c.run_id + "-dryrun", profiles["candidate"], candidate=True)
    config = out / CONFIG_NAME
    config.write_text(config_toml(out, settings), encoding="utf-8")
    assert (out / MARKER).is_file()
    return ScenarioCorpus(
        name,
        out,
        config,
        now,
        sum(1 for _ in built.pairs),
        tuple(built.planted),
        tuple(built.strata),
        tuple(built.rejected),
    )
