"""The profile language's getters: paths into arrays, fallbacks, regex, predicates, maps, times."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from shadow.core.getters import (
    ABSENT,
    BadValue,
    GetterSpec,
    Unmapped,
    compile_getter,
    evaluate,
    parse_path,
    to_epoch,
    to_int,
    to_number,
    to_text,
)

SPEC: TypeAdapter[GetterSpec] = TypeAdapter(GetterSpec)  # type: ignore[arg-type]

DOC = {
    "id": "run_1",
    "trigger": {"eventIds": ["ev_1", "ev_2"]},
    "attempts": [{"error": {"message": "first"}}, {"error": {"message": "last"}}],
    "outcome": "succeeded",
    "count": "3375",
    "flag": True,
    "one": 1,
    "nothing": None,
    "tags": ["primary:run_9", "x"],
    "message": "trigger.dev internal error (MAX_DURATION_EXCEEDED)",
}
TRACE = {"rootSpan": {"children": [{"name": "Attempt 0"}, {"name": "Attempt 1"}]}}


def get(spec: Any, doc: Any = DOC, *, closed: bool = False) -> Any:
    value, _, _ = evaluate(
        compile_getter(SPEC.validate_python(spec)), doc, {"trace": TRACE}, closed=closed
    )
    return value


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("id", "run_1"),
        ("trigger.eventIds[0]", "ev_1"),
        ("trigger.eventIds[-1]", "ev_2"),
        ("attempts[-1].error.message", "last"),
        ("attempts[-2].error.message", "first"),
        ("@trace:rootSpan.children[1].name", "Attempt 1"),
    ],
)
def test_paths_walk_keys_and_array_indexes_from_either_end(path: str, expected: str) -> None:
    """`a.b[0]`, `[-1]` from the end, `@doc:` another document of the run."""
    assert get(path) == expected


@pytest.mark.parametrize(
    "path",
    ["missing", "id.deeper", "trigger.eventIds[2]", "trigger.eventIds[-3]", "nothing", "@other:x"],
)
def test_a_miss_null_wrong_type_or_index_out_of_range_is_absent(path: str) -> None:
    assert get(path) is ABSENT


def test_ordered_fallbacks_take_the_first_branch_not_absent() -> None:
    assert get(["endedAt", "ended_at", "id"]) == "run_1"
    assert get(["missing", {"value": "default"}]) == "default"
    assert get(["missing", "also.missing"]) is ABSENT


def test_a_regex_yields_its_named_group_and_no_match_is_absent() -> None:
    internal = r"^trigger\.dev internal error \((?P<code>[A-Z0-9_]+)\)$"
    assert get({"path": "message", "regex": internal}) == "MAX_DURATION_EXCEEDED"
    assert get({"path": "id", "regex": internal}) is ABSENT
    assert get({"path": "tags[0]", "regex": "^primary:(?P<id>.+)$"}) == "run_9"
    assert get({"path": "one", "regex": "^1$"}) == "1"  # numbers match as their decimal text


def test_predicates_gate_a_branch_and_value_is_what_it_yields() -> None:
    assert get({"path": "flag", "equals": True, "value": "failed"}) == "failed"
    assert get({"path": "one", "equals": True, "value": "failed"}) is ABSENT  # 1 is not true
    assert get({"path": "one", "equals": 1.0}) == 1
    assert get({"path": "id", "matches": "^run_", "value": "yes"}) == "yes"
    assert get({"path": "tags", "contains": "x", "value": "tagged"}) == "tagged"
    assert get({"path": "tags", "contains": "y", "value": "tagged"}) is ABSENT
    assert get({"value": "constant"}) == "constant"


def test_maps_translate_any_field_open_unless_closed() -> None:
    mapping = {"path": "outcome", "map": {"succeeded": "completed"}}
    assert get(mapping) == "completed"
    assert get({"path": "id", "map": {"x": "y"}}) == "run_1"  # open: unlisted passes through
    assert get({"path": "id", "map": {"x": "y"}}, closed=True) == Unmapped("run_1")
    assert get({"path": "flag", "map": {"true": "yes"}}) == "yes"  # keys in JSON spelling
    assert get({"path": "one", "map": {"1": "first"}}) == "first"


def test_a_closed_map_stops_the_fallbacks_at_a_word_it_does_not_list() -> None:
    """A state word not understood is never guessed at by a later branch."""
    spec = [{"path": "outcome", "map": {"acked": "completed"}}, {"value": "running"}]
    assert get(spec, closed=True) == Unmapped("succeeded")
    assert get(spec, closed=False) == "succeeded"


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        ("2026-03-01T12:00:00Z", "iso", 1772366400.0),
        ("2026-03-01T12:00:00.9Z", "iso", 1772366400.9),
        ("2026-03-01T12:00:00.002517941Z", "iso", 1772366400.002517),  # 9 digits, protojson
        ("2026-03-01T14:00:00+02:00", "iso", 1772366400.0),
        ("2026-03-01T12:00:00", "iso", 1772366400.0),  # naive is UTC
        (1772366400000, "epoch_ms", 1772366400.0),
        ("1772366400000", "epoch_ms", 1772366400.0),
        (1772366400, "epoch_s", 1772366400.0),
    ],
)
def test_times_read_iso_with_0_to_9_digits_and_epochs(
    value: Any, fmt: Any, expected: float
) -> None:
    assert to_epoch(value, fmt) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("value", "fmt"),
    [("yesterday", "iso"), (1772366400, "iso"), (True, "epoch_s"), (1e20, "epoch_s")],
)
def test_a_time_of_the_wrong_kind_is_a_bad_value(value: Any, fmt: Any) -> None:
    with pytest.raises(BadValue):
        to_epoch(value, fmt)


def test_numbers_read_from_json_numbers_and_decimal_strings() -> None:
    assert to_number("3375") == 3375 and to_number("12.5") == 12.5 and to_int(4.0) == 4
    assert to_text(618204117) == "618204117" and to_text(True) == "true"
    for bad in (True, "3 ms", float("nan")):
        with pytest.raises(BadValue):
            to_number(bad)
    with pytest.raises(BadValue):
        to_text({"an": "object"})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"regex": "x"}, "needs a `path`"),
        ({"path": "a..b"}, "segment"),
        ({"path": "a[x]"}, "segment"),
        ({"path": "@trace"}, "@NAME:path"),
        ({"path": "a", "regex": "("}, "not a regular expression"),
        ({"path": "a", "regex": "(?P<a>x)(?P<b>y)"}, "at most one named group"),
        ({"path": "a", "equals": 1, "matches": "x"}, "one predicate"),
        ({"value": 1, "map": {"a": "b"}}, "takes no predicate"),
        ({"path": "a", "nope": 1}, "Extra inputs"),
    ],
)
def test_a_malformed_getter_is_a_config_error_that_says_why(spec: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SPEC.validate_python(spec)


def test_path_syntax() -> None:
    assert parse_path("a.b[0][-1].c") == (None, ("a", "b", 0, -1, "c"))
    assert parse_path("@trace:rootSpan.children[-1]") == ("trace", ("rootSpan", "children", -1))
    assert parse_path("[0].id") == (None, (0, "id"))
