"""Text rendering for people at a terminal: the report table and the side-by-side diff. Pure."""

from __future__ import annotations

from shadow.core.fielddiff import field_differences
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
    if report.rejected:
        lines += ["", f"rejected objects ({len(report.rejected)}):"]
        lines += [f"  {x.reason:<24} {x.key}" for x in report.rejected[:max_runs]]
    return "\n".join(lines)


def _run_rows(run: NormalizedRun | None) -> dict[str, str]:
    if run is None:
        return {"(present)": "no"}
    rows = {
        "state": run.state.value if run.state else "-",
        "error": run.error_code or "-",
        "history": " > ".join(s.value for s in run.history) + f"  [{run.history_mode.value}]",
        "agent": run.agent,
        "trigger": run.trigger or "-",
        "e2e_ms (excl. mocked)": f"{run.e2e_ms:.0f}" if run.e2e_ms is not None else "-",
        "proposals": str(run.proposals),
    }
    for s, ms in run.timed_steps():
        dur = f"{ms:.0f}ms" if ms is not None else "?"
        rows[f"step {s.number}"] = f"{s.name} {s.state.value} {s.error_code or ''} {dur}".strip()
    for r in run.retries:
        rows[f"retry {r.step}"] = (
            f"{'recovered' if r.recovered else 'exhausted'} {r.error_code or ''} x{r.attempts}"
        )
    return rows


def render_diff(
    key: str,
    primary: NormalizedRun | None,
    candidate: NormalizedRun | None,
    findings: tuple[Finding, ...],
    first: Finding | None,
    state: str,
) -> str:
    p, c = _run_rows(primary), _run_rows(candidate)
    names = list(dict.fromkeys([*p, *c]))
    width = max([len(v) for v in (*p.values(), *c.values())] + [20])
    lines = [f"run {key}   state {state}", "", f"  {'':<22}{'primary':<{width + 2}}dry run"]
    for n in names:
        a, b = p.get(n, "-"), c.get(n, "-")
        mark = "≠" if a != b else " "
        lines.append(f"{mark} {n:<22}{a:<{width + 2}}{b}")
    if first is not None:
        lines += [
            "",
            f"first divergence: {first.dimension.value}/{first.kind.value} at {first.path}: {first.message}",
        ]
    if primary is not None and candidate is not None:
        rows = field_differences(primary, candidate)
        if rows:
            lines += ["", "field differences (normalized):"]
            lines += [f"  {r.path}: {r.primary!r} -> {r.candidate!r}" for r in rows]
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
