"""Finding: the shared vocabulary of every comparator, store row, metric label and report entry.

Invariants: dimension, kind and severity are closed enums, so metric labels stay bounded and
consumers can switch on them. A finding never carries raw DeepDiff output.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, JsonValue

_INDEX = re.compile(r"\[\d+\]")


class Dimension(StrEnum):
    STATUS = "status"
    STEPS = "steps"
    RETRIES = "retries"
    TIMING = "timing"
    COMPLETENESS = "completeness"
    CONCURRENCY = "concurrency"
    SIDE_EFFECTS = "side_effects"
    INPUT = "input"


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Kind(StrEnum):
    # status
    TERMINAL_STATE_DIFFERS = "terminal_state_differs"
    ERROR_CODE_DIFFERS = "error_code_differs"
    TRANSITION_ORDER_DIFFERS = "transition_order_differs"
    FORBIDDEN_TRANSITION = "forbidden_transition"
    # steps
    STEP_MISSING = "step_missing"
    STEP_EXTRA = "step_extra"
    STEP_MERGED = "step_merged"
    STEP_SPLIT = "step_split"
    STEP_REORDERED = "step_reordered"
    STEP_STATUS_DIFFERS = "step_status_differs"
    STEP_ERROR_DIFFERS = "step_error_differs"
    # retries
    RETRY_MISSING = "retry_missing"
    RETRY_EXTRA = "retry_extra"
    RETRY_OUTCOME_DIFFERS = "retry_outcome_differs"
    RETRY_ERROR_DIFFERS = "retry_error_differs"
    RETRY_ATTEMPTS_DIFFER = "retry_attempts_differ"
    # timing
    RUN_SLOWER = "run_slower"
    STEP_SLOWER = "step_slower"
    # completeness
    LOST_RUN = "lost_run"
    ORPHAN_RUN = "orphan_run"
    STUCK_RUN = "stuck_run"
    MISSED_SCHEDULE = "missed_schedule"
    DUPLICATE_RUN = "duplicate_run"
    # concurrency
    OVERLAP = "overlap"
    QUEUE_BYPASSED = "queue_bypassed"
    # side effects
    PROPOSALS_CREATED = "proposals_created"
    PROPOSAL_OUTPUT = "proposal_output"
    VENDOR_FIELD_LEAK = "vendor_field_leak"
    # input (rejection reasons are kinds too, see records.RejectReason)
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    SCHEMA_VIOLATION = "schema_violation"
    UNKNOWN_STATUS = "unknown_status"
    TOO_LARGE = "too_large"
    STEP_WITHOUT_NUMBER = "step_without_number"
    RUN_ID_MISMATCH = "run_id_mismatch"
    STEP_IDENTITY_MISMATCH = "step_identity_mismatch"
    TOO_MANY_STEPS = "too_many_steps"
    UNKNOWN_FIELD = "unknown_field"
    STATUS_MANIFEST_CONFLICT = "status_manifest_conflict"
    STEPS_COMPLETED_EXCEEDS_FILES = "steps_completed_exceeds_files"
    MISSING_STATUS = "missing_status"
    # any dimension: findings of one kind beyond `max_findings_per_run`, counted in one
    MORE_FINDINGS = "more_findings"
    # evidence (steps, retries): a side's records do not show the dimension, so it is not judged
    NOT_SEEN = "not_seen"
    # completeness: a scheduled run whose slot is no fire time of its schedule
    OFF_SCHEDULE = "off_schedule"


class Finding(BaseModel):
    """One difference (or one bad input) attached to a pairing key."""

    model_config = ConfigDict(frozen=True)

    dimension: Dimension
    kind: Kind
    severity: Severity
    path: str
    primary: JsonValue = None
    candidate: JsonValue = None
    message: str
    subject: str | None = None  # what the finding is about (a step, a field): clusters group on it
    waived_by: str | None = None
    expired_waiver: str | None = None

    @property
    def blocking(self) -> bool:
        """An unwaived error blocks readiness; warnings and info never do."""
        return self.severity is Severity.ERROR and self.waived_by is None

    @property
    def signature(self) -> str:
        """Cluster key: what went wrong and where, without run-specific values."""
        tail = self.subject if self.subject is not None else _INDEX.sub("[]", self.path)
        return "/".join(x for x in (self.dimension.value, self.kind.value, tail) if x)


# Order in which dimensions are walked when looking for a pair's first divergence.
DIMENSION_ORDER: tuple[Dimension, ...] = tuple(Dimension)
