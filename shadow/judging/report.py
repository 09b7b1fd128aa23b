"""The parity report (spec report.md, schema_version 1) as typed models: the document that
`report --json`, the API and the pages serve, and that `merge` reads back from shards.

Fields may be added, never renamed or removed. Everything here is pure. How a report is built
from a Judgement, or merged from the reports of shards: `reporting.py`.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shadow.core.findings import Finding, Kind, Severity
from shadow.core.pairing import PairState
from shadow.core.results import Outcome, PairResult
from shadow.judging.verdict import Verdict

SCHEMA_VERSION = 1


class StratumCriterionOut(BaseModel):
    """A criterion as one stratum (agent, job type) failed it: its own measured value, threshold,
    examples and extra figures (for timing with an objective: latencies and objectives, in ms)."""

    agent_slug: str
    status: str
    measured: float | None
    threshold: float
    evidence: int
    examples: list[str]
    detail: str
    extra: dict[str, float | None] = Field(default_factory=dict)


class CriterionOut(BaseModel):
    name: str
    passed: bool
    status: str
    measured: float | None
    threshold: float
    evidence: int
    examples: list[str]
    detail: str
    extra: dict[str, float | None] = Field(default_factory=dict)
    # The strata where this criterion fails; any makes the criterion read failed.
    strata: list[StratumCriterionOut] = Field(default_factory=list)


class StratumOut(BaseModel):
    agent_slug: str
    verdict: Verdict
    pairs: int
    failing: list[str] = Field(default_factory=list)


class ReadinessOut(BaseModel):
    verdict: Verdict
    reasons: list[str]
    needs: list[str]
    criteria: list[CriterionOut]
    evidence_days: float
    strata: list[StratumOut]
    since: datetime | None = None
    evidence_mode: dict[str, int] = Field(default_factory=dict)
    summary: str = ""


class Totals(BaseModel):
    runs: int = 0
    paired: int = 0
    matched: int = 0
    mismatched: int = 0
    waived: int = 0
    primary_only: int = 0
    candidate_only: int = 0
    pending: int = 0
    stuck: int = 0
    rejected_objects: int = 0


class RunOut(BaseModel):
    run_id: str
    agent_slug: str
    state: PairState
    outcome: Outcome
    findings: list[Finding]
    duration_ratio: float | None = None
    started_at: float | None = None  # epoch seconds of the primary's start
    candidate_ms: float | None = None
    has_retries: bool = False

    @classmethod
    def of(cls, r: PairResult) -> RunOut:
        # Built from an already typed result, once per pair per cycle: validation adds nothing.
        return cls.model_construct(
            run_id=r.key,
            agent_slug=r.agent,
            state=r.state,
            outcome=r.outcome,
            findings=list(r.findings),
            duration_ratio=r.duration_ratio,
            started_at=r.start,
            candidate_ms=r.candidate_ms,
            has_retries=r.has_retries,
            # Every field is given, so every RunOut has this same set: one shared copy instead
            # of a set per pair (pydantic only ever adds field names to it, which are all here).
            _fields_set=_RUN_OUT_FIELDS,
        )

    def as_result(self) -> PairResult:
        """Back to the judged unit, so reports from shards can be merged and re-judged."""
        return PairResult(
            key=self.run_id,
            agent=self.agent_slug,
            state=self.state,
            outcome=self.outcome,
            findings=tuple(self.findings),
            start=self.started_at,
            duration_ratio=self.duration_ratio,
            has_retries=self.has_retries,
            candidate_ms=self.candidate_ms,
            # What the judge knew from the runs survives as the findings that said so.
            unseen=frozenset(f.dimension for f in self.findings if f.kind is Kind.NOT_SEEN),
        )


class RejectedOut(BaseModel):
    key: str
    reason: str
    detail: str


class Cluster(BaseModel):
    signature: str
    count: int
    severity: Severity
    examples: list[str]


class WaiverOut(BaseModel):
    id: str
    dimension: str
    kind: str | None
    agent: str | None
    path: str | None
    owner: str
    reason: str
    expires: str
    active: bool
    findings_covered: int
    findings_no_longer_covered: int


class ScheduleOut(BaseModel):
    stratum: str
    cron: str
    expected: int
    missed_primary: int
    missed_candidate: int


class Report(BaseModel):
    schema_version: int = SCHEMA_VERSION
    generated_at: datetime
    config_hash: str = ""
    readiness: ReadinessOut
    totals: Totals
    runs: list[RunOut]
    rejected: list[RejectedOut]
    clusters: list[Cluster]
    waivers: list[WaiverOut] = Field(default_factory=list)
    unknown_fields: dict[str, int] = Field(default_factory=dict)
    runs_total: int = 0  # len(runs) after filters, before paging
    schedules: list[ScheduleOut] = Field(default_factory=list)
    missed_schedules: list[Finding] = Field(default_factory=list)


_RUN_OUT_FIELDS: set[str] = set(RunOut.model_fields)
