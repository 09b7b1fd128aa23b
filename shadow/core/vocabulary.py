"""The tables shadow judges by: canonical states, the run lifecycle, error codes, volatile fields.

Rules kept here (spec run-records.md sections 3, 5, 6 and 9):
- A run moves forward along REQUESTED -> QUEUED -> RUNNING -> {COMPLETED, FAILED}; RUNNING may
  repeat (one rewrite per finished step); REQUESTED and QUEUED may fail before start.
- Nothing leaves a terminal state, and nothing moves backwards.
- INTERNAL_ERROR and AGENT_TIMEOUT are one class, "retries exhausted", at run level (spec
  section 9), and so are CANCELED and CANCELLED; a migration may replace the table (section 10).
  A step's or a retry's error that repeats its run's own code is judged as that code is
  (writers copy the run-level code there), any other step or retry code as written.
Supporting another orchestrator is new rows in these tables, not new branches in code.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final


class RunState(StrEnum):
    REQUESTED = "requested"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


TERMINAL_STATES: Final = frozenset({RunState.COMPLETED, RunState.FAILED})

# Allowed moves (from, to). Anything else between two distinct states is forbidden.
ALLOWED_TRANSITIONS: Final[frozenset[tuple[RunState, RunState]]] = frozenset(
    {
        (RunState.REQUESTED, RunState.QUEUED),
        (RunState.REQUESTED, RunState.RUNNING),  # queued can be unobserved when polling
        (RunState.REQUESTED, RunState.COMPLETED),  # polling may miss every middle state
        (RunState.REQUESTED, RunState.FAILED),
        (RunState.QUEUED, RunState.RUNNING),
        (RunState.QUEUED, RunState.COMPLETED),
        (RunState.QUEUED, RunState.FAILED),
        (RunState.RUNNING, RunState.RUNNING),
        (RunState.RUNNING, RunState.COMPLETED),
        (RunState.RUNNING, RunState.FAILED),
    }
)

# Position on the lifecycle, used to order states and to explain a backwards move.
LIFECYCLE_RANK: Final[dict[RunState, int]] = {
    RunState.REQUESTED: 0,
    RunState.QUEUED: 1,
    RunState.RUNNING: 2,
    RunState.COMPLETED: 3,
    RunState.FAILED: 3,
}

ERROR_CODES: Final = frozenset(
    {
        "VALIDATION_FAILED",
        "INVALID_JSON",
        "AUTH_REQUIRED",
        "TOKEN_EXPIRED",
        "FORBIDDEN",
        "NOT_FOUND",
        "INVALID_TRANSITION",
        "INVALID_AGENT_TRANSITION",
        "CONCURRENT_MODIFICATION",
        "DUPLICATE_ENTRY",
        "RATE_LIMITED",
        "INTERNAL_ERROR",
        "UPSTREAM_UNAVAILABLE",
        "NLM_UNAVAILABLE",
        "AGENT_TIMEOUT",
    }
)

# Run-level error codes that mean the same thing, by class (spec section 9; section 10 lets a
# migration configure its own table, `[error_classes]`, which replaces this default).
DEFAULT_ERROR_CLASSES: Final[dict[str, tuple[str, ...]]] = {
    "RETRIES_EXHAUSTED": ("INTERNAL_ERROR", "AGENT_TIMEOUT"),
    "CANCELED": ("CANCELED", "CANCELLED"),  # Trigger.dev's spelling, Inngest's
}


def class_table(classes: dict[str, tuple[str, ...]] | dict[str, list[str]]) -> dict[str, str]:
    """code -> class, from class -> codes (each code in at most one class: checked by config)."""
    return {code: name for name, codes in classes.items() for code in codes}


DEFAULT_CLASS_OF: Final[dict[str, str]] = class_table(DEFAULT_ERROR_CLASSES)

# Top-level fields of each record that are never compared (spec section 6). They are dropped
# by normalization; listing them here keeps them out of unknown_field findings too.
STATUS_FIELDS: Final = frozenset(
    {
        "run_id",
        "agent_slug",
        "status",
        "trigger",
        "started_at",
        "finished_at",
        "current_step",
        "steps_total",
        "steps_completed",
        "proposals_created",
        "error",
        "queue_position",
        "idempotency_key",
        "_orchestrator_meta",
    }
)
STEP_FIELDS: Final = frozenset(
    {
        "step_number",
        "step_name",
        "status",
        "started_at",
        "finished_at",
        "duration_ms",
        "output_summary",
        "error",
        "_orchestrator_meta",
    }
)
MANIFEST_FIELDS: Final = frozenset(
    {
        "run_id",
        "agent_slug",
        "status",
        "trigger",
        "steps_count",
        "proposals_created",
        "error",
        "retries",
        "started_at",
        "finished_at",
        "duration_ms",
        "model_used",
        "tokens_used",
        "agent_version",
        "idempotency_key",
        "_orchestrator_meta",
    }
)


def error_code(error: str | None) -> str | None:
    """The code before the first ':' of an error string; message text is never compared."""
    if error is None:
        return None
    code = error.split(":", 1)[0].strip()
    return code or None


def run_error_class(code: str | None, table: Mapping[str, str] = DEFAULT_CLASS_OF) -> str | None:
    """Run-level error code with the migration's equivalences applied."""
    if code is None:
        return None
    return table.get(code, code)


def judged_error(code: str | None, run_code: str | None, run_class: str | None) -> str | None:
    """How a step's or a retry's error code is compared: as its run's class when it repeats the
    run's code; otherwise exactly as written (section 9 scopes the equivalences to runs)."""
    return run_class if code == run_code else code


ErrorOf = tuple[str | None, str | None]  # a run's (error code, error class)


def same_error(primary: str | None, p_run: ErrorOf, candidate: str | None, c_run: ErrorOf) -> bool:
    """Whether a step's (or a retry's) error codes agree: written alike, or judged alike."""
    return primary == candidate or judged_error(primary, *p_run) == judged_error(candidate, *c_run)


def is_allowed(src: RunState, dst: RunState) -> bool:
    """A rewrite in the same non-terminal state, or a listed move."""
    return (src == dst and src not in TERMINAL_STATES) or (src, dst) in ALLOWED_TRANSITIONS
