"""Garden-form profile examples: the record formats the first migration scenarios were written in.

These are shadow's own inventions (camelCase and epoch milliseconds for "trigger-dev", title
words for a queue consumer, a bot server's epoch seconds), not the vendors' real records: the
profiles shadow ships for those are in shadow/core/shipped.py, and the scenarios now write the
vendors' real shapes (shadow/corpora/shapes/). They remain as test examples of the garden form
(`translate`), which users may still write.
"""

from __future__ import annotations

from typing import Final

from shadow.core.profiles import GARDEN, Profile
from shadow.core.vocabulary import RunState, StepState

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

INVENTED: Final[dict[str, Profile]] = {
    p.name: p for p in (GARDEN, TRIGGER_DEV, INNGEST, QUEUE_CONSUMER, BOT_SERVER)
}
