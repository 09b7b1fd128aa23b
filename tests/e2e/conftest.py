"""Fixtures for end-to-end runs of the CLI over generated demo buckets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shadow.cli import main
from shadow.corpora.demo import DemoCorpus, write_demo
from tests.snapshots import tree_unchanged

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW_ISO = "2026-03-01T12:00:00Z"


@dataclass(frozen=True)
class Scanned:
    corpus: DemoCorpus
    db: Path

    def cli(self, *args: str) -> int:
        return main([*args, "--db", str(self.db), "--now", NOW_ISO])


ScanFactory = Callable[..., Scanned]


@pytest.fixture
def scanned(tmp_path: Path) -> ScanFactory:
    """Write a demo bucket with the given options, scan it once, return it with its ledger."""

    def make(name: str = "bucket", layout: str = "flat", **kw: object) -> Scanned:
        corpus = write_demo(tmp_path / name, now=NOW, layout=layout, **kw)  # type: ignore[arg-type]
        db = tmp_path / f"{name}.db"
        with tree_unchanged(corpus.root):
            code = main(
                [
                    "scan",
                    "--once",
                    "--source",
                    f"dir:{corpus.root}",
                    "--layout",
                    layout,
                    "--db",
                    str(db),
                    "--now",
                    NOW_ISO,
                ]
            )
        assert code == 0
        return Scanned(corpus, db)

    return make
