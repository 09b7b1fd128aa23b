"""What `shadow profile check` shows: each record's field reads, its problems and the normalized
run, as text for a person or as JSON for a script. Pure: shadow/profilecheck.py reads the files.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from shadow.core.getters import ABSENT
from shadow.core.profiles import Profile
from shadow.core.reading import FieldRead
from shadow.core.runs import NormalizedRun

NOT_RECORDED: Final = "(not recorded)"  # a retry whose records do not name its error


@dataclass(frozen=True)
class Checked:
    path: str
    reads: tuple[FieldRead, ...]
    problems: list[dict[str, Any]]
    run: NormalizedRun | None
    words: tuple[str, ...] = ()  # state words not understood


def _shown(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 70 else text[:69] + "…"


def run_summary(run: NormalizedRun) -> dict[str, Any]:
    links = run.links
    return {
        "state": run.state.value if run.state else None,
        "history": [s.value for s in run.history],
        "stratum": run.agent,
        "error_code": run.error_code,
        "error_class": run.error_class,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "end_to_end_ms": run.e2e_ms,
        "idempotency_key": run.idempotency_key,
        "identity": links.identity if links else None,
        "link": links.link if links else None,
        "attempt": links.attempt if links else None,
        "scheduled": links.scheduled if links else None,
        "slot": links.slot if links else None,
        "steps": [
            {
                "number": s.number,
                "name": s.name,
                "state": s.state.value,
                "error_code": s.error_code,
                "duration_ms": ms,
            }
            for s, ms in run.timed_steps()
        ],
        "steps_seen": run.steps_visible,
        "retries": [
            {
                "scope": r.step,
                "whole_run": r.whole_run,
                "recovered": r.recovered,
                "error_code": r.error_code if r.error_seen else NOT_RECORDED,
                "attempts": r.attempts,
            }
            for r in run.retries
        ],
        "retries_seen": run.retries_visible,
        "unknown_fields": sorted(run.unknown_fields),
    }


def as_json(profile: Profile, checked: list[Checked], words: Counter[str]) -> dict[str, Any]:
    return {
        "profile": profile.name,
        "records": [
            {
                "path": c.path,
                "reads": [
                    {
                        "field": r.field,
                        "branch": r.branch,
                        "raw": None if r.raw is ABSENT else r.raw,
                        "value": None if r.value is ABSENT else r.value,
                    }
                    for r in c.reads
                ],
                "problems": c.problems,
                "run": run_summary(c.run) if c.run is not None else None,
            }
            for c in checked
        ],
        "not_understood": dict(words.most_common()),
        "read": sum(1 for c in checked if c.run is not None and not c.problems),
        "rejected": sum(1 for c in checked if c.run is None or c.problems),
    }


def as_text(profile: Profile, checked: list[Checked], words: Counter[str]) -> str:
    out: list[str] = []
    for c in checked:
        out.append(f"== {c.path}  (profile {profile.name or '?'})")
        width = max((len(r.field) for r in c.reads), default=0)
        for r in c.reads:
            branch = r.branch if r.branch is not None else "(no branch found anything)"
            value = "" if r.value is ABSENT or r.value == r.raw else f"  => {_shown(r.value)}"
            out.append(f"  {r.field:<{width}}  {branch}: {_shown(r.raw)}{value}")
        for p in c.problems:
            out.append(f"  ! {p['reason']}: {p['detail']}  [{p['object']}]")
        if c.run is None:
            out.append("  normalized: rejected (no readable state)")
        else:
            out.append("  normalized: " + _run_line(c.run))
        out.append("")
    read = sum(1 for c in checked if c.run is not None and not c.problems)
    out.append(f"{len(checked)} record(s): {read} read, {len(checked) - read} with problems")
    if words:
        listed = ", ".join(f"{w!r} ({n})" for w, n in words.most_common())
        out.append(f"words not understood: {listed}")
    else:
        out.append("words not understood: none")
    return "\n".join(out)


def _run_line(run: NormalizedRun) -> str:
    s = run_summary(run)
    parts = [f"state {s['state']}", f"stratum {s['stratum']}"]
    if s["error_code"]:
        cls = f" (class {s['error_class']})" if s["error_class"] != s["error_code"] else ""
        parts.append(f"error {s['error_code']}{cls}")
    for key in ("identity", "link", "idempotency_key", "attempt"):
        if s[key] is not None:
            parts.append(f"{key} {s[key]}")
    if s["scheduled"]:
        slot = _iso(s["slot"]) if s["slot"] is not None else "(none)"
        parts.append(f"scheduled, slot {slot}")
    if s["end_to_end_ms"] is not None:
        parts.append(f"{s['end_to_end_ms']:g} ms end to end")
    steps = ", ".join(f"{x['number']} {x['name']} {x['state']}" for x in s["steps"])
    parts.append(f"steps [{steps}]" if s["steps_seen"] else "steps not seen")
    retries = ", ".join(
        f"{x['scope']} x{x['attempts']} {'recovered' if x['recovered'] else 'exhausted'}"
        + _error_note(x["error_code"])
        for x in s["retries"]
    )
    parts.append(f"retries [{retries}]" if s["retries_seen"] else "retries not seen")
    return "; ".join(parts)


def _error_note(code: str | None) -> str:
    """A retry's error in parentheses; the placeholder for none recorded has its own already."""
    if not code:
        return ""
    return f" {code}" if code == NOT_RECORDED else f" ({code})"


def _iso(at: float) -> str:
    """An epoch time as ISO-8601 UTC, to the millisecond when it has any."""
    t = datetime.fromtimestamp(at, UTC)
    spec = "milliseconds" if t.microsecond else "seconds"
    return t.isoformat(timespec=spec).replace("+00:00", "Z")
