"""Record-format profiles: a declarative map from one writer's format to the canonical records.

A profile is data, not code: field renames (dotted paths allowed), the time format, the writer's
status vocabulary for runs and steps, the error code implied by a failure state that carries
none (a dead-lettered message is retries exhausted), where the stratum key (agent, job type)
and the idempotency key live, and which top-level fields are vendor-specific. `translate` turns
a writer's document into the canonical shape *before* validation, so a status the profile does
not know stays unknown and is rejected there. The default profile, `garden`, is the spec as
written and translates nothing. Each side of a pair may use a different profile.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from shadow.core.vocabulary import RunState, StepState

TimeFormat = Literal["iso", "epoch_ms", "epoch_s"]
RecordKind = Literal["status", "manifest", "step"]

TIME_FIELDS: Final = frozenset({"started_at", "finished_at"})


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    # canonical field -> writer's field, per record kind ("*" applies to every kind)
    fields: dict[str, dict[str, str]] = Field(default_factory=dict)
    times: TimeFormat = "iso"
    run_states: dict[str, RunState] = Field(default_factory=dict)
    step_states: dict[str, StepState] = Field(default_factory=dict)
    # writer's run state -> error code set when the writer gives none
    failure_codes: dict[str, str] = Field(default_factory=dict)
    vendor_fields: tuple[str, ...] = ()

    def field_map(self, kind: RecordKind) -> dict[str, str]:
        return {**self.fields.get("*", {}), **self.fields.get(kind, {})}

    @property
    def is_identity(self) -> bool:
        return (
            not (self.fields or self.run_states or self.step_states or self.failure_codes)
            and self.times == "iso"
        )


def _get(doc: dict[str, Any], path: str) -> tuple[bool, Any]:
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _time(value: Any, fmt: TimeFormat) -> Any:
    """Epoch numbers become ISO strings; anything else is left for validation to judge."""
    if fmt == "iso" or isinstance(value, bool) or not isinstance(value, int | float):
        return value
    try:  # a huge integer overflows in the division already
        seconds = value / 1000 if fmt == "epoch_ms" else value
        return datetime.fromtimestamp(seconds, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return value  # out of range: validation rejects it as a schema violation


def translate(doc: dict[str, Any], kind: RecordKind, profile: Profile) -> dict[str, Any]:
    """The writer's document in canonical field names, states and time format."""
    if profile.is_identity:
        return doc
    out = dict(doc)
    for canonical, source in profile.field_map(kind).items():
        found, value = _get(doc, source)
        if found:
            if "." not in source:
                out.pop(source, None)  # renamed, so not reported as an unknown field
            out[canonical] = value
    for name in TIME_FIELDS:
        if name in out:
            out[name] = _time(out[name], profile.times)
    raw = out.get("status")
    if isinstance(raw, str):
        table: dict[str, Any] = profile.step_states if kind == "step" else profile.run_states
        if raw in table:
            out["status"] = table[raw].value
        if kind != "step" and raw in profile.failure_codes and not out.get("error"):
            out["error"] = f"{profile.failure_codes[raw]}: {raw}"
    return out


GARDEN = Profile(name="garden")

TRIGGER_DEV = Profile(
    name="trigger-dev",
    fields={
        "*": {
            "run_id": "runId",
            "agent_slug": "taskIdentifier",
            "started_at": "startedAt",
            "finished_at": "completedAt",
            "idempotency_key": "idempotencyKey",
        },
        "status": {
            "current_step": "currentStep",
            "steps_total": "stepsTotal",
            "steps_completed": "stepsCompleted",
            "proposals_created": "proposalsCreated",
        },
        "manifest": {"steps_count": "stepsCount", "proposals_created": "proposalsCreated"},
        "step": {
            "step_number": "stepNumber",
            "step_name": "stepName",
            "duration_ms": "durationMs",
            "output_summary": "outputSummary",
        },
    },
    times="epoch_ms",
    run_states={
        "DELAYED": RunState.REQUESTED,
        "PENDING_VERSION": RunState.REQUESTED,
        "QUEUED": RunState.QUEUED,
        "WAITING_FOR_DEPLOY": RunState.QUEUED,
        "EXECUTING": RunState.RUNNING,
        "REATTEMPTING": RunState.RUNNING,
        "FROZEN": RunState.RUNNING,
        "COMPLETED": RunState.COMPLETED,
        "FAILED": RunState.FAILED,
        "CRASHED": RunState.FAILED,
        "SYSTEM_FAILURE": RunState.FAILED,
        "TIMED_OUT": RunState.FAILED,
        "CANCELED": RunState.FAILED,
        "EXPIRED": RunState.FAILED,
    },
    step_states={
        "PENDING": StepState.PENDING,
        "EXECUTING": StepState.RUNNING,
        "COMPLETED": StepState.COMPLETED,
        "FAILED": StepState.FAILED,
        "SKIPPED": StepState.SKIPPED,
        "CANCELED": StepState.SKIPPED,
    },
    failure_codes={
        "CRASHED": "INTERNAL_ERROR",
        "SYSTEM_FAILURE": "INTERNAL_ERROR",
        "TIMED_OUT": "AGENT_TIMEOUT",
        "CANCELED": "CANCELED",
        "EXPIRED": "EXPIRED",
    },
)

INNGEST = Profile(
    name="inngest",
    fields={
        "*": {"run_id": "run_id", "agent_slug": "function_slug", "idempotency_key": "event_id"}
    },
    run_states={
        "QUEUED": RunState.QUEUED,
        "RUNNING": RunState.RUNNING,
        "COMPLETED": RunState.COMPLETED,
        "FAILED": RunState.FAILED,
        "CANCELLED": RunState.FAILED,
        "queued": RunState.QUEUED,
        "running": RunState.RUNNING,
        "completed": RunState.COMPLETED,
        "failed": RunState.FAILED,
        "requested": RunState.REQUESTED,
        "cancelled": RunState.FAILED,
    },
    step_states={s.value: s for s in StepState} | {s.value.upper(): s for s in StepState},
    failure_codes={"CANCELLED": "CANCELED", "cancelled": "CANCELED"},
)

QUEUE_CONSUMER = Profile(
    name="queue-consumer",
    fields={"*": {"agent_slug": "job_type", "idempotency_key": "message_id"}},
    run_states={
        "enqueued": RunState.QUEUED,
        "received": RunState.RUNNING,
        "retried": RunState.RUNNING,
        "acked": RunState.COMPLETED,
        "dead_lettered": RunState.FAILED,
        "failed": RunState.FAILED,
    },
    step_states={s.value: s for s in StepState},
    failure_codes={"dead_lettered": "INTERNAL_ERROR"},  # retries exhausted, as for agents
)

# A chat bot's webhook server: one interaction per platform update, keyed by the update id.
BOT_SERVER = Profile(
    name="bot-server",
    fields={
        "*": {
            "run_id": "interaction_id",
            "agent_slug": "handler",
            "idempotency_key": "update_id",
        },
        "status": {"started_at": "received_at", "finished_at": "replied_at"},
        "manifest": {"started_at": "received_at", "finished_at": "replied_at"},
    },
    times="epoch_s",
    run_states={
        "received": RunState.QUEUED,
        "handling": RunState.RUNNING,
        "replied": RunState.COMPLETED,
        "errored": RunState.FAILED,
        "timed_out": RunState.FAILED,
    },
    step_states={s.value: s for s in StepState},
    failure_codes={"timed_out": "AGENT_TIMEOUT"},
)

SHIPPED: Final[dict[str, Profile]] = {
    p.name: p for p in (GARDEN, TRIGGER_DEV, INNGEST, QUEUE_CONSUMER, BOT_SERVER)
}
