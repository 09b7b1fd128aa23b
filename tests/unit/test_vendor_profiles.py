"""The shipped profiles read the vendors' real records (docs/vendors.md, tests/fixtures/vendors).

Every status word each vendor documents is understood, and each fixture reads as the fixtures'
README says.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from shadow.core.findings import Kind
from shadow.core.layout import Side
from shadow.core.normalize import NormalizeOptions
from shadow.core.pairing import PairBy, group_runs
from shadow.core.profiles import Profile
from shadow.core.reading import read_run, read_state
from shadow.core.runs import NormalizedRun, RetryInfo
from shadow.core.shipped import SHIPPED, SHIPPED_RAW
from shadow.core.vocabulary import RunState, StepState
from tests.vendor_reading import fixture, read

TD, TD_TRACED = SHIPPED["trigger-dev"], SHIPPED["trigger-dev-traced"]
INNGEST, CF, TG = SHIPPED["inngest"], SHIPPED["cf-queues-consumer"], SHIPPED["telegram-bot"]

R, Q, RUN, C, F = "requested", "queued", "running", "completed", "failed"
# docs/vendors.md 1.3: both vocabularies (x-trigger-api-version 2025-07-16 and none), 17 words.
TRIGGER_DEV_RUN_WORDS = {
    "PENDING_VERSION": R, "WAITING_FOR_DEPLOY": R, "DELAYED": R, "QUEUED": Q, "DEQUEUED": Q,
    "EXECUTING": RUN, "REATTEMPTING": RUN, "WAITING": RUN, "FROZEN": RUN, "COMPLETED": C,
    "FAILED": F, "CRASHED": F, "INTERRUPTED": F, "SYSTEM_FAILURE": F, "CANCELED": F,
    "EXPIRED": F, "TIMED_OUT": F,
}  # fmt: skip
# docs/vendors.md 2.2 (REST v1, title case) and 2.4 (REST v2, upper case).
INNGEST_RUN_WORDS = {
    "Scheduled": Q, "Running": RUN, "Completed": C, "Failed": F, "Cancelled": F, "Skipped": F,
    "Overflowed": F, "Unknown": R,
    "QUEUED": Q, "RUNNING": RUN, "COMPLETED": C, "FAILED": F, "CANCELLED": F, "UNSPECIFIED": R,
}  # fmt: skip
# docs/vendors.md 3.1 and 4.3: the consumer's and the bot's own outcome words.
CF_WORDS = {"running": RUN, "retrying": RUN, "succeeded": C, "failed": F}
TELEGRAM_WORDS = {"received": RUN, "retrying": RUN, "handled": C, "failed": F}
# docs/vendors.md 2.5: trace span statuses (UNKNOWN is also the omitted key).
INNGEST_SPAN_WORDS = {
    "RUNNING": "running", "COMPLETED": "completed", "FAILED": "failed", "WAITING": "pending",
    "CANCELLED": "skipped", "SKIPPED": "skipped", "UNKNOWN": "pending", None: "pending",
}  # fmt: skip
# docs/vendors.md 1.6: attempt statuses of the 2024 attempts[] array.
TRIGGER_DEV_ATTEMPT_WORDS = ("PENDING", "EXECUTING", "PAUSED", "COMPLETED", "FAILED", "CANCELED")


def with_path(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(doc)
    node = out
    for step in path[:-1]:
        node = node[step]
    if value is None:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("profile", "sample", "path", "words"),
    [
        (TD, "trigger-dev/current/completed.json", ("status",), TRIGGER_DEV_RUN_WORDS),
        (INNGEST, "inngest/v1/run-completed.json", ("data", "status"), INNGEST_RUN_WORDS),
        (INNGEST, "inngest/v2/run-completed.json", ("data", "status"), INNGEST_RUN_WORDS),
        (CF, "cloudflare-queues/acked.json", ("outcome",), CF_WORDS),
        (TG, "telegram/records/handled.json", ("outcome",), TELEGRAM_WORDS),
    ],
    ids=["trigger-dev", "inngest-v1", "inngest-v2", "cf-queues-consumer", "telegram-bot"],
)
def test_every_documented_run_state_word_is_understood(
    profile: Profile, sample: str, path: tuple[str, ...], words: dict[str, str]
) -> None:
    """Each word a vendor documents reads as its canonical state, in the record and in the scan's
    history of transitions alike."""
    base = fixture(sample)
    for word, state in words.items():
        doc = with_path(base, path, word)
        assert read_state(doc, profile.compiled) == RunState(state), word
        run = read(profile, doc)
        assert run.state == RunState(state) and run.rejected == (), word
        assert not run.input_findings, (word, run.input_findings)


def test_a_word_no_vendor_documents_is_rejected_and_named() -> None:
    doc = with_path(fixture("trigger-dev/current/completed.json"), ("status",), "PAUSED")
    run = read(TD, doc)
    assert run.state is None
    (finding,) = run.input_findings
    assert finding.kind is Kind.UNKNOWN_STATUS and "'PAUSED'" in finding.message


def test_trigger_dev_subtask_words_are_step_states() -> None:
    base = fixture("trigger-dev/current/subtasks.json")
    expected = {
        **{w: "pending" for w in ("PENDING_VERSION", "WAITING_FOR_DEPLOY", "DELAYED", "QUEUED")},
        "DEQUEUED": "pending",
        **{w: "running" for w in ("EXECUTING", "REATTEMPTING", "WAITING", "FROZEN")},
        "COMPLETED": "completed",
        **{w: "failed" for w in ("FAILED", "CRASHED", "INTERRUPTED", "SYSTEM_FAILURE")},
        "TIMED_OUT": "failed",
        "CANCELED": "skipped",
        "EXPIRED": "skipped",
    }
    assert set(expected) == set(TRIGGER_DEV_RUN_WORDS)
    for word, state in expected.items():
        run = read(TD, with_path(base, ("relatedRuns", "children", 0, "status"), word))
        assert run.steps[0].state is StepState(state) and not run.input_findings, word


def test_inngest_trace_span_words_are_step_states() -> None:
    trace = fixture("inngest/v2/trace-retried-recovered.json")
    for word, state in INNGEST_SPAN_WORDS.items():
        doc = with_path(trace, ("data", "rootSpan", "children", 1, "status"), word)
        run = read(INNGEST, "inngest/v2/run-retried-recovered.json", {"trace": doc})
        assert run.steps[1].state is StepState(state) and not run.input_findings, word


def test_trigger_dev_attempt_words_are_understood() -> None:
    base = fixture("trigger-dev/legacy/v3-2024-attempts.json")
    for word in TRIGGER_DEV_ATTEMPT_WORDS:
        doc = with_path(base, ("attempts", 0, "status"), word)
        run = read(TD, doc)
        (retry,) = run.retries
        assert retry.attempts == 2 and retry.recovered is (word == "COMPLETED"), word


def test_trigger_dev_trace_span_booleans_are_step_states() -> None:
    trace = fixture("trigger-dev/current/trace-retried-recovered.json")
    spans = ("trace", "rootSpan", "children", -1, "children", 0, "data")
    for flag, state in (
        ("isCancelled", "skipped"),
        ("isError", "failed"),
        ("isPartial", "running"),
        (None, "completed"),
    ):
        doc = with_path(trace, (*spans, flag), True) if flag else trace
        run = read(TD_TRACED, "trigger-dev/current/retried-recovered.json", {"trace": doc})
        assert run.steps[0].state is StepState(state), flag


# --- each fixture reads as tests/fixtures/vendors/README.md says ----------------------------------


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def retry(scope: str, attempts: int, recovered: bool, code: str | None) -> RetryInfo:
    whole = scope == "run"
    return RetryInfo(scope, recovered, code, attempts, whole, code is not None or not recovered)


def summary(run: NormalizedRun) -> tuple[Any, ...]:
    return (run.state.value if run.state else None, run.error_code, run.retries)


@pytest.mark.parametrize(
    ("sample", "state", "code", "retries"),
    [
        ("current/completed.json", C, None, ()),
        ("current/failed.json", F, "UPSTREAM_UNAVAILABLE", (retry("run", 3, False, "UPSTREAM_UNAVAILABLE"),)),
        ("current/retried-recovered.json", C, None, (retry("run", 2, True, None),)),
        ("current/timed-out.json", F, "MAX_DURATION_EXCEEDED", ()),
        ("current/crashed.json", F, "TASK_PROCESS_OOM_KILLED", ()),
        ("current/canceled.json", F, "CANCELED", ()),
        ("current/expired.json", F, "EXPIRED", ()),
        ("current/waiting.json", RUN, None, ()),
        ("legacy/frozen.json", RUN, None, ()),
        ("legacy/reattempting.json", RUN, None, ()),
        ("legacy/interrupted.json", F, "TASK_RUN_CRASHED", ()),
        ("legacy/v3-2024-attempts.json", C, None, (retry("run", 2, True, "UPSTREAM_UNAVAILABLE"),)),
    ],
)  # fmt: skip
def test_trigger_dev_fixtures(
    sample: str, state: str, code: str | None, retries: tuple[RetryInfo, ...]
) -> None:
    run = read(TD, f"trigger-dev/{sample}")
    assert summary(run) == (state, code, retries)
    assert run.agent == "meter-org" and run.input_findings == () and run.retries_visible


def test_trigger_dev_twin_links_to_its_primary_and_cron_runs_carry_their_slot() -> None:
    twin = read(TD, "trigger-dev/current/completed.json")
    assert twin.links is not None and twin.links.link == "01KJMATB7T84G7ZWYRD6Z1RV0W"
    assert twin.links.identity == "run_cm7q2x4k80a1b2c3d4e5f6g7h"
    cron = read(TD, "trigger-dev/current/scheduled.json")
    assert cron.links is not None and cron.links.link is None
    assert cron.links.scheduled and cron.links.slot == at("2026-03-01T12:00:00")
    assert cron.agent == "usage-reset"


def test_trigger_dev_steps_from_subtasks_or_from_the_trace() -> None:
    run = read(TD, "trigger-dev/current/subtasks.json")
    assert [(s.name, s.state.value) for s in run.steps] == [
        ("fetch-usage", "completed"),
        ("write-ledger", "completed"),
    ]
    traced = read(
        TD_TRACED,
        "trigger-dev/current/retried-recovered.json",
        {"trace": "trigger-dev/current/trace-retried-recovered.json"},
    )
    assert [(s.name, s.state.value) for s in traced.steps] == [
        ("fetch usage", "completed"),
        ("write ledger", "completed"),
    ]
    assert traced.step_durations == (1510.337, 893.412)  # `duration` is ms as a float
    assert not read(TD, "trigger-dev/current/completed.json").steps_visible  # no subtasks


INNGEST_V1 = Profile.model_validate(
    {
        **SHIPPED_RAW["inngest"],
        "name": "inngest-v1",
        "run": {
            **SHIPPED_RAW["inngest"]["run"],
            "stratum": [
                "function.id",
                {
                    "path": "function_id",
                    "map": {
                        "6b1f3c2e-8a4d-4f7e-9c2b-1d5e7a9f0c34": "meter-org",
                        "0c5e7a9b-1d3f-4b6a-8c0e-2f4a6b8d0e13": "usage-reset",
                    },
                },
            ],
        },
    }
)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_inngest_fixtures(version: str) -> None:
    profile = INNGEST_V1 if version == "v1" else INNGEST
    done = read(profile, f"inngest/{version}/run-completed.json")
    assert summary(done) == (C, None, ()) and done.agent == "meter-org"
    failed = read(profile, f"inngest/{version}/run-failed.json")
    assert summary(failed)[:2] == (F, "UPSTREAM_UNAVAILABLE")
    cancelled = read(profile, f"inngest/{version}/run-cancelled.json")
    assert summary(cancelled)[:2] == (F, "CANCELLED")
    cron = read(profile, f"inngest/{version}/run-cron.json")
    assert cron.links is not None and cron.links.scheduled and cron.agent == "usage-reset"
    slot = cron.links.slot
    assert slot is not None and 0 <= slot - at("2026-03-01T12:00:00") < 1  # jitter, seconds
    assert not failed.retries_visible  # retries are trace spans: without trace.json, unseen


def test_inngest_steps_and_step_retries_come_from_the_trace() -> None:
    failed = read(INNGEST, "inngest/v2/run-failed.json", {"trace": "inngest/v2/trace-failed.json"})
    assert [(s.name, s.state.value, s.error_code) for s in failed.steps] == [
        ("load-invoice", "completed", None),
        ("charge-card", "failed", "UPSTREAM_UNAVAILABLE"),
    ]
    assert failed.retries == (retry("charge-card", 3, False, "UPSTREAM_UNAVAILABLE"),)
    recovered = read(
        INNGEST,
        "inngest/v2/run-retried-recovered.json",
        {"trace": "inngest/v2/trace-retried-recovered.json"},
    )
    assert recovered.retries == (retry("fetch-usage", 2, True, "UPSTREAM_UNAVAILABLE"),)
    assert "Finalization" not in [s.name for s in recovered.steps]
    assert recovered.retries_visible and recovered.steps_visible


def test_inngest_event_runs_list_is_one_run_per_element() -> None:
    body = fixture("inngest/v1/event-runs.json")
    states = [read_state({"data": run}, INNGEST.compiled) for run in body["data"]]
    assert states == [RunState.COMPLETED, RunState.QUEUED]


CRON_STRATA = NormalizeOptions(cron_strata={"0 12 * * *": "usage-reset"})


def test_cloudflare_queues_consumer_fixtures() -> None:
    acked = read(CF, "cloudflare-queues/acked.json")
    assert summary(acked) == (C, None, ()) and acked.agent == "meter-org"
    assert acked.links is not None and acked.links.link == "run_cm7r1a2b30c4d5e6f7g8h9j0k"
    failed = read(CF, "cloudflare-queues/failed-final-attempt.json")
    assert summary(failed) == (
        F,
        "UPSTREAM_UNAVAILABLE",
        (retry("run", 4, False, "UPSTREAM_UNAVAILABLE"),),
    )
    cron = read(CF, "cloudflare-queues/cron.json", opts=CRON_STRATA)
    assert cron.agent == "usage-reset"  # the cron line names the [[schedules]] stratum
    assert cron.links is not None and cron.links.slot == at("2026-03-01T12:00:00")


def test_a_redelivery_is_one_run_that_retried() -> None:
    """The consumer overwrote its record: the history holds both deliveries' outcomes."""
    first = fixture("cloudflare-queues/redelivered/delivery-1.json")
    seen = read_state(first, CF.compiled)
    assert seen is RunState.RUNNING
    run = read(CF, "cloudflare-queues/redelivered/delivery-2.json", history=[seen.value])
    assert run.history == (RunState.RUNNING, RunState.COMPLETED)
    assert run.retries == (retry("run", 2, True, None),)
    bot = read(TG, "telegram/records/redelivered/delivery-2.json", history=["running"])
    assert bot.history == (RunState.RUNNING, RunState.COMPLETED)
    assert bot.retries == (retry("run", 2, True, None),)


def test_deliveries_kept_as_separate_records_are_one_run() -> None:
    """Same message id, a higher attempt: the latest delivery is judged, no duplicate."""
    runs = [
        read(CF, "cloudflare-queues/redelivered/delivery-1.json", run_dir="runs/d1/"),
        read(CF, "cloudflare-queues/redelivered/delivery-2.json", run_dir="runs/d2/"),
    ]
    grouped = group_runs(runs)
    ((key, (kept, _)),) = grouped.sides.items()
    assert key == "run_cm7r2c3d40e5f6g7h8j9k0m1n" and kept is not None
    assert kept.run_dir == "runs/d2/" and not grouped.duplicates


def test_a_double_send_is_a_duplicate() -> None:
    """Two message ids carrying one job id: the job ran twice on that side."""
    runs = [
        read(CF, "cloudflare-queues/double-send/first.json", run_dir="runs/m1/"),
        read(CF, "cloudflare-queues/double-send/second.json", run_dir="runs/m2/"),
    ]
    grouped = group_runs(runs, PairBy.RUN_ID)
    key = "run_cm7r4g5h60j7k8m9n0p1q2r3s"
    assert list(grouped.sides) == [key]
    (dup,) = grouped.duplicates[key]
    assert dup.kind is Kind.DUPLICATE_RUN and dup.primary == "runs/m2/"


@pytest.mark.parametrize(
    ("update", "stratum", "queued"),
    [
        ("message-command.json", "command", True),
        ("callback-query.json", "callback-query", False),
        ("callback-query-inaccessible.json", "callback-query", False),
    ],
)
def test_telegram_update_types_are_strata(update: str, stratum: str, queued: bool) -> None:
    record = {"update": fixture(f"telegram/updates/{update}"), "outcome": "handled"}
    run = read(TG, record)
    assert run.agent == stratum
    assert run.links is not None and (run.links.queued_at is not None) is queued


def test_telegram_records() -> None:
    handled = read(TG, "telegram/records/handled.json")
    assert summary(handled) == (C, None, ())
    assert handled.links is not None and handled.links.link == "618204117"
    failed = read(TG, "telegram/records/callback-failed.json")
    assert summary(failed)[:2] == (F, "429") and failed.agent == "callback-query"


def test_reading_never_raises_on_hostile_documents() -> None:
    """Wrong types anywhere are a rejected record or an absent field, never an exception."""
    for profile in (TD, TD_TRACED, INNGEST, CF, TG):
        for doc in (
            {},
            {"status": {"x": 1}, "data": [], "outcome": ["a"]},
            {"data": {"status": 5, "startedAt": "soon", "output": 3}},
            {"id": {}, "status": "FAILED", "error": [1], "attemptCount": "many"},
            {"outcome": "failed", "update": {"update_id": [1]}, "message": {"attempts": True}},
        ):
            reading = read_run(doc, {"trace": {"data": {"rootSpan": 7}}}, profile.compiled)
            assert reading.state is None and reading.problems  # rejected, and why
            run = read(profile, doc)  # and through assembly and normalization
            assert run.state is None and run.input_findings


def test_the_candidate_side_reads_the_same() -> None:
    run = read(TD, "trigger-dev/current/completed.json", run_dir="runs/run_x-dryrun/")
    assert run.side is Side.CANDIDATE and run.links is not None
    assert run.links.link == "01KJMATB7T84G7ZWYRD6Z1RV0W"


def test_the_documentation_shows_each_shipped_profile_as_shipped() -> None:
    """docs/profiles.md carries each shipped profile's text verbatim: what a user copies reads."""
    from pathlib import Path

    from shadow.core.shipped import SHIPPED_TEXT

    docs = (Path(__file__).resolve().parents[2] / "docs" / "profiles.md").read_text()
    for name, text in SHIPPED_TEXT.items():
        assert text.strip() in docs, name


def test_steps_beyond_the_cap_are_not_judged_and_said_so() -> None:
    """max_steps_per_run bounds a list of steps as it bounds step files."""
    trace = fixture("inngest/v2/trace-retried-recovered.json")
    span = trace["data"]["rootSpan"]["children"][1]
    trace["data"]["rootSpan"]["children"] = [dict(span, name=f"s{i}") for i in range(12)]
    run = read(
        INNGEST,
        "inngest/v2/run-retried-recovered.json",
        {"trace": trace},
        opts=NormalizeOptions(max_steps=10),
    )
    assert [s.name for s in run.steps] == [f"s{i}" for i in range(10)]
    (finding,) = run.input_findings
    assert finding.kind is Kind.TOO_MANY_STEPS and "2 not judged" in finding.message


def test_inngest_span_errors_read_wrapped_or_bare_and_only_from_failed_attempts() -> None:
    """A failed span's output is the opcode's {"error": E} or, as GetSpanOutput hands back the
    output event's data, E itself: both give the code. A successful attempt's output is data:
    a recovered step keeps the failed attempt's code even when that data has a `name`."""
    trace = fixture("inngest/v2/trace-failed.json")
    step = ("data", "rootSpan", "children", 1)
    bare = trace
    for i in range(3):
        error = trace["data"]["rootSpan"]["children"][1]["children"][i]["output"]["error"]
        bare = with_path(bare, (*step, "children", i, "output"), error)
    failed = read(INNGEST, "inngest/v2/run-failed.json", {"trace": bare})
    assert failed.steps[1].error_code == "UPSTREAM_UNAVAILABLE"
    assert failed.retries == (retry("charge-card", 3, False, "UPSTREAM_UNAVAILABLE"),)

    recovered = fixture("inngest/v2/trace-retried-recovered.json")
    spans = recovered["data"]["rootSpan"]["children"]
    at = next(i for i, s in enumerate(spans) if s.get("children"))
    last = len(spans[at]["children"]) - 1
    path = ("data", "rootSpan", "children", at, "children", last, "output")
    doc = with_path(recovered, path, {"name": "Alice", "message": "QUOTA: 3 left"})
    run = read(INNGEST, "inngest/v2/run-retried-recovered.json", {"trace": doc})
    assert run.retries == (retry("fetch-usage", 2, True, "UPSTREAM_UNAVAILABLE"),)


@pytest.mark.parametrize(
    "error",
    [
        # grammY's GrammyError as Trigger.dev serializes it (grammyjs/grammY src/core/error.ts)
        {"name": "GrammyError", "message": "Call to 'sendMessage' failed! (429: Too Many Requests: retry after 5)"},
        # Telegraf's TelegramError (telegraf/telegraf src/core/network/error.ts)
        {"name": "Error", "message": "429: Too Many Requests: retry after 5"},
    ],
)  # fmt: skip
def test_a_bot_api_error_has_one_code_whichever_library_words_it(error: dict[str, Any]) -> None:
    """The bot's record holds the Bot API body (error_code 429); the same failure thrown by a
    bot library inside a Trigger.dev task reads as the same code, not as the class name."""
    bot = read(TG, "telegram/records/callback-failed.json")
    task = read(TD, with_path(fixture("trigger-dev/current/failed.json"), ("error",), error))
    assert bot.error_code == task.error_code == "429"
    telegraf = {"response": {"error_code": 429, "description": "Too Many Requests"}, "on": {}}
    doc = with_path(fixture("telegram/records/callback-failed.json"), ("error",), telegraf)
    assert read(TG, doc).error_code == "429"


@pytest.mark.parametrize(
    ("exception", "code"),
    [
        ({"type": "TimeoutError", "message": "took too long"}, "TimeoutError"),
        ({"type": "Error", "message": "UPSTREAM_UNAVAILABLE: github returned 502"}, "UPSTREAM_UNAVAILABLE"),
        ({"type": "Error", "message": "trigger.dev internal error (TASK_RUN_HEARTBEAT_TIMEOUT)"}, "TASK_RUN_HEARTBEAT_TIMEOUT"),
    ],
)  # fmt: skip
def test_trigger_dev_traced_reads_a_failed_span_error_from_its_exception_event(
    exception: dict[str, str], code: str
) -> None:
    """A failed user span carries its error only as an `exception` event (TD openTelemetry.ts
    ExceptionSpanEvent), possibly followed by other events: the shipped profile reads it."""
    trace = fixture("trigger-dev/current/trace-retried-recovered.json")
    data = ("trace", "rootSpan", "children", -1, "children", 0, "data")
    events = [
        {"name": "exception", "time": "2026-03-01T10:00:01.000Z", "properties": {"exception": exception}},
        {"name": "log", "time": "2026-03-01T10:00:01.001Z", "properties": {"message": "cleanup"}},
    ]  # fmt: skip
    doc = with_path(with_path(trace, (*data, "isError"), True), (*data, "events"), events)
    run = read(TD_TRACED, "trigger-dev/current/retried-recovered.json", {"trace": doc})
    assert (run.steps[0].state, run.steps[0].error_code) == (StepState.FAILED, code)
