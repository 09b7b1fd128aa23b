"""Statistics for the timing criterion: quantiles and a distribution-free upper bound.

The upper confidence bound of the median ratio uses order statistics (the binomial argument
behind the sign test): no distribution is assumed, nothing is random, and it costs one sort.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (type 7, as numpy's default) of sorted values."""
    if not sorted_values:
        raise ValueError("quantile of no values")
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def median_upper_bound(sorted_values: Sequence[float], confidence: float = 0.95) -> float | None:
    """One-sided upper confidence bound of the median, or None when n is too small for one.

    The k-th smallest value bounds the median from above with probability
    P(Binomial(n, 1/2) <= k - 1); we take the smallest k reaching `confidence`.
    """
    n = len(sorted_values)
    if n == 0:
        return None
    if n > 2000:  # normal approximation; exact sums get slow and agree to one rank here
        z = _z(confidence)
        k = math.ceil(n / 2 + z * math.sqrt(n) / 2 + 0.5)
        return sorted_values[min(k, n) - 1] if k <= n else None
    log_half_n = -n * math.log(2)
    cdf = 0.0
    for i in range(n):  # after adding pmf(i), cdf = P(X <= i); the bound is value k = i + 1
        cdf += math.exp(
            math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + log_half_n
        )
        if cdf >= confidence:
            return sorted_values[i]
    return None


def _z(confidence: float) -> float:
    """Standard normal quantile by bisection on erf (stdlib only, used once per judgement)."""
    lo, hi = 0.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < confidence:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def ratio_quantile(ratios: Sequence[float], q: float) -> float | None:
    """One quantile of duration ratios exactly as the verdict computes it (on log ratios), so a
    metric and the report never disagree at the threshold."""
    logs = _sorted_logs(ratios)
    return math.exp(quantile(logs, q)) if logs else None


def _sorted_logs(ratios: Sequence[float]) -> list[float]:
    """Log ratios, ascending; a ratio of 0 or below has no log and is left out."""
    return sorted(math.log(r) for r in ratios if r > 0)


def ratio_summary(
    ratios: Sequence[float], confidence: float = 0.95
) -> tuple[float, float, float | None]:
    """(p50, p95, upper bound of p50) of duration ratios, computed on log ratios.

    Quantiles commute with the monotone log, so this equals working on ratios directly; the
    log is where the ratio's symmetry lives (2x slower and 2x faster are equally far).
    """
    logs = _sorted_logs(ratios)
    if not logs:
        raise ValueError("no positive ratios")
    ub = median_upper_bound(logs, confidence)
    return (
        math.exp(quantile(logs, 0.5)),
        math.exp(quantile(logs, 0.95)),
        math.exp(ub) if ub is not None else None,
    )
