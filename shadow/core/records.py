"""The storage contract as typed records, and parsing raw bytes into them.

Invariants: parsing never raises on bad data. Every object becomes either a record or a
`Rejected` with a closed reason (spec run-records.md section 8). Unknown top-level fields are
kept in `extra` and named in `unknown_fields`; they are never compared.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, TypeVar

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from shadow.core.vocabulary import MANIFEST_FIELDS, STATUS_FIELDS, STEP_FIELDS, RunState, StepState

DEFAULT_MAX_BYTES: Final = 1024 * 1024


class RejectReason(StrEnum):
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    SCHEMA_VIOLATION = "schema_violation"
    UNKNOWN_STATUS = "unknown_status"
    TOO_LARGE = "too_large"
    STEP_WITHOUT_NUMBER = "step_without_number"
    RUN_ID_MISMATCH = "run_id_mismatch"
    STEP_IDENTITY_MISMATCH = "step_identity_mismatch"


class Rejected(BaseModel):
    """An object shadow could not accept; counted, stored and listed in the report."""

    model_config = ConfigDict(frozen=True)

    key: str
    reason: RejectReason
    detail: str


R = TypeVar("R", bound="_Record")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    orchestrator_meta: JsonValue = Field(default=None, alias="_orchestrator_meta")

    @property
    def unknown_fields(self) -> frozenset[str]:
        """Extra top-level fields the contract does not name (known-but-ignored ones excluded)."""
        if not self.model_extra:  # the common case, on the hot path of every scan
            return frozenset()
        return frozenset(self.model_extra) - KNOWN_FIELDS[type(self)]


class StatusRecord(_Record):
    run_id: StrictStr
    agent_slug: StrictStr | None = None
    status: RunState
    trigger: StrictStr | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    current_step: StrictStr | None = None
    steps_total: StrictInt | None = None
    steps_completed: StrictInt = 0
    proposals_created: list[StrictStr] = Field(default_factory=list)
    error: StrictStr | None = None
    queue_position: StrictInt | None = None
    idempotency_key: StrictStr | StrictInt | None = None

    _utc_times = field_validator("started_at", "finished_at")(_utc)


class StepRecord(_Record):
    step_number: StrictInt | None = Field(default=None, ge=1)
    step_name: StrictStr | None = None
    status: StepState
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: StrictInt | float | None = Field(default=None, ge=0)
    output_summary: StrictStr | None = None
    error: StrictStr | None = None

    _utc_times = field_validator("started_at", "finished_at")(_utc)


class RetryEntry(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    attempts: StrictInt | None = None
    last_error: StrictStr | None = None
    recovered: StrictBool


class ManifestRecord(_Record):
    status: RunState | None = None
    trigger: StrictStr | None = None
    steps_count: StrictInt | None = None
    # An integer count by contract; a list of ids is tolerated and counted.
    proposals_created: StrictInt | list[StrictStr] = 0
    error: StrictStr | None = None
    retries: dict[str, RetryEntry] | None = None

    @property
    def proposal_count(self) -> int:
        value = self.proposals_created
        return len(value) if isinstance(value, list) else value


# Field names each record type knows, so unknown ones can be reported (spec section 3).
KNOWN_FIELDS: Final[dict[type[_Record], frozenset[str]]] = {
    StatusRecord: STATUS_FIELDS,
    StepRecord: STEP_FIELDS,
    ManifestRecord: MANIFEST_FIELDS,
}

_STATUS_FIELD_BY_TYPE: Final[dict[type[_Record], str]] = {
    StatusRecord: "status",
    StepRecord: "status",
    ManifestRecord: "status",
}


def parse_json(body: bytes) -> Any:
    """orjson for speed (a scan parses every object); the standard library where orjson refuses,
    so what is accepted (NaN, a UTF-16 document, an integer beyond 64 bits) and how it reads is
    exactly what the standard library would do. Raises ValueError or RecursionError."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def load_object(key: str, body: bytes, max_bytes: int) -> dict[str, Any] | Rejected:
    """Decode bytes into a JSON object, or say why not."""
    if len(body) > max_bytes:
        return Rejected(
            key=key, reason=RejectReason.TOO_LARGE, detail=f"{len(body)} bytes > {max_bytes}"
        )
    try:
        doc = parse_json(body)
    except (ValueError, RecursionError) as exc:
        return Rejected(key=key, reason=RejectReason.INVALID_JSON, detail=_short(str(exc)))
    if not isinstance(doc, dict):
        return Rejected(
            key=key, reason=RejectReason.NOT_AN_OBJECT, detail=f"top level is {type(doc).__name__}"
        )
    return doc


def validate(key: str, doc: dict[str, Any], model: type[R]) -> R | Rejected:
    """Validate a decoded object against one record type."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        reason = RejectReason.SCHEMA_VIOLATION
        status_field = _STATUS_FIELD_BY_TYPE[model]
        for err in exc.errors():
            if err["loc"] == (status_field,) and err["type"] == "enum":
                reason = RejectReason.UNKNOWN_STATUS
        return Rejected(key=key, reason=reason, detail=_short(_describe(exc)))


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        got = repr(err.get("input"))
        parts.append(f"{loc}: {err['msg']} (got {_short(got, 60)})")
    return "; ".join(parts)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
