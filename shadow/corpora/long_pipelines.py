"""Scenario long-pipelines: Inngest -> Trigger.dev, nine-step generator runs, streaming runs a
user may cancel, and a nightly cron.

Primary: Inngest runs as its REST API returns them, v1 (title-case words, Go times with up to 9
fractional digits, a function UUID) until the exporter moved to v2 (upper-case words, sorted keys,
`durationMs` a string), each with its v2 trace (steps, a retried step's `Attempt n` children).
Dry run: Trigger.dev run objects, fetched by two clients (the SDK: current vocabulary; a curl job:
legacy), with the trace beside them (the last attempt's spans are the steps), linked by
`metadata.primaryRunId`; the nightly digest is a Trigger.dev schedule, paired by its fire time.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from shadow.core.findings import Dimension, Kind
from shadow.core.layout import Side
from shadow.corpora.migration import (
    Built,
    cancel,
    daily,
    dry_run,
    retry_run,
    retry_step,
    spread,
    steps_of,
)
from shadow.corpora.shapes import inngest, trigger_dev
from shadow.corpora.shapes.formats import trigger_id, ulid
from shadow.corpora.writer import Pair, Planted, Run, Step, StratumPlant, begun, fail

GENERATOR = (
    ("scaffold-repo", 800, 2000),
    ("design-schema", 3000, 9000),
    ("generate-models", 4000, 12000),
    ("generate-api", 5000, 15000),
    ("generate-ui", 6000, 18000),
    ("write-tests", 4000, 10000),
    ("write-docs", 2000, 6000),
    ("configure-ci", 1000, 3000),
    ("publish-preview", 1500, 5000),
)
STREAM = (("open-stream", 100, 400), ("stream-tokens", 3000, 20000), ("close-stream", 50, 200))
DIGEST = (("collect-changes", 15000, 40000), ("send-digest", 3000, 10000))
CRON, CRON_LINE = "nightly-digest", "0 3 * * *"
GITHUB_502 = "UPSTREAM_UNAVAILABLE: github returned 502"
V2_FROM = timedelta(days=8)  # the exporter moved from REST v1 to v2 this long before `now`


def _primary(
    rng: random.Random,
    stratum: str,
    at: datetime,
    v2: bool,
    spec: tuple[tuple[str, float, float], ...],
) -> Run:
    queued = at - timedelta(seconds=rng.uniform(0.05, 0.4))
    run = Run("", stratum, "event", at, steps_of(rng, spec), queued_at=queued)
    run.own_id = run.run_id = ulid(rng, queued)  # the run ULID encodes its queue time
    run.key = ulid(rng, queued - timedelta(milliseconds=rng.uniform(5, 200)))  # the event
    run.variant = "v2" if v2 else "v1"
    run.tail_ms = rng.uniform(100, 400)  # the Finalization span
    return run


def _twin(rng: random.Random, p: Run, i: int) -> Run:
    c = dry_run(rng, p, trigger_id(rng), (0.3, 3.0))
    c.variant = "legacy" if i % 3 == 0 else "current"
    c.payload = {"project": f"prj_{rng.getrandbits(32):08x}"}
    return c


def _retried(rng: random.Random, p: Run, c: Run) -> None:
    """scaffold-repo hit GitHub 502s and recovered: Inngest retried the step (2-3 attempts),
    Trigger.dev the whole run (2 attempts): counts differ, the recovery is the same."""
    retry_step(rng, p.steps[0], rng.choice((2, 3)), GITHUB_502, 2000)
    retry_run(rng, c, 2, GITHUB_502, 2000)


def _exhausted(rng: random.Random, p: Run, c: Run) -> None:
    """scaffold-repo failed three times on both sides: the run failed with the same code."""
    retry_step(rng, p.steps[0], 3, GITHUB_502, 2000)
    fail(p, 0, GITHUB_502)
    fail(c, 0, GITHUB_502)
    retry_run(rng, c, 3, GITHUB_502, 2000)


def _timed_out(rng: random.Random, p: Run, c: Run) -> None:
    """generate-ui ran out of time: Inngest's TimeoutError, Trigger.dev's TIMED_OUT with
    MAX_DURATION_EXCEEDED; one class in this migration's [error_classes]."""
    text = "step generate-ui timed out after 120s"
    for run in (p, c):
        fail(run, 4, text)
    p.error_doc = inngest.serialized_error(p, text, "TimeoutError")
    c.word, c.error_doc = "TIMED_OUT", trigger_dev.internal_error("MAX_DURATION_EXCEEDED")


def _pairs(rng: random.Random, now: datetime, size: int) -> tuple[list[Pair], list[int], list[int]]:
    """Every clean pair, and which generator and stream pairs are plain (free for a plant)."""
    begin, end, v2_from = now - timedelta(days=15), now - timedelta(hours=1), now - V2_FROM
    pairs: list[Pair] = []
    plain_gen, plain_stream = [], []
    for i, at in enumerate(spread(rng, size, begin, end)):
        p = _primary(rng, "project-generator", at, at >= v2_from, GENERATOR)
        c = _twin(rng, p, i)
        if i % 5 == 1:
            _retried(rng, p, c)
        elif i % 7 == 3:
            _exhausted(rng, p, c)
        elif i % 11 == 5:
            _timed_out(rng, p, c)
        else:
            plain_gen.append(len(pairs))
        pairs.append((p, [c]))
    for i, at in enumerate(spread(rng, size, begin, end)):
        p = _primary(rng, "chat-stream", at, at >= v2_from, STREAM)
        if i % 4 == 1:  # the user canceled the stream: CANCELLED in Inngest, CANCELED here
            cancel(p, 1)
        else:
            plain_stream.append(len(pairs))
        pairs.append((p, [_twin(rng, p, i)]))
    for i, fire in enumerate(daily(3, begin, end)):
        queued = fire + timedelta(seconds=rng.uniform(0.2, 8.0))  # Inngest's cron jitter
        p = _primary(
            rng, CRON, queued + timedelta(seconds=rng.uniform(0.5, 1.5)), fire >= v2_from, DIGEST
        )
        p.trigger, p.queued_at, p.vendor = "cron", queued, {"cron": CRON_LINE}
        c = _twin(rng, p, i)
        c.start = fire + (begun(p) - queued) * rng.uniform(0.9, 1.1)
        c.link, c.slot = None, fire  # a schedule's run names no primary: it pairs by its slot
        sched = trigger_dev.scheduled(fire, CRON_LINE, timedelta(days=1), rng)
        c.payload, c.vendor = sched["payload"], {"schedule": sched["schedule"]}
        pairs.append((p, [c]))
    return pairs, plain_gen, plain_stream


def _in_flight(rng: random.Random, now: datetime) -> list[Pair]:
    """Two generator runs still going: Inngest RUNNING, Trigger.dev WAITING (current words) and
    FROZEN (legacy words for the same state)."""
    out: list[Pair] = []
    for i, word in ((0, "FROZEN"), (1, "WAITING")):
        p = _primary(
            rng, "project-generator", now - timedelta(seconds=100 + 60 * i), True, GENERATOR
        )
        c = _twin(rng, p, i)
        c.variant = "legacy" if word == "FROZEN" else "current"  # a word of each vocabulary
        for run in (p, c):
            run.steps = run.steps[:4]
            run.steps[3].status, run.status = "running", "running"
        c.word = word
        out.append((p, [c]))
    return out


def _plant(
    rng: random.Random, pairs: list[Pair], gen: list[int], stream: list[int]
) -> tuple[list[Planted], list[StratumPlant]]:
    planted: list[Planted] = []

    def at(idx: int) -> tuple[Run, Run]:
        p, (c,) = pairs[idx]
        return p, c

    p, _ = at(gen[1])
    pairs[gen[1]] = (p, [])  # the dry run was never triggered
    planted.append(Planted(p.ident, Dimension.COMPLETENESS, Kind.LOST_RUN))
    p, c = at(stream[2])
    cancel(c, 1)  # canceled in the dry run only
    planted.append(Planted(p.ident, Dimension.STATUS, Kind.TERMINAL_STATE_DIFFERS))
    p, c = at(gen[3])
    retry_step(rng, p.steps[0], 2, GITHUB_502, 2000)  # retried in Inngest, never in Trigger.dev
    planted.append(Planted(p.ident, Dimension.RETRIES, Kind.RETRY_MISSING))
    p, c = at(gen[4])
    _timed_out(rng, p, c)
    c.word, c.error_doc = "CRASHED", trigger_dev.internal_error("TASK_PROCESS_OOM_KILLED")
    planted.append(Planted(p.ident, Dimension.STATUS, Kind.ERROR_CODE_DIFFERS))
    p, c = at(gen[5])
    again = _twin(rng, p, 1)  # triggered twice: two Trigger.dev runs name one primary
    again.start = begun(c) + timedelta(seconds=90)
    pairs[gen[5]] = (p, [c, again])
    planted.append(Planted(p.ident, Dimension.COMPLETENESS, Kind.DUPLICATE_RUN))
    for idx, how, kind in (
        (gen[6], "skip", Kind.STEP_MISSING),
        (gen[7], "merge", Kind.STEP_MERGED),
        (gen[8], "split", Kind.STEP_SPLIT),
    ):
        _regroup(at(idx)[1], how)
        planted.append(Planted(at(idx)[0].ident, Dimension.STEPS, kind))
    crons = [i for i, (p, _) in enumerate(pairs) if p.stratum == CRON]
    p, _ = at(crons[len(crons) // 2])
    pairs[crons[len(crons) // 2]] = (p, [])  # the schedule did not fire that night
    slot = StratumPlant(CRON, Dimension.COMPLETENESS, Kind.MISSED_SCHEDULE, Side.CANDIDATE)
    return planted, [slot]


def _regroup(c: Run, how: str) -> None:
    s = c.steps
    if how == "skip":
        c.steps = s[:4] + s[5:]  # generate-ui never ran
    elif how == "merge":
        merged = Step("generate-code", s[2].ms + s[3].ms, s[2].gap_ms)  # models and api at once
        c.steps = [*s[:2], merged, *s[4:]]
    else:
        half = s[5].ms / 2
        c.steps = [
            *s[:5],
            Step("write-unit-tests", half, s[5].gap_ms),
            Step("write-e2e-tests", half, 8.0),
            *s[6:],
        ]


def build(rng: random.Random, now: datetime, plant: bool, size: int) -> Built:
    pairs, gen, stream = _pairs(rng, now, size)
    planted, strata = _plant(rng, pairs, gen, stream) if plant else ([], [])
    pairs += _in_flight(rng, now)
    stratum_map = {inngest.function_uuid(s): s for s in ("project-generator", "chat-stream", CRON)}
    config = {
        "primary_profile": "inngest-codegen",
        "candidate_profile": "trigger-dev-traced",
        "stratum_noun": "pipelines",
        "excluded_steps": [],
        "schedules": [{"stratum": CRON, "cron": CRON_LINE, "tolerance_seconds": 900}],
        "error_classes": {
            "CANCELED": ["CANCELED", "CANCELLED"],
            "TIMEOUT": ["MAX_DURATION_EXCEEDED", "TimeoutError"],
        },
        "thresholds": {"min_pairs": size, "min_pairs_per_agent": 12, "timing_min_pairs": 12},
        "profiles": {
            "inngest-codegen": {
                "extends": "inngest",
                "run": {"stratum": ["function.id", {"path": "function_id", "map": stratum_map}]},
            },
        },
    }

    def primary(root: Path, run: Run, dir_id: str, at: datetime) -> None:
        inngest.write(root, run, dir_id, at)

    def candidate(root: Path, run: Run, dir_id: str, at: datetime) -> None:
        trigger_dev.write(root, run, dir_id, at, traced=True)

    return Built(pairs, planted, strata, config, (primary, candidate))
