"""Judging: normalized runs -> pairs -> findings -> waivers -> results and readiness.

Pure: the store, the clock and the bucket are the engine's business. The same function serves
`scan`, `rejudge` and the tests.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shadow.comparators import WINDOW, CompareOptions, compare_pair, unseen
from shadow.comparators.side_effects import candidate_effects
from shadow.comparators.timing import end_to_end, ratio
from shadow.core.findings import DIMENSION_ORDER, Dimension, Finding, Kind, Severity
from shadow.core.pairing import Pair, PairingOptions, PairState, pair_runs
from shadow.core.results import PairResult, outcome_of
from shadow.core.runs import NormalizedRun
from shadow.core.schedules import Schedule, ScheduleCheck, check_schedules
from shadow.core.waivers import Waiver, WaiverSet
from shadow.judging.criteria import Thresholds
from shadow.judging.memo import Judged, ResultMemo
from shadow.judging.verdict import Readiness, judge_readiness

RunSides = tuple[NormalizedRun | None, NormalizedRun | None]
DEFAULT_MAX_FINDINGS = 100


@dataclass(frozen=True, slots=True)
class JudgeOptions:
    pairing: PairingOptions = field(default_factory=PairingOptions)
    compare: CompareOptions = field(default_factory=CompareOptions)
    thresholds: Thresholds = field(default_factory=Thresholds)
    schedules: tuple[Schedule, ...] = ()
    # Findings listed per run (`max_findings_per_run`); the rest are counted, see `capped`.
    max_findings: int = DEFAULT_MAX_FINDINGS
    # Dimensions a side's profile cannot see at all (dimension -> why): never judged a pass.
    blind: tuple[tuple[str, str], ...] = ()
    # Every pair's result, reused while nothing it was computed from changed (judging/memo.py):
    # a cache of pure functions, valid for exactly these options, so kept with them. Not an
    # argument: `replace` gives new options a memo of their own.
    memo: ResultMemo = field(default_factory=ResultMemo, init=False, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Judgement:
    results: tuple[PairResult, ...]
    pairs: dict[str, Pair]
    readiness: Readiness
    waiver_use: dict[str, int]
    waiver_would_cover: dict[str, int]
    unknown_fields: dict[str, int]
    schedule_checks: tuple[ScheduleCheck, ...] = ()
    schedule_findings: tuple[Finding, ...] = ()


def pair_findings(pair: Pair, opts: CompareOptions) -> list[Finding]:
    found: list[Finding] = []
    for run in (pair.primary, pair.candidate):
        if run is not None:
            found.extend(run.input_findings)
    if pair.state is PairState.PAIRED and pair.primary and pair.candidate:
        found.extend(compare_pair(pair.primary, pair.candidate, opts))
    elif pair.candidate is not None:
        # A proposal written by a dry run is a violation the moment it exists, finished or not.
        found.extend(candidate_effects(pair.candidate))
    return found


def unknown_field_findings(pairs: list[Pair]) -> tuple[dict[str, list[Finding]], dict[str, int]]:
    """Spec section 3: each unknown field name is reported once, on the first run carrying it."""
    first: dict[str, str] = {}
    counts: dict[str, int] = {}
    for pair in pairs:  # sorted by key, so "first" is stable whatever the scan order
        for run in (pair.primary, pair.candidate):
            for name in sorted(run.unknown_fields) if run else ():
                counts[name] = counts.get(name, 0) + 1
                first.setdefault(name, pair.key)
    out: dict[str, list[Finding]] = {}
    for name, key in first.items():
        out.setdefault(key, []).append(
            Finding(
                dimension=Dimension.INPUT,
                kind=Kind.UNKNOWN_FIELD,
                severity=Severity.INFO,
                path=name,
                subject=name,
                message=f"unknown top-level field {name!r} (seen on {counts[name]} run(s)); kept, not compared",
            )
        )
    return out, counts


def _sort_key(f: Finding) -> tuple[int, int, str]:
    sev = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}[f.severity]
    return (DIMENSION_ORDER.index(f.dimension), sev, f.path)


def capped(found: list[Finding], limit: int) -> list[Finding]:
    """At most `limit` findings of a run, plus one counted `more_findings` per kind cut short.

    50,000 extra step files were 50,000 findings (an 18 MB report). Kept are the first of each
    kind in turn (every kind stays visible), in report order. A kind's summary keeps what its
    findings meant for the verdict: an error when any of them blocked (so the run's outcome and
    every criterion read as before), waived when all its errors were waived.
    """
    if len(found) <= limit:
        return found
    rank: dict[tuple[Dimension, Kind], int] = {}
    turns = []
    for i, f in enumerate(found):
        n = rank[(f.dimension, f.kind)] = rank.get((f.dimension, f.kind), 0) + 1
        turns.append((n, i))
    keep = {i for _, i in sorted(turns)[:limit]}
    dropped: dict[tuple[Dimension, Kind], list[Finding]] = {}
    for i, f in enumerate(found):
        if i not in keep:
            dropped.setdefault((f.dimension, f.kind), []).append(f)
    out = [f for i, f in enumerate(found) if i in keep]
    out.extend(_more(dim, kind, fs, len(found), limit) for (dim, kind), fs in dropped.items())
    return sorted(out, key=_sort_key)


def _more(dim: Dimension, kind: Kind, dropped: list[Finding], total: int, limit: int) -> Finding:
    errors = [f for f in dropped if f.severity is Severity.ERROR]
    blocking = any(f.blocking for f in errors)
    if errors:
        severity = Severity.ERROR
    elif any(f.severity is Severity.WARNING for f in dropped):
        severity = Severity.WARNING
    else:
        severity = Severity.INFO
    waived = sorted({f.waived_by for f in errors if f.waived_by})
    return Finding(
        dimension=dim,
        kind=Kind.MORE_FINDINGS,
        severity=severity,
        path=f"{kind.value}[+]",
        subject=kind.value,
        primary={"count": len(dropped)},
        message=f"and {len(dropped)} more {kind.value} finding(s), not listed (the run has "
        f"{total} findings; at most {limit} are listed per run: max_findings_per_run)",
        waived_by=", ".join(waived) if errors and not blocking else None,
    )


def judge(
    runs: Mapping[str, RunSides],
    now: float,
    opts: JudgeOptions,
    waivers: tuple[Waiver, ...] = (),
    held: frozenset[str] = frozenset(),
    duplicates: Mapping[str, list[Finding]] | None = None,
    slotted: frozenset[str] = frozenset(),
) -> Judgement:
    """Judge every pairing key; `duplicates` are grouping's findings (runs beyond the first per
    side, scheduled runs off schedule); `slotted` keys pair scheduled runs by their fire time."""
    pairs = pair_runs(dict(runs), now, opts.pairing, held, slotted)
    extra: list[Mapping[str, list[Finding]]] = [w(pairs, now) for w in WINDOW]
    if duplicates:
        extra.append(duplicates)
    unknown, unknown_counts = unknown_field_findings(pairs)
    extra.append(unknown)
    ws = WaiverSet(waivers, datetime.fromtimestamp(now, UTC).date())
    noted = {key for more in extra for key in more}
    context, last = opts.memo.start((waivers, ws.today))
    kept: dict[str, Judged] = {}
    results = []
    for pair in pairs:
        notes = (
            tuple(f for more in extra for f in more.get(pair.key, ())) if pair.key in noted else ()
        )
        judged = last.get(pair.key)
        if judged is not None and judged.fits(pair, notes, context):
            opts.memo.hits += 1
        else:
            judged = _judge_pair(pair, notes, context, opts, ws, judged)
        kept[pair.key] = judged
        if judged.covered:
            ws.covered.update(judged.covered)
        if judged.would_cover:
            ws.would_cover.update(judged.would_cover)
        results.append(judged.result)
    opts.memo.finish(kept)
    checks = _schedule_checks(pairs, now, opts)
    missed: dict[str, list[str]] = {}
    schedule_findings = []
    for c in checks:
        finding = missed_schedule_finding(c)
        if finding is None:
            continue
        finding = ws.apply([finding], c.stratum, f"schedule:{c.stratum}")[0]
        schedule_findings.append(finding)
        if finding.blocking:
            missed.setdefault(c.stratum, []).append(finding.path)
    readiness = judge_readiness(results, opts.thresholds, missed, dict(opts.blind))
    return Judgement(
        tuple(results),
        {p.key: p for p in pairs},
        readiness,
        dict(ws.covered),
        dict(ws.would_cover),
        unknown_counts,
        tuple(checks),
        tuple(schedule_findings),
    )


def _judge_pair(
    pair: Pair,
    notes: tuple[Finding, ...],
    context: Hashable,
    opts: JudgeOptions,
    ws: WaiverSet,
    before: Judged | None,
) -> Judged:
    """One pair's result: its own findings, then the judgement's `notes` for its key (window,
    grouping and unknown-field findings), waived, sorted and capped. Its own findings are those
    of `before` when its runs and whether they are compared are unchanged. Waivers are counted
    apart (the judgement adds them up), so a result can be reused with its counts."""
    opts.memo.misses += 1
    paired = pair.state is PairState.PAIRED
    if (
        before is not None
        and before.same_runs(pair)
        and (before.state is PairState.PAIRED) == paired
    ):
        own = before.found
    else:
        opts.memo.compared += paired
        own = tuple(pair_findings(pair, opts.compare))
    mine = WaiverSet(ws.waivers, ws.today)
    found = sorted(mine.apply([*own, *notes], pair.agent, pair.key), key=_sort_key)
    found = capped(found, opts.max_findings)
    result = _result(pair, tuple(found), opts.compare.excluded_steps)
    return Judged(pair, own, notes, context, result, (mine.covered, mine.would_cover))


def _schedule_checks(pairs: list[Pair], now: float, opts: JudgeOptions) -> list[ScheduleCheck]:
    if not opts.schedules:
        return []
    runs = [r for p in pairs for r in (p.primary, p.candidate) if r is not None]
    starts = [p.start for p in pairs if p.primary is not None and p.start is not None]
    return check_schedules(opts.schedules, runs, min(starts) if starts else None, now)


def missed_schedule_finding(c: ScheduleCheck) -> Finding | None:
    """A completeness error for a fire time missing on either side."""
    sides = [
        s for s, o in (("primary", c.primary), ("candidate", c.candidate)) if o.value == "missed"
    ]
    if not sides:
        return None
    at = datetime.fromtimestamp(c.expected_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Finding(
        dimension=Dimension.COMPLETENESS,
        kind=Kind.MISSED_SCHEDULE,
        severity=Severity.ERROR,
        path=f"schedule {c.stratum}@{at}",
        subject=c.stratum,
        primary=c.primary.value,
        candidate=c.candidate.value,
        message=f"the {c.cron!r} run of {c.stratum} due {at} did not start on the {' and '.join(sides)} side",
    )


def _result(pair: Pair, findings: tuple[Finding, ...], excluded: frozenset[str]) -> PairResult:
    p, c = pair.primary, pair.candidate
    p_ms, c_ms = end_to_end(p, c, excluded) if p and c else (None, c.e2e_ms if c else None)
    blind = unseen(p, c) if p and c else frozenset()
    r = ratio(p_ms, c_ms) if pair.state is PairState.PAIRED else None
    return PairResult(
        key=pair.key,
        agent=pair.agent,
        state=pair.state,
        outcome=outcome_of(pair.state, findings),
        findings=findings,
        start=pair.start,
        duration_ratio=r,
        has_retries=bool((p and p.retries) or (c and c.retries)),
        candidate_ms=c_ms,
        unseen=blind,
    )


def first_divergence(findings: tuple[Finding, ...]) -> Finding | None:
    """The earliest error in walk order (status history, then steps, ...), else any finding."""
    errors = [f for f in findings if f.severity is Severity.ERROR]
    ranked = errors or list(findings)
    return ranked[0] if ranked else None
