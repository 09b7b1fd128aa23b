"""A Cloudflare Queues consumer's record of each message (`cf-queues-consumer/1`).

Cloudflare keeps no run record; this is the record docs/vendors.md section 3.1 defines, built
only from what the consumer sees: the `Message` (`id`, `timestamp`, `attempts` from 1, `body`;
`src/content/docs/queues/configuration/javascript-apis.mdx`), the outcome and its own clock, at
`runs/<message.id>/status.json`, overwritten on every delivery, so the record holds the last
delivery's times and its `attempts`. A Cron Trigger's fire (`scheduled(controller)`: `cron`,
`type`, `scheduledTime` in epoch milliseconds; `workers/runtime-apis/handlers/scheduled.mdx`) is
`runs/cron-<scheduledTime>/status.json`. The body carries the producer's `jobId` (the primary's
run id, the pairing key) and the job `type`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shadow.corpora.shapes import write_record
from shadow.corpora.shapes.formats import epoch_ms, iso_ms
from shadow.corpora.writer import Run

QUEUE = "jobs"


def cron_dir(slot: datetime) -> str:
    return f"cron-{epoch_ms(slot)}"


def _outcome(run: Run) -> str:
    if run.status == "completed":
        return "succeeded"
    if run.status == "failed":
        return "failed"
    return "retrying" if run.attempts > 1 else "running"


def record(run: Run, end: datetime | None) -> dict[str, Any]:
    assert run.start is not None
    received = run.start + timedelta(milliseconds=run.retry_ms)  # the last delivery's
    doc: dict[str, Any] = {"record": "cf-queues-consumer/1"}
    if run.slot is not None:
        cron = run.vendor["cron"]
        doc["scheduled"] = {"cron": cron, "type": "scheduled", "scheduledTime": epoch_ms(run.slot)}
    else:
        sent = run.queued_at or run.start
        message = {"id": run.ident, "timestamp": iso_ms(sent), "attempts": run.attempts}
        doc["queue"] = f"{QUEUE}-{run.stratum}"
        doc["message"] = message | {"body": {"jobId": run.link, "type": run.stratum, **run.payload}}
    doc |= {"outcome": _outcome(run), "received_at": iso_ms(received)}
    doc["finished_at"] = iso_ms(end) if end is not None else None
    error = None
    if run.status == "failed":
        error = run.error_doc or {"name": "Error", "message": run.error or "Error"}
    doc["error"] = error
    return doc


def write(root: Path, run: Run, dir_id: str, now: datetime) -> None:
    write_record(root, run, dir_id, record)
