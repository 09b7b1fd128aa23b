"""Field-level differences between two normalized runs, for people reading a pair.

The comparators decide what a difference means; this module only shows where two runs'
comparable documents differ, field by field. The canonical projection is checked first and
DeepDiff runs only when it differs, since most pairs are equal. DeepDiff's own types stay
inside: callers get plain (path, primary, candidate) rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff

from shadow.core.runs import NormalizedRun
from shadow.core.vocabulary import same_error


@dataclass(frozen=True, slots=True)
class FieldDiff:
    path: str
    primary: Any
    candidate: Any


def document(run: NormalizedRun) -> dict[str, Any]:
    """The comparable fields of a run as a plain document (volatile fields already gone)."""
    return {
        "state": run.state.value if run.state else None,
        "error_code": run.error_class,
        "trigger": run.trigger,
        "history": [s.value for s in run.history],
        "steps": {
            s.name: {"number": s.number, "status": s.state.value, "error_code": s.error_code}
            for s in run.steps
        },
        "retries": {
            r.step: {"recovered": r.recovered, "error_code": r.error_code, "attempts": r.attempts}
            for r in run.retries
        },
        "proposals": run.proposals,
    }


def field_differences(primary: NormalizedRun, candidate: NormalizedRun) -> list[FieldDiff]:
    a, b = document(primary), document(candidate)
    if primary.comparable == candidate.comparable and a == b:
        return []
    _align_equal_errors(a, b, primary.error_code, candidate.error_code)
    diff = DeepDiff(a, b, view="tree", threshold_to_diff_deeper=0, ignore_numeric_type_changes=True)
    rows = []
    for items in diff.values():
        for level in items:
            path = ".".join(str(p) for p in level.path(output_format="list"))
            rows.append(FieldDiff(path, _plain(level.t1), _plain(level.t2)))
    return sorted(rows, key=lambda r: r.path)


def _align_equal_errors(
    a: dict[str, Any], b: dict[str, Any], a_run: str | None, b_run: str | None
) -> None:
    """Step and retry codes the comparators judge alike are shown alike (not marked)."""
    for part in ("steps", "retries"):
        for name, mine in a[part].items():
            theirs = b[part].get(name)
            if theirs is not None and same_error(
                mine["error_code"], a_run, theirs["error_code"], b_run
            ):
                theirs["error_code"] = mine["error_code"]


def _plain(value: Any) -> Any:
    """DeepDiff marks a missing side with its own sentinel; show it as None."""
    return value if isinstance(value, str | int | float | bool | dict | list | type(None)) else None
