"""Scenario writers: each side is written in its vendor's real shape, with the real noise.

The vendor fixtures in tests/fixtures/vendors/ were written by hand against the vendors' own
source (their README cites it); a scenario's records must carry the same fields, nesting, words
and time formats, so the corpora exercise what real records look like, not shadow's own idea.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shadow.corpora.scenarios import ScenarioCorpus, write_scenario
from shadow.corpora.shapes.formats import iso_go, iso_proto, ulid

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ISO_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")


def _fixture(rel: str) -> dict[str, Any]:
    doc = json.loads((FIXTURES / rel).read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _records(corpus: ScenarioCorpus, side: str, name: str = "status.json") -> list[dict[str, Any]]:
    dirs = sorted((corpus.root / "runs").iterdir())
    chosen = [d for d in dirs if d.name.endswith("-dryrun") == (side == "candidate")]
    return [json.loads((d / name).read_text(encoding="utf-8")) for d in chosen]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ScenarioCorpus]:
    root = tmp_path_factory.mktemp("scenarios")
    return {
        name: write_scenario(name, root / name, now=AT, size=16)
        for name in ("long-pipelines", "queues", "chat")
    }


def test_trigger_dev_records_are_run_objects_in_both_vocabularies(
    corpora: dict[str, ScenarioCorpus],
) -> None:
    """Trigger.dev's side is the run object `runs.retrieve` returns: the fixture's fields (id,
    finishedAt, an error object, attemptCount, the boolean helpers), ISO times with three
    digits, the current and the legacy status words, a scheduled run's schedule and payload."""
    expected = set(_fixture("trigger-dev/current/completed.json"))
    twins = _records(corpora["long-pipelines"], "candidate")
    primaries = _records(corpora["queues"], "primary")
    words = Counter(r["status"] for r in twins + primaries)
    for run in twins + primaries:
        assert expected - {"idempotencyKey", "metadata", "output", "finishedAt"} <= set(run)
        assert ("finishedAt" in run) == (run["status"] not in ("WAITING", "FROZEN")), run["id"]
        assert "runId" not in run and "completedAt" not in run
        assert ISO_MS.match(run["createdAt"]) and ISO_MS.match(run["startedAt"])
        assert run["attempts"] == [] and run["attemptCount"] >= 1
        assert run["isCompleted"] == (
            run["status"] in ("COMPLETED", "CANCELED", "FAILED", "CRASHED", "SYSTEM_FAILURE")
        )
        if run["status"] != "COMPLETED" and run["isCompleted"]:
            assert isinstance(run["error"], dict) and "message" in run["error"]
    assert {"COMPLETED", "FAILED", "CANCELED", "TIMED_OUT", "WAITING", "FROZEN"} <= set(words)
    assert all(r["metadata"]["primaryRunId"] for r in twins if "schedule" not in r)
    scheduled = [r for r in primaries if "schedule" in r]
    assert scheduled and all(r["createdAt"] == r["payload"]["timestamp"] for r in scheduled)
    assert all("metadata" not in r for r in scheduled)  # a schedule's run names no primary
    timed_out = next(r for r in twins if r["status"] == "TIMED_OUT")
    assert timed_out["error"] == {"message": "trigger.dev internal error (MAX_DURATION_EXCEEDED)"}
    assert not any(v for k, v in timed_out.items() if k.startswith("is") and k != "isTest")


def test_trigger_dev_traces_have_an_attempt_span_per_attempt(
    corpora: dict[str, ScenarioCorpus],
) -> None:
    """The trace beside a retried run has `Attempt 1` ... `Attempt n` under the root, the steps
    under the last one, durations in float ms, and a failed span's exception event."""
    twins = _records(corpora["long-pipelines"], "candidate")
    traces = _records(corpora["long-pipelines"], "candidate", "trace.json")
    retried = [(r, t) for r, t in zip(twins, traces, strict=True) if r["attemptCount"] > 1]
    assert retried
    for run, doc in retried:
        attempts = doc["trace"]["rootSpan"]["children"]
        names = [a["data"]["message"] for a in attempts]
        assert names == [f"Attempt {n}" for n in range(1, run["attemptCount"] + 1)]
        assert all(a["data"]["isError"] for a in attempts[:-1])
        failed = attempts[0]["children"][-1]["data"]
        assert failed["isError"] and failed["events"][0]["name"] == "exception"
        assert isinstance(attempts[-1]["data"]["duration"], float)


def test_inngest_records_are_v1_and_v2_runs_with_their_traces(
    corpora: dict[str, ScenarioCorpus],
) -> None:
    """Inngest's side: v1 runs (title-case words, function UUIDs, Go times with up to nine
    fractional digits) until the exporter moved to v2 (upper-case words, sorted keys, durationMs a
    string), each with a v2 trace whose retried steps have `Attempt 0..n` children."""
    corpus = corpora["long-pipelines"]
    runs = _records(corpus, "primary")
    v1 = [r["data"] for r in runs if "run_id" in r["data"]]
    v2 = [r["data"] for r in runs if "id" in r["data"]]
    assert v1 and v2 and len(v1) + len(v2) == len(runs)
    assert set(_fixture("inngest/v1/run-completed.json")["data"]) <= set(v1[0]) | {"cron"}
    assert {r["status"] for r in v1} >= {"Completed", "Failed", "Cancelled"}
    assert {r["status"] for r in v2} >= {"COMPLETED", "CANCELLED", "RUNNING"}
    assert all(ISO_NANO.match(r["run_started_at"]) for r in v1)
    assert max(len(r["run_started_at"].partition(".")[2]) for r in v1) == 10  # 9 digits + Z
    assert all(list(r) == sorted(r) and isinstance(r.get("durationMs", ""), str) for r in v2)
    traces = _records(corpus, "primary", "trace.json")
    steps = [s for t in traces for s in t["data"]["rootSpan"]["children"]]
    retried = [s for s in steps if "children" in s]
    assert retried and all(
        [c["name"] for c in s["children"]] == [f"Attempt {i}" for i in range(len(s["children"]))]
        for s in retried
    )
    assert any(s["name"] == "Finalization" for s in steps)


def test_queue_consumer_records_count_deliveries_and_name_the_job(
    corpora: dict[str, ScenarioCorpus],
) -> None:
    """The consumer's record is the fixture's `cf-queues-consumer/1`: the Message with
    `attempts` from 1 (redeliveries above 1), the producer's jobId in the body, the outcome;
    a cron fire carries `scheduledTime` in epoch milliseconds and no message."""
    corpus = corpora["queues"]
    records = _records(corpus, "candidate")
    messages = [r for r in records if "message" in r]
    crons = [r for r in records if "scheduled" in r]
    assert set(_fixture("cloudflare-queues/acked.json")) == set(messages[0])
    assert set(_fixture("cloudflare-queues/cron.json")) == set(crons[0])
    primaries = {r["id"] for r in _records(corpus, "primary")}
    assert all(m["message"]["body"]["jobId"] in primaries for m in messages)
    assert {m["outcome"] for m in messages} == {"succeeded", "failed"}
    assert max(m["message"]["attempts"] for m in messages) >= 3
    assert all(isinstance(c["scheduled"]["scheduledTime"], int) for c in crons)
    assert all(c["scheduled"]["scheduledTime"] % 86_400_000 == 43_200_000 for c in crons)


def test_bot_records_hold_the_update_as_telegram_posted_it(
    corpora: dict[str, ScenarioCorpus],
) -> None:
    """The bot server's `telegram-bot/1` record: the Update (update_id an integer, `date` in
    epoch seconds, a callback query without a date of its own), the delivery count, and Bot API
    error bodies; the Trigger.dev twin names the update id as a string."""
    corpus = corpora["chat"]
    records = _records(corpus, "primary")
    assert set(_fixture("telegram/records/handled.json")) == set(records[0])
    kinds = Counter(next(k for k in r["update"] if k != "update_id") for r in records)
    assert set(kinds) == {"message", "callback_query"}
    for r in records:
        assert isinstance(r["update"]["update_id"], int)
        if "message" in r["update"]:
            assert isinstance(r["update"]["message"]["date"], int)
    assert any(r["delivery"] > 1 for r in records)
    assert any(
        isinstance(r["error"], dict) and r["error"].get("error_code") == 429 for r in records
    )
    links = {r["metadata"]["primaryRunId"] for r in _records(corpus, "candidate")}
    assert links <= {str(r["update"]["update_id"]) for r in records}


def test_each_scenario_writes_the_config_it_is_judged_with(
    corpora: dict[str, ScenarioCorpus],
) -> None:
    """shadow.toml names shipped profiles (extended only by per-deployment maps), the
    migration's error classes and its schedules."""
    config = tomllib.loads(corpora["long-pipelines"].config.read_text(encoding="utf-8"))
    assert config["profiles"]["inngest-codegen"]["extends"] == "inngest"
    assert config["error_classes"]["TIMEOUT"] == ["MAX_DURATION_EXCEEDED", "TimeoutError"]
    assert config["schedules"][0]["cron"] == "0 3 * * *"
    queues = tomllib.loads(corpora["queues"].config.read_text(encoding="utf-8"))
    assert queues["primary_profile"] == "trigger-dev"
    assert queues["profiles"]["jobs-consumer"]["extends"] == "cf-queues-consumer"


def test_vendor_time_and_id_formats() -> None:
    """Go trims trailing zeros (0-9 digits), protojson keeps 0/3/6/9, a ULID encodes its time."""
    t = datetime(2026, 3, 1, 10, 3, 24, 118835, tzinfo=UTC)
    assert re.fullmatch(r"2026-03-01T10:03:24\.118835\d{1,3}Z", iso_go(t))
    assert iso_go(t.replace(microsecond=0), whole_micros=True) == "2026-03-01T10:03:24Z"
    assert iso_proto(t.replace(microsecond=250000), whole_micros=True) == "2026-03-01T10:03:24.250Z"
    assert iso_proto(t, whole_micros=True) == "2026-03-01T10:03:24.118835Z"
    import random

    first = ulid(random.Random(1), t)
    assert len(first) == 26 and first[:10] == ulid(random.Random(2), t)[:10]


def test_scenarios_are_deterministic_for_a_seed(tmp_path: Path) -> None:
    """The same seed writes the same corpus and the same plants."""
    a = write_scenario("chat", tmp_path / "a", now=AT, size=16)
    b = write_scenario("chat", tmp_path / "b", now=AT, size=16)
    assert a.planted == b.planted and a.pairs == b.pairs
    files = sorted(p.relative_to(a.root) for p in a.root.rglob("*.json"))
    assert files == sorted(p.relative_to(b.root) for p in b.root.rglob("*.json"))
    assert all((a.root / f).read_bytes() == (b.root / f).read_bytes() for f in files)


@pytest.mark.parametrize(
    ("name", "size", "message"),
    [("kafka", 20, "unknown scenario"), ("queues", 3, "at least 16")],
)
def test_bad_scenario_arguments_are_clear_errors(
    tmp_path: Path, name: str, size: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        write_scenario(name, tmp_path / "x", now=AT, size=size)
