"""Scenario queues: Trigger.dev -> Cloudflare Queues, background jobs, a batch enqueued at once
and a daily cron.

Primary: Trigger.dev run objects (current vocabulary), retries as `attemptCount`, the daily
`usage-reset` a Trigger.dev schedule (`createdAt` its exact fire time). Dry run: the consumer's
`cf-queues-consumer/1` record of each message, the producer's `jobId` (the Trigger.dev run id) in
the body, `attempts` counting deliveries (a redelivery overwrites the record), and the Cron
Trigger's fires with `scheduledTime` in epoch milliseconds. Cron runs name no job: both sides
pair on the fire time.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from shadow.core.findings import Dimension, Kind
from shadow.core.layout import Side
from shadow.corpora.migration import (
    Built,
    daily,
    dry_run,
    retry_like,
    retry_run,
    spread,
    steps_of,
)
from shadow.corpora.shapes import cf_queues, trigger_dev
from shadow.corpora.shapes.formats import hex_id, trigger_id
from shadow.corpora.writer import Pair, Planted, Run, StratumPlant, begun, fail

JOBS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "document-ingestion": (
        ("fetch-document", 200, 1500),
        ("extract-text", 300, 3000),
        ("embed-chunks", 500, 4000),
        ("upsert-index", 100, 800),
    ),
    "delete-document": (("delete-vectors", 50, 400), ("delete-blob", 30, 200)),
    "meter-org-documents": (("count-documents", 50, 600), ("write-meter", 20, 200)),
    "reingest": (
        ("load-document", 100, 900),
        ("embed-chunks", 500, 4000),
        ("upsert-index", 100, 800),
    ),
    "usage-reset": (("reset-counters", 2000, 6000),),
}
BATCH, CRON, CRON_LINE = "meter-org-documents", "usage-reset", "0 12 * * *"
BATCH_SIZE = 40
EMBED_503 = "UPSTREAM_UNAVAILABLE: embedding API returned 503"


def _job(rng: random.Random, stratum: str, at: datetime, trigger: str = "queue") -> Pair:
    p = Run("", stratum, trigger, at, steps_of(rng, JOBS[stratum]))
    p.own_id = p.run_id = trigger_id(rng)
    p.queued_at = at - timedelta(seconds=rng.uniform(0.2, 1.2))
    p.payload = {
        "documentId": f"doc_{rng.getrandbits(40):010x}",
        "orgId": f"org_{rng.getrandbits(16):04x}",
    }
    c = dry_run(rng, p, hex_id(rng), (0.05, 0.8))  # the message is sent right after the trigger
    return p, [c]


def _redelivered(rng: random.Random, p: Run, c: Run) -> None:
    """The job hit a 503 and recovered on both sides: Trigger.dev retried it (attemptCount 2-3),
    the queue redelivered the message (attempts 2): counts differ, the recovery is the same."""
    retry_run(rng, p, rng.choice((2, 3)), EMBED_503, 1000, at=len(p.steps) - 1)
    retry_like(rng, c, p, 2, EMBED_503, at=len(c.steps) - 1)


def _exhausted(rng: random.Random, p: Run, c: Run) -> None:
    """Never recovered: Trigger.dev FAILED after maxAttempts 3, the message failed on its fourth
    delivery (max_retries 3 read as four deliveries, docs/vendors.md 3): the same code."""
    last = len(p.steps) - 1
    fail(p, last, EMBED_503)
    fail(c, last, EMBED_503)
    retry_run(rng, p, 3, EMBED_503, 1000, at=last)
    retry_like(rng, c, p, 4, EMBED_503, at=last)


def _pairs(
    rng: random.Random, now: datetime, size: int
) -> tuple[list[Pair], list[int], list[Pair]]:
    begin, end = now - timedelta(days=15), now - timedelta(hours=1)
    pairs: list[Pair] = []
    plain: list[int] = []
    for stratum in JOBS:
        if stratum == CRON:
            continue
        for i, at in enumerate(spread(rng, size, begin, end)):
            p, cs = _job(rng, stratum, at)
            if i % 6 == 2:
                _redelivered(rng, p, cs[0])
            elif i % 9 == 4:
                _exhausted(rng, p, cs[0])
            elif stratum == "document-ingestion":
                plain.append(len(pairs))
            pairs.append((p, cs))
    burst = now - timedelta(days=2, hours=3)  # a batch enqueued at once
    batch = [
        _job(rng, BATCH, burst + timedelta(milliseconds=rng.uniform(0, 40)))
        for _ in range(BATCH_SIZE)
    ]
    pairs += batch
    for fire in daily(12, begin, end):
        p, (c,) = _job(rng, CRON, fire + timedelta(seconds=rng.uniform(0.5, 1.5)), "cron")
        p.slot, p.queued_at = fire, fire  # createdAt is the exact fire time
        sched = trigger_dev.scheduled(fire, CRON_LINE, timedelta(days=1), rng)
        p.payload, p.vendor = sched["payload"], {"schedule": sched["schedule"]}
        c.own_id, c.link, c.slot = cf_queues.cron_dir(fire), None, fire
        c.start = fire + (begun(p) - fire) * rng.uniform(0.9, 1.1)
        c.vendor = {"cron": CRON_LINE}
        pairs.append((p, [c]))
    return pairs, plain, batch


def _plant(
    rng: random.Random, pairs: list[Pair], plain: list[int], batch: list[Pair]
) -> tuple[list[Planted], list[StratumPlant]]:
    planted: list[Planted] = []

    def at(idx: int) -> tuple[Run, Run]:
        p, (c,) = pairs[idx]
        return p, c

    lost = pairs.index(batch[BATCH_SIZE // 2])
    p, _ = at(lost)
    pairs[lost] = (p, [])  # lost under the batch's load
    planted.append(Planted(p.ident, Dimension.COMPLETENESS, Kind.LOST_RUN))
    p, c = at(plain[0])
    fail(c, 1, "VALIDATION_FAILED: not a PDF")  # the consumer's parser rejects what TD accepted
    planted.append(Planted(p.ident, Dimension.STATUS, Kind.TERMINAL_STATE_DIFFERS))
    p, c = at(plain[1])
    retry_run(rng, p, 2, EMBED_503, 1000, at=2)  # retried in Trigger.dev, delivered once here
    planted.append(Planted(p.ident, Dimension.RETRIES, Kind.RETRY_MISSING))
    p, c = at(plain[2])
    _exhausted(rng, p, c)
    c.error_doc = {
        "name": "TypeError",
        "message": "Cannot read properties of undefined (reading 'chunks')",
    }
    planted.append(Planted(p.ident, Dimension.STATUS, Kind.ERROR_CODE_DIFFERS))
    p, c = at(plain[3])
    again = dry_run(rng, p, hex_id(rng), (2.0, 4.0))  # the producer sent the job twice
    pairs[plain[3]] = (p, [c, again])
    planted.append(Planted(p.ident, Dimension.COMPLETENESS, Kind.DUPLICATE_RUN))
    p, c = at(plain[4])
    retry_run(rng, p, 2, EMBED_503, 1000, at=2)  # a redelivery that recovered like TD's retry:
    retry_like(rng, c, p, 3, EMBED_503, at=2)  # judged a retry (attempts differ: info only)
    planted.append(Planted(p.ident, Dimension.RETRIES, Kind.RETRY_ATTEMPTS_DIFFER))
    p, c = at(plain[5])
    retry_run(rng, p, 2, EMBED_503, 1000, at=2)  # recovered in Trigger.dev; redelivered four
    fail(c, 2, EMBED_503)  # times and dead here: the redelivery's outcome differs
    retry_run(rng, c, 4, EMBED_503, 1000, at=2)
    planted.append(Planted(p.ident, Dimension.RETRIES, Kind.RETRY_OUTCOME_DIFFERS))
    crons = [i for i, (p, _) in enumerate(pairs) if p.stratum == CRON]
    p, _ = at(crons[len(crons) // 2])
    pairs[crons[len(crons) // 2]] = (p, [])  # the Cron Trigger did not fire that day
    return planted, [
        StratumPlant(CRON, Dimension.COMPLETENESS, Kind.MISSED_SCHEDULE, Side.CANDIDATE)
    ]


def build(rng: random.Random, now: datetime, plant: bool, size: int) -> Built:
    pairs, plain, batch = _pairs(rng, now, size)
    planted, strata = _plant(rng, pairs, plain, batch) if plant else ([], [])
    config = {
        "primary_profile": "trigger-dev",
        "candidate_profile": "jobs-consumer",
        "stratum_noun": "job types",
        "excluded_steps": [],
        "schedules": [{"stratum": CRON, "cron": CRON_LINE, "tolerance_seconds": 900}],
        "thresholds": {"min_pairs": 100, "min_pairs_per_agent": 12, "timing_min_pairs": 12},
        "profiles": {
            "jobs-consumer": {
                "extends": "cf-queues-consumer",
                "run": {
                    "stratum": [
                        "message.body.type",
                        {"path": "scheduled.cron", "map": {CRON_LINE: CRON}},
                    ]
                },
            }
        },
    }

    def primary(root: Path, run: Run, dir_id: str, at: datetime) -> None:
        trigger_dev.write(root, run, dir_id, at)

    def candidate(root: Path, run: Run, dir_id: str, at: datetime) -> None:
        cf_queues.write(root, run, dir_id, at)

    return Built(pairs, planted, strata, config, (primary, candidate))
