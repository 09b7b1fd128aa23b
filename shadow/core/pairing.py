"""Pairing: which state each pairing key is in, with time as an input.

Rules (spec sections 2 and 7, report.md `state`):
- paired: both sides present and terminal.
- pending: the primary is not terminal yet, or its twin may still arrive (or finish) within
  the grace period after the primary ended.
- primary_only (a lost message): the primary ended more than `grace` ago and has no twin.
- candidate_only (an orphan): a twin whose primary never appeared within the grace period.
- stuck: a side that is non-terminal past the run timeout plus grace.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.layout import Side
from shadow.core.runs import NormalizedRun
from shadow.core.schedules import Schedule, snap


class PairState(StrEnum):
    PAIRED = "paired"
    PRIMARY_ONLY = "primary_only"
    CANDIDATE_ONLY = "candidate_only"
    PENDING = "pending"
    STUCK = "stuck"


@dataclass(frozen=True, slots=True)
class PairingOptions:
    grace_s: float = 900.0
    run_timeout_s: float = 600.0


@dataclass(frozen=True, slots=True)
class Pair:
    key: str
    primary: NormalizedRun | None
    candidate: NormalizedRun | None
    state: PairState
    by_slot: bool = False  # paired on a schedule's fire time: a missing side is a missed slot

    @property
    def agent(self) -> str:
        run = self.primary or self.candidate
        return run.agent if run else "unknown"

    @property
    def start(self) -> float | None:
        """When the primary run started, as its status says; None without a primary or before it
        ran. Spec section 9: the evidence window spans the primary run starts observed, so a run
        that never started (or a twin alone) must not stretch it with the time shadow saw it."""
        return self.primary.started_at if self.primary is not None else None


def _began(run: NormalizedRun) -> float:
    """When the run began, by its own record: a run that failed before it started (no
    `started_at`) ended, and so began, at its `finished_at`. Only a run whose record holds
    neither falls back to when shadow first saw it (the object's last-modified, capped at the
    judgement's time: a backfill judged with a past `--now` would otherwise wait for ever)."""
    if run.started_at is not None:
        return run.started_at
    return run.finished_at if run.finished_at is not None else run.first_seen


def _ended(run: NormalizedRun) -> float:
    return run.finished_at if run.finished_at is not None else run.first_seen


def _settling(run: NormalizedRun, now: float, opts: PairingOptions) -> bool:
    """A finished run whose status counts more steps than the store lists, read within the grace
    period: a stale listing (spec section 3), judged once it has had time to settle."""
    return now - _ended(run) <= opts.grace_s and any(
        f.kind is Kind.STEPS_COMPLETED_EXCEEDS_FILES for f in run.input_findings
    )


def _is_stuck(run: NormalizedRun, now: float, opts: PairingOptions) -> bool:
    return not run.terminal and now - _began(run) > opts.run_timeout_s + opts.grace_s


def classify(
    primary: NormalizedRun | None,
    candidate: NormalizedRun | None,
    now: float,
    opts: PairingOptions,
) -> PairState:
    present = [r for r in (primary, candidate) if r is not None]
    if any(_is_stuck(r, now, opts) for r in present):
        return PairState.STUCK
    if primary is not None and candidate is not None:
        both_done = primary.terminal and candidate.terminal
        if both_done and (_settling(primary, now, opts) or _settling(candidate, now, opts)):
            return PairState.PENDING
        return PairState.PAIRED if both_done else PairState.PENDING
    if primary is not None:
        late = primary.terminal and now - _ended(primary) > opts.grace_s
        return PairState.PRIMARY_ONLY if late else PairState.PENDING
    if candidate is not None:
        late = now - _began(candidate) > opts.grace_s and candidate.terminal
        return PairState.CANDIDATE_ONLY if late else PairState.PENDING
    raise ValueError("a pair needs at least one side")


def pair_runs(
    runs: dict[str, tuple[NormalizedRun | None, NormalizedRun | None]],
    now: float,
    opts: PairingOptions,
    held: frozenset[str] = frozenset(),
    slotted: frozenset[str] = frozenset(),
) -> list[Pair]:
    """Classify every pairing key; the result is sorted by key for a stable report.

    `held` keys had an object the store could not read this cycle: their evidence is
    incomplete, so they stay pending until a scan reads them. `slotted` keys are schedule slots.
    """
    return [
        Pair(
            key,
            p,
            c,
            PairState.PENDING if key in held else classify(p, c, now, opts),
            key in slotted,
        )
        for key, (p, c) in sorted(runs.items())
    ]


class PairBy(StrEnum):
    RUN_ID = "run_id"  # the run directory's id, suffix removed (spec section 2)
    IDEMPOTENCY_KEY = "idempotency_key"  # a record field, e.g. a chat update id or message id


@dataclass(frozen=True, slots=True)
class Grouped:
    sides: dict[str, tuple[NormalizedRun | None, NormalizedRun | None]]
    # Findings grouping makes per key: duplicates, scheduled runs that serve no fire time.
    duplicates: dict[str, list[Finding]]
    # Run directories whose key is not their plain pairing key (the same id under two agents).
    renamed: dict[str, str] = field(default_factory=dict)
    slotted: frozenset[str] = frozenset()  # keys that are schedule slots

    def key_of(self, run_dir: str, pairing_key: str) -> str:
        return self.renamed.get(run_dir, pairing_key)


def group_runs(
    runs: Iterable[NormalizedRun],
    by: PairBy = PairBy.RUN_ID,
    schedules: Sequence[Schedule] = (),
) -> Grouped:
    """One run per side and key; extra runs are duplicates, reported and never paired.

    The earliest run (by start, then directory) is the one judged, so a replayed message
    does not change which twin is compared, and duplicates never inflate pair counts.
    By run id, a twin pairs only beside its primary (spec section 9: in the per-agent layout,
    in the same `agents/<slug>/runs/`); the same id under two agents' directories is two runs.
    The plain id stays with the primary (the earliest home holding one), so a twin appearing
    under another agent never renames it; every other home's runs are keyed `<id>@<slug>`.

    Runs read by a declarative profile (spec section 10) pair by the link their record names
    (or, with `pair_by = "idempotency_key"`, that key); a scheduled run without one, in a
    stratum with a schedule, by the fire time it serves (`<stratum>@<fire time>`); else by their
    directory. On one side, records sharing the run's own id are deliveries of one run: the
    latest delivery (highest attempt) is judged, the others are no duplicates. Two runs with
    different ids under one key are.
    """
    buckets: dict[tuple[str, str], tuple[list[NormalizedRun], list[NormalizedRun]]] = {}
    homes: dict[str, set[str]] = {}
    by_stratum = {s.stratum: s for s in schedules}
    slotted: set[str] = set()
    notes: dict[str, list[Finding]] = {}
    relinked: dict[str, str] = {}  # run directory -> the key its record names
    for run in runs:
        declared = _declared_key(run, by, by_stratum, slotted, notes) if run.links else None
        if declared is not None:
            bucket = (declared, "")
            if declared != run.pairing_key:
                relinked[run.run_dir] = declared
        elif by is PairBy.IDEMPOTENCY_KEY and run.idempotency_key is not None:
            bucket = (run.idempotency_key, "")  # a chat update id, a message id: any directory
        else:
            bucket = (run.pairing_key, _home(run.run_dir))
            homes.setdefault(bucket[0], set()).add(bucket[1])
        lists = buckets.get(bucket) or buckets.setdefault(bucket, ([], []))
        lists[0 if run.side is Side.PRIMARY else 1].append(run)
    keeps_plain: dict[str, str] = {}  # for an id under several homes: the first with a primary
    for (plain, home), (prim, _) in buckets.items():
        if prim and len(homes.get(plain, ())) > 1:
            keeps_plain[plain] = min(home, keeps_plain.get(plain, home))
    for plain, seen in homes.items():
        if len(seen) > 1:
            keeps_plain.setdefault(plain, "")  # twins only: every home is renamed
    merged: dict[str, tuple[list[NormalizedRun], list[NormalizedRun]]] = {}
    renamed: dict[str, str] = relinked
    for (plain, home), (prim, cand) in buckets.items():
        key = plain
        if plain in keeps_plain and home != keeps_plain[plain]:
            key = f"{plain}@{_slug(home)}"
            renamed.update((r.run_dir, key) for r in (*prim, *cand))
        # An idempotency key equal to a run id lands with that run id's bucket: one pair.
        into = merged.setdefault(key, ([], []))
        into[0].extend(prim)
        into[1].extend(cand)
    sides: dict[str, tuple[NormalizedRun | None, NormalizedRun | None]] = {}
    dupes: dict[str, list[Finding]] = notes
    for key, (prim, cand) in merged.items():
        if len(prim) > 1:
            prim = _latest_deliveries(prim)
        if len(cand) > 1:
            cand = _latest_deliveries(cand)
        prim.sort(key=_order)
        cand.sort(key=_order)
        sides[key] = (prim[0] if prim else None, cand[0] if cand else None)
        for extra in (*prim[1:], *cand[1:]):
            dupes.setdefault(key, []).append(_duplicate(key, extra, prim[:1] + cand[:1]))
    return Grouped(sides, dupes, renamed, frozenset(slotted))


def _declared_key(
    run: NormalizedRun,
    by: PairBy,
    schedules: dict[str, Schedule],
    slotted: set[str],
    notes: dict[str, list[Finding]],
) -> str | None:
    """The pairing key a declarative profile's record names; None: pair by directory."""
    links = run.links
    assert links is not None
    if by is PairBy.IDEMPOTENCY_KEY and run.idempotency_key is not None:
        return run.idempotency_key
    if links.link is not None:
        return links.link
    sched = schedules.get(run.agent)
    if not links.scheduled or links.slot is None or sched is None:
        return None
    fire = snap(sched.cron, links.slot, sched.tolerance_s)
    key = f"{run.agent}@{_iso(fire if fire is not None else links.slot)}"
    slotted.add(key)
    if fire is None:
        notes.setdefault(key, []).append(_off_schedule(run, sched, key))
    return key


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _latest_deliveries(runs: list[NormalizedRun]) -> list[NormalizedRun]:
    """Records of one side sharing their own id are deliveries of one run: keep the latest."""
    kept: dict[str, NormalizedRun] = {}
    out: list[NormalizedRun] = []
    for run in runs:
        identity = run.links.identity if run.links is not None else None
        if identity is None:
            out.append(run)
            continue
        seen = kept.get(identity)
        if seen is None or _delivery_order(run) > _delivery_order(seen):
            kept[identity] = run
    return out + list(kept.values())


def _delivery_order(run: NormalizedRun) -> tuple[int, float, str]:
    attempt = run.links.attempt if run.links is not None else None
    return (attempt or 0, _began(run), run.run_dir)


def _off_schedule(run: NormalizedRun, sched: Schedule, key: str) -> Finding:
    return Finding(
        dimension=Dimension.COMPLETENESS,
        kind=Kind.OFF_SCHEDULE,
        severity=Severity.WARNING,
        path=f"{run.side.value}.slot",
        subject=run.agent,
        primary=run.run_dir if run.side is Side.PRIMARY else None,
        candidate=run.run_dir if run.side is Side.CANDIDATE else None,
        message=f"the {run.side.value}'s scheduled {run.agent} run ({key.partition('@')[2]}) serves "
        f"no fire time of {sched.cron!r} within {sched.tolerance_s:g} s; the fire time it missed "
        "is reported as missed_schedule",
    )


def _home(run_dir: str) -> str:
    """The directory holding a run's directory: `runs`, or `agents/<slug>/runs`."""
    return run_dir.rstrip("/").rpartition("/")[0]


def _slug(home: str) -> str:
    """`<slug>` of `[prefix]agents/<slug>/runs`."""
    return home.rpartition("/")[0].rpartition("/")[2] or home


def _order(run: NormalizedRun) -> tuple[float, str]:
    return (_began(run), run.run_dir)


def _duplicate(key: str, extra: NormalizedRun, kept: list[NormalizedRun]) -> Finding:
    first = next((r for r in kept if r.side is extra.side), None)
    return Finding(
        dimension=Dimension.COMPLETENESS,
        kind=Kind.DUPLICATE_RUN,
        severity=Severity.ERROR,
        path=extra.side.value,
        subject=extra.side.value,
        primary=extra.run_dir if extra.side is Side.PRIMARY else None,
        candidate=extra.run_dir if extra.side is Side.CANDIDATE else None,
        message=f"{key} ran more than once on the {extra.side.value} side ({extra.run_dir} "
        f"besides {first.run_dir if first else '?'}): idempotency is broken",
    )


def shard_of(pairing_key: str, count: int) -> int:
    """A stable shard for a pairing key: both twins of a run land in the same shard."""
    digest = hashlib.blake2b(pairing_key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count
