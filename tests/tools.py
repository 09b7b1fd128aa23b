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

import ctypes
import glob
import os
import shutil
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Tool:
    marker: str  # the pytest marker of the tests that need it
    needs: tuple[tuple[str, str], ...]  # (binary or shared library, Debian package that ships it)
    purpose: str


TOOLS = (
    Tool("needs_promtool", (("promtool", "prometheus"),), "checks and unit-tests the alert rules"),
    Tool("needs_prometheus", (("prometheus", "prometheus"),), "scrapes `shadow serve` end to end"),
    # Playwright drives Debian's chromium: no browser download. Its bundled Node driver links
    # libatomic.so.1, which a bare Debian lacks (newer Node builds need it: DataDog/dd-trace-js#8657).
    Tool(
        "needs_chromium",
        (("chromium", "chromium"), ("libatomic.so.1", "libatomic1")),
        "runs the console's browser tests",
    ),
    # The tests start their own server from initdb in a temp dir; no cluster, no service.
    Tool(
        "needs_postgres",
        (("initdb", "postgresql"), ("postgres", "postgresql")),
        "the ledger's second backend",
    ),
    # Root reads every directory; the unreadable-directory test drops that privilege with it.
    Tool(
        "needs_setpriv",
        (("setpriv", "util-linux"),),
        "runs a scan without root's read-anything capabilities",
    ),
)
BY_MARKER = {t.marker: t for t in TOOLS}


def chromium_path() -> str:
    return os.environ.get("SHADOW_TEST_CHROMIUM", "/usr/bin/chromium")


def find(name: str) -> str | None:
    """Where the tests would get `name` (a binary, or a shared library), or None."""
    if ".so." in name:
        try:  # the dynamic loader's own search, as for the binary that links it
            ctypes.CDLL(name)
        except OSError:
            return None
        return name
    if name == "chromium":
        return shutil.which(chromium_path())
    found = shutil.which(name)
    if found is None and name in ("initdb", "postgres"):
        # Debian keeps the server binaries off PATH, one directory per major version.
        versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
        found = next((p for p in versions if os.access(p, os.X_OK)), None)
    return found


def missing(tool: Tool) -> dict[str, str]:
    """What `tool` lacks: name as the tests look for it -> the Debian package that brings it."""
    return {
        chromium_path() if name == "chromium" else name: package
        for name, package in tool.needs
        if find(name) is None
    }


def message(tool: Tool) -> str:
    """Why a test that needs `tool` cannot run, and how to get it."""
    lacking = missing(tool)
    packages = " ".join(dict.fromkeys(lacking.values()))
    return (
        f"{tool.marker}: {', '.join(lacking)} not found ({tool.purpose}); "
        f"`make test` installs Debian `{packages}` through scripts/provision.sh, "
        f"or run `apt-get install --no-install-recommends {packages}`"
    )


def main(argv: list[str]) -> int:
    if argv != ["missing"]:
        print("usage: python3 tests/tools.py missing", file=sys.stderr)
        return 64
    # The Debian packages that would bring everything missing, one per line.
    for package in dict.fromkeys(p for t in TOOLS for p in missing(t).values()):
        print(package)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
