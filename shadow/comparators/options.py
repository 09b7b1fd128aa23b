"""Options every comparator reads; built from Settings by bootstrap."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CompareOptions:
    excluded_steps: frozenset[str] = frozenset({"execute-agent"})
    timing_tolerance: float = 1.20
    # A step slower by less than this many milliseconds is noise, whatever its ratio.
    timing_slack_ms: float = 100.0
