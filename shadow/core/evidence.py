"""What shadow knows about one run directory: its parsed objects, before normalization.

Built by the engine from the store; consumed by `normalize`. Plain frozen values, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from shadow.core.layout import Side, StepFileName
from shadow.core.reading import RunReading
from shadow.core.records import ManifestRecord, Rejected, StatusRecord, StepRecord
from shadow.core.vocabulary import RunState


class HistoryMode(StrEnum):
    VERSIONED = "versioned"  # exact: every version of status.json, oldest first
    POLLING = "polling"  # what successive scans observed; fast moves can be missed


@dataclass(frozen=True, slots=True)
class StepEvidence:
    key: str
    file: StepFileName
    record: StepRecord


@dataclass(frozen=True, slots=True)
class RunEvidence:
    run_dir: str
    run_dir_id: str
    pairing_key: str
    side: Side
    agent_from_path: str | None
    first_seen: float  # epoch seconds: when the store first saw an object of this run
    status: StatusRecord | None = None
    status_key: str | None = None
    history: tuple[RunState, ...] = ()
    history_mode: HistoryMode = HistoryMode.POLLING
    manifest: ManifestRecord | None = None
    steps: tuple[StepEvidence, ...] = ()
    output_keys: tuple[str, ...] = ()
    rejected: tuple[Rejected, ...] = field(default=())
    # The idempotency key read from a status.json that failed validation (say, a renamed state):
    # the record is rejected, but the run still pairs with its twin instead of turning orphan.
    key_hint: str | None = None
    # Read by a declarative profile: what it read (None when status.json was unreadable).
    declared: bool = False
    reading: RunReading | None = None
