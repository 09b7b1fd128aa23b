"""Which fields of a pair differ: the one answer the CLI's diff, the console's pair page and the
API's run view all show (issue 14: the three used to mark different fields).

The comparators decide what a difference means; this module only shows where two runs'
comparable documents differ, field by field. The document holds what the status, steps and
retries comparators look at (`NormalizedRun.comparable`), with the agent, trigger and proposals
a reader checks beside it; timings and the error text as written are shown by the views but are
not fields that "differ" here (timing is judged as a ratio, the written code through its class).
Steps are keyed by name (`name#2` for a repeat) rather than number, so one missing step does not
mark every step after it; the order of the steps is the field `step_order`.

The canonical projection is checked first and DeepDiff runs only when it differs, since most
pairs are equal. DeepDiff's own types stay inside: callers get plain (path, primary, candidate)
rows, and views ask `marks(...)` whether a field they show differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff

from shadow.core.runs import NormalizedRun, NormStep
from shadow.core.vocabulary import ErrorOf, same_error


@dataclass(frozen=True, slots=True)
class FieldDiff:
    path: str  # dotted, for people and the API: "steps.persist-results.status"
    primary: Any
    candidate: Any
    parts: tuple[str | int, ...] = ()  # the same path, unambiguous (a step name may hold a dot)


@dataclass(frozen=True, slots=True)
class FieldDiffs:
    rows: tuple[FieldDiff, ...]

    def marks(self, *path: str | int) -> bool:
        """Whether the field at `path` differs: a difference at it, below it (one of its
        parts), or above it (a whole section one side lacks)."""
        n = len(path)
        return any(r.parts[:n] == path or path[: len(r.parts)] == r.parts for r in self.rows)


def step_keys(steps: tuple[NormStep, ...]) -> list[str]:
    """Each step's key in the document: its name, `name#2` for its second occurrence."""
    seen: dict[str, int] = {}
    out = []
    for s in steps:
        seen[s.name] = seen.get(s.name, 0) + 1
        out.append(s.name if seen[s.name] == 1 else f"{s.name}#{seen[s.name]}")
    return out


def document(run: NormalizedRun) -> dict[str, Any]:
    """The comparable fields of a run as a plain document (volatile fields already gone)."""
    keys = step_keys(run.steps)
    return {
        "state": run.state.value if run.state else None,
        "error_code": run.error_class,
        "agent": run.agent,
        "trigger": run.trigger,
        "history": [s.value for s in run.history],
        "steps": {
            k: {"status": s.state.value, "error_code": s.error_code}
            for k, s in zip(keys, run.steps, strict=True)
        },
        "step_order": keys,
        "retries": {
            r.step: {"recovered": r.recovered, "error_code": r.error_code, "attempts": r.attempts}
            for r in run.retries
        },
        "proposals": run.proposals,
    }


def differences(primary: NormalizedRun | None, candidate: NormalizedRun | None) -> FieldDiffs:
    """Where the two runs' documents differ. With one run missing, the run itself differs (one
    row, `run`, with the present side's directory), and so does every field of it."""
    if primary is None or candidate is None:
        if primary is None and candidate is None:
            return FieldDiffs(())
        dirs = (primary.run_dir if primary else None, candidate.run_dir if candidate else None)
        return FieldDiffs((FieldDiff("run", *dirs, ()),))  # parts (): above every field
    a, b = document(primary), document(candidate)
    if a == b:
        return FieldDiffs(())
    _align_equal_errors(
        a,
        b,
        (primary.error_code, primary.error_class),
        (candidate.error_code, candidate.error_class),
    )
    _align_order(a, b)
    diff = DeepDiff(a, b, view="tree", threshold_to_diff_deeper=0, ignore_numeric_type_changes=True)
    rows = []
    for items in diff.values():
        for level in items:
            parts = tuple(level.path(output_format="list"))
            rows.append(
                FieldDiff(".".join(map(str, parts)), _plain(level.t1), _plain(level.t2), parts)
            )
    return FieldDiffs(tuple(sorted(rows, key=lambda r: r.path)))


def field_differences(
    primary: NormalizedRun | None, candidate: NormalizedRun | None
) -> list[FieldDiff]:
    return list(differences(primary, candidate).rows)


def _align_equal_errors(
    a: dict[str, Any], b: dict[str, Any], a_run: ErrorOf, b_run: ErrorOf
) -> None:
    """Step and retry codes the comparators judge alike are shown alike (not marked)."""
    for part in ("steps", "retries"):
        for name, mine in a[part].items():
            theirs = b[part].get(name)
            if theirs is not None and same_error(
                mine["error_code"], a_run, theirs["error_code"], b_run
            ):
                theirs["error_code"] = mine["error_code"]


def _align_order(a: dict[str, Any], b: dict[str, Any]) -> None:
    """The order of the steps both runs have: a step one side lacks is already its own
    difference under `steps`, and must not also shift every step after it."""
    common = set(a["step_order"]) & set(b["step_order"])
    a["step_order"] = [k for k in a["step_order"] if k in common]
    b["step_order"] = [k for k in b["step_order"] if k in common]


def _plain(value: Any) -> Any:
    """DeepDiff marks a missing side with its own sentinel; show it as None."""
    return value if isinstance(value, str | int | float | bool | dict | list | type(None)) else None
