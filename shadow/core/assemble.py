"""Assembly: stored objects of one run directory -> RunEvidence, parsing each object.

Pure. Every object of a run is accounted for: it becomes part of a record, or a Rejected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shadow.core.evidence import HistoryMode, RunEvidence, StepEvidence
from shadow.core.layout import KeyLayout, ObjectKey, ObjectKind, parse_step_file
from shadow.core.objects import StoredObject
from shadow.core.profiles import GARDEN, RUN_DOCUMENT, Profile, translate
from shadow.core.reading import read_run
from shadow.core.records import (
    ManifestRecord,
    Rejected,
    RejectReason,
    StatusRecord,
    StepRecord,
    load_object,
    validate,
)
from shadow.core.vocabulary import RunState


@dataclass(frozen=True, slots=True)
class RunObjects:
    """The objects of one run directory, with their parsed keys."""

    run_dir: str
    keys: tuple[ObjectKey, ...]
    stored: tuple[StoredObject, ...]

    @property
    def signature(self) -> int:
        """Changes when any object of the run changes; stable across processes (the ledger keeps
        it beside the stored normalized run), 64 bits so the cache stays small per run."""
        h = hashlib.blake2b(digest_size=8)
        for o in self.stored:
            h.update(f"{o.key}\0{o.etag}\0{int(o.too_large)}\n".encode())
        return int.from_bytes(h.digest(), "big", signed=True)


def group_objects(index: Sequence[StoredObject], layout: KeyLayout) -> dict[str, RunObjects]:
    keys: dict[str, list[ObjectKey]] = {}
    stored: dict[str, list[StoredObject]] = {}
    for obj in index:
        parsed = layout.parse(obj.key)
        if parsed is None:
            continue
        keys.setdefault(parsed.run_dir, []).append(parsed)
        stored.setdefault(parsed.run_dir, []).append(obj)
    return {d: RunObjects(d, tuple(keys[d]), tuple(stored[d])) for d in keys}


def needs_body(kind: ObjectKind) -> bool:
    return kind in (ObjectKind.STATUS, ObjectKind.MANIFEST, ObjectKind.STEP)


def wants_body(key: ObjectKey, profile: Profile) -> bool:
    """Whether an object's body is read: the garden's records, and the documents a declarative
    profile names (a trace beside the run object)."""
    return needs_body(key.kind) or (
        key.kind is ObjectKind.OTHER and key.rest in profile.document_files
    )


def assemble(
    run: RunObjects,
    bodies: Mapping[str, bytes],
    history: tuple[str, list[str]] | None,
    max_bytes: int,
    profile: Profile = GARDEN,
    first_version: float | None = None,
) -> RunEvidence:
    """`first_version`: when the oldest version of status.json was written (versioned buckets),
    the earliest object of the run the store has, though no longer the current one."""
    if profile.declarative:
        return _assemble_declared(run, bodies, history, max_bytes, profile, first_version)
    status: StatusRecord | None = None
    status_key: str | None = None
    manifest: ManifestRecord | None = None
    steps: list[StepEvidence] = []
    outputs: list[str] = []
    rejected: list[Rejected] = []
    hint: str | None = None
    for key, obj in zip(run.keys, run.stored, strict=True):
        if key.kind is ObjectKind.OUTPUT:
            outputs.append(key.key)
            continue
        if not needs_body(key.kind):
            continue
        doc = _decode(key, obj, bodies, max_bytes)
        if isinstance(doc, Rejected):
            rejected.append(doc)
            continue
        if key.kind is ObjectKind.STATUS:
            canonical = translate(doc, "status", profile)
            rec_s = validate(key.key, canonical, StatusRecord)
            hint = _key_hint(canonical.get("idempotency_key"))
            status, status_key = (
                (None, key.key) if isinstance(rec_s, Rejected) else (rec_s, key.key)
            )
            if isinstance(rec_s, Rejected):
                rejected.append(rec_s)
        elif key.kind is ObjectKind.MANIFEST:
            rec_m = validate(key.key, translate(doc, "manifest", profile), ManifestRecord)
            if isinstance(rec_m, Rejected):
                rejected.append(rec_m)
            else:
                manifest = rec_m
        else:
            step = _step(key, translate(doc, "step", profile))
            if isinstance(step, Rejected):
                rejected.append(step)
            else:
                steps.append(step)
    if status is None and manifest is not None:
        hint = hint or _key_hint((manifest.model_extra or {}).get("idempotency_key"))
    return _evidence(
        run,
        history,
        first_version,
        status=status,
        status_key=status_key,
        manifest=manifest,
        steps=tuple(steps),
        output_keys=tuple(outputs),
        rejected=tuple(rejected),
        key_hint=hint if status is None else None,
    )


def _assemble_declared(
    run: RunObjects,
    bodies: Mapping[str, bytes],
    history: tuple[str, list[str]] | None,
    max_bytes: int,
    profile: Profile,
    first_version: float | None,
) -> RunEvidence:
    """A run read through a declarative profile: status.json and the documents it names.

    Step files and manifest.json are the garden's; such a profile does not read them. A missing
    optional document (no trace.json yet) makes the getters that read it absent, never an error.
    """
    files = {f: n for n, f in profile.compiled.documents.items()}
    rejected: list[Rejected] = []
    run_doc: dict[str, object] | None = None
    status_key: str | None = None
    documents: dict[str, object] = {}
    doc_keys: dict[str, str] = {}
    for key, obj in zip(run.keys, run.stored, strict=True):
        name = RUN_DOCUMENT if key.kind is ObjectKind.STATUS else files.get(key.rest)
        if name is None:
            continue
        doc = _decode(key, obj, bodies, max_bytes)
        if isinstance(doc, Rejected):
            rejected.append(doc)
        elif name == RUN_DOCUMENT:
            run_doc, status_key = doc, key.key
        else:
            documents[name], doc_keys[name] = doc, key.key
    reading = None
    if run_doc is not None:
        reading = read_run(run_doc, documents, profile.compiled)
        for problem in reading.problems:
            where = doc_keys.get(problem.document, status_key or "")
            reason = RejectReason(problem.reason)
            rejected.append(
                Rejected(key=where, reason=reason, detail=f"{problem.where}: {problem.detail}")
            )
    return _evidence(
        run,
        history,
        first_version,
        status_key=status_key,
        output_keys=tuple(k.key for k in run.keys if k.kind is ObjectKind.OUTPUT),
        rejected=tuple(rejected),
        key_hint=reading.link or reading.idempotency_key if reading is not None else None,
        declared=True,
        reading=reading,
    )


def _evidence(
    run: RunObjects,
    history: tuple[str, list[str]] | None,
    first_version: float | None,
    **parts: Any,
) -> RunEvidence:
    """A run's evidence: what every record format shares (where the run lives, when the store
    first saw it, its observed history) and the parts its format read."""
    first = run.keys[0]
    mode, states = history if history else ("polling", [])
    return RunEvidence(
        run_dir=run.run_dir,
        run_dir_id=first.run_dir_id,
        pairing_key=first.pairing_key,
        side=first.side,
        agent_from_path=first.agent_from_path,
        first_seen=min(
            min(o.first_seen for o in run.stored),
            first_version if first_version is not None else float("inf"),
        ),
        history=tuple(RunState(s) for s in states if s in RunState._value2member_map_),
        history_mode=HistoryMode(mode),
        **parts,
    )


def _key_hint(value: object) -> str | None:
    """An idempotency key as pairing reads it: a string or an integer, nothing else."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)


def _decode(
    key: ObjectKey, obj: StoredObject, bodies: Mapping[str, bytes], max_bytes: int
) -> dict[str, object] | Rejected:
    if obj.too_large or obj.size > max_bytes:
        return Rejected(
            key=key.key,
            reason=RejectReason.TOO_LARGE,
            detail=f"{obj.size} bytes > {max_bytes}; not downloaded",
        )
    body = bodies.get(key.key)
    if body is None:
        return Rejected(key=key.key, reason=RejectReason.INVALID_JSON, detail="no body stored")
    return load_object(key.key, body, max_bytes)


def _step(key: ObjectKey, doc: dict[str, object]) -> StepEvidence | Rejected:
    file = parse_step_file(key.rest)
    if file.number is None:
        return Rejected(
            key=key.key,
            reason=RejectReason.STEP_WITHOUT_NUMBER,
            detail=f"file name {key.rest!r} has no step number before the first '-'",
        )
    rec = validate(key.key, doc, StepRecord)
    return rec if isinstance(rec, Rejected) else StepEvidence(key.key, file, rec)
