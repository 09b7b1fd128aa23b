"""The run writer every corpus of `shadow demo` shares: one run model, its timing, its files.

A scenario describes behaviour (which runs, their steps, outcomes, retries, what is planted) as
`Run`s; a shape (`shadow.corpora.shapes`) turns one `Run` into the files its writer stores;
this module lays those files out in the bucket directory with modification times that follow
the records (as an S3 LastModified would), and refuses to overwrite a directory it did not
write. Deterministic for a seed: nothing here reads the wall clock.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shadow.core.findings import Dimension, Kind
from shadow.core.layout import Side

MARKER = ".shadow-demo"
CONFIG_NAME = "shadow.toml"
JITTER = math.log(1.10)  # a dry run takes the primary's time within +-10%
TERMINAL = ("completed", "failed")


@dataclass(frozen=True)
class Planted:
    run_id: str  # the pairing key shadow reports the run under
    dimension: Dimension
    kind: Kind


@dataclass(frozen=True)
class StratumPlant:
    """A divergence that belongs to no run: a missed schedule, a stratum that must fail."""

    stratum: str
    dimension: Dimension
    kind: Kind
    side: Side | None = None  # the side that missed a schedule


@dataclass
class Step:
    name: str
    ms: float
    gap_ms: float = 15.0  # idle time before the step starts
    status: str = "completed"  # canonical step state
    error: str | None = None
    summary: str | None = None
    file: str | None = None  # a file name other than the shape's naming
    raw: bytes | None = None  # verbatim file content instead of the document
    word: str | None = None  # the writer's own state word, overriding the shape's
    attempts: int = 1  # a step's own attempts (Inngest retries a step, not the run)
    retry_ms: float = 0.0  # of `ms`, what the failed attempts and their back-off took
    retry_error: str | None = None  # "CODE: message" of the failed attempts


@dataclass
class Run:
    """One side of one run, in canonical terms, before a shape writes it."""

    run_id: str  # the pairing key
    stratum: str  # agent, job type, interaction type
    trigger: str
    start: datetime | None
    steps: list[Step]
    primary: bool = True
    status: str = "completed"  # canonical run state
    error: str | None = None
    word: str | None = None  # the writer's own state word (dead_lettered, CANCELED, a rename)
    manifest_word: str | None = None  # a different word in manifest.json only
    key: str | int | None = None  # idempotency key
    retries: dict[str, Any] | None = None
    proposals: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    meta: dict[str, Any] | None = None
    leaked: dict[str, Any] = field(default_factory=dict)  # vendor fields outside the meta
    status_run_id: str | None = None
    naming: int = 0  # which step-file naming the writer uses
    style: int = 0  # which JSON layout the writer uses
    steps_total: int | None = None
    queue_position: int | None = None
    queued_at: datetime | None = None
    tail_ms: float = 10.0  # from the last step's end to the run's end
    model: tuple[str, int, str] = ("", 0, "")
    manifest_extra: dict[str, Any] = field(default_factory=dict)
    extra_files: dict[str, bytes] = field(default_factory=dict)
    stored: bool = True  # False: the orchestrator never wrote it (the primary of an orphan twin)
    # What vendor shapes write beyond the garden contract (shadow.corpora.shapes):
    own_id: str = ""  # the run's id on its own side ("": `run_id`); its directory is named by it
    link: str | None = None  # the primary's id a dry run names (metadata.primaryRunId, jobId)
    attempts: int = 1  # whole-run attempts or deliveries (Trigger.dev, a queue, a webhook)
    retry_ms: float = 0.0  # before the first step: earlier attempts and their back-off
    retry_at: int = 0  # the step the earlier attempts failed at
    slot: datetime | None = None  # the fire time a scheduled run serves
    error_doc: dict[str, Any] | None = None  # the vendor's error object, verbatim
    variant: str = ""  # the shape's variant: an API version, a status vocabulary
    payload: dict[str, Any] = field(default_factory=dict)  # what the run was triggered with
    vendor: dict[str, Any] = field(default_factory=dict)  # more top-level fields of the record

    @property
    def ident(self) -> str:
        return self.own_id or self.run_id


Pair = tuple[Run, list[Run]]  # a primary and its dry runs (none if lost, two if duplicated)
Timed = tuple[Step, datetime | None, datetime | None]
Files = list[tuple[str, bytes, datetime]]  # path relative to the run directory, body, mtime


def begun(run: Run) -> datetime:
    """When the run started: every run of a migration scenario has started."""
    assert run.start is not None
    return run.start


def ms(value: float) -> timedelta:
    return timedelta(milliseconds=value)


def timed(run: Run) -> tuple[list[Timed], datetime | None]:
    """Each step with its start and end, and when the run ended (None while not terminal)."""
    if run.start is None:
        return [], None
    t, out = run.start + ms(run.retry_ms), list[Timed]()
    for step in run.steps:
        if step.status == "skipped":
            out.append((step, None, None))
            continue
        t += ms(step.gap_ms)
        begin = t
        if step.status == "running":
            out.append((step, begin, None))
            continue
        t = begin + ms(step.ms)
        out.append((step, begin, t))
    return out, (t + ms(run.tail_ms) if run.status in TERMINAL else None)


def spans(run: Run) -> tuple[list[Timed], datetime | None]:
    """As `timed`, but every step shown gets its times, a canceled (skipped) one too: a vendor's
    trace times each span it shows, and a canceled step ran until it was canceled."""
    assert run.start is not None
    t, out = run.start + ms(run.retry_ms), list[Timed]()
    for step in run.steps:
        begin = t + ms(step.gap_ms)
        if step.status == "running":
            out.append((step, begin, None))
            t = begin
            continue
        t = begin + ms(step.ms)
        out.append((step, begin, t))
    return out, (t + ms(run.tail_ms) if run.status in TERMINAL else None)


def jitter(rng: random.Random, value: float) -> float:
    return value * math.exp(rng.uniform(-JITTER, JITTER))


def twin(
    rng: random.Random,
    p: Run,
    run_id: str,
    delay_s: tuple[float, float],
    step: Callable[[Step], Step],
) -> Run:
    """The dry run of primary `p`: same stratum, trigger, outcome and key, started a little
    later, each step rewritten by `step` (its own timing and noise). Nothing else is copied."""
    assert p.start is not None
    return Run(
        run_id,
        p.stratum,
        p.trigger,
        p.start + timedelta(seconds=rng.uniform(*delay_s)),
        [step(s) for s in p.steps],
        primary=False,
        status=p.status,
        error=p.error,
        key=p.key,
        steps_total=p.steps_total,
    )


def fail(run: Run, at: int, error: str, step_error: str | None = None) -> None:
    """End the run at step `at` (0-based), failed with `error`."""
    run.steps = run.steps[: at + 1]
    run.steps[at].status, run.steps[at].error = "failed", step_error or error
    run.status, run.error, run.proposals, run.outputs = "failed", error, [], []


def retry(attempts: int, last_error: str, recovered: bool) -> dict[str, Any]:
    """One entry of a run's retries (keyed by step): the garden manifest's retry block."""
    return {"attempts": attempts, "last_error": last_error, "recovered": recovered}


# --- the bucket directory ---------------------------------------------------------------------


def prepare(out: Path) -> None:
    """Refuse a directory `shadow demo` did not write; wipe one it did."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise ValueError(
                f"{out} is not empty and was not written by `shadow demo`; choose another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by shadow demo; safe to delete\n", encoding="utf-8")


def put(base: str, files: Iterable[tuple[str, bytes, datetime]]) -> None:
    """Write each file under directory `base`, modified at its record's time."""
    made: set[str] = set()
    for rel, body, when in files:
        path = f"{base}/{rel}"
        parent = os.path.dirname(path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        with open(path, "wb") as fh:
            fh.write(body)
        os.utime(path, (when.timestamp(), when.timestamp()))


def dump(doc: Any, style: int = 0) -> bytes:
    """JSON as writers lay it out: indented (0), compact (1) or indented with sorted keys (2)."""
    if style == 1:
        return json.dumps(doc, separators=(",", ":")).encode() + b"\n"
    return json.dumps(doc, indent=2, sort_keys=style == 2).encode() + b"\n"


# --- the shadow.toml written beside a scenario --------------------------------------------------


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(f"no TOML for {value!r}")


def _tables(path: list[str], table: dict[str, Any]) -> list[str]:
    """The sub-tables of `table`: a dict is a `[table]`, a list of dicts an `[[array]]`."""
    out: list[str] = []
    for key, value in table.items():
        here = [*path, _toml_key(key)]
        if isinstance(value, dict):
            pairs, nested = _pairs(value), _tables(here, value)
            head = ["", f"[{'.'.join(here)}]", *pairs] if pairs or not nested else []
            out += [*head, *nested]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                out += ["", f"[[{'.'.join(here)}]]", *_pairs(item), *_tables(here, item)]
    return out


def _pairs(table: dict[str, Any]) -> list[str]:
    return [
        f"{_toml_key(k)} = {_toml_value(v)}"
        for k, v in table.items()
        if not isinstance(v, dict)
        and not (isinstance(v, list) and v and all(isinstance(x, dict) for x in v))
    ]


def config_toml(root: Path, settings: dict[str, Any]) -> str:
    """The scenario's settings as the TOML `shadow --config` reads."""
    lines = [f"source = {_toml_value(f'dir:{root.resolve()}')}", *_pairs(settings)]
    return "\n".join([*lines, *_tables([], settings)]) + "\n"
