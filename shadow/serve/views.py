"""View models of the parity console: what each page shows, computed from the judgement. Pure.

The templates only lay these out; every decision (what differs, what is highlighted, how wide a
timing bar is, which waiver covered a finding) is made here, where it can be unit-tested. Values
from the bucket stay plain strings: the templates escape them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from math import ceil
from typing import Any

from shadow.comparators.steps import Tag, lcs, tags
from shadow.core.fielddiff import FieldDiffs, differences
from shadow.core.findings import Finding, Severity
from shadow.core.results import PairResult
from shadow.core.runs import NormalizedRun, NormStep
from shadow.judging.judge import first_divergence
from shadow.judging.report import WaiverOut

PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class RunFilters:
    agent: str | None = None
    outcome: str | None = None
    dimension: str | None = None
    state: str | None = None

    def keep(self, run: PairResult) -> bool:
        return (
            (self.agent is None or run.agent == self.agent)
            and (self.outcome is None or run.outcome.value == self.outcome)
            and (self.state is None or run.state.value == self.state)
            and (
                self.dimension is None
                or any(f.dimension.value == self.dimension for f in run.findings)
            )
        )

    def query(self, **change: Any) -> dict[str, Any]:
        """The filters as query parameters, with some changed (for paging links)."""
        out = {
            k: v
            for k, v in (
                ("agent", self.agent),
                ("outcome", self.outcome),
                ("dimension", self.dimension),
                ("state", self.state),
            )
            if v
        }
        out.update({k: v for k, v in change.items() if v is not None})
        return out


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    agent: str
    state: str
    outcome: str
    errors: int
    headline: str  # the first divergence, in one line
    duration_ratio: float | None


@dataclass(frozen=True, slots=True)
class RunsPage:
    rows: list[RunRow]
    total: int
    page: int
    pages: int
    filters: RunFilters
    choices: dict[str, list[str]]  # filter name -> values present in the report


def filter_choices(results: Sequence[PairResult]) -> dict[str, list[str]]:
    """The values each runs filter can take: those present in the judgement."""
    return {
        "agent": sorted({r.agent for r in results}),
        "outcome": sorted({r.outcome.value for r in results}),
        "state": sorted({r.state.value for r in results}),
        "dimension": sorted({f.dimension.value for r in results for f in r.findings}),
    }


def runs_page(
    results: Sequence[PairResult],
    matching: Sequence[int],
    filters: RunFilters,
    choices: dict[str, list[str]],
    page: int = 1,
) -> RunsPage:
    """One page of the runs that pass `filters` (`matching`: their indexes in `results`)."""
    pages = max(1, ceil(len(matching) / PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = [_row(results[i]) for i in matching[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
    return RunsPage(rows, len(matching), page, pages, filters, choices)


def _row(r: PairResult) -> RunRow:
    top = first_divergence(r.findings)
    return RunRow(
        r.key,
        r.agent,
        r.state.value,
        r.outcome.value,
        sum(1 for f in r.findings if f.severity is Severity.ERROR),
        f"{top.dimension.value}/{top.kind.value}: {top.message}" if top else "",
        r.duration_ratio,
    )


@dataclass(frozen=True, slots=True)
class FieldRow:
    name: str
    primary: str
    candidate: str
    differs: bool


@dataclass(frozen=True, slots=True)
class Timeline:
    primary: list[str]
    candidate: list[str]
    diverges_at: int | None  # index of the first state that differs, None when equal


@dataclass(frozen=True, slots=True)
class StepCell:
    state: str
    error: str | None
    duration_ms: float | None
    bar_percent: float  # share of the pair's longest step, for the timing bars


@dataclass(frozen=True, slots=True)
class StepRow:
    name: str
    primary: StepCell | None
    candidate: StepCell | None
    differs: bool


@dataclass(frozen=True, slots=True)
class FindingRow:
    finding: Finding
    first: bool  # the pair's first divergence, highlighted
    waiver: WaiverOut | None


@dataclass(frozen=True, slots=True)
class PairPage:
    run_id: str
    agent: str
    state: str
    outcome: str
    fields: list[FieldRow]
    timeline: Timeline
    steps: list[StepRow]
    findings: list[FindingRow]
    differing_paths: list[str] = field(default_factory=list)


# The run fields the pair page shows, with the document field whose difference marks each
# (fielddiff decides; None: shown as written, never marked, e.g. timing and directories).
_SCALARS: tuple[tuple[str, str | None], ...] = (
    ("state", "state"),
    ("error_code", "error_code"),  # as written; marked when the judged code differs
    ("error_class", "error_code"),
    ("trigger", "trigger"),
    ("agent", "agent"),
    ("idempotency_key", None),
    ("proposals", "proposals"),
    ("scheduling_ms", None),  # the queue wait: timing judges it plus e2e_ms when both know it
    ("e2e_ms", None),
    ("history_mode", None),
)


def pair_page(
    run_id: str,
    result: PairResult,
    primary: NormalizedRun | None,
    candidate: NormalizedRun | None,
    waivers: Sequence[WaiverOut],
) -> PairPage:
    diffs = differences(primary, candidate)
    top = first_divergence(result.findings)
    by_id = {w.id: w for w in waivers}
    return PairPage(
        run_id=run_id,
        agent=result.agent,
        state=result.state.value,
        outcome=result.outcome.value,
        fields=_fields(primary, candidate, diffs),
        timeline=_timeline(primary, candidate),
        steps=_steps(primary, candidate, diffs),
        findings=[
            FindingRow(f, f is top, by_id.get(f.waived_by) if f.waived_by else None)
            for f in result.findings
        ],
        differing_paths=[d.path for d in diffs.rows],
    )


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
    return str(getattr(value, "value", value))


def _fields(
    primary: NormalizedRun | None, candidate: NormalizedRun | None, diffs: FieldDiffs
) -> list[FieldRow]:
    rows = [FieldRow("run directory", _dir(primary), _dir(candidate), False)]
    for name, marked_by in _SCALARS:
        a = getattr(primary, name) if primary else None
        b = getattr(candidate, name) if candidate else None
        rows.append(
            FieldRow(name, _show(a), _show(b), marked_by is not None and diffs.marks(marked_by))
        )
    return rows


def _dir(run: NormalizedRun | None) -> str:
    return run.run_dir if run else "— (no run)"


def _timeline(primary: NormalizedRun | None, candidate: NormalizedRun | None) -> Timeline:
    a = [s.value for s in primary.history] if primary else []
    b = [s.value for s in candidate.history] if candidate else []
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    if at is None and len(a) != len(b):
        at = min(len(a), len(b))
    return Timeline(a, b, at)


def _steps(
    primary: NormalizedRun | None, candidate: NormalizedRun | None, diffs: FieldDiffs | None = None
) -> list[StepRow]:
    """Steps aligned by name, in pipeline order; a step on one side only gets an empty twin.
    A row is marked where fielddiff marks its step, or, for a step that moved (shown once per
    side), where the order differs."""
    diffs = diffs if diffs is not None else differences(primary, candidate)
    a = list(primary.timed_steps()) if primary else []
    b = list(candidate.timed_steps()) if candidate else []
    longest = max((ms or 0.0 for _, ms in (*a, *b)), default=0.0) or 1.0
    # (name, occurrence): a repeated step name is aligned in turn
    ta, tb = tags(tuple(s for s, _ in a)), tags(tuple(s for s, _ in b))
    common = lcs(ta, tb)
    moved = diffs.marks("step_order")
    rows: list[StepRow] = []

    def row(tag: Tag, pa: Timed | None, pb: Timed | None) -> StepRow:
        name, n = tag
        key = name if n == 1 else f"{name}#{n}"
        one_sided = pa is None or pb is None
        marked = diffs.marks("steps", key) or (one_sided and moved)
        return StepRow(name, _cell(pa, longest), _cell(pb, longest), marked)

    i = j = 0
    while i < len(a) or j < len(b):
        if j < len(b) and (i >= len(a) or (tb[j] not in common and ta[i] in common)):
            rows.append(row(tb[j], None, b[j]))
            j += 1
        elif j < len(b) and ta[i] == tb[j]:
            rows.append(row(ta[i], a[i], b[j]))
            i, j = i + 1, j + 1
        else:  # on the primary side only, or out of order
            rows.append(row(ta[i], a[i], None))
            i += 1
    return rows


Timed = tuple[NormStep, float | None]  # a step and its duration in ms


def _cell(timed: Timed | None, longest: float) -> StepCell | None:
    if timed is None:
        return None
    s, ms = timed
    pct = round(100.0 * (ms or 0.0) / longest, 1)
    return StepCell(s.state.value, s.error_code, ms, pct)


def held_for(since: datetime | None, now: datetime) -> str | None:
    """How long the verdict has held, in words a person reads at a glance."""
    if since is None:
        return None
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
