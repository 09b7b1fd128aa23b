"""A compact, versioned byte form of one normalized run and the objects it rejected.

The ledger keeps each run in this form so a restarted process or `shadow rejudge` rebuilds its
judgement from one row per run instead of re-reading and re-parsing every object. JSON, never
pickle: the ledger may live in a shared database, and loading it must never run code. orjson is
four times faster than the standard library here; the standard library remains the fallback for
the rare value orjson refuses (an integer beyond 64 bits, a lone surrogate). Positional arrays
keep rows small. Decoding is strict: anything that does not match this version raises
`CodecError`, and the caller falls back to re-normalizing from the stored objects.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Final

import orjson
from pydantic import ValidationError

from shadow.core.evidence import HistoryMode
from shadow.core.findings import Finding
from shadow.core.layout import Side
from shadow.core.records import Rejected
from shadow.core.runs import NormalizedRun, RetryInfo, RunLinks, steps_of, word
from shadow.core.vocabulary import RunState, StepState

VERSION: Final = 2  # 2: retries' scope and error_seen, a declarative run's links
# Enum lookups by value through plain dicts: a call such as RunState(x) costs ten times more.
_RUN_STATE: Final[dict[str, RunState]] = {s.value: s for s in RunState}
_STEP_STATE: Final[dict[str, StepState]] = {s.value: s for s in StepState}
_SIDE: Final[dict[str, Side]] = {s.value: s for s in Side}
_MODE: Final[dict[str, HistoryMode]] = {m.value: m for m in HistoryMode}


# The fields of NormalizedRun this version stores, in order (`comparable` is recomputed).
ENCODED_FIELDS: Final = (
    "pairing_key", "side", "agent", "run_dir", "state", "history", "history_mode", "error_code",
    "error_class", "trigger", "started_at", "finished_at", "first_seen", "steps", "retries",
    "proposals", "proposal_outputs", "unknown_fields", "vendor_fields", "queued_observed",
    "e2e_ms", "input_findings", "idempotency_key", "rejected", "links",
)  # fmt: skip


class CodecError(ValueError):
    """A stored run that this version of shadow cannot read back."""


def encode(run: NormalizedRun, rejected: tuple[Rejected, ...]) -> bytes:
    body = [
        VERSION,
        run.pairing_key,
        run.side.value,
        run.agent,
        run.run_dir,
        run.state.value if run.state is not None else None,
        [s.value for s in run.history],
        run.history_mode.value,
        run.error_code,
        run.error_class,
        run.trigger,
        run.started_at,
        run.finished_at,
        run.first_seen,
        [[s.number, s.name, s.state.value, s.error_code, ms] for s, ms in run.timed_steps()],
        [_retry(r) for r in run.retries],
        run.proposals,
        list(run.proposal_outputs),
        sorted(run.unknown_fields),
        sorted(run.vendor_fields),
        run.queued_observed,
        run.e2e_ms,
        [f.model_dump(mode="json", exclude_defaults=True) for f in run.input_findings],
        run.idempotency_key,
        [r.model_dump(mode="json") for r in run.rejected],
        _links(run.links),
        [r.model_dump(mode="json") for r in rejected],
    ]
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:  # an int beyond 64 bits, a lone surrogate: rare, still kept
        return json.dumps(body, separators=(",", ":")).encode()


def _retry(r: RetryInfo) -> list[Any]:
    row: list[Any] = [r.step, r.recovered, r.error_code, r.attempts]
    if r.whole_run or not r.error_seen:  # the garden's retries keep their four fields
        row += [r.whole_run, r.error_seen]
    return row


def _links(links: RunLinks | None) -> list[Any] | None:
    if links is None:
        return None
    return [
        links.identity,
        links.link,
        links.attempt,
        links.scheduled,
        links.slot,
        links.queued_at,
        links.steps_seen,
        links.retries_seen,
    ]


def decode(data: bytes) -> tuple[NormalizedRun, tuple[Rejected, ...]]:
    try:
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError:
            body = json.loads(data)  # what encode's fallback wrote
        if (
            not isinstance(body, list)
            or not body
            or body[0] != VERSION
            or len(body) != len(ENCODED_FIELDS) + 2
        ):
            raise CodecError(f"not a stored run of codec version {VERSION}")
        return _build(body)
    except (ValueError, TypeError, KeyError, IndexError, ValidationError) as exc:
        if isinstance(exc, CodecError):
            raise
        raise CodecError(f"unreadable stored run: {exc}") from exc


def _build(b: list[Any]) -> tuple[NormalizedRun, tuple[Rejected, ...]]:
    run = NormalizedRun(
        pairing_key=b[1],
        side=_SIDE[b[2]],
        agent=b[3],
        run_dir=b[4],
        state=_RUN_STATE[b[5]] if b[5] is not None else None,
        history=tuple([_RUN_STATE[s] for s in b[6]]),
        history_mode=_MODE[b[7]],
        error_code=b[8],
        error_class=b[9],
        trigger=b[10],
        started_at=b[11],
        finished_at=b[12],
        first_seen=b[13],
        steps=steps_of([(n, name, _STEP_STATE[st], err) for n, name, st, err, _ in b[14]]),
        step_durations=tuple([row[4] for row in b[14]]),
        retries=tuple([_retry_of(row) for row in b[15]]),
        proposals=b[16],
        proposal_outputs=tuple(b[17]),
        unknown_fields=frozenset(b[18]),
        vendor_fields=frozenset(b[19]),
        queued_observed=b[20],
        e2e_ms=b[21],
        input_findings=tuple([Finding.model_validate(f) for f in b[22]]) if b[22] else (),
        idempotency_key=b[23],
        rejected=_rejected(b[24]),
        links=RunLinks(*b[25]) if b[25] is not None else None,
    )
    return run, _rejected(b[26])


def _retry_of(row: list[Any]) -> RetryInfo:
    step, rec, err, att, *more = row
    return RetryInfo(sys.intern(step), rec, word(err), att, *more)


def _rejected(rows: list[Any]) -> tuple[Rejected, ...]:
    return tuple([Rejected.model_validate(r) for r in rows]) if rows else ()
