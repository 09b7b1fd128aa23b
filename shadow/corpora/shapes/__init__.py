"""Record shapes: how one `writer.Run` becomes the files a given orchestrator stores.

Each shape module writes a run with `write(root, run, dir_id, now)`. `write_record` is that for
the shapes whose writer keeps one record per run, overwritten on every delivery (cf_queues,
telegram): only the document differs between them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from shadow.corpora.writer import Run, dump, put, spans

Record = Callable[[Run, datetime | None], dict[str, Any]]  # the run and when it ended -> doc


def write_record(root: Path, run: Run, dir_id: str, record: Record) -> None:
    """`runs/<dir_id>/status.json` alone, modified when the run ended (while it runs, when it
    started)."""
    _, end = spans(run)
    assert run.start is not None
    put(f"{root}/runs/{dir_id}", [("status.json", dump(record(run, end)), end or run.start)])
