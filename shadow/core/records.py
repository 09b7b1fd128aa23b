"""The storage contract as typed records, and parsing raw bytes into them.

Invariants: parsing never raises on bad data. Every object becomes either a record or a
`Rejected` with a closed reason (spec run-records.md section 8). Unknown top-level fields are
kept in `extra` and named in `unknown_fields`; they are never compared.

What is accepted is bounded here, so nothing downstream meets a value it cannot handle: a
document is standard JSON (RFC 8259: no NaN or Infinity, no number beyond a double, no lone
surrogate, no repeated member name), every integer field holds a signed 64-bit value, and every
time lies between the Unix epoch and the year 2200 once converted to UTC.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, TypeVar

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
    TOO_MANY_STEPS = "too_many_steps"


class Rejected(BaseModel):
    """An object shadow could not accept; counted, stored and listed in the report."""

    model_config = ConfigDict(frozen=True)

    key: str
    reason: RejectReason
    detail: str


R = TypeVar("R", bound="_Record")

# What an integer field may hold: a signed 64-bit value, as orjson, SQLite and the orchestrators'
# encoders carry. Beyond it a count or a duration is no measurement, and arithmetic on it
# (a duration ratio, a sum of steps as a float) overflows.
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
Int64 = Annotated[StrictInt, Field(ge=INT64_MIN, le=INT64_MAX)]
# Times a run record may carry, in UTC. A run never ran before the Unix epoch (a year-1 time is a
# Go zero value or a bug), and the upper bound leaves centuries of headroom below `datetime`'s
# year 9999, so adding a timeout, a grace period or a schedule tolerance never overflows.
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2200, 1, 1, tzinfo=UTC)


def _utc(value: datetime | None) -> datetime | None:
    """The time in UTC, or a ValueError (a schema violation) when it is out of range.

    `astimezone` raises OverflowError on 9999-12-31T23:59:59-14:00 and 0001-01-01T00:00:00+14:00
    (they leave `datetime`'s range in UTC); pydantic passes that through as a crash, not as a
    validation error, so it is translated here.
    """
    if value is None:
        return None
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is out of range in UTC") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(
            f"{value.isoformat()} is outside {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} (UTC)"
        )
    return utc


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
    steps_total: Int64 | None = None
    steps_completed: Int64 = 0
    proposals_created: list[StrictStr] = Field(default_factory=list)
    error: StrictStr | None = None
    queue_position: Int64 | None = None
    idempotency_key: StrictStr | Int64 | None = None

    _utc_times = field_validator("started_at", "finished_at")(_utc)


class StepRecord(_Record):
    step_number: Int64 | None = Field(default=None, ge=1)
    step_name: StrictStr | None = None
    status: StepState
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # A float too: non-finite values never get here (parse_json refuses them).
    duration_ms: StrictInt | float | None = Field(default=None, ge=0, le=INT64_MAX)
    output_summary: StrictStr | None = None
    error: StrictStr | None = None

    _utc_times = field_validator("started_at", "finished_at")(_utc)


class RetryEntry(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    attempts: Int64 | None = None
    last_error: StrictStr | None = None
    recovered: StrictBool


class ManifestRecord(_Record):
    status: RunState | None = None
    trigger: StrictStr | None = None
    steps_count: Int64 | None = None
    # An integer count by contract; a list of ids is tolerated and counted.
    proposals_created: Int64 | list[StrictStr] = 0
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


class NonStandardJSON(ValueError):
    """Valid to Python's lenient parser, not to RFC 8259: rejected as `invalid_json`."""


def parse_json(body: bytes) -> Any:
    """Standard JSON only; raises ValueError (NonStandardJSON for what a lenient parser would
    take) or RecursionError.

    orjson for speed (a scan parses every object); the standard library where orjson refuses, for
    what it still reads correctly (a UTF-16 document, an integer beyond 64 bits, which the schema
    then bounds). Both refuse the same things: NaN and Infinity, a number that is infinite as a
    double (1e400), a lone surrogate escape (not Unicode: it cannot be stored, logged or served
    as UTF-8), and a member name repeated in one object (orjson and the standard library both
    keep the last value silently; which one the writer meant is unknowable).
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _lenient_but_checked(body)
    # orjson refuses NaN, Infinity, lone surrogates and non-finite numbers, but keeps the last of
    # repeated names. Re-serializing writes one ':' per member plus the colons inside strings;
    # the source has at least those, and more exactly when a member was dropped. A `\u003a`
    # escape writes a colon the source lacks, so that rare document takes the checked path.
    if body.count(b":") != orjson.dumps(doc).count(b":") or b"\\u003" in body:
        return _lenient_but_checked(body)
    return doc


def _lenient_but_checked(body: bytes) -> Any:
    doc = json.loads(
        body, parse_constant=_no_constant, parse_float=_finite, object_pairs_hook=_unique_names
    )
    _no_lone_surrogates(doc)
    return doc


def _no_constant(name: str) -> Any:
    raise NonStandardJSON(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonStandardJSON(f"number {_short(text, 40)} is beyond a double")
    return value


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise NonStandardJSON(f"member name {_shown(name)} repeated in one object")
            seen.add(name)
    return doc


def _no_lone_surrogates(doc: Any) -> None:
    """Walk a document (only ones orjson refused: rare) for text that is not Unicode."""
    stack = [doc]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise NonStandardJSON(
                    f"string {_shown(value)} holds a lone surrogate (not Unicode text)"
                ) from None


def _shown(text: str) -> str:
    """A value for a message: escaped (ASCII, so a lone surrogate prints), and short."""
    return _short(ascii(text), 60)


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
