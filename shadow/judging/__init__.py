"""Pure judging: comparators' findings -> waivers -> results -> verdict -> report."""
