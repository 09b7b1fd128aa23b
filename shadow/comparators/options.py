"""Options every comparator reads; built from Settings by bootstrap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# How much slower a dry run may be (spec section 7): a single pair beyond it is a warning here,
# and the readiness threshold on the ratios' distribution (`criteria.Thresholds.timing_ratio`).
TIMING_TOLERANCE: Final = 1.20


@dataclass(frozen=True, slots=True)
class CompareOptions:
    excluded_steps: frozenset[str] = frozenset({"execute-agent"})
    timing_tolerance: float = TIMING_TOLERANCE
    # A step slower by less than this many milliseconds is noise, whatever its ratio.
    timing_slack_ms: float = 100.0
