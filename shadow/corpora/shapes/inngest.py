"""Inngest: a run as REST v1 or v2 returns it, and its v2 trace (docs/vendors.md section 2).

v1 (`GET /v1/runs/{runID}`, variant "v1"): `{"data": FunctionRun, "metadata": {fetched_at,
cached_until}}` (`pkg/api/apiv1/apiv1.go` L254-262; `pkg/cqrs/function_runs.go` L14-27):
`run_id`, `run_started_at`, `function_id` a UUID, title-case status words
(`pkg/enums/run_status.go`), Go times with 0-9 fractional digits, the output as the SDK
serialized it (an error on failure, `{}` for a cancel). v2 (`GET /v2/runs/{run_id}`, variant
"v2"): the proto `FunctionRun` through protojson and `enum_json.go` (keys sorted, upper-case words,
`durationMs` a string, 0/3/6/9 digits, unpopulated fields omitted, output wrapped `{data}` /
`{error}`). The trace (`GET /v2/runs/{run_id}/trace`, stored as trace.json) has the steps as the
root's children plus a `Finalization` span, a retried step's attempts as its children `Attempt 0`,
`Attempt 1`, ... (0-based; a single successful attempt is collapsed into the step), each failed
attempt's `output.error` (`pkg/coreapi/graph/loaders/trace.go`).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shadow.corpora.shapes.formats import hex_id, iso_go, iso_proto, ulid
from shadow.corpora.writer import Files, Run, Step, Timed, put, spans

V1_WORDS = {
    "completed": "Completed",
    "failed": "Failed",
    "running": "Running",
    "queued": "Scheduled",
}
V2_WORDS = {"completed": "COMPLETED", "failed": "FAILED", "running": "RUNNING", "queued": "QUEUED"}
STEP_WORDS = {"completed": "COMPLETED", "failed": "FAILED", "running": "RUNNING"}
APP = "codegen"
_ENV = "3f0a9c1e-5b7d-4e2f-8a6c-0d4b2e6f8a19"


def function_uuid(stratum: str) -> str:
    """The function's UUID in v1 (`function_id`): stable per function slug."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"inngest://{APP}/{stratum}"))


def _canceled(run: Run) -> bool:
    return run.status == "failed" and (run.error or "").startswith("CANCELED")


def _word(run: Run) -> str:
    if run.word is not None:
        return run.word
    v1 = run.variant == "v1"
    if _canceled(run):
        return "Cancelled" if v1 else "CANCELLED"
    return (V1_WORDS if v1 else V2_WORDS)[run.status]


def serialized_error(run: Run, text: str, name: str = "Error") -> dict[str, Any]:
    """What the TS SDK sends for a thrown error (inngest-js `serializeError`)."""
    stack = f"{name}: {text}\n    at /app/src/inngest/{run.stratum}.ts:{20 + len(text) % 30}:13"
    return {"name": name, "message": text, "stack": stack, "__serialized": True}


def _error(run: Run, text: str | None) -> dict[str, Any]:
    return run.error_doc or serialized_error(run, text or "Error")


def _output(run: Run) -> dict[str, Any] | None:
    """The run's output as v1 stores it (v2 wraps it): a result, an error, `{}` for a cancel."""
    if run.status == "completed":
        return {"files": 3 + len(run.steps)}
    if run.status != "failed":
        return None
    return {} if _canceled(run) else _error(run, run.error)


def _v1(run: Run, end: datetime | None) -> dict[str, Any]:
    assert run.start is not None
    doc: dict[str, Any] = {
        "run_id": run.ident,
        "run_started_at": iso_go(run.start),
        "function_id": function_uuid(run.stratum),
        "function_version": 7,
        "environment_id": _ENV,
        "event_id": str(run.key),
    }
    if "cron" in run.vendor:
        doc["cron"] = run.vendor["cron"]
    doc["status"] = _word(run)
    doc["ended_at"] = iso_go(end) if end is not None else None
    output = _output(run)
    if output is not None:
        doc["output"] = output
    return doc


def _v2(run: Run, end: datetime | None) -> dict[str, Any]:
    assert run.start is not None
    trigger: dict[str, Any] = {"eventIds": [str(run.key)]}
    if "cron" in run.vendor:
        trigger["cronSchedule"] = run.vendor["cron"]
    doc: dict[str, Any] = {
        "app": {"id": APP},
        "function": {"id": run.stratum, "name": run.stratum.replace("-", " ").capitalize()},
        "id": run.ident,
        "queuedAt": iso_proto(run.queued_at or run.start),
        "startedAt": iso_proto(run.start),
        "status": _word(run),
        "trigger": trigger,
    }
    if end is not None:
        doc["endedAt"] = iso_proto(end)
        doc["durationMs"] = str(round((end - run.start).total_seconds() * 1000))
    output = _output(run)
    if output:
        doc["output"] = {"error": output} if run.status == "failed" else {"data": output}
    return doc


def _dumps(doc: Any) -> bytes:
    """Compact JSON with sorted keys: v2's enum rewrite re-encodes through a Go map."""
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode() + b"\n"


def _envelope_v1(data: Any, fetched: datetime) -> bytes:
    meta = {"fetched_at": iso_go(fetched), "cached_until": iso_go(fetched + timedelta(seconds=3))}
    return json.dumps({"data": data, "metadata": meta}, separators=(",", ":")).encode() + b"\n"


# --- the trace ------------------------------------------------------------------------------------

Ids = Callable[[int], str]


def _attempts(
    run: Run, step: Step, begin: datetime, stop: datetime | None, ids: Ids
) -> list[dict[str, Any]]:
    """A retried step's attempts: the failed ones share `retry_ms` (each runs a third of its
    window, then backs off), the last runs to the step's end."""
    out = []
    window = step.retry_ms / (step.attempts - 1)
    failed_text = step.retry_error or step.error or "Error"
    error = {"message": failed_text, "name": "Error", "stack": f"Error: {failed_text}"}
    t = begin
    for n in range(step.attempts - 1):
        ran = timedelta(milliseconds=window / 3)
        out.append(
            {
                "durationMs": str(round(window / 3)),
                "endedAt": iso_proto(t + ran),
                "id": ids(64),
                "name": f"Attempt {n}",
                "output": {"error": error},
                "queuedAt": iso_proto(t),
                "startedAt": iso_proto(t + timedelta(milliseconds=5)),
                "status": "FAILED",
                "stepOp": "RUN",
            }
        )
        t += timedelta(milliseconds=window)
    last: dict[str, Any] = {"id": ids(64), "name": f"Attempt {step.attempts - 1}"}
    last |= {"queuedAt": iso_proto(t - timedelta(milliseconds=window * 2 / 3))}
    last |= {"startedAt": iso_proto(t), "stepOp": "RUN"}
    if stop is None:
        last["status"] = "RUNNING"
    else:
        last |= {"endedAt": iso_proto(stop), "status": STEP_WORDS.get(step.status, "FAILED")}
        last["durationMs"] = str(round((stop - t).total_seconds() * 1000))
        if step.status == "failed":
            last["output"] = {"error": _step_error(run, step.error)}
    return [*out, last]


def _step_span(
    run: Run, step: Step, begin: datetime, stop: datetime | None, ids: Ids
) -> dict[str, Any]:
    span: dict[str, Any] = {"id": ids(64), "name": step.name, "queuedAt": iso_proto(begin)}
    span |= {"startedAt": iso_proto(begin + timedelta(milliseconds=4))}
    span |= {"stepId": ids(160), "stepOp": "RUN"}
    span["status"] = "CANCELLED" if step.status == "skipped" else STEP_WORDS[step.status]
    if stop is not None:
        span["endedAt"] = iso_proto(stop)
        span["durationMs"] = str(round((stop - begin).total_seconds() * 1000))
    if step.attempts > 1:
        span["children"] = _attempts(run, step, begin, stop, ids)
    elif step.status == "failed":
        span["output"] = {"error": _step_error(run, step.error)}
    return span


def _step_error(run: Run, text: str | None) -> dict[str, Any]:
    """A failed step's UserError {name, message, stack} (opcode.go L126-131): the run's own
    error when the step failed the run."""
    if text == run.error and run.error_doc is not None:
        return {k: v for k, v in run.error_doc.items() if k != "__serialized"}
    text = text or "Error"
    return {"message": text, "name": "Error", "stack": f"Error: {text}"}


def trace(run: Run, items: list[Timed], end: datetime | None, now: datetime) -> dict[str, Any]:
    assert run.start is not None
    rng = random.Random(f"inngest-trace/{run.ident}")  # span ids from the run, no scenario draws
    ids: Ids = lambda bits: hex_id(rng, bits)  # noqa: E731
    children = []
    for step, begin, stop in items:
        assert begin is not None
        children.append(_step_span(run, step, begin, stop, ids))
    if run.status == "completed" and end is not None:
        last = items[-1][2] if items else run.start
        assert last is not None
        children.append(
            {
                "durationMs": str(round((end - last).total_seconds() * 1000)),
                "endedAt": iso_proto(end),
                "id": ids(64),
                "name": "Finalization",
                "queuedAt": iso_proto(last),
                "startedAt": iso_proto(last + timedelta(milliseconds=2)),
                "status": "COMPLETED",
            }
        )
    root: dict[str, Any] = {
        "children": children,
        "id": ids(64),
        "name": "Run",
        "queuedAt": iso_proto(run.queued_at or run.start),
        "startedAt": iso_proto(run.start),
        "status": "CANCELLED" if _canceled(run) else V2_WORDS[run.status],
    }
    if end is not None:
        root["endedAt"] = iso_proto(end)
        root["durationMs"] = str(round((end - run.start).total_seconds() * 1000))
    return {
        "data": {"rootSpan": root, "runId": run.ident},
        "metadata": {"fetchedAt": iso_proto(now)},
    }


def _fetched(end: datetime | None, now: datetime) -> datetime:
    """The exporter fetches a run a few minutes after it ends (still running: a minute ago)."""
    if end is None:
        return now - timedelta(minutes=1)
    return min(end + timedelta(minutes=5), now)


def files(run: Run, now: datetime) -> Files:
    items, end = spans(run)
    fetched = _fetched(end, now)
    if run.variant == "v1":
        body = _envelope_v1(_v1(run, end), fetched)
    else:
        body = _dumps({"data": _v2(run, end), "metadata": {"fetchedAt": iso_proto(fetched)}})
    return [
        ("status.json", body, fetched),
        ("trace.json", _dumps(trace(run, items, end, fetched)), fetched),
    ]


def event_id(rng: random.Random, at: datetime) -> str:
    return ulid(rng, at)


def write(root: Path, run: Run, dir_id: str, now: datetime) -> None:
    put(f"{root}/runs/{dir_id}", files(run, now))
