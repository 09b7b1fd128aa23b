"""Judging vendor-shaped runs: links, schedule slots, retry scope, error classes, evidence rules.

The runs are the fixtures of tests/fixtures/vendors read through the shipped profiles: Inngest
(primary) -> Trigger.dev (dry run, linked by `metadata.primaryRunId`), and a Telegram bot.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.normalize import NormalizeOptions
from shadow.core.pairing import group_runs
from shadow.core.runs import NormalizedRun
from shadow.core.schedules import Schedule
from shadow.core.shipped import SHIPPED
from shadow.core.vocabulary import class_table
from shadow.judging.criteria import CriterionStatus
from shadow.judging.judge import Judgement, JudgeOptions, judge
from shadow.judging.verdict import Verdict
from tests.unit.test_vendor_profiles import with_path
from tests.vendor_reading import fixture, read

INNGEST, TD, TG = SHIPPED["inngest"], SHIPPED["trigger-dev"], SHIPPED["telegram-bot"]
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()
DAILY = Schedule("usage-reset", "0 12 * * *", 900.0)
OPTS = JudgeOptions(schedules=(DAILY,))
IDS = {
    "completed": "01KJMATB7T84G7ZWYRD6Z1RV0W",
    "failed": "01KJMDKJB9F8QY40YGECYYS9E9",
    "retried": "01KJMK5V79GP1XF3A7QYFR6F0D",
    "cancelled": "01KJMS71YVXQH8B0NX5N2RAWVA",
    "cron": "01KJMMA2SYM9S346Q3D25VT4F5",
}


def primary(case: str, *, trace: str | dict[str, Any] | None = None, **kw: Any) -> NormalizedRun:
    files = {
        "completed": "inngest/v2/run-completed.json",
        "failed": "inngest/v2/run-failed.json",
        "retried": "inngest/v2/run-retried-recovered.json",
        "cancelled": "inngest/v2/run-cancelled.json",
        "cron": "inngest/v2/run-cron.json",
    }
    docs = {"trace": trace} if trace is not None else None
    return read(INNGEST, files[case], docs, run_dir=f"runs/{IDS[case]}/", **kw)


def dry(doc: str | dict[str, Any], name: str = "run_twin", **kw: Any) -> NormalizedRun:
    return read(TD, doc, run_dir=f"runs/{name}-dryrun/", **kw)


def judged(*runs: NormalizedRun, opts: JudgeOptions = OPTS) -> Judgement:
    grouped = group_runs(runs, schedules=opts.schedules)
    return judge(grouped.sides, NOW, opts, duplicates=grouped.duplicates, slotted=grouped.slotted)


def findings(j: Judgement, key: str | None = None) -> list[Finding]:
    return [f for r in j.results if key is None or r.key == key for f in r.findings]


def kinds(j: Judgement, key: str | None = None) -> set[tuple[str, str]]:
    return {(f.kind.value, f.severity.value) for f in findings(j, key)}


def criterion(j: Judgement, name: str) -> Any:
    return next(c for c in j.readiness.criteria if c.name == name)


CLEAN = (
    primary("completed"),
    dry("trigger-dev/current/completed.json", "run_a"),
    primary("failed", trace="inngest/v2/trace-failed.json"),
    dry("trigger-dev/current/failed.json", "run_b"),
    primary("retried", trace="inngest/v2/trace-retried-recovered.json"),
    dry("trigger-dev/current/retried-recovered.json", "run_c"),
    primary("cancelled"),
    dry("trigger-dev/current/canceled.json", "run_d"),
    primary("cron"),
    dry("trigger-dev/current/scheduled.json", "run_e"),
)


def test_clean_vendor_pairs_are_judged_equal_despite_the_real_noise() -> None:
    """Title vs upper-case words, 3 vs 6-9 fractional digits, error objects, CANCELED vs
    CANCELLED, a step's retries vs the whole run's, a cron run linked by nothing but its slot."""
    j = judged(*CLEAN)
    assert sorted(r.key for r in j.results) == sorted(
        [IDS[k] for k in ("completed", "failed", "retried", "cancelled")]
        + ["usage-reset@2026-03-01T12:00:00Z"]
    )
    assert all(r.state.value == "paired" for r in j.results)
    errors = [f for f in findings(j) if f.severity is Severity.ERROR]
    assert errors == []
    (check,) = j.schedule_checks  # the 12:00 fire, seen on both sides
    assert (check.primary.value, check.candidate.value) == ("seen", "seen")
    assert j.schedule_findings == ()
    assert criterion(j, "retries").status is CriterionStatus.PASS
    assert criterion(j, "retries").evidence == 2


def test_an_error_class_difference_is_found() -> None:
    doc = with_path(
        fixture("trigger-dev/current/failed.json"),
        ("error", "message"),
        "RATE_LIMITED: billing API returned 429",
    )
    j = judged(primary("failed", trace="inngest/v2/trace-failed.json"), dry(doc))
    assert ("error_code_differs", "error") in kinds(j)


def test_error_classes_are_the_migrations_table() -> None:
    """CANCELED ~ CANCELLED by default; a migration's own table replaces the default."""
    cancelled = (primary("cancelled"), dry("trigger-dev/current/canceled.json"))
    assert ("error_code_differs", "error") not in kinds(judged(*cancelled))
    strict = NormalizeOptions(error_classes=class_table({"RETRIES_EXHAUSTED": ["INTERNAL_ERROR"]}))
    runs = (
        primary("cancelled", opts=strict),
        dry("trigger-dev/current/canceled.json", opts=strict),
    )
    assert ("error_code_differs", "error") in kinds(judged(*runs))


def test_a_retry_difference_is_found_across_retry_scopes() -> None:
    """Inngest retried no step; the dry run retried the whole run: a retry the primary lacks."""
    no_retry_trace = with_path(
        fixture("inngest/v2/trace-retried-recovered.json"),
        ("data", "rootSpan", "children", 0, "children"),
        None,
    )
    j = judged(
        primary("retried", trace=no_retry_trace),
        dry("trigger-dev/current/retried-recovered.json"),
    )
    (extra,) = [f for f in findings(j) if f.dimension is Dimension.RETRIES]
    assert (extra.kind, extra.path) == (Kind.RETRY_EXTRA, "retries[run]")
    assert "the run was retried in the dry run" in extra.message


def test_retry_scopes_reconcile_at_run_level() -> None:
    """A step retried and recovered (Inngest) vs the whole run retried and exhausted: the
    run-level comparison says the recovery differs."""
    exhausted = with_path(fixture("trigger-dev/current/failed.json"), ("metadata",), None)
    exhausted["metadata"] = {"primaryRunId": IDS["retried"]}
    j = judged(primary("retried", trace="inngest/v2/trace-retried-recovered.json"), dry(exhausted))
    assert ("retry_outcome_differs", "error") in kinds(j)
    assert ("terminal_state_differs", "error") in kinds(j)


def test_a_lost_run_and_a_terminal_state_difference() -> None:
    j = judged(
        primary("completed"),
        primary("failed", trace="inngest/v2/trace-failed.json"),
        dry(
            with_path(fixture("trigger-dev/current/failed.json"), ("status",), "COMPLETED"),
            "run_b",
        ),
    )
    assert ("lost_run", "error") in kinds(j, IDS["completed"])
    assert ("terminal_state_differs", "error") in kinds(j, IDS["failed"])


def test_a_missed_cron_slot_is_missed_schedule_never_lost_or_orphan() -> None:
    j = judged(primary("cron"))  # the dry run never fired
    (missed,) = j.schedule_findings
    assert missed.kind is Kind.MISSED_SCHEDULE and missed.candidate == "missed"
    assert kinds(j) == {("missed_schedule", "info")}  # named on the slot, counted once
    assert criterion(j, "completeness").status is CriterionStatus.FAIL


def late_primary_cron(seconds: int) -> NormalizedRun:
    """The Inngest cron run queued and started `seconds` after its 12:00 fire time."""
    doc = fixture("inngest/v2/run-cron.json")
    doc["data"]["queuedAt"] = f"2026-03-01T12:00:{seconds:02d}.318Z"
    doc["data"]["startedAt"] = f"2026-03-01T12:00:{seconds + 1:02d}.440211Z"
    return read(INNGEST, doc, run_dir=f"runs/{IDS['cron']}/")


def test_the_first_slot_missed_by_the_dry_run_is_reported() -> None:
    """The window opens at the primary's start, seconds after the fire time it serves: the dry
    run missing that first fire time is still a missed schedule."""
    j = judged(late_primary_cron(20))
    (missed,) = j.schedule_findings
    assert "schedule usage-reset@2026-03-01T12:00:00Z" == missed.path
    assert ("seen", "missed") == (missed.primary, missed.candidate)
    assert criterion(j, "completeness").status is CriterionStatus.FAIL


def test_a_first_slot_both_sides_served_is_no_miss() -> None:
    """Both sides served the first fire time, the primary 20 s late: one check, seen on both."""
    j = judged(late_primary_cron(20), dry("trigger-dev/current/scheduled.json", "run_e"))
    (check,) = j.schedule_checks
    assert ("seen", "seen") == (check.primary.value, check.candidate.value)
    assert () == j.schedule_findings


def test_a_late_cron_run_is_off_schedule_and_its_slot_missed() -> None:
    late = fixture("trigger-dev/current/scheduled.json")
    late["payload"]["timestamp"] = late["createdAt"] = "2026-03-01T15:00:00.000Z"
    j = judged(primary("cron"), dry(late))
    assert {f.kind for f in j.schedule_findings} == {Kind.MISSED_SCHEDULE}
    assert ("off_schedule", "warning") in kinds(j)
    assert not {"lost_run", "orphan_run"} & {k for k, _ in kinds(j)}


def test_retries_the_records_cannot_show_are_no_evidence_not_a_pass() -> None:
    """Inngest retries live in the trace: without trace.json, a dry run's retry is not judged,
    says so on the pair, and the retries criterion has no evidence."""
    j = judged(primary("retried"), dry("trigger-dev/current/retried-recovered.json"))
    (note,) = [f for f in findings(j) if f.dimension is Dimension.RETRIES]
    assert (note.kind, note.severity, note.subject) == (Kind.NOT_SEEN, Severity.INFO, "primary")
    crit = criterion(j, "retries")
    assert crit.status is CriterionStatus.NO_EVIDENCE and not crit.passed
    assert "1 pair(s) where a side's records do not show retries" in crit.detail


def test_zero_retried_pairs_are_no_evidence() -> None:
    j = judged(primary("completed"), dry("trigger-dev/current/completed.json"))
    crit = criterion(j, "retries")
    assert (crit.status, crit.passed, crit.evidence) == (CriterionStatus.NO_EVIDENCE, False, 0)
    assert "no paired run retried on either side" in crit.detail


def test_a_profile_blind_to_a_dimension_never_passes_it() -> None:
    """The bot records no steps: the steps criterion says so whatever the pairs show."""
    runs = [
        read(TG, "telegram/records/handled.json", run_dir="runs/618204117/"),
        read(TG, "telegram/records/handled.json", run_dir="runs/618204117-dryrun/"),
    ]
    blind = (("steps", "the primary's profile 'telegram-bot' reads no steps"),)
    j = judged(*runs, opts=JudgeOptions(blind=blind))
    crit = criterion(j, "steps")
    assert crit.status is CriterionStatus.NO_EVIDENCE
    assert crit.detail == "no evidence: the primary's profile 'telegram-bot' reads no steps"
    assert j.readiness.verdict is Verdict.INSUFFICIENT_DATA  # short of pairs, not failed


def test_a_duplicate_delivery_on_the_dry_run_side_is_an_error() -> None:
    cf = SHIPPED["cf-queues-consumer"]
    job = "run_cm7r4g5h60j7k8m9n0p1q2r3s"
    prim = read(
        TD,
        with_path(fixture("trigger-dev/current/completed.json"), ("metadata",), None),
        run_dir=f"runs/{job}/",
    )
    twins = [
        read(cf, "cloudflare-queues/double-send/first.json", run_dir="runs/m1-dryrun/"),
        read(cf, "cloudflare-queues/double-send/second.json", run_dir="runs/m2-dryrun/"),
    ]
    j = judged(prim, *twins)
    assert ("duplicate_run", "error") in kinds(j, job)
