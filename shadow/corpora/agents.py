"""The agent runs of the demo bucket (Inngest -> Trigger.dev, in the garden contract).

What one clean pair looks like (a primary and its dry run with every kind of noise the contract
allows: timestamps, ids, vendor meta, output text, error text after the code, proposal ids,
model fields, retry attempt counts, `retries: {}` against no block, the INTERNAL_ERROR ~
AGENT_TIMEOUT equivalence, all step-file namings, both candidate run-id forms, a mocked fast
execute-agent), and how each planted divergence changes one. `shadow.corpora.demo` places them
on a timeline and writes the bucket.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

from shadow.core.findings import Dimension, Kind
from shadow.corpora.writer import Run, Step, dump, fail, jitter, retry, twin

AGENTS = ("archivist-violin", "curator-piano", "scribe-cello", "herald-flute", "warden-oboe")
PIPELINE = ("load-context", "execute-agent", "persist-results", "finalize")
MOCKED = "execute-agent"
STEP_MS = {
    "load-context": (200.0, 800.0),
    "execute-agent": (5_000.0, 60_000.0),
    "persist-results": (100.0, 900.0),
    "finalize": (20.0, 100.0),
}
MOCK_MS = (50.0, 300.0)
RETRY_KEY = "step_2_execute-agent"

Slot = tuple[str, str, datetime]  # agent, trigger, start


# --- clean pairs -----------------------------------------------------------------------------


def _run_id(rng: random.Random, start: datetime) -> str:
    return f"run_{start:%Y-%m-%d_%H%M%S}_{rng.getrandbits(24):06x}"


def _primary(rng: random.Random, slot: Slot) -> Run:
    agent, trigger, start = slot
    steps = [Step(n, rng.uniform(*STEP_MS[n]), rng.uniform(5, 40)) for n in PIPELINE]
    for step in steps:
        step.summary = f"{step.name}: {rng.randint(2, 90)} items in {rng.randint(1, 9)} batches"
    proposals = [f"prop_{rng.getrandbits(40):010x}" for _ in range(rng.choice((0, 0, 1, 2, 3)))]
    outputs = ["output/result.md"] + [
        f"output/proposal-{i + 1}.json" for i in range(len(proposals))
    ]
    return Run(
        _run_id(rng, start),
        agent,
        trigger,
        start,
        steps,
        primary=True,
        steps_total=len(PIPELINE),
        proposals=proposals,
        outputs=outputs,
        meta={"inngest": {"event_id": f"01J{rng.getrandbits(60):015X}", "attempt": 1}},
        naming=rng.randrange(3),
        style=rng.choice((0, 0, 1)),
        tail_ms=rng.uniform(5, 30),
        model=(rng.choice(("claude-sonnet-4-5", "gpt-4.1")), rng.randint(2_000, 90_000), "2.7.3"),
    )


def _twin_step(rng: random.Random, s: Step) -> Step:
    ms = rng.uniform(*MOCK_MS) if s.name == MOCKED else jitter(rng, s.ms)
    summary = f"[dry-run] {s.name} ok" if rng.random() < 0.7 else None
    return Step(s.name, ms, jitter(rng, s.gap_ms), summary=summary)


def _twin(rng: random.Random, p: Run) -> Run:
    """The dry run of a clean primary: same behaviour, its own noise."""
    meta = {"trigger.dev": {"run": f"run_{rng.getrandbits(48):012x}", "machine": "small-1x"}}
    c = twin(rng, p, p.run_id, (2, 60), lambda s: _twin_step(rng, s))
    c.outputs = ["output/result.md"]
    c.meta = meta if rng.random() < 0.9 else None
    c.status_run_id = p.run_id + ("-dryrun" if rng.random() < 0.5 else "")
    c.naming = rng.randrange(3)
    c.style = rng.choice((0, 1, 2))
    c.tail_ms = jitter(rng, p.tail_ms)
    c.model = ("mock-llm", 0, "2.8.0-rc.1")
    return c


def _plain(rng: random.Random, p: Run, c: Run) -> None:
    roll = rng.random()
    if roll < 0.2:
        p.retries, c.retries = {}, (None if rng.random() < 0.5 else {})
    elif roll < 0.3:
        c.retries = {}


def _retried(rng: random.Random, p: Run, c: Run) -> None:
    """execute-agent retried and recovered on both sides: attempts and back-off differ."""
    attempts = rng.choice((2, 3))
    c_attempts = attempts + rng.choice((0, 1))
    p.steps[1].ms += sum(1000 * 2**i for i in range(attempts - 1))  # 1/2/4 s back-off
    c.steps[1].ms += sum((10_000, 30_000, 90_000)[: c_attempts - 1])  # 10/30/90 s back-off
    p.retries = {RETRY_KEY: retry(attempts, "NLM_UNAVAILABLE: 503 from upstream", True)}
    c.retries = {RETRY_KEY: retry(c_attempts, "NLM_UNAVAILABLE: service unavailable", True)}


def _exhausted(rng: random.Random, p: Run, c: Run) -> None:
    """execute-agent never recovered: INTERNAL_ERROR in the primary, AGENT_TIMEOUT in the dry run."""
    _retried(rng, p, c)
    for run in (p, c):
        run.retries = {k: {**v, "recovered": False} for k, v in (run.retries or {}).items()}
    fail(p, 1, "INTERNAL_ERROR: retries exhausted after 3 attempts")
    fail(c, 1, "AGENT_TIMEOUT: agent did not answer within 300 s")


def _same_failure(rng: random.Random, p: Run, c: Run) -> None:
    """Both sides fail the same way at the same step; only the message text differs."""
    at, code = rng.choice(((2, "VALIDATION_FAILED"), (0, "NOT_FOUND"), (2, "DUPLICATE_ENTRY")))
    fail(p, at, f"{code}: rejected by the store (request {rng.getrandbits(32):08x})")
    fail(c, at, f"{code}: dry-run store said no")


Profile = Callable[[random.Random, Run, Run], None]
PROFILES: tuple[tuple[float, Profile], ...] = (
    (0.15, _retried),
    (0.05, _exhausted),
    (0.05, _same_failure),
)


def clean_pair(rng: random.Random, slot: Slot, plain: bool) -> tuple[Run, Run]:
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


# --- planted divergences ---------------------------------------------------------------------

Planter = Callable[[random.Random, Run, Run, str], None]


def _terminal_state(rng: random.Random, p: Run, c: Run, other: str) -> None:
    fail(c, 2, "VALIDATION_FAILED: result does not match the output schema")


def _error_code(rng: random.Random, p: Run, c: Run, other: str) -> None:
    fail(p, 1, "UPSTREAM_UNAVAILABLE: 502 bad gateway")
    fail(c, 1, "RATE_LIMITED: 429 too many requests")


def _step_missing(rng: random.Random, p: Run, c: Run, other: str) -> None:
    c.steps = [s for s in c.steps if s.name != "persist-results"]  # finalize becomes step 3
    c.steps_total = len(c.steps)


def _step_extra(rng: random.Random, p: Run, c: Run, other: str) -> None:
    c.steps.insert(3, Step("validate-output", rng.uniform(30, 90), rng.uniform(5, 40)))
    c.steps_total = len(c.steps)


def _step_reordered(rng: random.Random, p: Run, c: Run, other: str) -> None:
    c.steps[1], c.steps[2] = c.steps[2], c.steps[1]


def _step_status(rng: random.Random, p: Run, c: Run, other: str) -> None:
    c.steps[2].status = "skipped"


def _retry_missing(rng: random.Random, p: Run, c: Run, other: str) -> None:
    p.steps[1].ms += 1000
    p.retries, c.retries = {RETRY_KEY: retry(2, "NLM_UNAVAILABLE: 503", True)}, None


def _retry_outcome(rng: random.Random, p: Run, c: Run, other: str) -> None:
    """persist-results retried on both sides: recovered in the primary, exhausted in the dry run."""
    key = "step_3_persist-results"
    p.steps[2].ms += 2000
    p.retries = {key: retry(2, "RATE_LIMITED: 429", True)}
    c.retries = {key: retry(3, "RATE_LIMITED: 429 slow down", False)}
    fail(c, 2, "RATE_LIMITED: retries exhausted", "RATE_LIMITED: 429")


def _run_slower(rng: random.Random, p: Run, c: Run, other: str) -> None:
    for step in c.steps:
        step.gap_ms *= 2.5
        if step.name != MOCKED:
            step.ms *= 2.5


def _proposals(rng: random.Random, p: Run, c: Run, other: str) -> None:
    c.proposals = [f"prop_{rng.getrandbits(40):010x}"]


def _proposal_output(rng: random.Random, p: Run, c: Run, other: str) -> None:
    c.outputs.append("output/proposal-1.json")


def _invalid_json(rng: random.Random, p: Run, c: Run, other: str) -> None:
    c.naming = 1
    c.steps[2].raw = b'{"step_number": 3, "step_name": '


def _unknown_status(rng: random.Random, p: Run, c: Run, other: str) -> None:
    c.steps[2].status = "done"


def _schema_violation(rng: random.Random, p: Run, c: Run, other: str) -> None:
    c.manifest_extra["steps_count"] = "four"


def _without_number(rng: random.Random, p: Run, c: Run, other: str) -> None:
    note = {"step_name": "final-notes", "status": "completed", "output_summary": "debug hook"}
    c.extra_files["steps/final-notes.json"] = dump(note)


def _identity_mismatch(rng: random.Random, p: Run, c: Run, other: str) -> None:
    c.naming = 1
    c.steps[2].file = "steps/3-persist.json"  # the content says 3 persist-results, and wins


def _run_id_mismatch(rng: random.Random, p: Run, c: Run, other: str) -> None:
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
