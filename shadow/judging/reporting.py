"""How the parity report is made: from a Judgement (`build_report`, and `with_runs_of` for a head
built without runs), or from the reports of disjoint shards, re-judged as a whole
(`merge_reports`). The document itself, its typed models: `report.py`. Everything here is pure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from shadow.core.findings import Severity
from shadow.core.pairing import PairState
from shadow.core.records import Rejected
from shadow.core.results import Outcome, PairResult
from shadow.core.waivers import Waiver
from shadow.judging.criteria import Criterion, CriterionStatus, Thresholds
from shadow.judging.judge import Judgement
from shadow.judging.report import (
    Cluster,
    CriterionOut,
    ReadinessOut,
    RejectedOut,
    Report,
    RunOut,
    ScheduleOut,
    StratumCriterionOut,
    StratumOut,
    Totals,
    WaiverOut,
)
from shadow.judging.verdict import Readiness, Verdict, judge_readiness

CLUSTER_EXAMPLES = 5


def criterion_out(c: Criterion) -> CriterionOut:
    return CriterionOut(
        name=c.name,
        passed=c.passed,
        status=c.status.value,
        measured=c.measured,
        threshold=c.threshold,
        evidence=c.evidence,
        examples=list(c.examples),
        detail=c.detail,
        extra=dict(c.extra),
        strata=[
            StratumCriterionOut(
                agent_slug=agent,
                status=sc.status.value,
                measured=sc.measured,
                threshold=sc.threshold,
                evidence=sc.evidence,
                examples=list(sc.examples),
                detail=sc.detail,
                extra=dict(sc.extra),
            )
            for agent, sc in c.failing_strata
        ],
    )


def readiness_out(
    r: Readiness, since: datetime | None, modes: dict[str, int], noun: str = "agents"
) -> ReadinessOut:
    strata = [
        StratumOut(
            agent_slug=s.agent,
            verdict=s.verdict,
            pairs=s.pairs,
            failing=[c.name for c in s.criteria if c.status.value == "fail"],
        )
        for s in r.strata
    ]
    return ReadinessOut(
        verdict=r.verdict,
        reasons=list(r.reasons),
        needs=list(r.needs),
        criteria=[criterion_out(c) for c in r.criteria],
        evidence_days=round(r.evidence_days, 3),
        strata=strata,
        since=since,
        evidence_mode=modes,
        summary=strata_summary(strata, noun) + _unverified(r.criteria),
    )


def _unverified(criteria: Sequence[Criterion]) -> str:
    """Criteria without evidence, named in the summary: they must never read as passed."""
    names = [c.name for c in criteria if c.status is CriterionStatus.NO_EVIDENCE]
    return f"; no evidence: {', '.join(names)}" if names else ""


def strata_summary(strata: Sequence[StratumOut], noun: str) -> str:
    """E.g. "ready: 6 of 8 job types; blocked: 1 failing (meter-org: timing), 1 insufficient evidence"."""
    ready = sum(1 for s in strata if s.verdict is Verdict.READY)
    failing = [s for s in strata if s.verdict is Verdict.NOT_READY]
    short = [s for s in strata if s.verdict is Verdict.INSUFFICIENT_DATA]
    text = f"ready: {ready} of {len(strata)} {noun}"
    if failing or short:
        which = ", ".join(f"{s.agent_slug}: {'+'.join(s.failing)}" for s in failing)
        text += f"; blocked: {len(failing)} failing" + (f" ({which})" if which else "")
        text += f", {len(short)} insufficient evidence"
    return text


def totals_of(results: Sequence[PairResult], rejected: int) -> Totals:
    # Counted in a dict, set once per count: a pydantic assignment per result was a tenth of a
    # steady judgement. Only counts above zero are assigned, as before (the same fields set).
    counts: dict[str, int] = {}
    for r in results:
        if r.state is PairState.PAIRED:
            name = (
                "matched"
                if r.outcome is Outcome.MATCH
                else "waived"
                if r.outcome is Outcome.WAIVED
                else "mismatched"
            )
            counts["paired"] = counts.get("paired", 0) + 1
        else:
            name = r.state.value
        counts[name] = counts.get(name, 0) + 1
    t = Totals(runs=len(results), rejected_objects=rejected)
    for name, n in counts.items():
        setattr(t, name, n)
    return t


def clusters_of(results: Sequence[PairResult]) -> list[Cluster]:
    """Findings grouped by signature: how many, and up to `CLUSTER_EXAMPLES` distinct runs (a run
    with five findings of one signature is one example, not five)."""
    groups: dict[str, list[str]] = defaultdict(list)
    sev: dict[str, Severity] = {}
    for r in results:
        for f in r.findings:
            if f.severity is Severity.INFO or f.waived_by:
                continue
            groups[f.signature].append(r.key)
            if sev.get(f.signature) is not Severity.ERROR:
                sev[f.signature] = f.severity
    ordered = sorted(
        groups.items(), key=lambda kv: (sev[kv[0]] is not Severity.ERROR, -len(kv[1]), kv[0])
    )
    return [
        Cluster(
            signature=s,
            count=len(keys),
            severity=sev[s],
            examples=_distinct(keys, CLUSTER_EXAMPLES),
        )
        for s, keys in ordered
    ]


def _distinct(keys: list[str], limit: int) -> list[str]:
    out: list[str] = []
    for key in keys:  # a run's findings are adjacent: comparing with the last one is enough
        if not out or out[-1] != key:
            out.append(key)
            if len(out) == limit:
                break
    return out


def waivers_out(waivers: Sequence[Waiver], j: Judgement, today: datetime) -> list[WaiverOut]:
    return [
        WaiverOut(
            id=w.id,
            dimension=w.dimension.value,
            kind=w.kind.value if w.kind else None,
            agent=w.agent,
            path=w.path,
            owner=w.owner,
            reason=w.reason,
            expires=w.expires.isoformat(),
            active=w.active_on(today.date()),
            findings_covered=j.waiver_use.get(w.id, 0),
            findings_no_longer_covered=j.waiver_would_cover.get(w.id, 0),
        )
        for w in waivers
    ]


def build_report(
    j: Judgement,
    rejected: Sequence[Rejected],
    now: float,
    *,
    waivers: Sequence[Waiver] = (),
    config_hash: str = "",
    since: datetime | None = None,
    stratum_noun: str = "agents",
    with_runs: bool = True,
) -> Report:
    """The report of a judgement; without runs, a head that `with_runs_of` completes later."""
    at = datetime.fromtimestamp(now, UTC)
    modes: dict[str, int] = defaultdict(int)
    for pair in j.pairs.values():
        for run in (pair.primary, pair.candidate):
            if run is not None:
                modes[run.history_mode.value] += 1
    readiness = readiness_out(j.readiness, since, dict(modes), stratum_noun)
    expired = [w for w in waivers if not w.active_on(at.date()) and j.waiver_would_cover.get(w.id)]
    for w in expired:
        readiness.reasons.append(
            f"waiver {w.id} expired on {w.expires.isoformat()}: "
            f"{j.waiver_would_cover[w.id]} finding(s) no longer waived (owner {w.owner})"
        )
    runs = [RunOut.of(r) for r in j.results] if with_runs else []
    return Report(
        generated_at=at,
        config_hash=config_hash,
        readiness=readiness,
        totals=totals_of(j.results, len(rejected)),
        runs=runs,
        rejected=[RejectedOut(key=r.key, reason=r.reason.value, detail=r.detail) for r in rejected],
        clusters=clusters_of(j.results),
        waivers=waivers_out(waivers, j, at),
        unknown_fields=dict(sorted(j.unknown_fields.items())),
        runs_total=len(j.results),
        schedules=schedules_out(j),
        missed_schedules=list(j.schedule_findings),
    )


def with_runs_of(head: Report, j: Judgement) -> Report:
    """A report head completed with a run entry per judged pair.

    A daemon holds heads: a RunOut per pair, kept or rebuilt each cycle, was a sixth of the
    memory per tracked run. The runs are built when someone asks for them.
    """
    return head.model_copy(update={"runs": [RunOut.of(r) for r in j.results]})


def schedules_out(j: Judgement) -> list[ScheduleOut]:
    """Per configured schedule: fire times expected in the window and misses per side."""
    out: dict[tuple[str, str], ScheduleOut] = {}
    for c in j.schedule_checks:
        row = out.setdefault(
            (c.stratum, c.cron),
            ScheduleOut(
                stratum=c.stratum, cron=c.cron, expected=0, missed_primary=0, missed_candidate=0
            ),
        )
        row.expected += 1
        row.missed_primary += c.primary.value == "missed"
        row.missed_candidate += c.candidate.value == "missed"
    return list(out.values())


def merge_reports(
    reports: Sequence[Report],
    thresholds: Thresholds,
    now: float,
    blind: dict[str, str] | None = None,
) -> Report:
    """One report from the reports of disjoint shards, re-judged as a whole.

    Every criterion is recomputed from the merged runs (timing from their duration ratios), so
    the merged verdict equals what one process judging everything would reach.
    """
    if not reports:
        raise ValueError("nothing to merge")
    runs = sorted((r for rep in reports for r in rep.runs), key=lambda r: r.run_id)
    keys = [r.run_id for r in runs]
    if len(keys) != len(set(keys)):
        raise ValueError("the reports overlap: merge reports of disjoint shards only")
    results = [r.as_result() for r in runs]
    missed_findings = [f for rep in reports for f in rep.missed_schedules]
    missed: dict[str, list[str]] = {}
    for f in missed_findings:
        if f.blocking:
            missed.setdefault(f.subject or "", []).append(f.path)
    readiness = judge_readiness(results, thresholds, missed, blind)
    rejected = [x for rep in reports for x in rep.rejected]
    out = readiness_out(readiness, None, _sum_maps(rep.readiness.evidence_mode for rep in reports))
    return Report(
        generated_at=datetime.fromtimestamp(now, UTC),
        config_hash="+".join(sorted({rep.config_hash for rep in reports})),
        readiness=out,
        totals=totals_of(results, len(rejected)),
        runs=runs,
        rejected=rejected,
        clusters=clusters_of(results),
        waivers=reports[0].waivers,
        unknown_fields=_sum_maps(rep.unknown_fields for rep in reports),
        runs_total=len(runs),
        missed_schedules=missed_findings,
    )


def _sum_maps(maps: Iterable[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for m in maps:
        for k, v in m.items():
            out[k] += v
    return dict(sorted(out.items()))
