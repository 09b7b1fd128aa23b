"""Fuzzing every parser: whatever the bucket holds, parsing returns a record or a Rejected."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shadow.core.assemble import RunObjects, assemble, group_objects
from shadow.core.layout import KeyLayout, Layout, parse_step_file
from shadow.core.normalize import NormalizeOptions, normalize
from shadow.core.objects import StoredObject
from shadow.core.profiles import translate
from shadow.core.records import (
    ManifestRecord,
    Rejected,
    StatusRecord,
    StepRecord,
    load_object,
    validate,
)
from tests.invented_profiles import INVENTED

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=30,
)
FIELDS = [
    "run_id",
    "agent_slug",
    "status",
    "trigger",
    "started_at",
    "finished_at",
    "current_step",
    "steps_total",
    "steps_completed",
    "proposals_created",
    "error",
    "step_number",
    "step_name",
    "duration_ms",
    "retries",
    "steps_count",
    "_orchestrator_meta",
    "runId",
    "startedAt",
]
PLAUSIBLE = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=12), JSON, max_size=12)
KEY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000) | JSON.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_decode_to_an_object_or_a_rejection(body: bytes) -> None:
    """Arbitrary bytes never raise: they decode to a dict or a Rejected with a reason."""
    out = load_object("runs/x/status.json", body, 1024 * 1024)
    assert isinstance(out, dict | Rejected)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(PLAUSIBLE, st.sampled_from([StatusRecord, StepRecord, ManifestRecord]))
def test_any_object_validates_or_is_rejected(doc: dict, model: type) -> None:  # type: ignore[type-arg]
    """Wrong types, odd keys and deep values give a record or a Rejected, never an exception."""
    out = validate("runs/x/status.json", doc, model)
    assert isinstance(out, model | Rejected)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(
    PLAUSIBLE, st.sampled_from(sorted(INVENTED)), st.sampled_from(["status", "manifest", "step"])
)
def test_profiles_translate_any_document(doc: dict, profile: str, kind: str) -> None:  # type: ignore[type-arg]
    """Translating any document through any shipped profile returns a dict."""
    assert isinstance(translate(doc, kind, INVENTED[profile]), dict)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(KEY_TEXT, KEY_TEXT, st.sampled_from(list(Layout)))
def test_odd_keys_parse_or_are_ignored(run_id: str, rest: str, layout: Layout) -> None:
    """Unicode, slashes and dots in run ids and file names never break key parsing."""
    kl = KeyLayout(layout)
    for key in (f"runs/{run_id}/{rest}", f"agents/{run_id}/runs/{run_id}-dryrun/{rest}", run_id):
        parsed = kl.parse(key)
        assert parsed is None or parsed.key == key
    parse_step_file(f"steps/{rest}.json")


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "status.json",
                    "manifest.json",
                    "steps/1.json",
                    "steps/2-x.json",
                    "steps/zz.json",
                    "output/proposal.md",
                ]
            ),
            st.binary(max_size=300) | PLAUSIBLE.map(lambda d: json.dumps(d).encode()),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_any_run_directory_normalizes(files: list[tuple[str, bytes]]) -> None:
    """A run directory of arbitrary objects assembles and normalizes; every bad object is counted."""
    unique = dict(files)
    objs = [
        StoredObject(f"runs/r1-dryrun/{n}", "e", len(b), 0.0, 0.0, b) for n, b in unique.items()
    ]
    group: RunObjects = next(iter(group_objects(objs, KeyLayout(Layout.FLAT)).values()))
    bodies = {o.key: o.body for o in objs if o.body is not None}
    ev = assemble(group, bodies, None, 1024 * 1024)
    run = normalize(ev, NormalizeOptions())
    json_objects = [k for k in group.keys if not k.rest.startswith("output/")]
    accepted = (ev.status is not None) + (ev.manifest is not None) + len(ev.steps)
    assert len(json_objects) == accepted + len(ev.rejected)
    assert run.pairing_key == "r1"


VENDOR_KEYS = [
    "id", "status", "data", "outcome", "message", "update", "attempts", "attemptCount",
    "relatedRuns", "children", "error", "output", "schedule", "payload", "metadata", "trigger",
    "startedAt", "finishedAt", "queuedAt", "endedAt", "delivery", "rootSpan", "trace", "name",
    "durationMs", "scheduled", "body", "jobId", "primaryRunId", "eventIds", "timestamp",
]  # fmt: skip
VENDOR_DOC = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(VENDOR_KEYS) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(
        ["trigger-dev", "trigger-dev-traced", "inngest", "cf-queues-consumer", "telegram-bot"]
    ),
    st.dictionaries(st.sampled_from(VENDOR_KEYS), VENDOR_DOC, max_size=10),
    st.binary(max_size=200) | VENDOR_DOC.map(lambda v: json.dumps(v).encode()),
)
def test_any_vendor_document_reads_or_is_rejected(profile: str, doc: dict, trace: bytes) -> None:  # type: ignore[type-arg]
    """Through every shipped declarative profile, any run document (and any trace beside it)
    assembles and normalizes; a run without a readable state carries the rejection that says why."""
    from shadow.core.shipped import SHIPPED

    body = json.dumps(doc).encode()
    objs = [
        StoredObject("runs/r1/status.json", "e", len(body), 0.0, 0.0, body),
        StoredObject("runs/r1/trace.json", "e", len(trace), 0.0, 0.0, trace),
    ]
    group: RunObjects = next(iter(group_objects(objs, KeyLayout(Layout.FLAT)).values()))
    bodies = {o.key: o.body for o in objs if o.body is not None}
    ev = assemble(group, bodies, None, 1024 * 1024, SHIPPED[profile])
    run = normalize(ev, NormalizeOptions())
    assert run.state is not None or run.input_findings
