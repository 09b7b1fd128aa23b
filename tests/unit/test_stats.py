"""The timing statistics: quantiles and the distribution-free upper bound of the median."""

from __future__ import annotations

import math
import random

import pytest

from shadow.core.stats import median_upper_bound, quantile, ratio_summary


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 0.95, 3.85),
        ([5.0], 0.95, 5.0),
        ([0.0, 10.0], 0.25, 2.5),
    ],
)
def test_quantile_interpolates(values: list[float], q: float, expected: float) -> None:
    """Quantiles interpolate linearly between order statistics (numpy's default)."""
    assert expected == pytest.approx(quantile(values, q))


def test_median_bound_needs_enough_values() -> None:
    """With four values no order statistic bounds the median at 95%; with five the largest does."""
    assert median_upper_bound([1.0, 2.0, 3.0, 4.0]) is None
    assert median_upper_bound([1.0, 2.0, 3.0, 4.0, 5.0]) == 5.0


def test_median_bound_is_above_the_median_and_tightens() -> None:
    """The bound sits above the sample median and approaches it as evidence grows."""
    rng = random.Random(3)
    gaps = []
    for n in (50, 500, 5000):
        values = sorted(rng.gauss(0, 1) for _ in range(n))
        ub = median_upper_bound(values)
        assert ub is not None and ub >= quantile(values, 0.5)
        gaps.append(ub - quantile(values, 0.5))
    assert gaps == sorted(gaps, reverse=True)


def test_exact_and_approximate_bounds_agree_near_the_switch() -> None:
    """At n around 2000 the normal approximation picks the same rank as the exact sum, within one."""
    values = [float(i) for i in range(2001)]
    exact = median_upper_bound(values[:2000])
    approx = median_upper_bound(values)
    assert exact is not None and approx is not None
    assert abs(approx - exact) <= 1.0


def test_ratio_summary_is_symmetric_in_log_space() -> None:
    """2x slower and 2x faster average out to a median ratio of 1."""
    p50, p95, _ = ratio_summary([0.5, 2.0, 1.0])
    assert pytest.approx(p50) == 1.0
    assert math.isclose(p95, math.exp(quantile(sorted(math.log(x) for x in [0.5, 1.0, 2.0]), 0.95)))
