"""Trigger.dev: the run object of `GET /api/v3/runs/{runId}` (`runs.retrieve`), and its trace.

Written as docs/vendors.md section 1 documents them from Trigger.dev's source
(`packages/core/src/v3/schemas/api.ts` RetrieveRunResponse; the presenter
`apps/webapp/app/presenters/v3/ApiRetrieveRunPresenter.server.ts`): `id`, not `runId`;
`finishedAt`, not `completedAt`; ISO times with three digits; `error` a SerializedError object;
the status word in the current vocabulary (`x-trigger-api-version: 2025-07-16`, variant
"current") or the legacy one (no header, variant "legacy"), with the boolean helpers derived
from the word returned; retries only as `attemptCount`, `attempts` always `[]`; a scheduled run's
`schedule` and ScheduledTaskPayload, its `createdAt` the exact fire time. The trace
(`GET /api/v1/runs/{id}/trace`, stored as trace.json) has one `Attempt N` span per attempt
(1-based) under the root, the steps as spans of the last one, `duration` in float ms.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shadow.corpora.shapes.formats import hex_id, iso_ms, trigger_id
from shadow.corpora.writer import Files, Run, Timed, dump, put, spans

_COMPLETED = ("COMPLETED", "CANCELED", "FAILED", "CRASHED", "INTERRUPTED", "SYSTEM_FAILURE")
CANCELED_BY_USER = "Canceled by user"  # run-engine runAttemptSystem.ts L1369


def internal_error(code: str) -> dict[str, Any]:
    """An INTERNAL_ERROR as the API returns it (`createJsonErrorObject`, errors.ts L271-297)."""
    return {"message": f"trigger.dev internal error ({code})"}


def user_error(run: Run, text: str, name: str = "Error") -> dict[str, Any]:
    """A BUILT_IN_ERROR thrown by the task: name, message, stack trace."""
    line = 12 + len(text) % 40
    return {
        "name": name,
        "message": text,
        "stackTrace": f"{name}: {text}\n    at run (file:///src/trigger/{run.stratum}.ts:{line}:11)",
    }


def _word(run: Run) -> str:
    if run.word is not None:
        return run.word
    if run.status == "failed":
        return "CANCELED" if (run.error or "").startswith("CANCELED") else "FAILED"
    return {"completed": "COMPLETED", "running": "EXECUTING", "queued": "QUEUED"}.get(
        run.status, "DELAYED"
    )


def _helpers(word: str) -> dict[str, bool]:
    """The boolean helpers of the presenter (L462-494), from the word returned: an EXPIRED or
    TIMED_OUT run has every one false."""
    completed = word in _COMPLETED
    return {
        "isQueued": word in ("QUEUED", "DELAYED", "WAITING_FOR_DEPLOY", "PENDING_VERSION"),
        "isExecuting": word in ("EXECUTING", "REATTEMPTING", "FROZEN"),
        "isCompleted": completed,
        "isFailed": completed and word != "COMPLETED",
        "isSuccess": word == "COMPLETED",
        "isCancelled": word == "CANCELED",
        "isWaiting": word == "WAITING",
    }


def _error(run: Run, word: str) -> dict[str, Any] | None:
    if run.status != "failed":
        return None
    if run.error_doc is not None:
        return run.error_doc
    if word == "CANCELED":
        return {"message": CANCELED_BY_USER}
    return user_error(run, run.error or "Error")


def _version(at: datetime) -> str:
    """Deployed worker versions: one deploy a week, numbered by its date."""
    monday = at - timedelta(days=at.weekday())
    return f"{monday:%Y%m%d}.{1 + monday.day % 3}"


def run_object(run: Run, end: datetime | None, updated: datetime) -> dict[str, Any]:
    """The REST body of the run: fields in the presenter's order, absent ones left out."""
    assert run.start is not None
    word = _word(run)
    created = run.slot or run.queued_at or run.start
    busy = sum(s.ms for s in run.steps)
    doc: dict[str, Any] = {"id": run.ident, "taskIdentifier": run.stratum}
    if run.key is not None:
        doc["idempotencyKey"] = str(run.key)
    doc |= {"version": _version(created), "status": word, "createdAt": iso_ms(created)}
    doc["startedAt"] = iso_ms(run.start)
    doc["updatedAt"] = iso_ms(updated)
    if end is not None:
        doc["finishedAt"] = iso_ms(end)
    doc |= {
        "costInCents": round(busy * 0.0000017 + 0.0025, 4),
        "baseCostInCents": 0.0025,
        "durationMs": round(busy),  # compute time only: no waits (openapi CommonRunObject)
        "isTest": False,
        "depth": 0,
        "tags": ["shadow:dryrun"] if not run.primary else [],
        **_helpers(word),
        "triggerFunction": "trigger",
    }
    if run.link is not None:
        doc["metadata"] = {"primaryRunId": run.link}
    doc["payload"] = run.payload
    error = _error(run, word)
    if error is not None:
        doc["error"] = error
    elif end is not None:
        doc["output"] = {"ok": True}
    doc |= run.vendor
    doc |= {"attemptCount": run.attempts, "attempts": [], "relatedRuns": {"children": []}}
    return doc


def scheduled(slot: datetime, cron: str, every: timedelta, rng: random.Random) -> dict[str, Any]:
    """A scheduled run's `payload` (ScheduledTaskPayload, api.ts L1056-1090) and `schedule`
    (RunScheduleDetails, L1262-1267), for a cron firing every `every`."""
    sched = trigger_id(rng, "sched")
    payload = {
        "scheduleId": sched,
        "type": "DECLARATIVE",
        "timestamp": iso_ms(slot),
        "lastTimestamp": iso_ms(slot - every),
        "timezone": "UTC",
        "upcoming": [iso_ms(slot + k * every) for k in range(1, 11)],
    }
    generator = {"type": "CRON", "expression": cron, "description": _describe(cron)}
    return {"payload": payload, "schedule": {"id": sched, "generator": generator}}


def _describe(cron: str) -> str:
    minute, hour = cron.split()[:2]
    if minute.isdigit() and hour.isdigit():
        h = int(hour)
        return f"At {h % 12 or 12}:{int(minute):02d} {'AM' if h < 12 else 'PM'}"
    return cron


# --- the trace ------------------------------------------------------------------------------------


def exception(text: str, at: datetime, kind: str = "Error") -> dict[str, Any]:
    """A span's exception event (`ExceptionSpanEvent`, packages/core/src/v3/schemas/
    openTelemetry.ts): recorded when the span ends with the error."""
    trace = f"{kind}: {text}\n    at run (file:///src/trigger/task.ts:14:11)"
    props = {"exception": {"type": kind, "message": text, "stacktrace": trace}}
    return {"name": "exception", "time": iso_ms(at), "properties": props}


class _Spans:
    """Span builder: ids drawn from the run itself, so a trace takes no draws from the
    scenario's generator; a child names its parent."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.rng = random.Random(f"trigger-trace/{run.ident}")

    def span(
        self,
        message: str,
        begin: datetime,
        ms: float,
        *,
        error: dict[str, Any] | None = None,
        partial: bool = False,
        cancelled: bool = False,
        children: tuple[dict[str, Any], ...] = (),
    ) -> dict[str, Any]:
        span_id = hex_id(self.rng, 64)
        end = begin + timedelta(milliseconds=ms)
        data = {
            "message": message,
            "taskSlug": self.run.stratum,
            "events": [exception(error["message"], end, error.get("name", "Error"))]
            if error
            else [],
            "startTime": iso_ms(begin),
            "duration": round(ms, 3),
            "isError": error is not None,
            "isPartial": partial,
            "isCancelled": cancelled,
            "level": "TRACE",
            "properties": {},
        }
        kids = [{"id": c["id"], "parentId": span_id, **c} for c in children]
        return {"id": span_id, "runId": self.run.ident, "data": data, "children": kids}


def _step_error(run: Run, text: str | None) -> dict[str, Any]:
    """A failed step's exception: the run's own error object when the step failed the run."""
    if text == run.error and run.error_doc is not None and "message" in run.error_doc:
        return run.error_doc
    return {"name": "Error", "message": text or "Error"}


def _failed_attempts(b: _Spans, first: datetime) -> list[dict[str, Any]]:
    """Attempts before the last: each ran the steps up to `retry_at`, which failed, then
    waited out its back-off; they share `retry_ms`."""
    run = b.run
    window = run.retry_ms / (run.attempts - 1)
    tried = run.steps[: run.retry_at + 1]
    scale = 0.5 * window / max(1.0, sum(s.ms + s.gap_ms for s in tried))
    text = tried[-1].retry_error or run.error or "Error"
    out = []
    for n in range(1, run.attempts):
        at = first + timedelta(milliseconds=(n - 1) * window)
        t, kids = at, []
        for i, s in enumerate(tried):
            t += timedelta(milliseconds=s.gap_ms * scale)
            failed = {"name": "Error", "message": text} if i == len(tried) - 1 else None
            kids.append(b.span(s.name, t, s.ms * scale, error=failed))
            t += timedelta(milliseconds=s.ms * scale)
        ms = (t - at).total_seconds() * 1000
        out.append(b.span(f"Attempt {n}", at, ms, error={"message": text}, children=tuple(kids)))
    return out


def trace(run: Run, items: list[Timed], end: datetime | None, now: datetime) -> dict[str, Any]:
    """`{trace: {traceId, rootSpan, isTruncated}}`: the root (the task), one `Attempt N` span
    per attempt (1-based, taskExecutor.ts L98), the steps under the last attempt."""
    assert run.start is not None
    b = _Spans(run)
    word = _word(run)
    attempts = _failed_attempts(b, run.start) if run.attempts > 1 else []
    steps = []
    for step, begin, stop in items:
        assert begin is not None
        ms = ((stop or now) - begin).total_seconds() * 1000
        error = _step_error(run, step.error) if step.status == "failed" else None
        steps.append(
            b.span(
                step.name,
                begin,
                ms,
                error=error,
                partial=stop is None,
                cancelled=step.status == "skipped",
            )
        )
    last_at = run.start + timedelta(milliseconds=run.retry_ms)
    stop = end or now
    failed = _error(run, word) if run.status == "failed" and word != "CANCELED" else None
    partial, cancelled = end is None, word == "CANCELED"
    attempts.append(
        b.span(
            f"Attempt {run.attempts}",
            last_at,
            (stop - last_at).total_seconds() * 1000,
            children=tuple(steps),
            error=failed,
            partial=partial,
            cancelled=cancelled,
        )
    )
    ms = (stop - run.start).total_seconds() * 1000
    root = b.span(
        run.stratum,
        run.start,
        ms,
        error=failed,
        partial=partial,
        cancelled=cancelled,
        children=tuple(attempts),
    )
    trace_id = f"{b.rng.getrandbits(128):032x}"
    return {"trace": {"traceId": trace_id, "rootSpan": root, "isTruncated": False}}


def files(run: Run, now: datetime, traced: bool) -> Files:
    items, end = spans(run)
    written = end or max((b for _, b, _ in items if b is not None), default=run.start)
    assert written is not None
    updated = written + timedelta(milliseconds=3)
    out: Files = [("status.json", dump(run_object(run, end, updated)), updated)]
    if traced:
        out.append(("trace.json", dump(trace(run, items, end, now)), updated))
    return out


def write(root: Path, run: Run, dir_id: str, now: datetime, traced: bool = False) -> None:
    put(f"{root}/runs/{dir_id}", files(run, now, traced))
