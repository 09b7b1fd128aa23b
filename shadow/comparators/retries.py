"""Retry parity: the same steps retried, the same recovery outcome, the same final error code.

Attempt counts and back-off are orchestrator policy: a different count is info, never an error.
Retry scope differs between orchestrators: Trigger.dev and a queue consumer retry the whole run,
Inngest and the garden a step. When one side's retries are whole-run and the other's are not,
both are compared at run level (retried or not, recovered or not, final error class). A last
error a side's records do not show (a count of attempts only) is not compared.
"""

from __future__ import annotations

from shadow.comparators.options import CompareOptions
from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.runs import NormalizedRun, RetryInfo
from shadow.core.vocabulary import ErrorOf, same_error


def _f(
    kind: Kind, step: str, p: object, c: object, msg: str, sev: Severity = Severity.ERROR
) -> Finding:
    return Finding(
        dimension=Dimension.RETRIES,
        kind=kind,
        severity=sev,
        path=f"retries[{step}]",
        primary=p,
        candidate=c,
        message=msg,
        subject=step,
    )


def compare(
    primary: NormalizedRun, candidate: NormalizedRun, opts: CompareOptions
) -> list[Finding]:
    p_list, c_list = primary.retries, candidate.retries
    if _scopes_differ(p_list, c_list):
        p_list, c_list = run_level(p_list), run_level(c_list)
    ps = {r.step: r for r in p_list}
    cs = {r.step: r for r in c_list}
    found: list[Finding] = []
    for step, p in ps.items():
        c = cs.get(step)
        if c is None:
            found.append(
                _f(
                    Kind.RETRY_MISSING,
                    step,
                    _outcome(p),
                    None,
                    f"{_what(p)} was retried in the primary, not in the dry run",
                )
            )
        else:
            found.extend(_same_retry(step, p, c, _error_of(primary), _error_of(candidate)))
    for step, c in cs.items():
        if step not in ps:
            found.append(
                _f(
                    Kind.RETRY_EXTRA,
                    step,
                    None,
                    _outcome(c),
                    f"{_what(c)} was retried in the dry run, not in the primary",
                )
            )
    return found


def _error_of(run: NormalizedRun) -> ErrorOf:
    return run.error_code, run.error_class


def _scopes_differ(ps: tuple[RetryInfo, ...], cs: tuple[RetryInfo, ...]) -> bool:
    return bool(ps and cs) and any(r.whole_run for r in ps) != any(r.whole_run for r in cs)


def run_level(retries: tuple[RetryInfo, ...]) -> tuple[RetryInfo, ...]:
    """One side's retries as one whole-run entry: recovered when every retried part recovered,
    the final error that of the last part that did not (else of the last part)."""
    if len(retries) == 1 and retries[0].whole_run:
        return retries
    last = ([r for r in retries if not r.recovered] or list(retries))[-1]
    return (
        RetryInfo(
            RUN_SCOPE,
            all(r.recovered for r in retries),
            last.error_code,
            max((r.attempts or 0 for r in retries), default=0) or None,
            True,
            last.error_seen,
        ),
    )


RUN_SCOPE = "run"


def _same_retry(
    step: str, p: RetryInfo, c: RetryInfo, p_run: ErrorOf, c_run: ErrorOf
) -> list[Finding]:
    if p.recovered != c.recovered:
        return [
            _f(
                Kind.RETRY_OUTCOME_DIFFERS,
                step,
                _outcome(p),
                _outcome(c),
                f"retries of {step} {_word(p)} in the primary but {_word(c)} in the dry run",
            )
        ]
    if p.error_seen and c.error_seen and not same_error(p.error_code, p_run, c.error_code, c_run):
        return [
            _f(
                Kind.RETRY_ERROR_DIFFERS,
                step,
                p.error_code,
                c.error_code,
                f"last retry error of {step}: {p.error_code} in the primary, {c.error_code} in the dry run",
            )
        ]
    if p.attempts != c.attempts:
        return [
            _f(
                Kind.RETRY_ATTEMPTS_DIFFER,
                step,
                p.attempts,
                c.attempts,
                f"{step} took {p.attempts} attempts in the primary, {c.attempts} in the dry run "
                "(retry policy, not a parity failure)",
                Severity.INFO,
            )
        ]
    return []


def _what(r: RetryInfo) -> str:
    return "the run" if r.whole_run else f"step {r.step}"


def _outcome(r: RetryInfo) -> str:
    return "recovered" if r.recovered else "exhausted"


def _word(r: RetryInfo) -> str:
    return "recovered" if r.recovered else "were exhausted"
