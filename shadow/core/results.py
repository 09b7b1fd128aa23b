"""Judged results: one entry per pairing key, the unit the verdict and the report count."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from shadow.core.findings import Dimension, Finding, Severity
from shadow.core.pairing import PairState


class Outcome(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    WAIVED = "waived"
    PENDING = "pending"


_NONE: frozenset[Dimension] = frozenset()


@dataclass(frozen=True, slots=True)
class PairResult:
    key: str
    agent: str
    state: PairState
    outcome: Outcome
    findings: tuple[Finding, ...]
    start: float | None  # the primary's start (epoch s), for the evidence window
    duration_ratio: float | None  # candidate / primary end to end, mocked steps excluded
    has_retries: bool
    candidate_ms: float | None = None  # the dry run's end-to-end time, for latency SLOs
    # Dimensions a side's records did not show (declarative profiles): no evidence either way.
    unseen: frozenset[Dimension] = frozenset()
    # Computed once: every criterion of every stratum asks it of every result.
    blocking: frozenset[Dimension] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        dims = frozenset(f.dimension for f in self.findings if f.blocking)
        # Most results have none: one shared empty set instead of 216 bytes per result.
        object.__setattr__(self, "blocking", dims or _NONE)
        if not self.unseen:
            object.__setattr__(self, "unseen", _NONE)

    def blocking_in(self, dimension: Dimension) -> bool:
        return dimension in self.blocking


def outcome_of(state: PairState, findings: tuple[Finding, ...]) -> Outcome:
    """report.md: match when no error; waived when every error is waived; pending stays pending."""
    if state is PairState.PENDING:
        return Outcome.PENDING
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if not errors:
        return Outcome.MATCH
    return Outcome.WAIVED if all(f.waived_by for f in errors) else Outcome.MISMATCH
