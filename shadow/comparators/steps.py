"""Step structure parity: steps aligned by name, then missing, extra, reordered, status.

Alignment is a longest common subsequence over step names, so one skipped, added or moved
step is one finding and never a cascade over every later step. A name that repeats is
matched occurrence by occurrence. Between two aligned steps, several primary steps missing
where the dry run has exactly one step of its own are one `step_merged` finding; one missing
step where the dry run has several of its own is one `step_split` (a generator whose steps
must stay separate, each with its own idempotency key and retries, is judged on exactly that).
"""

from __future__ import annotations

from bisect import bisect_left

from shadow.comparators.options import CompareOptions
from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.runs import NormalizedRun, NormStep
from shadow.core.vocabulary import ErrorOf, StepState, same_error

Tag = tuple[str, int]  # (step name, occurrence)


def tags(steps: tuple[NormStep, ...]) -> list[Tag]:
    seen: dict[str, int] = {}
    out = []
    for s in steps:
        seen[s.name] = seen.get(s.name, 0) + 1
        out.append((s.name, seen[s.name]))
    return out


def lcs(a: list[Tag], b: list[Tag]) -> set[Tag]:
    """Tags on a longest common subsequence of a and b: of all of them, the one whose positions
    in b are lexicographically least (the one the textbook table walk from the front picks).

    Every tag occurs once per list (a name is counted by occurrence), so this is the longest
    increasing run of b-positions taken in a's order: O((n + m) log n) time and O(n + m) space
    (Hunt-Szymanski / patience sorting), where the quadratic table cost 27 s and 857 MB for two
    10,000-step runs (issue 16). First, each common tag's level: the length of the longest
    increasing run starting at it. Within a level b-positions fall as a-positions rise (else the
    earlier one would start a longer run), so walking the levels down, the chosen tag of each is
    the last one after the previous choice in b: one bisection per level.
    """
    at_b = {t: j for j, t in enumerate(b)}
    # levels[k]: (negated b-position, tag) of the tags whose longest run is k + 1, right to left.
    levels: list[list[tuple[int, Tag]]] = []
    heads: list[int] = []  # heads[k]: the negated greatest b-position starting a run of k + 1
    for t in reversed(a):
        j = at_b.get(t)
        if j is None:
            continue
        k = bisect_left(heads, -j)
        if k == len(heads):
            heads.append(-j)
            levels.append([])
        else:
            heads[k] = -j
        levels[k].append((-j, t))
    keep: set[Tag] = set()
    previous = -1  # the b-position chosen on the level above
    for level in reversed(levels):
        level.reverse()  # a's order: negated b-positions rise
        _, tag = level[bisect_left(level, (-previous,)) - 1]
        keep.add(tag)
        previous = at_b[tag]
    return keep


def _f(kind: Kind, path: str, p: object, c: object, msg: str, step: str) -> Finding:
    return Finding(
        dimension=Dimension.STEPS,
        kind=kind,
        severity=Severity.ERROR,
        path=path,
        primary=p,
        candidate=c,
        message=msg,
        subject=step,
    )


def _gap_of(tags: list[Tag], in_order: set[Tag]) -> list[int]:
    """For each position, how many aligned steps precede it: equal numbers share a gap."""
    out, seen = [], 0
    for t in tags:
        out.append(seen)
        seen += t in in_order
    return out


def _regrouped(
    primary: NormalizedRun, candidate: NormalizedRun, missing: list[int], extra: list[int]
) -> Finding | None:
    """Several missing steps replaced by one (merged), or one by several (split), else None."""
    if len(missing) >= 2 and len(extra) == 1:
        kind, verb = Kind.STEP_MERGED, "merged into"
    elif len(missing) == 1 and len(extra) >= 2:
        kind, verb = Kind.STEP_SPLIT, "split into"
    else:
        return None
    old = [primary.steps[i].name for i in missing]
    new = [candidate.steps[j].name for j in extra]
    return _f(
        kind,
        f"steps[{missing[0]}]",
        old,
        new,
        f"the dry run has step(s) {', '.join(old)} {verb} {', '.join(new)}",
        "+".join(old),
    )


def compare(
    primary: NormalizedRun, candidate: NormalizedRun, opts: CompareOptions
) -> list[Finding]:
    pt, ct = tags(primary.steps), tags(candidate.steps)
    p_at = {t: i for i, t in enumerate(pt)}
    c_at = {t: i for i, t in enumerate(ct)}
    in_order = lcs(pt, ct)
    p_gap, c_gap = _gap_of(pt, in_order), _gap_of(ct, in_order)
    gaps: dict[int, tuple[list[int], list[int]]] = {}
    for t, i in p_at.items():
        if t not in c_at:
            gaps.setdefault(p_gap[i], ([], []))[0].append(i)
    for t, j in c_at.items():
        if t not in p_at:
            gaps.setdefault(c_gap[j], ([], []))[1].append(j)
    found: list[Finding] = []
    regrouped: set[Tag] = set()
    for missing, extra in gaps.values():
        finding = _regrouped(primary, candidate, missing, extra)
        if finding is not None:
            found.append(finding)
            regrouped |= {pt[i] for i in missing} | {ct[j] for j in extra}
    for t, i in p_at.items():
        step = primary.steps[i]
        if t in regrouped:
            continue
        if t not in c_at:
            found.append(
                _f(
                    Kind.STEP_MISSING,
                    f"steps[{i}]",
                    step.name,
                    None,
                    f"step {step.number} {step.name} is missing in the dry run",
                    step.name,
                )
            )
            continue
        other = candidate.steps[c_at[t]]
        if t not in in_order:
            found.append(
                _f(
                    Kind.STEP_REORDERED,
                    f"steps[{i}]",
                    step.number,
                    other.number,
                    f"step {step.name} runs as step {other.number} in the dry run, "
                    f"step {step.number} in the primary",
                    step.name,
                )
            )
        found.extend(_same_step(i, step, other, _error_of(primary), _error_of(candidate)))
    for t, j in c_at.items():
        if t not in p_at and t not in regrouped:
            step = candidate.steps[j]
            found.append(
                _f(
                    Kind.STEP_EXTRA,
                    f"steps[{j}]",
                    None,
                    step.name,
                    f"the dry run has an extra step {step.number} {step.name}",
                    step.name,
                )
            )
    return found


def _error_of(run: NormalizedRun) -> ErrorOf:
    return run.error_code, run.error_class


def _same_step(i: int, p: NormStep, c: NormStep, p_run: ErrorOf, c_run: ErrorOf) -> list[Finding]:
    if p.state != c.state:
        return [
            _f(
                Kind.STEP_STATUS_DIFFERS,
                f"steps[{i}].status",
                p.state.value,
                c.state.value,
                f"step {p.name} is {p.state.value} in the primary, {c.state.value} in the dry run",
                p.name,
            )
        ]
    if p.state is StepState.FAILED and not same_error(p.error_code, p_run, c.error_code, c_run):
        return [
            _f(
                Kind.STEP_ERROR_DIFFERS,
                f"steps[{i}].error",
                p.error_code,
                c.error_code,
                f"step {p.name} failed with {p.error_code} in the primary, {c.error_code} in the dry run",
                p.name,
            )
        ]
    return []
