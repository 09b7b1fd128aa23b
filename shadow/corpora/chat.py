"""Scenario chat: a Telegram bot server -> Trigger.dev, chat interactions.

Primary: the bot server's `telegram-bot/1` record of each update (the Update as Telegram posted
it, `date` in epoch seconds, the bot's own delivery count, Bot API error bodies). Dry run: one
Trigger.dev run per forwarded update (current or legacy vocabulary by client), linked by
`metadata.primaryRunId` = the update id (a string where Telegram's is an integer).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from shadow.core.findings import Dimension, Kind
from shadow.corpora.migration import Built, dry_run, retry_like, retry_run, spread, steps_of
from shadow.corpora.shapes import telegram, trigger_dev
from shadow.corpora.shapes.formats import trigger_id
from shadow.corpora.writer import Pair, Planted, Run, StratumPlant, begun, fail

CHAT: dict[str, tuple[tuple[str, float, float], ...]] = {
    "chat-message": (
        ("parse-update", 5, 30),
        ("generate-reply", 400, 2000),
        ("send-reply", 50, 300),
    ),
    "command": (("parse-update", 5, 30), ("run-command", 100, 900), ("send-reply", 50, 300)),
    "callback-query": (
        ("parse-update", 5, 30),
        ("update-message", 80, 600),
        ("answer-callback", 30, 200),
    ),
}
SLOW = "callback-query"
RATE_LIMITED = "RATE_LIMITED: Telegram said Too Many Requests: retry after 1"


def _pair(rng: random.Random, stratum: str, at: datetime, update_id: int, i: int) -> Pair:
    sent = at - timedelta(seconds=rng.uniform(0.05, 0.3))
    p = Run(str(update_id), stratum, "webhook", at, steps_of(rng, CHAT[stratum]))
    p.payload = telegram.update(rng, update_id, stratum, sent)
    p.queued_at = sent if stratum != "callback-query" else None
    p.tail_ms = rng.uniform(5, 30)
    c = dry_run(rng, p, trigger_id(rng), (0.05, 0.5))
    wait = (at - sent).total_seconds()  # triggered on receipt; starts after a delay like the bot's
    c.queued_at = begun(c) - timedelta(seconds=wait * rng.uniform(0.9, 1.1))
    c.payload = {"updateId": update_id, "chatId": _chat_id(p)}
    c.variant = "legacy" if i % 4 == 0 else "current"
    return p, [c]


def _chat_id(p: Run) -> int:
    body = p.payload.get("message") or p.payload["callback_query"]["message"]
    return int(body["chat"]["id"])


def _retried(rng: random.Random, p: Run, c: Run) -> None:
    """Telegram rate-limited the reply on both sides, and both recovered: the bot answered 500
    and Telegram re-sent the update (delivery 2); Trigger.dev retried the run (2-3 attempts)."""
    retry_run(rng, p, 2, RATE_LIMITED, 1000, at=2)
    retry_like(rng, c, p, rng.choice((2, 3)), RATE_LIMITED, at=2)


def _rate_limited(rng: random.Random, p: Run, c: Run) -> None:
    """Both failed on a 429: the Bot API error body (`error_code` 429) in the bot's record, the
    task's `RATE_LIMITED:` error in Trigger.dev; one class in this migration's [error_classes]."""
    fail(p, 2, RATE_LIMITED)
    fail(c, 2, RATE_LIMITED)
    p.error_doc = telegram.bot_error(429, "Too Many Requests: retry after 1")
    c.error_doc = trigger_dev.user_error(c, RATE_LIMITED)


def _pairs(
    rng: random.Random, now: datetime, size: int, slow: bool
) -> tuple[list[Pair], list[int]]:
    begin, end = now - timedelta(days=15), now - timedelta(hours=1)
    pairs: list[Pair] = []
    plain: list[int] = []
    update = 618_200_000 + rng.getrandbits(16)
    for stratum in CHAT:
        for i, at in enumerate(spread(rng, size, begin, end)):
            update += rng.randint(1, 500)
            p, cs = _pair(rng, stratum, at, update, i)
            if slow and stratum == SLOW:  # a slow edit API: p95 above the 5 s SLO on both sides
                factor = rng.uniform(8.0, 16.0)
                for run in (p, cs[0]):
                    run.steps[1].ms *= factor
            if i % 6 == 2 and stratum != "callback-query":
                _retried(rng, p, cs[0])
            elif i % 9 == 4:
                _rate_limited(rng, p, cs[0])
            elif stratum == "chat-message":
                plain.append(len(pairs))
            pairs.append((p, cs))
    return pairs, plain


def _plant(rng: random.Random, pairs: list[Pair], plain: list[int]) -> list[Planted]:
    planted: list[Planted] = []

    def at(idx: int) -> tuple[Run, Run]:
        p, (c,) = pairs[idx]
        return p, c

    p, _ = at(plain[0])
    pairs[plain[0]] = (p, [])  # the update never reached the candidate
    planted.append(Planted(p.ident, Dimension.COMPLETENESS, Kind.LOST_RUN))
    p, c = at(plain[1])
    fail(c, 1, "SYSTEM_FAILURE")
    c.word, c.error_doc = "SYSTEM_FAILURE", trigger_dev.internal_error("TASK_RUN_HEARTBEAT_TIMEOUT")
    planted.append(Planted(p.ident, Dimension.STATUS, Kind.TERMINAL_STATE_DIFFERS))
    p, c = at(plain[2])
    retry_run(rng, c, 2, RATE_LIMITED, 1000, at=2)  # retried in Trigger.dev only
    planted.append(Planted(p.ident, Dimension.RETRIES, Kind.RETRY_EXTRA))
    p, c = at(plain[3])
    _rate_limited(rng, p, c)
    p.error_doc = telegram.bot_error(403, "Forbidden: bot was blocked by the user")
    planted.append(Planted(p.ident, Dimension.STATUS, Kind.ERROR_CODE_DIFFERS))
    p, c = at(plain[4])
    again = dry_run(rng, p, trigger_id(rng), (2.0, 3.0))  # the bot forwarded a redelivered
    pairs[plain[4]] = (p, [c, again])  # update again: two Trigger.dev runs for one update
    planted.append(Planted(p.ident, Dimension.COMPLETENESS, Kind.DUPLICATE_RUN))
    p, c = at(plain[5])
    retry_run(rng, p, 3, RATE_LIMITED, 1000, at=2)  # redelivered twice, recovered: judged a
    retry_like(rng, c, p, 2, RATE_LIMITED, at=2)  # retry like Trigger.dev's (info only)
    planted.append(Planted(p.ident, Dimension.RETRIES, Kind.RETRY_ATTEMPTS_DIFFER))
    p, c = at(plain[6])
    retry_run(rng, p, 3, RATE_LIMITED, 1000, at=2)  # redelivered until the bot gave up,
    fail(p, 2, RATE_LIMITED)  # where Trigger.dev's retry recovered: the outcome differs
    p.error_doc = telegram.bot_error(429, "Too Many Requests: retry after 1")
    retry_run(rng, c, 2, RATE_LIMITED, 1000, at=2)
    planted.append(Planted(p.ident, Dimension.RETRIES, Kind.RETRY_OUTCOME_DIFFERS))
    return planted


def build(rng: random.Random, now: datetime, plant: bool, size: int) -> Built:
    pairs, plain = _pairs(rng, now, size, plant)
    planted = _plant(rng, pairs, plain) if plant else []
    strata = [StratumPlant(SLOW, Dimension.TIMING, Kind.RUN_SLOWER)] if plant else []
    slo = {"p50_ms": 2000, "p95_ms": 5000}
    config = {
        "primary_profile": "telegram-bot",
        "candidate_profile": "trigger-dev",
        "stratum_noun": "interaction types",
        "excluded_steps": [],
        "slos": {s: slo for s in CHAT},
        "error_classes": {"RATE_LIMITED": ["RATE_LIMITED", "429"]},
        "thresholds": {"min_pairs": 2 * size, "min_pairs_per_agent": 15, "timing_min_pairs": 15},
    }

    def primary(root: Path, run: Run, dir_id: str, at: datetime) -> None:
        telegram.write(root, run, dir_id, at)

    def candidate(root: Path, run: Run, dir_id: str, at: datetime) -> None:
        trigger_dev.write(root, run, dir_id, at)

    return Built(pairs, planted, strata, config, (primary, candidate))
