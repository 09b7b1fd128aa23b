"""The profiles shadow ships, written in the profile language exactly as a user would write them.

Each reads a vendor's real record, as docs/vendors.md documents it from the vendor's own source
(commits and line numbers there); docs/profiles.md shows the same text. `shadow profile show NAME`
prints it. Strata maps and cron lines are per deployment: extend a profile to add them
(`[profiles.mine] extends = "inngest"`).
"""

from __future__ import annotations

import tomllib
from types import MappingProxyType
from typing import Any, Final

from shadow.core.profiles import GARDEN, Profile, resolve_extends

# Trigger.dev: the run object of `GET /api/v3/runs/{runId}` (`runs.retrieve`), both status
# vocabularies (x-trigger-api-version 2025-07-16 and none): vendors.md section 1.
TRIGGER_DEV = r"""
[profiles.trigger-dev]
description = "Trigger.dev run objects (GET /api/v3/runs/{id}, runs.retrieve): current and legacy status words, attemptCount (v4) or attempts[] newest first (v3), subtasks as steps"

[profiles.trigger-dev.run]
id = "id"
link = "metadata.primaryRunId"
stratum = "taskIdentifier"
queued_at = "createdAt"
started_at = "startedAt"
finished_at = "finishedAt"
idempotency_key = "idempotencyKey"

[profiles.trigger-dev.run.state]
path = "status"
map = { PENDING_VERSION = "requested", WAITING_FOR_DEPLOY = "requested", DELAYED = "requested", QUEUED = "queued", DEQUEUED = "queued", EXECUTING = "running", REATTEMPTING = "running", WAITING = "running", FROZEN = "running", COMPLETED = "completed", FAILED = "failed", CRASHED = "failed", INTERRUPTED = "failed", SYSTEM_FAILURE = "failed", CANCELED = "failed", EXPIRED = "failed", TIMED_OUT = "failed" }

[profiles.trigger-dev.error]
object = "error"
code = [
  { path = "message", regex = '^trigger\.dev internal error \((?P<code>[A-Z0-9_]+)\)$' },
  { path = "message", regex = '^(?P<code>[A-Z][A-Z0-9_]+):' },
  { path = "message", regex = "^Call to '[^']*' failed! \\((?P<code>\\d{3}): " },    # grammY GrammyError
  { path = "message", regex = '^(?P<code>\d{3}): ' },                         # Telegraf TelegramError
  { path = "name", regex = '^(?!Error$)(?P<code>\w+)$' },
]
by_state = { CANCELED = "CANCELED", EXPIRED = "EXPIRED" }

[[profiles.trigger-dev.retries]]    # records from before 2024-10-21: attempts[], newest first
list = "attempts"
order = "newest_first"
state = { path = "status", map = { PENDING = "pending", EXECUTING = "running", PAUSED = "running", COMPLETED = "completed", FAILED = "failed", CANCELED = "skipped" } }
error = { object = "error" }

[[profiles.trigger-dev.retries]]    # since 2024-10-21: the number of attempts
count = "attemptCount"

[profiles.trigger-dev.schedule]
when = "schedule.id"
slot = ["payload.timestamp", "createdAt"]
cron = "schedule.generator.expression"

[profiles.trigger-dev.steps]        # subtasks (relatedRuns.children) as steps
list = "relatedRuns.children"
sort = "createdAt"
name = "taskIdentifier"
started_at = "startedAt"
finished_at = "finishedAt"

[profiles.trigger-dev.steps.state]
path = "status"
map = { PENDING_VERSION = "pending", WAITING_FOR_DEPLOY = "pending", DELAYED = "pending", QUEUED = "pending", DEQUEUED = "pending", EXECUTING = "running", REATTEMPTING = "running", WAITING = "running", FROZEN = "running", COMPLETED = "completed", FAILED = "failed", CRASHED = "failed", INTERRUPTED = "failed", SYSTEM_FAILURE = "failed", TIMED_OUT = "failed", CANCELED = "skipped", EXPIRED = "skipped" }
"""

# The same run objects, with the steps read from the run's trace (`GET /api/v1/runs/{id}/trace`,
# stored beside it as trace.json): the user spans of the last attempt, state from booleans.
TRIGGER_DEV_TRACED = r"""
[profiles.trigger-dev-traced]
extends = "trigger-dev"
description = "Trigger.dev run objects with trace.json (GET /api/v1/runs/{id}/trace) beside them: the last attempt's spans as steps"
documents = { trace = "trace.json" }

[profiles.trigger-dev-traced.steps]
list = "@trace:trace.rootSpan.children[-1].children"
sort = "data.startTime"
name = "data.message"
started_at = "data.startTime"
duration_ms = "data.duration"
# a failed span's exception event (ExceptionSpanEvent, TD packages/core/src/v3/schemas/
# openTelemetry.ts: {name = "exception", properties.exception = {type, message, stacktrace}});
# other events (a log, a cancellation) may follow it, so the last three are tried
error.object = ["data.events[-1].properties.exception", "data.events[-2].properties.exception", "data.events[-3].properties.exception"]
error.code = [
  { path = "message", regex = '^trigger\.dev internal error \((?P<code>[A-Z0-9_]+)\)$' },
  { path = "message", regex = '^(?P<code>[A-Z][A-Z0-9_]+):' },
  { path = "message", regex = "^Call to '[^']*' failed! \\((?P<code>\\d{3}): " },    # grammY GrammyError
  { path = "message", regex = '^(?P<code>\d{3}): ' },                         # Telegraf TelegramError
  { path = "type", regex = '^(?!Error$)(?P<code>\w+)$' },
]
state = [
  { path = "data.isCancelled", equals = true, value = "skipped" },
  { path = "data.isError", equals = true, value = "failed" },
  { path = "data.isPartial", equals = true, value = "running" },
  { value = "completed" },
]
"""

# Inngest: REST v1 (`GET /v1/runs/{id}`, title-case words) and v2 (`GET /v2/runs/{id}`, upper
# case) in their {data, metadata} envelope; steps and their retries from the v2 trace
# (`GET /v2/runs/{id}/trace`, stored as trace.json): vendors.md section 2.
INNGEST = r"""
[profiles.inngest]
description = "Inngest runs (REST v1 and v2, {data, metadata} envelope); steps and step retries from the v2 trace (trace.json)"
documents = { trace = "trace.json" }
root = ["data"]

[profiles.inngest.run]
id = ["id", "run_id"]
stratum = ["function.id", "function_id"]
queued_at = "queuedAt"
started_at = ["startedAt", "run_started_at"]
finished_at = ["endedAt", "ended_at"]
idempotency_key = ["trigger.eventIds[0]", "event_id"]

[profiles.inngest.run.state]
path = "status"
map = { Scheduled = "queued", Running = "running", Completed = "completed", Failed = "failed", Cancelled = "failed", Skipped = "failed", Overflowed = "failed", Unknown = "requested", QUEUED = "queued", RUNNING = "running", COMPLETED = "completed", FAILED = "failed", CANCELLED = "failed", UNSPECIFIED = "requested" }

[profiles.inngest.error]
object = ["output.error", "output"]
code = [
  { path = "message", regex = '^(?P<code>[A-Z][A-Z0-9_]+):' },
  { path = "message", regex = "^Call to '[^']*' failed! \\((?P<code>\\d{3}): " },    # grammY GrammyError
  { path = "message", regex = '^(?P<code>\d{3}): ' },                         # Telegraf TelegramError
  { path = "name", regex = '^(?!Error$)(?P<code>\w+)$' },
]
by_state = { Cancelled = "CANCELLED", CANCELLED = "CANCELLED", Skipped = "SKIPPED", Overflowed = "OVERFLOWED" }

[profiles.inngest.schedule]
when = ["trigger.cronSchedule", "cron"]
slot = ["queuedAt", "run_started_at"]
cron = ["trigger.cronSchedule", "cron"]

[profiles.inngest.steps]
list = "@trace:rootSpan.children"
exclude = { path = "name", equals = "Finalization" }
name = "name"
started_at = "startedAt"
finished_at = "endedAt"
duration_ms = "durationMs"
# the opcode's {"error": UserError}, or the error as the span's whole output (GetSpanOutput
# returns the output event's data as it was written): both read, and only from a failed span
error = { object = ["output.error", "output", "children[-1].output.error", "children[-1].output"] }
attempts = { list = "children", when = { path = "name", matches = '^Attempt \d+$' }, error = { object = ["output.error", "output"], when = { path = "status", equals = "FAILED" } } }
state = [
  { path = "status", map = { RUNNING = "running", COMPLETED = "completed", FAILED = "failed", WAITING = "pending", CANCELLED = "skipped", SKIPPED = "skipped", UNKNOWN = "pending" } },
  { value = "pending" },    # UNKNOWN is the proto zero value: protojson omits the key
]
"""

# A Cloudflare Queues consumer's record of each message it handles (`cf-queues-consumer/1`,
# built from `Message`, `ScheduledController`, the outcome and the consumer's clock):
# vendors.md section 3.1, with the example consumer in docs/profiles.md.
CF_QUEUES_CONSUMER = r"""
[profiles.cf-queues-consumer]
description = "a Cloudflare Queues consumer's cf-queues-consumer/1 records (Message, outcome, times; cron fires with scheduledTime)"

[profiles.cf-queues-consumer.run]
id = "message.id"
link = "message.body.jobId"
attempt = "message.attempts"
stratum = ["message.body.type", "scheduled.cron"]
queued_at = "message.timestamp"
started_at = "received_at"
finished_at = "finished_at"
idempotency_key = "message.body.jobId"
state = { path = "outcome", map = { running = "running", retrying = "running", succeeded = "completed", failed = "failed" } }

[profiles.cf-queues-consumer.error]
object = "error"
code = [
  { path = "message", regex = '^(?P<code>[A-Z][A-Z0-9_]+):' },
  { path = "message", regex = "^Call to '[^']*' failed! \\((?P<code>\\d{3}): " },    # grammY GrammyError
  { path = "message", regex = '^(?P<code>\d{3}): ' },                         # Telegraf TelegramError
  { path = "name", regex = '^(?!Error$)(?P<code>\w+)$' },
]

[[profiles.cf-queues-consumer.retries]]
count = "message.attempts"

[profiles.cf-queues-consumer.schedule]
when = "scheduled.cron"
slot = { path = "scheduled.scheduledTime", time = "epoch_ms" }
cron = "scheduled.cron"
"""

# A Telegram bot server's record of each update (`telegram-bot/1`: the Update as the Bot API
# posted it, the bot's own delivery count, outcome and times): vendors.md section 4.3.
TELEGRAM_BOT = r"""
[profiles.telegram-bot]
description = "a Telegram bot server's telegram-bot/1 records (the Update as received, delivery count, outcome, Bot API errors)"

[profiles.telegram-bot.run]
id = "update.update_id"
link = "update.update_id"
attempt = "delivery"
queued_at = { path = "update.message.date", time = "epoch_s" }
started_at = "received_at"
finished_at = "finished_at"
state = { path = "outcome", map = { received = "running", retrying = "running", handled = "completed", failed = "failed" } }
stratum = [
  { path = "update.callback_query", value = "callback-query" },
  { path = "update.message.entities[0].type", equals = "bot_command", value = "command" },
  { path = "update.message", value = "chat-message" },
  { value = "other-update" },
]

[profiles.telegram-bot.error]
object = "error"
code = [
  { path = "error_code" },             # the Bot API body; a serialized GrammyError
  { path = "response.error_code" },    # a serialized Telegraf TelegramError
  { path = "message", regex = '^(?P<code>[A-Z][A-Z0-9_]+):' },
  { path = "message", regex = "^Call to '[^']*' failed! \\((?P<code>\\d{3}): " },    # grammY GrammyError
  { path = "message", regex = '^(?P<code>\d{3}): ' },                         # Telegraf TelegramError
  { path = "name", regex = '^(?!Error$)(?P<code>\w+)$' },
]

[[profiles.telegram-bot.retries]]
count = "delivery"
"""

SHIPPED_TEXT: Final[dict[str, str]] = {
    "trigger-dev": TRIGGER_DEV,
    "trigger-dev-traced": TRIGGER_DEV_TRACED,
    "inngest": INNGEST,
    "cf-queues-consumer": CF_QUEUES_CONSUMER,
    "telegram-bot": TELEGRAM_BOT,
}


def _raw() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, text in SHIPPED_TEXT.items():
        table = tomllib.loads(text)["profiles"][name]
        out[name] = {"name": name, **table}
    return out


SHIPPED_RAW: Final = MappingProxyType(resolve_extends(_raw(), {}))
SHIPPED: Final[MappingProxyType[str, Profile]] = MappingProxyType(
    {"garden": GARDEN} | {n: Profile.model_validate(d) for n, d in SHIPPED_RAW.items()}
)
