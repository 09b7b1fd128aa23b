"""The system tools the test suite needs, where the tests look for them, and which Debian package
brings each one.

One list for both sides: the tests find their binaries through `find()`, and
`scripts/provision.sh` (which `make test` runs first) asks `python3 tests/tools.py missing` which
packages to install, so the script cannot call present a tool the tests would not find. Stdlib
only: the script runs this file with the system python, before the venv exists.

A test reaches a tool through a fixture (`tests/conftest.py`), which marks it `needs_<tool>`;
when a tool is missing, a marked test fails with `message()`, it is never skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Tool:
    marker: str  # the pytest marker of the tests that need it
    binaries: tuple[str, ...]
    package: str  # the Debian package that ships the binaries
    purpose: str


TOOLS = (
    Tool("needs_promtool", ("promtool",), "prometheus", "checks and unit-tests the alert rules"),
    Tool("needs_prometheus", ("prometheus",), "prometheus", "scrapes `shadow serve` end to end"),
    # Playwright drives Debian's chromium: no browser download.
    Tool("needs_chromium", ("chromium",), "chromium", "runs the console's browser tests"),
    # The tests start their own server from initdb in a temp dir; no cluster, no service.
    Tool("needs_postgres", ("initdb", "postgres"), "postgresql", "the ledger's second backend"),
)
BY_MARKER = {t.marker: t for t in TOOLS}


def chromium_path() -> str:
    return os.environ.get("SHADOW_TEST_CHROMIUM", "/usr/bin/chromium")


def find(binary: str) -> str | None:
    """The path of `binary` as the tests run it, or None."""
    if binary == "chromium":
        return shutil.which(chromium_path())
    found = shutil.which(binary)
    if found is None and binary in ("initdb", "postgres"):
        # Debian keeps the server binaries off PATH, one directory per major version.
        versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{binary}"), reverse=True)
        found = next((p for p in versions if os.access(p, os.X_OK)), None)
    return found


def missing(tool: Tool) -> list[str]:
    return [chromium_path() if b == "chromium" else b for b in tool.binaries if find(b) is None]


def message(tool: Tool) -> str:
    """Why a test that needs `tool` cannot run, and how to get it."""
    return (
        f"{tool.marker}: {', '.join(missing(tool))} not found ({tool.purpose}); "
        f"`make test` installs Debian `{tool.package}` through scripts/provision.sh, "
        f"or run `apt-get install --no-install-recommends {tool.package}`"
    )


def main(argv: list[str]) -> int:
    if argv != ["missing"]:
        print("usage: python3 tests/tools.py missing", file=sys.stderr)
        return 64
    # The Debian packages that would bring every missing binary, one per line.
    for package in dict.fromkeys(t.package for t in TOOLS if missing(t)):
        print(package)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
