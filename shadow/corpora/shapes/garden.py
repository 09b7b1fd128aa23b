"""The garden contract's shape (spec run-records.md sections 2-5): status.json, manifest.json
and steps/*.json per run directory, with the noise the contract allows: `...Z` against
`+00:00` times, three step-file namings, three JSON layouts, a missing `duration_ms` now and
then (shadow derives it from the timestamps).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from shadow.corpora.writer import Files, Run, Timed, dump, put, timed


def iso(t: datetime | None, primary: bool) -> str | None:
    """Primaries write `...Z`, dry runs `...+00:00`: both are ISO-8601 UTC."""
    if t is None:
        return None
    text = t.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z") if primary else text


def _step_file(number: int, name: str, naming: int) -> str:
    forms = (
        f"steps/{number}.json",
        f"steps/{number}-{name}.json",
        f"steps/{number:02d}-{name}.json",
    )
    return forms[naming % 3]


def _current_step(run: Run, last: str) -> str | None:
    if run.status == "completed":
        return last
    if not run.steps:
        return None
    busy = ("failed",) if run.status == "failed" else ("running", "failed")
    return next((s.name for s in run.steps if s.status in busy), run.steps[-1].name)


def _status_doc(run: Run, end: datetime | None, last: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "run_id": run.status_run_id or run.run_id,
        "agent_slug": run.stratum,
        "status": run.status,
        "trigger": run.trigger,
        "started_at": iso(run.start, run.primary),
        "finished_at": iso(end, run.primary),
        "current_step": _current_step(run, last),
        "steps_total": run.steps_total,
        "steps_completed": sum(1 for s in run.steps if s.status == "completed"),
        "proposals_created": list(run.proposals),
        "error": run.error,
    }
    if run.queue_position is not None:
        doc["queue_position"] = run.queue_position
    if run.meta is not None:
        doc["_orchestrator_meta"] = run.meta
    return doc


def _manifest_doc(run: Run, dir_id: str, end: datetime) -> dict[str, Any]:
    assert run.start is not None
    doc: dict[str, Any] = {
        "run_id": dir_id,
        "agent_slug": run.stratum,
        "status": run.status,
        "trigger": run.trigger,
        "started_at": iso(run.start, run.primary),
        "finished_at": iso(end, run.primary),
        "duration_ms": round((end - run.start).total_seconds() * 1000),
        "steps_count": run.steps_total,
        "proposals_created": len(run.proposals),
        "error": run.error,
        "model_used": run.model[0],
        "tokens_used": run.model[1],
        "agent_version": run.model[2],
    }
    if run.retries is not None:
        doc["retries"] = run.retries
    doc.update(run.manifest_extra)
    return doc


def _step_doc(number: int, item: Timed, rng: random.Random, primary: bool) -> dict[str, Any]:
    step, begin, end = item
    duration = round(step.ms) if end is not None else None
    if end is not None and rng.random() < 0.08:
        duration = None  # shadow derives it from the two timestamps
    return {
        "step_number": number,
        "step_name": step.name,
        "status": step.status,
        "started_at": iso(begin, primary),
        "finished_at": iso(end, primary),
        "duration_ms": duration,
        "output_summary": step.summary,
        "error": step.error,
    }


def _written(run: Run) -> datetime:
    when = run.start or run.queued_at
    assert when is not None
    return when


def files(run: Run, dir_id: str, rng: random.Random, last_step: str) -> Files:
    """The run's objects; `last_step` is the pipeline's last step, a completed run's current."""
    items, end = timed(run)
    out: Files = []
    for number, item in enumerate(items, start=1):
        step, begin, stop = item
        name = step.file or _step_file(number, step.name, run.naming)
        body = step.raw or dump(_step_doc(number, item, rng, run.primary), run.style)
        out.append((name, body, stop or begin or run.start or _written(run)))
    last = max((t for _, _, t in out), default=_written(run))
    out.append(("status.json", dump(_status_doc(run, end, last_step), run.style), end or last))
    if end is not None:
        out.append(("manifest.json", dump(_manifest_doc(run, dir_id, end), run.style), end))
        for path in run.outputs:
            body = f"# {run.stratum}\n\nartifact {rng.getrandbits(64):016x}\n".encode()
            out.append((path, body, end))
    out += [(path, body, end or last) for path, body in run.extra_files.items()]
    return out


def write(
    root: str, run: Run, dir_id: str, layout: str, rng: random.Random, last_step: str
) -> None:
    """Write the run under `runs/<dir_id>/` (flat) or `agents/<slug>/runs/<dir_id>/` (nested)."""
    runs = f"{root}/agents/{run.stratum}/runs" if layout == "nested" else f"{root}/runs"
    put(f"{runs}/{dir_id}", files(run, dir_id, rng, last_step))
