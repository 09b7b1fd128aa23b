"""Text rendering for people at a terminal: the report table and the side-by-side diff. Pure."""

from __future__ import annotations

from collections.abc import Callable

from shadow.comparators.timing import end_to_end
from shadow.core.fielddiff import FieldDiffs, differences, step_keys
from shadow.core.findings import Finding, Severity
from shadow.core.runs import NormalizedRun
from shadow.judging.report import Report

_MARK = {Severity.ERROR: "✗", Severity.WARNING: "!", Severity.INFO: "·"}


def render_report(report: Report, *, max_runs: int = 25) -> str:
    r, t = report.readiness, report.totals
    lines = [
        f"VERDICT: {r.verdict.value}"
        + (f"   (since {r.since:%Y-%m-%d %H:%M} UTC)" if r.since else ""),
        f"evidence: {r.evidence_days:.1f} days   config {report.config_hash}",
        "",
        f"runs {t.runs}  paired {t.paired}  matched {t.matched}  mismatched {t.mismatched}  "
        f"waived {t.waived}",
        f"lost {t.primary_only}  orphan {t.candidate_only}  pending {t.pending}  stuck {t.stuck}  "
        f"rejected objects {t.rejected_objects}",
        "",
        f"{'criterion':<13}{'result':<14}{'measured':>10}{'threshold':>11}{'evidence':>10}  detail",
    ]
    for c in r.criteria:
        measured = "-" if c.measured is None else f"{c.measured:.4g}"
        lines.append(
            f"{c.name:<13}{c.status.upper():<14}{measured:>10}{c.threshold:>11.4g}"
            f"{c.evidence:>10}  {c.detail}"
        )
    if r.reasons:
        lines += ["", "why not ready:"] + [f"  - {x}" for x in r.reasons]
    if r.needs:
        lines += ["", "missing evidence:"] + [f"  - {x}" for x in r.needs]
    lines += ["", r.summary, f"{'stratum':<24}{'verdict':<20}{'pairs':>6}  failing"]
    lines += [
        f"{s.agent_slug:<24}{s.verdict.value:<20}{s.pairs:>6}  {', '.join(s.failing) or '-'}"
        for s in r.strata
    ]
    if report.clusters:
        lines += ["", "largest difference clusters:"]
        lines += [
            f"  {c.count:>5}  {c.signature}   e.g. {', '.join(c.examples[:3])}"
            for c in report.clusters[:10]
        ]
    bad = [run for run in report.runs if run.outcome.value in ("mismatch", "waived")]
    if bad:
        lines += ["", f"runs with differences ({len(bad)}, first {min(max_runs, len(bad))}):"]
        for run in bad[:max_runs]:
            top = next((f for f in run.findings if f.severity is Severity.ERROR), run.findings[0])
            lines.append(
                f"  {run.run_id:<40} {run.agent_slug:<20} {run.outcome.value:<9} "
                f"{top.dimension.value}/{top.kind.value}: {top.message}"
            )
    missed = report.missed_schedules
    if missed:
        lines += ["", f"missed schedules ({len(missed)}, first {min(max_runs, len(missed))}):"]
        lines += [_missed_line(f) for f in missed[:max_runs]]
    if report.rejected:
        lines += ["", f"rejected objects ({len(report.rejected)}):"]
        lines += [f"  {x.reason:<24} {x.key}" for x in report.rejected[:max_runs]]
    return "\n".join(lines)


def _missed_line(f: Finding) -> str:
    """A missed schedule: its stratum, the fire time (the `<stratum>@<fire time>` of its path)
    and the side or sides where no run served it."""
    sides = [n for n, o in (("primary", f.primary), ("dry run", f.candidate)) if o == "missed"]
    waived = f"  [waived by {f.waived_by}]" if f.waived_by else ""
    return (
        f"  {f.subject or '-':<24} {f.path.rpartition('@')[2]:<22} "
        f"missed by the {' and the '.join(sides)}{waived}"
    )


Row = tuple[str, str, str, bool]  # label, primary, dry run, differs


def _ms(ms: float | None) -> str:
    return f"{ms:.0f}" if ms is not None else "-"


def _diff_rows(
    primary: NormalizedRun | None,
    candidate: NormalizedRun | None,
    diffs: FieldDiffs,
    excluded: frozenset[str],
) -> list[Row]:
    """The side-by-side rows, each marked where fielddiff says its field differs (the console
    and the API mark the same fields); timing is shown, never marked."""
    rows: list[Row] = []

    def add(label: str, show: Callable[[NormalizedRun], str], *path: str) -> None:
        a = show(primary) if primary else "-"
        b = show(candidate) if candidate else "-"
        rows.append((label, a, b, bool(path) and diffs.marks(*path)))

    if primary is None or candidate is None:
        rows.append(
            ("run", "present" if primary else "none", "present" if candidate else "none", True)
        )
    add("state", lambda r: r.state.value if r.state else "-", "state")
    add("error", lambda r: r.error_code or "-", "error_code")
    add(
        "history",
        lambda r: " > ".join(s.value for s in r.history) + f"  [{r.history_mode.value}]",
        "history",
    )
    add("agent", lambda r: r.agent, "agent")
    add("trigger", lambda r: r.trigger or "-", "trigger")
    add("queue wait ms", lambda r: _ms(r.scheduling_ms))
    add("run ms (excl. mocked)", lambda r: _ms(r.e2e_ms))
    if primary is not None and candidate is not None:
        # what the timing criterion and a run_slower finding compare: for a record a
        # redelivery overwrote, the wait since the first send is most of it
        judged = end_to_end(primary, candidate, excluded)
        rows.append(("end to end ms (judged)", _ms(judged[0]), _ms(judged[1]), False))
    add("proposals", lambda r: str(r.proposals), "proposals")
    steps = {side: _steps_by_key(run) for side, run in (("p", primary), ("c", candidate))}
    for key in dict.fromkeys([*steps["p"], *steps["c"]]):
        a, b = steps["p"].get(key, "-"), steps["c"].get(key, "-")
        rows.append((f"step {key}", a, b, diffs.marks("steps", key)))
    if diffs.marks("step_order") and primary and candidate:
        rows.append(
            (
                "step order",
                " > ".join(step_keys(primary.steps)),
                " > ".join(step_keys(candidate.steps)),
                True,
            )
        )
    retries = {side: _retries_by_step(run) for side, run in (("p", primary), ("c", candidate))}
    for step in dict.fromkeys([*retries["p"], *retries["c"]]):
        a, b = retries["p"].get(step, "-"), retries["c"].get(step, "-")
        rows.append((f"retry {step}", a, b, diffs.marks("retries", step)))
    return rows


def _steps_by_key(run: NormalizedRun | None) -> dict[str, str]:
    if run is None:
        return {}
    out = {}
    for key, (s, ms) in zip(step_keys(run.steps), run.timed_steps(), strict=True):
        dur = f"{ms:.0f}ms" if ms is not None else "?"
        out[key] = " ".join(x for x in (f"#{s.number}", s.state.value, s.error_code, dur) if x)
    return out


def _retries_by_step(run: NormalizedRun | None) -> dict[str, str]:
    if run is None:
        return {}
    return {
        r.step: f"{'recovered' if r.recovered else 'exhausted'} {r.error_code or ''} x{r.attempts}"
        for r in run.retries
    }


def render_diff(
    key: str,
    primary: NormalizedRun | None,
    candidate: NormalizedRun | None,
    findings: tuple[Finding, ...],
    first: Finding | None,
    state: str,
    excluded: frozenset[str] = frozenset(),
) -> str:
    diffs = differences(primary, candidate)
    rows = _diff_rows(primary, candidate, diffs, excluded)
    width = max([len(a) for _, a, _, _ in rows] + [20])
    lines = [f"run {key}   state {state}", "", f"  {'':<24}{'primary':<{width + 2}}dry run"]
    lines += [f"{'≠' if marked else ' '} {n:<24}{a:<{width + 2}}{b}" for n, a, b, marked in rows]
    if first is not None:
        lines += [
            "",
            f"first divergence: {first.dimension.value}/{first.kind.value} at {first.path}: {first.message}",
        ]
    if diffs.rows:
        lines += ["", "field differences (normalized):"]
        lines += [f"  {r.path}: {r.primary!r} -> {r.candidate!r}" for r in diffs.rows]
    if findings:
        lines += ["", "findings:"]
        for f in findings:
            waived = f"  [waived by {f.waived_by}]" if f.waived_by else ""
            expired = f"  [waiver {f.expired_waiver} expired]" if f.expired_waiver else ""
            lines.append(
                f"  {_MARK[f.severity]} {f.severity.value:<8}{f.dimension.value}/{f.kind.value} "
                f"{f.path}: {f.message}{waived}{expired}"
            )
    return "\n".join(lines)
