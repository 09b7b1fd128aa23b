"""Getters: how the profile language reads one value out of a vendor's JSON documents. Pure.

A getter is written one of three ways (docs/profiles.md, "The profile language"):
- a path: `a.b.c` walks object keys, `name[3]` and `name[-1]` index an array (negative from
  the end), and `@trace:` at the start reads another document of the run;
- a table: `path` plus optional `regex` (one named group, or the whole match), a predicate
  (`equals`, `matches`, `contains`), a constant `value` (yielded when the path is present and
  the predicate holds; alone, a constant), a value `map` and a `time` format;
- a list of those: the first branch that is not absent wins (ordered fallbacks).

Absent is not an error: a missing key, `null`, a wrong type, an index out of range, a false
predicate or a regex that does not match. Evaluation never raises on data; configuration errors
are raised once, when the profile is validated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, JsonValue, model_validator

from shadow.core.records import EARLIEST, LATEST

TimeFormat = Literal["iso", "epoch_ms", "epoch_s"]
Scalar = bool | int | float | str


class _Absent:
    """The one value meaning "the getter found nothing"."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Final = _Absent()


@dataclass(frozen=True, slots=True)
class Unmapped:
    """A present value that a closed map (a state's) does not list: not understood."""

    raw: Any


class GetterTable(BaseModel):
    """One branch of a getter, as written in the config (an inline table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str | None = None
    regex: str | None = None
    equals: Scalar | None = None
    matches: str | None = None
    contains: Scalar | None = None
    value: JsonValue = None
    map: dict[str, JsonValue] | None = None
    time: TimeFormat | None = None

    @model_validator(mode="after")
    def _coherent(self) -> GetterTable:
        given = self.model_fields_set
        if self.path is None and "value" not in given:
            raise ValueError("a getter table needs a `path`, or a constant `value`")
        if self.path is not None:
            parse_path(self.path)
        predicates = [k for k in ("equals", "matches", "contains") if k in given]
        if len(predicates) > 1:
            raise ValueError(f"one predicate per branch, got {', '.join(predicates)}")
        if self.path is None and (predicates or self.regex or self.map):
            raise ValueError("a constant `value` without `path` takes no predicate, regex or map")
        for name in ("regex", "matches"):
            text = getattr(self, name)
            if text is not None:
                try:
                    pattern = re.compile(text)
                except re.error as exc:
                    raise ValueError(
                        f"{name} {text!r} is not a regular expression: {exc}"
                    ) from None
                if name == "regex" and len(pattern.groupindex) > 1:
                    raise ValueError(f"regex {text!r} must have at most one named group")
        return self


GetterSpec = str | GetterTable | list[str | GetterTable]

PathStep = str | int


def parse_path(text: str) -> tuple[str | None, tuple[PathStep, ...]]:
    """(document name or None, steps) of `@doc:a.b[0][-1].c`; ValueError when malformed."""
    doc: str | None = None
    rest = text
    if rest.startswith("@"):
        doc, sep, rest = rest[1:].partition(":")
        if not sep or not doc:
            raise ValueError(f"path {text!r}: write another document as @NAME:path")
        if not rest:
            return doc, ()
    steps: list[PathStep] = []
    for part in rest.split("."):
        match = _SEGMENT.fullmatch(part)
        if match is None or (not match.group(1) and not match.group(2)):
            raise ValueError(
                f"path {text!r}: segment {part!r} is not `key`, `key[n]` or `[n]` (n may be negative)"
            )
        if match.group(1):
            steps.append(match.group(1))
        steps.extend(int(i) for i in _INDEX.findall(match.group(2)))
    return doc, tuple(steps)


_SEGMENT = re.compile(r"([^.\[\]@]*)((?:\[-?\d{1,9}\])*)")
_INDEX = re.compile(r"\[(-?\d+)\]")


@dataclass(frozen=True, slots=True)
class Branch:
    """A getter branch compiled once: evaluation does no parsing."""

    label: str  # the branch as written, for `shadow profile check`
    has_path: bool
    doc: str | None
    steps: tuple[PathStep, ...]
    regex: re.Pattern[str] | None
    group: str | int
    equals: Any
    matches: re.Pattern[str] | None
    contains: Any
    value: Any  # ABSENT when not given
    mapping: Mapping[str, Any] | None
    time: TimeFormat | None


Getter = tuple[Branch, ...]
NO_GETTER: Final[Getter] = ()


def compile_getter(spec: GetterSpec | None) -> Getter:
    if spec is None:
        return NO_GETTER
    items = spec if isinstance(spec, list) else [spec]
    return tuple(_branch(GetterTable(path=i) if isinstance(i, str) else i) for i in items)


def _branch(t: GetterTable) -> Branch:
    doc, steps = parse_path(t.path) if t.path is not None else (None, ())
    regex = re.compile(t.regex) if t.regex is not None else None
    group: str | int = next(iter(regex.groupindex), 0) if regex is not None else 0
    given = t.model_fields_set
    return Branch(
        label=_label(t),
        has_path=t.path is not None,
        doc=doc,
        steps=steps,
        regex=regex,
        group=group,
        equals=t.equals if "equals" in given else ABSENT,
        matches=re.compile(t.matches) if t.matches is not None else None,
        contains=t.contains if "contains" in given else ABSENT,
        value=t.value if "value" in given else ABSENT,
        mapping=t.map,
        time=t.time,
    )


def _label(t: GetterTable) -> str:
    if t.model_fields_set == {"path"}:
        return repr(t.path)
    parts = []
    for k in type(t).model_fields:
        if k not in t.model_fields_set:
            continue
        v = getattr(t, k)
        shown = (
            f"{{{len(v)} words}}" if k == "map" and isinstance(v, dict) and len(v) > 3 else repr(v)
        )
        parts.append(f"{k} = {shown}")
    return "{ " + ", ".join(parts) + " }"


def walk(node: Any, steps: tuple[PathStep, ...]) -> Any:
    """The value at `steps` below `node`, or ABSENT (a miss, null or a wrong type anywhere)."""
    for step in steps:
        if isinstance(step, str):
            if not isinstance(node, dict):
                return ABSENT
            node = node.get(step)
        else:
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                return ABSENT
            node = node[step]
        if node is None:
            return ABSENT
    return node


def as_key(value: Any) -> str:
    """A raw value as a map key: JSON spelling for booleans, decimal for numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def same(a: Any, b: Any) -> bool:
    """JSON equality: `true` is not `1`, `1` is `1.0`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    return bool(a == b)


Docs = Mapping[str, Any]


def evaluate(
    getter: Getter, node: Any, docs: Docs, *, closed: bool = False
) -> tuple[Any, Branch | None, Any]:
    """(value, the branch that gave it, the raw value it read): the first branch not absent.

    `closed`: a branch's map must list every present value; one it does not list yields
    `Unmapped(raw)` and stops the fallbacks (a state word not understood is not guessed at).
    """
    for branch in getter:
        value, raw = _one(branch, node, docs, closed)
        if value is not ABSENT:
            return value, branch, raw
    return ABSENT, None, ABSENT


def _one(b: Branch, node: Any, docs: Docs, closed: bool) -> tuple[Any, Any]:
    if not b.has_path:
        return b.value, ABSENT
    base = docs.get(b.doc, ABSENT) if b.doc is not None else node
    raw = walk(base, b.steps) if base is not ABSENT else ABSENT
    if raw is ABSENT:
        return ABSENT, ABSENT
    value = raw
    if b.regex is not None:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return ABSENT, raw
        found = b.regex.search(as_key(value))
        if found is None or found.group(b.group) is None:
            return ABSENT, raw
        value = found.group(b.group)
    if b.equals is not ABSENT and not same(value, b.equals):
        return ABSENT, raw
    if b.matches is not None and not (isinstance(value, str) and b.matches.search(value)):
        return ABSENT, raw
    if b.contains is not ABSENT and not (
        isinstance(value, list) and any(same(v, b.contains) for v in value)
    ):
        return ABSENT, raw
    if b.value is not ABSENT:
        return b.value, raw
    if b.mapping is not None:
        if isinstance(value, dict | list):
            return (Unmapped(value) if closed else ABSENT), raw
        key = as_key(value)
        if key in b.mapping:
            return b.mapping[key], raw
        if closed:
            return Unmapped(value), raw
    return value, raw


# --- values as the canonical fields need them ------------------------------------------------

# The range the garden's records accept (shadow/core/records.py): the Unix epoch to 2200 UTC.
_MIN_EPOCH_S: Final = EARLIEST.timestamp()
_MAX_EPOCH_S: Final = LATEST.timestamp()


class BadValue(ValueError):
    """A present value of the wrong kind for its field (a schema violation of the record)."""


def to_epoch(value: Any, fmt: TimeFormat) -> float:
    """Seconds since the epoch: ISO 8601 with 0-9 fractional digits and `Z` or an offset (naive
    is UTC), or epoch milliseconds / seconds as numbers or decimal strings."""
    if fmt == "iso":
        if not isinstance(value, str):
            raise BadValue(f"expected an ISO-8601 time, got {_short(value)}")
        try:
            at = datetime.fromisoformat(value)
            seconds = (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
        except (ValueError, OverflowError):
            raise BadValue(f"not an ISO-8601 time in range: {_short(value)}") from None
    else:
        number = to_number(value)
        seconds = number / 1000 if fmt == "epoch_ms" else number
    if not _MIN_EPOCH_S <= seconds < _MAX_EPOCH_S:
        raise BadValue(f"time {_short(value)} is outside 1970-01-01 to 2200-01-01 (UTC)")
    return float(seconds)


def to_number(value: Any) -> float | int:
    """A JSON number or a decimal string (protojson writes 64-bit integers as strings)."""
    if isinstance(value, bool):
        raise BadValue(f"expected a number, got {_short(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadValue(f"expected a finite number, got {_short(value)}")
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        text = value.strip()
        return int(text) if _INTEGER.fullmatch(text) else float(text)
    raise BadValue(f"expected a number, got {_short(value)}")


def to_int(value: Any) -> int:
    number = to_number(value)
    if isinstance(number, float):
        if not number.is_integer():
            raise BadValue(f"expected a whole number, got {_short(value)}")
        return int(number)
    return number


def to_text(value: Any) -> str:
    """Ids, links, codes and strata are compared as strings (`618204117` is `"618204117"`)."""
    if isinstance(value, dict | list):
        raise BadValue(f"expected a string or a number, got {_short(value)}")
    return as_key(value)


_DECIMAL = re.compile(r"-?\d{1,30}(\.\d{1,30})?([eE][-+]?\d{1,3})?")
_INTEGER = re.compile(r"-?\d{1,30}")


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
