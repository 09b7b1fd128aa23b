"""Retry parity: the same steps retried, the same recovery outcome, the same final error code.

Attempt counts and back-off are orchestrator policy: a different count is info, never an error.
"""

from __future__ import annotations

from shadow.comparators.options import CompareOptions
from shadow.core.findings import Dimension, Finding, Kind, Severity
from shadow.core.runs import NormalizedRun, RetryInfo
from shadow.core.vocabulary import same_error


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
    ps = {r.step: r for r in primary.retries}
    cs = {r.step: r for r in candidate.retries}
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
                    f"step {step} was retried in the primary, not in the dry run",
                )
            )
        else:
            found.extend(_same_retry(step, p, c, primary.error_code, candidate.error_code))
    for step, c in cs.items():
        if step not in ps:
            found.append(
                _f(
                    Kind.RETRY_EXTRA,
                    step,
                    None,
                    _outcome(c),
                    f"step {step} was retried in the dry run, not in the primary",
                )
            )
    return found


def _same_retry(
    step: str, p: RetryInfo, c: RetryInfo, p_run_code: str | None, c_run_code: str | None
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
    if not same_error(p.error_code, p_run_code, c.error_code, c_run_code):
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


def _outcome(r: RetryInfo) -> str:
    return "recovered" if r.recovered else "exhausted"


def _word(r: RetryInfo) -> str:
    return "recovered" if r.recovered else "were exhausted"
