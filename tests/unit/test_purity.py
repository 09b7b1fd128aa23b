"""The tree is the layer diagram: import-linter's contracts (pyproject.toml) hold, and they bite.

The pure layers (core, comparators, judging) import no I/O, so judging stays testable without
sockets or files; every import points down the layers. The contracts cover directories, so a new
module is covered the day it is added.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "shadow", tree / "shadow", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_tree_keeps_its_contracts(tmp_path: Path) -> None:
    """Every import-linter contract is kept by the tree as it is."""
    result = lint(copy_tree(tmp_path))
    assert 0 == result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("core/stats.py", "import sqlite3", "The pure layers do no I/O"),
        ("comparators/timing.py", "import asyncio", "The pure layers do no I/O"),
        ("judging/verdict.py", "import prometheus_client", "The pure layers do no I/O"),
        ("core/layout.py", "import shadow.ledger.store", "Layers: every import points down"),
        ("serve/views.py", "import fastapi", "The pure views at the edges do no I/O"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    """An I/O import in a pure layer, or an import pointing up, fails the check by name."""
    tree = copy_tree(tmp_path)
    target = tree / "shadow" / module
    target.write_text(target.read_text() + f"\n{line}  # deliberate\n")
    result = lint(tree)
    assert 1 == result.returncode
    assert f"{contract} BROKEN" in result.stdout
