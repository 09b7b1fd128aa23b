"""Side effects: the dry run must create no proposals, write no `output/proposal*`, and
leak no vendor-specific top-level field outside `_orchestrator_meta`."""

from __future__ import annotations

from shadow.comparators.options import CompareOptions
from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.runs import NormalizedRun


def candidate_effects(candidate: NormalizedRun) -> list[Finding]:
    """Violations visible on the dry run alone (used for orphans too)."""
    found = []
    if candidate.proposals:
        found.append(
            Finding(
                dimension=Dimension.SIDE_EFFECTS,
                kind=Kind.PROPOSALS_CREATED,
                severity=Severity.ERROR,
                path="proposals_created",
                primary=None,
                candidate=candidate.proposals,
                message=f"the dry run created {candidate.proposals} proposal(s); it must create none",
            )
        )
    for key in candidate.proposal_outputs:
        found.append(
            Finding(
                dimension=Dimension.SIDE_EFFECTS,
                kind=Kind.PROPOSAL_OUTPUT,
                severity=Severity.ERROR,
                path=key[len(candidate.run_dir) :],
                primary=None,
                candidate=key,
                message=f"the dry run wrote {key}",
            )
        )
    return found


def vendor_leaks(run: NormalizedRun) -> list[Finding]:
    return [
        Finding(
            dimension=Dimension.SIDE_EFFECTS,
            kind=Kind.VENDOR_FIELD_LEAK,
            severity=Severity.ERROR,
            path=name,
            primary=name if run.side.value == "primary" else None,
            candidate=name if run.side.value == "candidate" else None,
            message=f"vendor-specific field {name!r} in the {run.side.value}'s records; "
            "it belongs under _orchestrator_meta",
        )
        for name in sorted(run.vendor_fields)
    ]


def compare(
    primary: NormalizedRun, candidate: NormalizedRun, opts: CompareOptions
) -> list[Finding]:
    return candidate_effects(candidate) + vendor_leaks(candidate) + vendor_leaks(primary)
