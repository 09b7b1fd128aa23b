"""Status parity: terminal state, run-level error code, observed order, forbidden moves.

In polling mode a state one side was never seen in is `unobserved`, not a mismatch: only the
order of the states both sides were seen in is compared. When both histories come from a
versioned bucket they are exact (spec section 3), so they must be the same sequence.
"""

from __future__ import annotations

from itertools import pairwise

from shadow.comparators.options import CompareOptions
from shadow.core.evidence import HistoryMode
from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.layout import Side
from shadow.core.runs import NormalizedRun, remember
from shadow.core.vocabulary import RunState, is_allowed


def _f(
    kind: Kind, path: str, p: object, c: object, msg: str, sev: Severity = Severity.ERROR
) -> Finding:
    return Finding(
        dimension=Dimension.STATUS,
        kind=kind,
        severity=sev,
        path=path,
        primary=p,
        candidate=c,
        message=msg,
    )


def forbidden_moves(run: NormalizedRun) -> list[Finding]:
    """Every forbidden move in one side's history; an error for the dry run, a warning for the primary."""
    found = []
    sev = Severity.ERROR if run.side is Side.CANDIDATE else Severity.WARNING
    for i, (src, dst) in enumerate(zip(run.history, run.history[1:], strict=False)):
        if not is_allowed(src, dst):
            value = f"{src.value}->{dst.value}"
            found.append(
                _f(
                    Kind.FORBIDDEN_TRANSITION,
                    f"status.history[{i + 1}]",
                    value if run.side is Side.PRIMARY else None,
                    value if run.side is Side.CANDIDATE else None,
                    f"{run.side.value} moved {src.value} -> {dst.value}, which the lifecycle forbids",
                    sev,
                )
            )
    return found


_lawful: dict[tuple[RunState, ...], bool] = {}


def lawful(history: tuple[RunState, ...]) -> bool:
    """Whether a history makes only allowed moves; remembered per history (they recur)."""
    return remember(_lawful, history, _makes_allowed_moves)


def _makes_allowed_moves(history: tuple[RunState, ...]) -> bool:
    return all(is_allowed(a, b) for a, b in pairwise(history))


def order_divergence(p: tuple[RunState, ...], c: tuple[RunState, ...]) -> int | None:
    """Index (in the primary's history) where the shared states stop agreeing in order."""
    common = set(p) & set(c)
    ps = [s for s in p if s in common]
    cs = [s for s in c if s in common]
    for i, (a, b) in enumerate(zip(ps, cs, strict=False)):
        if a != b:
            return p.index(a) if a in p else i
    return None if len(ps) == len(cs) else min(len(ps), len(cs))


def exact_divergence(p: tuple[RunState, ...], c: tuple[RunState, ...]) -> int | None:
    """Index of the first difference between two exact histories, None when they are equal."""
    if p == c:
        return None
    return next(
        (i for i, (a, b) in enumerate(zip(p, c, strict=False)) if a != b), min(len(p), len(c))
    )


def compare(
    primary: NormalizedRun, candidate: NormalizedRun, opts: CompareOptions
) -> list[Finding]:
    found: list[Finding] = []
    ps, cs = primary.state, candidate.state
    if ps != cs:
        found.append(
            _f(
                Kind.TERMINAL_STATE_DIFFERS,
                "status.state",
                ps,
                cs,
                f"the run ended {_v(ps)} in the primary but {_v(cs)} in the dry run",
            )
        )
    elif primary.error_class != candidate.error_class:
        found.append(
            _f(
                Kind.ERROR_CODE_DIFFERS,
                "status.error",
                primary.error_code,
                candidate.error_code,
                f"run error code {primary.error_code} in the primary, {candidate.error_code} in the dry run",
            )
        )
    exact = primary.history_mode is candidate.history_mode is HistoryMode.VERSIONED
    if exact:
        at = exact_divergence(primary.history, candidate.history)
        why = "the exact state histories (versioned bucket) differ"
    else:
        at = order_divergence(primary.history, candidate.history)
        why = "the states both sides were seen in come in a different order"
    if at is not None:
        found.append(
            _f(
                Kind.TRANSITION_ORDER_DIFFERS,
                f"status.history[{at}]",
                [s.value for s in primary.history],
                [s.value for s in candidate.history],
                why,
            )
        )
    found.extend(forbidden_moves(primary))
    found.extend(forbidden_moves(candidate))
    return found


def _v(state: RunState | None) -> str:
    return state.value if state is not None else "without a readable status"
