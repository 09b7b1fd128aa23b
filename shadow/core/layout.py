"""Where things live in the bucket: object keys to run directories, sides and pairing keys.

Rules (spec run-records.md section 2): a run directory is `<prefix>runs/<id>/` (flat) or
`<prefix>agents/<slug>/runs/<id>/` (nested). A directory whose id ends with the dry-run suffix
is the candidate; the pairing key is the id without it. Any key segment without `/` is an id:
nothing here depends on the shape of run ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Side(StrEnum):
    PRIMARY = "primary"
    CANDIDATE = "candidate"


class Layout(StrEnum):
    FLAT = "flat"
    NESTED = "nested"


class ObjectKind(StrEnum):
    STATUS = "status"
    MANIFEST = "manifest"
    STEP = "step"
    OUTPUT = "output"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ObjectKey:
    key: str
    run_dir: str  # the directory prefix, unique per run and side
    run_dir_id: str  # the directory's id segment, suffix included
    pairing_key: str
    side: Side
    agent_from_path: str | None
    kind: ObjectKind
    rest: str  # the key below the run directory, e.g. "steps/2-execute-agent.json"


@dataclass(frozen=True, slots=True)
class StepFileName:
    number: int | None  # None: the file name has no number before the first '-'
    name: str | None


_STEP_FILE = re.compile(r"^steps/([^/]+)\.json$")


class KeyLayout:
    """Parses object keys for one configured layout, prefix and dry-run suffix."""

    def __init__(self, layout: Layout, prefix: str = "", suffix: str = "-dryrun") -> None:
        if not suffix:
            raise ValueError("the dry-run suffix must not be empty")
        self.layout = layout
        self.prefix = prefix
        self.suffix = suffix

    @property
    def list_prefix(self) -> str:
        """The prefix to list: every run directory is below it."""
        return self.prefix + ("runs/" if self.layout is Layout.FLAT else "agents/")

    def parse(self, key: str) -> ObjectKey | None:
        """Classify a key; None for keys outside any run directory."""
        if not key.startswith(self.prefix):
            return None
        parts = key[len(self.prefix) :].split("/")
        agent: str | None = None
        if self.layout is Layout.NESTED:
            if len(parts) < 5 or parts[0] != "agents" or parts[2] != "runs" or not parts[1]:
                return None
            agent, parts = parts[1], parts[2:]
        if len(parts) < 3 or parts[0] != "runs" or not parts[1] or not all(parts[2:]):
            return None
        dir_id, rest = parts[1], "/".join(parts[2:])
        side = Side.CANDIDATE if dir_id.endswith(self.suffix) else Side.PRIMARY
        pairing = dir_id[: -len(self.suffix)] if side is Side.CANDIDATE else dir_id
        if not pairing:
            return None
        run_dir = key[: len(key) - len(rest)]
        return ObjectKey(key, run_dir, dir_id, pairing, side, agent, _kind(rest), rest)

    def candidate_run_ids(self, pairing_key: str) -> frozenset[str]:
        """Run ids a candidate's status.json may carry (spec section 2)."""
        return frozenset({pairing_key, pairing_key + self.suffix})


def _kind(rest: str) -> ObjectKind:
    if rest == "status.json":
        return ObjectKind.STATUS
    if rest == "manifest.json":
        return ObjectKind.MANIFEST
    if _STEP_FILE.match(rest):
        return ObjectKind.STEP
    if rest.startswith("output/"):
        return ObjectKind.OUTPUT
    return ObjectKind.OTHER


def parse_step_file(rest: str) -> StepFileName:
    """`steps/2.json`, `steps/2-execute-agent.json` and `steps/02-execute-agent.json` are step 2."""
    match = _STEP_FILE.match(rest)
    stem = match.group(1) if match else rest
    head, _, tail = stem.partition("-")
    # A digit run longer than 9 is no step number (and int() of thousands of digits raises).
    number = int(head) if head.isascii() and head.isdigit() and len(head) <= 9 else None
    return StepFileName(number=number, name=tail or None)
