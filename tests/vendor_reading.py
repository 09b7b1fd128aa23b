"""Reading vendor fixtures through a profile the way a scan does: assemble, then normalize."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shadow.core.assemble import RunObjects, assemble
from shadow.core.layout import KeyLayout, Layout
from shadow.core.normalize import NormalizeOptions, normalize
from shadow.core.objects import StoredObject
from shadow.core.profiles import Profile
from shadow.core.runs import NormalizedRun

VENDORS = Path(__file__).resolve().parent / "fixtures" / "vendors"
LAYOUT = KeyLayout(Layout.FLAT)


def fixture(rel: str) -> Any:
    return json.loads((VENDORS / rel).read_bytes())


def read(
    profile: Profile,
    status: str | dict[str, Any],
    documents: dict[str, str | dict[str, Any]] | None = None,
    *,
    run_dir: str = "runs/r1/",
    history: list[str] | None = None,
    opts: NormalizeOptions | None = None,
) -> NormalizedRun:
    """One run read from fixture files (paths below tests/fixtures/vendors) or documents."""
    files: dict[str, bytes] = {"status.json": _bytes(status)}
    for name, doc in (documents or {}).items():
        files[profile.documents.get(name, f"{name}.json")] = _bytes(doc)
    keys, stored = [], []
    for rest, body in sorted(files.items()):
        key = run_dir + rest
        parsed = LAYOUT.parse(key)
        assert parsed is not None
        keys.append(parsed)
        stored.append(StoredObject(key, "e", len(body), 0.0, 0.0, body))
    bodies = {o.key: o.body for o in stored if o.body is not None}
    ev = assemble(
        RunObjects(run_dir, tuple(keys), tuple(stored)),
        bodies,
        ("polling", history) if history else None,
        1 << 20,
        profile,
    )
    return normalize(ev, opts or NormalizeOptions())


def _bytes(doc: str | dict[str, Any]) -> bytes:
    if isinstance(doc, str):
        return (VENDORS / doc).read_bytes()
    return json.dumps(doc).encode()
