"""The current-state gauges: what the last judging cycle found (runs, pairs, findings, parity,
criteria, the verdict, per-agent figures, schedules, evidence) and the thresholds they are judged
by.

`snapshot_of` computes them once per cycle from the cycle's judgement into a `Snapshot`; a
custom collector serves that snapshot at scrape time (never reading SQLite or S3), so a label
value that disappears stops being exported. Label values come from closed enums or bounded sets:
agents only through the allow-list or the top K by pairs, the rest as `other`. The counters and
the scan histogram, and the registry they share: `metrics.py`.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector as PromCollector

from shadow.core.findings import Dimension, Severity
from shadow.core.layout import Side
from shadow.core.pairing import PairState
from shadow.core.records import RejectReason
from shadow.core.results import Outcome
from shadow.core.stats import ratio_quantile
from shadow.engine import CycleSummary
from shadow.judging.verdict import Verdict

RATIO_BUCKETS: tuple[float, ...] = (0.5, 0.8, 0.9, 1.0, 1.1, 1.2, 1.5, 2.0, 3.0)
OTHER = "other"


@dataclass(slots=True)
class Snapshot:
    runs_by_side: dict[str, int] = field(default_factory=dict)
    pairs_by_outcome: dict[str, int] = field(default_factory=dict)
    runs_by_state: dict[str, int] = field(default_factory=dict)
    error_findings: dict[tuple[str, str], int] = field(default_factory=dict)
    parity: dict[str, float] = field(default_factory=dict)
    criteria: dict[str, float] = field(default_factory=dict)
    ratios: list[float] = field(default_factory=list)
    agent_ratios: dict[str, list[float]] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    verdict: str | None = None
    verdict_since: float | None = None
    agent_verdicts: dict[str, str] = field(default_factory=dict)
    agent_pairs: dict[tuple[str, str], int] = field(default_factory=dict)
    agent_errors: dict[tuple[str, str], int] = field(default_factory=dict)
    schedule_missed: dict[tuple[str, str], int] = field(default_factory=dict)
    schedule_expected: dict[str, int] = field(default_factory=dict)
    evidence_pairs: int = 0
    evidence_days: float = 0.0
    objects_listed: int = 0


def agent_labels(
    pairs_by_agent: dict[str, int], allow: Sequence[str], top_k: int
) -> dict[str, str]:
    """Map each agent to its label value: itself if allowed (or top K by pairs), else `other`."""
    if allow:
        keep = set(allow)
    else:
        ranked = sorted(pairs_by_agent.items(), key=lambda kv: (-kv[1], kv[0]))
        keep = {a for a, _ in ranked[:top_k]}
    return {a: (a if a in keep else OTHER) for a in pairs_by_agent}


def snapshot_of(
    summary: CycleSummary,
    listed: int,
    *,
    allow_agents: Sequence[str],
    top_k: int,
    schedule_window: float,
) -> Snapshot:
    """The current-state figures of a cycle that judged: `listed` objects, agents labelled by
    `agent_labels`, schedule misses counted within `schedule_window` seconds."""
    assert summary.head is not None and summary.judgement is not None
    report, j = summary.head, summary.judgement
    since = report.readiness.since
    snap = Snapshot(
        objects_listed=listed,
        verdict=report.readiness.verdict.value,
        verdict_since=since.timestamp() if since else summary.finished,
    )
    sides: Tally[str] = Tally()
    for pair in j.pairs.values():
        sides.update(r.side.value for r in (pair.primary, pair.candidate) if r is not None)
    snap.runs_by_side = {side.value: sides.get(side.value, 0) for side in Side}
    snap.pairs_by_outcome = {o.value: 0 for o in Outcome}
    snap.runs_by_state = {st.value: 0 for st in PairState}
    snap.error_findings = {(d.value, w): 0 for d in Dimension for w in ("true", "false")}
    pairs_by_agent: Tally[str] = Tally()
    for r in j.results:
        snap.pairs_by_outcome[r.outcome.value] += 1
        snap.runs_by_state[r.state.value] += 1
        pairs_by_agent[r.agent] += r.state is PairState.PAIRED
        for f in r.findings:
            if f.severity is Severity.ERROR:
                key = (f.dimension.value, "true" if f.waived_by else "false")
                snap.error_findings[key] += 1
    labels = agent_labels(dict(pairs_by_agent), allow_agents, top_k)
    for label in set(labels.values()):
        for o in Outcome:
            snap.agent_pairs[(label, o.value)] = 0
        for d in Dimension:
            snap.agent_errors[(label, d.value)] = 0
    for r in j.results:
        label = labels[r.agent]
        snap.agent_pairs[(label, r.outcome.value)] += 1
        for f in r.findings:
            if f.blocking:
                snap.agent_errors[(label, f.dimension.value)] += 1
    for r in j.results:
        if r.duration_ratio is not None:
            snap.ratios.append(r.duration_ratio)
            snap.agent_ratios.setdefault(labels[r.agent], []).append(r.duration_ratio)
    for c in report.readiness.criteria:
        snap.criteria[c.name] = 1.0 if c.passed else 0.0
        if c.name in ("status", "steps", "retries") and c.measured is not None:
            snap.parity[c.name] = c.measured
    snap.rejected = {reason.value: 0 for reason in RejectReason}
    for rej in report.rejected:
        snap.rejected[rej.reason] = snap.rejected.get(rej.reason, 0) + 1
    worst: dict[str, str] = {}
    order = {
        Verdict.NOT_READY.value: 0,
        Verdict.INSUFFICIENT_DATA.value: 1,
        Verdict.READY.value: 2,
    }
    for st in report.readiness.strata:
        label = labels.get(st.agent_slug, OTHER)
        if label not in worst or order[st.verdict.value] < order[worst[label]]:
            worst[label] = st.verdict.value
    snap.agent_verdicts = worst
    recent = report.generated_at.timestamp() - schedule_window
    for check in j.schedule_checks:
        snap.schedule_expected[check.stratum] = snap.schedule_expected.get(check.stratum, 0) + 1
        for side in Side:
            key = (check.stratum, side.value)
            missed = check.missed_on(side) and check.expected_at >= recent
            snap.schedule_missed[key] = snap.schedule_missed.get(key, 0) + missed
    ev = next((c for c in report.readiness.criteria if c.name == "evidence"), None)
    snap.evidence_pairs = int(ev.measured or 0) if ev else 0
    snap.evidence_days = report.readiness.evidence_days
    return snap


class SnapshotOwner(Protocol):
    """What the collector reads at scrape time (`metrics.ShadowMetrics` holds it)."""

    snapshot: Snapshot
    parity_thresholds: dict[str, float]
    timing_threshold: float
    scan_interval_seconds: float


class SnapshotCollector(PromCollector):
    """Serves the gauges at scrape time from the owner's snapshot and configured thresholds."""

    def __init__(self, owner: SnapshotOwner) -> None:
        self.owner = owner

    def collect(self) -> Iterable[Metric]:
        o = self.owner
        s = o.snapshot
        state = s.runs_by_state
        gauges: list[tuple[str, str, list[str], Mapping[Any, float] | Mapping[Any, int]]] = [
            ("shadow_runs_observed", "Runs currently known, by side.", ["side"], s.runs_by_side),
            ("shadow_pairs", "Pairing keys by outcome.", ["outcome"], s.pairs_by_outcome),
            ("shadow_runs_by_state", "Pairing keys by pairing state.", ["state"], state),
            (
                "shadow_lost_runs",
                "Primary runs without a dry-run twin past the grace period.",
                [],
                {(): state.get("primary_only", 0)},
            ),
            (
                "shadow_orphan_runs",
                "Dry-run twins without a primary.",
                [],
                {(): state.get("candidate_only", 0)},
            ),
            (
                "shadow_stuck_runs",
                "Runs non-terminal past the run timeout plus grace.",
                [],
                {(): state.get("stuck", 0)},
            ),
            (
                "shadow_error_findings",
                "Error-severity findings, by dimension and whether waived.",
                ["dimension", "waived"],
                s.error_findings,
            ),
            (
                "shadow_parity_ratio",
                "Share of judged pairs that agree, by dimension.",
                ["dimension"],
                s.parity,
            ),
            (
                "shadow_parity_threshold_ratio",
                "The readiness threshold of each parity dimension.",
                ["dimension"],
                o.parity_thresholds,
            ),
            (
                "shadow_timing_threshold_ratio",
                "The readiness tolerance of the p95 duration ratio (dry run / primary).",
                [],
                {(): o.timing_threshold},
            ),
            (
                "shadow_criterion_passed",
                "1 when a readiness criterion passes.",
                ["criterion"],
                s.criteria,
            ),
            (
                "shadow_rejected_objects",
                "Objects rejected as bad input, by reason.",
                ["reason"],
                s.rejected,
            ),
            (
                "shadow_readiness_verdict",
                "1 for the current cutover verdict, 0 for the others.",
                ["verdict"],
                {v.value: float(s.verdict == v.value) for v in Verdict} if s.verdict else {},
            ),
            (
                "shadow_readiness_verdict_since_timestamp_seconds",
                "When the current verdict was first reached.",
                [],
                {(): s.verdict_since} if s.verdict_since is not None else {},
            ),
            (
                "shadow_agent_readiness_verdict",
                "1 for each agent's current verdict.",
                ["agent", "verdict"],
                {
                    (a, v.value): float(s.agent_verdicts[a] == v.value)
                    for a in s.agent_verdicts
                    for v in Verdict
                },
            ),
            (
                "shadow_agent_pairs",
                "Pairing keys per agent (top K or allow-listed, else other) by outcome.",
                ["agent", "outcome"],
                s.agent_pairs,
            ),
            (
                "shadow_agent_error_findings",
                "Unwaived error findings per agent by dimension.",
                ["agent", "dimension"],
                s.agent_errors,
            ),
            (
                "shadow_schedule_missed_runs",
                "Expected scheduled runs missing past their tolerance within the alert window, by side.",
                ["stratum", "side"],
                s.schedule_missed,
            ),
            (
                "shadow_schedule_expected_runs",
                "Scheduled runs expected in the evidence window.",
                ["stratum"],
                s.schedule_expected,
            ),
            (
                "shadow_evidence_pairs",
                "Compared pairs counted as readiness evidence.",
                [],
                {(): s.evidence_pairs},
            ),
            (
                "shadow_evidence_span_seconds",
                "Span of primary run starts in the evidence.",
                [],
                {(): s.evidence_days * 86400},
            ),
            (
                "shadow_objects_listed",
                "Objects listed by the last scan (every object on a reconcile; between them, "
                "those of the run directories that can still change).",
                [],
                {(): s.objects_listed},
            ),
            (
                "shadow_scan_interval_seconds",
                "Configured time between scans.",
                [],
                {(): o.scan_interval_seconds},
            ),
        ]
        for name, doc, labels, values in gauges:
            yield _gauge(name, doc, labels, values)
        for q in (50, 95):
            yield _quantile(
                f"shadow_duration_p{q}_ratio",
                f"p{q} of paired duration ratios (dry run / primary, mocked steps excluded).",
                {(): s.ratios},
                q / 100,
            )
            yield _quantile(
                f"shadow_agent_duration_p{q}_ratio",
                f"p{q} of paired duration ratios per agent.",
                {(a,): v for a, v in s.agent_ratios.items()},
                q / 100,
                ["agent"],
            )
        yield _ratio_histogram(s.ratios)


def _gauge(
    name: str,
    doc: str,
    labels: list[str],
    values: Mapping[Any, float] | Mapping[Any, int],
) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc, labels=labels)
    for key, value in sorted(values.items()):
        label_values = list(key) if isinstance(key, tuple) else [key]
        g.add_metric(label_values, float(value))
    return g


def _quantile(
    name: str,
    doc: str,
    groups: dict[tuple[str, ...], list[float]],
    q: float,
    labels: Sequence[str] = (),
) -> GaugeMetricFamily:
    # Separate gauges per quantile: a `quantile` label is reserved for summaries.
    g = GaugeMetricFamily(name, doc, labels=list(labels))
    for key, values in sorted(groups.items()):
        value = ratio_quantile(values, q)
        if value is not None:
            g.add_metric(list(key), value)
    return g


def _ratio_histogram(ratios: list[float]) -> GaugeHistogramMetricFamily:
    buckets = []
    for le in RATIO_BUCKETS:
        buckets.append((str(le), float(sum(1 for r in ratios if r <= le))))
    buckets.append(("+Inf", float(len(ratios))))
    return GaugeHistogramMetricFamily(
        "shadow_pair_duration_ratio",
        "Distribution of paired duration ratios (dry run / primary).",
        buckets=buckets,
        gsum_value=float(sum(ratios)),
    )
