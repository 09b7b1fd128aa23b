"""The pure core imports no I/O library: judging stays testable without sockets or files."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "shadow"
PURE = [
    "vocabulary",
    "records",
    "layout",
    "evidence",
    "normalized",
    "normalize",
    "pairing",
    "findings",
    "results",
    "stats",
    "verdict",
    "waivers",
    "judge",
    "report",
    "profiles",
    "schedules",
    "render",
    "fielddiff",
    "runcodec",
    "console",
    "comparators/__init__",
    "comparators/options",
    "comparators/status",
    "comparators/steps",
    "comparators/retries",
    "comparators/timing",
    "comparators/completeness",
    "comparators/concurrency",
    "comparators/side_effects",
]
FORBIDDEN = {
    "asyncio",
    "aiobotocore",
    "botocore",
    "boto3",
    "sqlite3",
    "fastapi",
    "starlette",
    "uvicorn",
    "prometheus_client",
    "apscheduler",
    "httpx",
    "aiohttp",
    "socket",
    "shadow.store",
    "shadow.engine",
    "shadow.collectors",
    "shadow.api",
    "shadow.daemon",
    "shadow.service",
    "shadow.metrics",
}


def imports_of(module: str) -> set[str]:
    tree = ast.parse((ROOT / f"{module}.py").read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        mod = todo.pop()
        for name in imports_of(mod):
            if name in seen:
                continue
            seen.add(name)
            if name.startswith("shadow."):
                rel = name.removeprefix("shadow.").replace(".", "/")
                if (ROOT / f"{rel}.py").exists():
                    todo.append(rel)
                elif (ROOT / rel / "__init__.py").exists():
                    todo.append(f"{rel}/__init__")
    return seen


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_io(module: str) -> None:
    """Neither the module nor anything it imports from shadow reaches an I/O library."""
    bad = {name for name in closure(module) if name in FORBIDDEN or name.split(".")[0] in FORBIDDEN}
    assert set() == bad
