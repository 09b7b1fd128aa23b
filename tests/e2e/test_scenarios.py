"""End to end: each migration scenario's corpus judged through the CLI with its own shadow.toml.

Each side is in its vendor's real shape (shadow/corpora/shapes). Planted variant: every planted
divergence is found on its run (or stratum) in the planted dimension and kind. Clean variant: no
error or warning, nothing rejected, READY.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shadow.cli import main
from shadow.core.findings import Kind, Severity
from shadow.corpora.queues import BATCH_SIZE
from shadow.corpora.scenarios import ScenarioCorpus, write_scenario
from tests.e2e.conftest import NOW, NOW_ISO

# Small corpora keep each test to seconds; the CLI's defaults are larger.
SIZES = {"agents": 60, "long-pipelines": 16, "queues": 16, "chat": 16}


def _judge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, plant: bool
) -> tuple[ScenarioCorpus, dict[str, Any]]:
    corpus = write_scenario(name, tmp_path / name, now=NOW, plant=plant, size=SIZES[name])
    db = tmp_path / f"{name}.db"
    common = ["--config", str(corpus.config), "--db", str(db), "--now", NOW_ISO]
    assert main(["scan", "--once", *common]) == 0
    capsys.readouterr()
    assert main(["report", "--json", *common]) == 0
    return corpus, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", list(SIZES))
def test_planted_divergences_are_found_in_their_dimension(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """A lost run, a terminal-state difference, a retry difference, an error-class difference, a
    duplicate, a redelivery and a missed cron slot (and each scenario's own: regrouped steps, a
    slow stratum) each show up on their run, or stratum, in the planted dimension and kind; the
    verdict is NOT_READY."""
    corpus, report = _judge(tmp_path, capsys, name, plant=True)
    by_run = {r["run_id"]: r for r in report["runs"]}
    missing = []
    for plant in corpus.planted:
        found = {
            (f["dimension"], f["kind"]) for f in by_run.get(plant.run_id, {}).get("findings", [])
        }
        if (plant.dimension.value, plant.kind.value) not in found:
            missing.append((plant.run_id, plant.kind.value, sorted(found)))
    assert missing == []
    assert corpus.planted or corpus.stratum_plants
    missed = {
        (m["subject"], m["kind"], side)
        for m in report["missed_schedules"]
        for side in ("primary", "candidate")
        if m[side] == "missed"
    }
    failing = {s["agent_slug"]: s["failing"] for s in report["readiness"]["strata"]}
    for sp in corpus.stratum_plants:
        if sp.side is not None:
            assert (sp.stratum, sp.kind.value, sp.side.value) in missed
            assert sp.dimension.value in failing[sp.stratum]
        else:
            assert sp.dimension.value in failing[sp.stratum], failing
    if name != "agents":  # the demo plants bad records too, as input findings on runs
        assert report["rejected"] == []
    assert report["readiness"]["verdict"] == "NOT_READY"


@pytest.mark.parametrize("name", ["queues", "chat"])
def test_a_redelivery_is_a_retry_not_a_duplicate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """A message or update delivered again (a higher attempt) is a retry of its run: with the
    primary's recovery it is no divergence (attempt counts are info), with another outcome it is
    a retry divergence, never a duplicate run."""
    corpus, report = _judge(tmp_path, capsys, name, plant=True)
    by_run = {r["run_id"]: r for r in report["runs"]}
    redelivered = [
        p
        for p in corpus.planted
        if p.kind in (Kind.RETRY_ATTEMPTS_DIFFER, Kind.RETRY_OUTCOME_DIFFERS)
    ]
    assert len(redelivered) == 2
    for plant in redelivered:
        findings = by_run[plant.run_id]["findings"]
        assert by_run[plant.run_id]["state"] == "paired"
        assert all(f["kind"] != Kind.DUPLICATE_RUN.value for f in findings)
        errors = {f["kind"] for f in findings if f["severity"] == Severity.ERROR.value}
        if plant.kind is Kind.RETRY_ATTEMPTS_DIFFER:
            assert errors == set(), findings
        else:
            assert Kind.RETRY_OUTCOME_DIFFERS.value in errors


@pytest.mark.parametrize("name", list(SIZES))
def test_clean_variant_has_no_false_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """Each vendor's own shapes, words (title and upper case, two Trigger.dev vocabularies),
    times (nine fractional digits, epoch ms and s), error objects, retry counts that differ with
    the same recovery, redeliveries and cron slots compare equal: no error or warning, nothing
    rejected, no missed schedule, READY (the demo at 60 runs: short of evidence only)."""
    corpus, report = _judge(tmp_path, capsys, name, plant=False)
    noisy = [
        (r["run_id"], f["kind"])
        for r in report["runs"]
        for f in r["findings"]
        if f["severity"] in (Severity.ERROR.value, Severity.WARNING.value)
    ]
    assert corpus.planted == () and corpus.stratum_plants == ()
    assert noisy == []
    assert report["rejected"] == []
    assert report["missed_schedules"] == []
    totals = report["totals"]
    assert totals["paired"] + totals["pending"] == corpus.pairs  # runs in flight are pending
    assert report["readiness"]["verdict"] != "NOT_READY", report["readiness"]
    if name != "agents":  # the demo at 60 runs is short of evidence; the others are sized to pass
        assert report["readiness"]["verdict"] == "READY", report["readiness"]


@pytest.mark.parametrize(
    ("name", "stratum"), [("long-pipelines", "nightly-digest"), ("queues", "usage-reset")]
)
def test_cron_runs_pair_by_their_fire_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, stratum: str
) -> None:
    """Scheduled runs name no primary: both sides pair on the fire time they serve, one pair a
    day; the night the dry run's schedule did not fire is one missed_schedule, no lost run."""
    _, report = _judge(tmp_path, capsys, name, plant=True)
    runs = [r for r in report["runs"] if r["agent_slug"] == stratum]
    assert runs and all("@" in r["run_id"] for r in runs)
    assert sum(r["state"] == "paired" for r in runs) == len(runs) - 1
    errors = [
        f["kind"] for r in runs for f in r["findings"] if f["severity"] == Severity.ERROR.value
    ]
    assert errors == []
    assert [m["candidate"] for m in report["missed_schedules"]] == ["missed"]


def test_queue_batch_with_one_lost_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A batch of meter jobs enqueued at once: every message but the lost one pairs with its
    Trigger.dev run through the jobId in its body, and the lost one is found."""
    corpus, report = _judge(tmp_path, capsys, "queues", plant=True)
    strata = {s["agent_slug"]: s for s in report["readiness"]["strata"]}
    assert strata["meter-org-documents"]["pairs"] == SIZES["queues"] + BATCH_SIZE - 1
    assert strata["meter-org-documents"]["failing"] == ["completeness"]
    assert report["totals"]["runs"] == corpus.pairs  # the double-sent job adds no pair
    assert "job types" in report["readiness"]["summary"]


def test_chat_slow_stratum_fails_on_the_absolute_slo_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """callback-query is as slow on both sides (the relative rule passes) but its p95 is above
    the SLO: the stratum is blocked by timing, with the latency named in the reasons."""
    _, report = _judge(tmp_path, capsys, "chat", plant=True)
    strata = {s["agent_slug"]: s for s in report["readiness"]["strata"]}
    assert strata["callback-query"]["failing"] == ["timing"]
    reasons = " ".join(report["readiness"]["reasons"])
    assert "latency p95" in reasons and "callback-query" in reasons
    # Issue 16 item 18: the criterion a reader looks at says so too, with the stratum's figures.
    timing = next(c for c in report["readiness"]["criteria"] if c["name"] == "timing")
    ((stratum),) = timing["strata"]
    assert (False, "callback-query", 5000.0) == (
        timing["passed"],
        stratum["agent_slug"],
        stratum["extra"]["slo_p95_ms"],
    )
    assert stratum["extra"]["latency_p95_ms"] > 5000 and timing["examples"] == stratum["examples"]


def test_demo_cli_writes_a_scenario_with_its_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`shadow demo --scenario chat --clean` writes a corpus whose shadow.toml `check-config`
    accepts and under which `shadow verdict` says READY."""
    out = tmp_path / "chat"
    assert (
        main(
            [
                "demo",
                "--scenario",
                "chat",
                "--clean",
                "--runs",
                "16",
                "--out",
                str(out),
                "--now",
                NOW_ISO,
            ]
        )
        == 0
    )
    config = out / "shadow.toml"
    assert "shadow scan --once --config" in capsys.readouterr().out
    assert main(["check-config", "--config", str(config)]) == 0
    settings = json.loads(capsys.readouterr().out.split("\nconfig fingerprint")[0])
    assert settings["primary_profile"] == "telegram-bot"
    assert settings["error_classes"]["RATE_LIMITED"] == ["RATE_LIMITED", "429"]
    assert settings["slos"]["chat-message"] == {"p50_ms": 2000.0, "p95_ms": 5000.0}
    db = ["--config", str(config), "--db", str(tmp_path / "chat.db"), "--now", NOW_ISO]
    assert main(["scan", "--once", *db]) == 0
    assert main(["verdict", *db]) == 0


def test_demo_cli_rejects_an_unknown_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown scenario is a usage error (exit 64) with the list of known ones, and nothing is
    written."""
    assert main(["demo", "--scenario", "kafka", "--out", str(tmp_path / "x")]) == 64
    assert "long-pipelines" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
