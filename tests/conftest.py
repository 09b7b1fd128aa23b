"""Fixtures shared by every test tier: the system tools and a real PostgreSQL server, and the
`needs_*` markers that say which tests use them.

A test reaches a tool only through a fixture here (or moto's `s3_endpoint`), and the fixture's
marker is applied from the fixtures it uses, so the markers cannot drift from what the tests
do. A marker never skips: a marked test whose tool is missing fails, naming the Debian package
(`make test` installs it through scripts/provision.sh). `make test-unit` runs PURE_TIER
without the tests marked `slow`; a test there that needs a tool stops the collection.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import tools
from tests.pgserver import PgServer

# The fixture a test uses -> the marker it gets.
FIXTURE_MARKERS = {
    "promtool": "needs_promtool",
    "prometheus": "needs_prometheus",
    "chromium": "needs_chromium",
    "pg_server": "needs_postgres",
    "own_pg_server": "needs_postgres",
    "s3_endpoint": "needs_s3",
    "without_read_all": "needs_setpriv",
}
# The pure tier (`make test-unit`, the Makefile's UNIT_TESTS): logic and files only.
PURE_TIER = ("unit", "property")

Promtool = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """`shadow.cli.main` configures logging for the process (shadow/logs.py), as a command
    should; in the test process that would outlive the test, so each test gets the root
    logger back as it found it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    impure = []
    for item in items:
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):  # the closure: fixtures' fixtures too
                item.add_marker(marker)
        tier = Path(item.path).relative_to(Path(__file__).parent).parts[0]
        needs = sorted({m.name for m in item.iter_markers() if m.name.startswith("needs_")})
        if tier in PURE_TIER and needs:
            impure.append(f"{item.nodeid}: {', '.join(needs)}")
    if impure:
        raise pytest.UsageError(
            "tests in the pure tier (tests/unit, tests/property) use tools or servers; "
            "move them to tests/integration or tests/e2e:\n  " + "\n  ".join(impure)
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked for a tool fails before its fixtures run when the tool is missing."""
    for marker in item.iter_markers():
        tool = tools.BY_MARKER.get(marker.name)
        if tool is not None and tools.missing(tool):
            pytest.fail(tools.message(tool), pytrace=False)


def _check_marked(request: pytest.FixtureRequest, marker: str) -> None:
    # getfixturevalue() hides a fixture from the collection-time marking; refuse that, so a
    # test cannot use a tool without the marker that says so.
    if request.node.get_closest_marker(marker) is None:
        pytest.fail(
            f"{request.node.nodeid} uses {request.fixturename} without the {marker} marker "
            "(through getfixturevalue?): add the marker or ask for the fixture by name",
            pytrace=False,
        )


def _binary(request: pytest.FixtureRequest, marker: str, name: str) -> str:
    _check_marked(request, marker)
    path = tools.find(name)
    if path is None:
        pytest.fail(tools.message(tools.BY_MARKER[marker]), pytrace=False)
    return path


@pytest.fixture
def promtool(request: pytest.FixtureRequest) -> Promtool:
    """Runs Prometheus's promtool with the given arguments (and stdin), never raising."""
    path = _binary(request, "needs_promtool", "promtool")

    def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [path, *args], input=stdin, capture_output=True, timeout=120, check=False
        )

    return run


@pytest.fixture
def without_read_all(request: pytest.FixtureRequest) -> list[str]:
    """A command prefix that runs a program without root's privilege to read any file or
    directory (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH dropped from its bounding set by
    util-linux's setpriv), so file modes bind it as they bind a daemon's own user. Empty when
    the tests do not run as root: the modes bind already."""
    path = _binary(request, "needs_setpriv", "setpriv")
    if os.geteuid() != 0:
        return []
    return [path, "--bounding-set", "-dac_override,-dac_read_search", "--"]


@pytest.fixture
def prometheus(request: pytest.FixtureRequest) -> str:
    """The path of the Prometheus server binary."""
    return _binary(request, "needs_prometheus", "prometheus")


@pytest.fixture(scope="module")
def chromium(request: pytest.FixtureRequest) -> str:
    """The chromium Playwright drives ($SHADOW_TEST_CHROMIUM, default Debian's /usr/bin/chromium)."""
    path = tools.find("chromium")
    if path is None:
        pytest.fail(tools.message(tools.BY_MARKER["needs_chromium"]), pytrace=False)
    return path


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the session; each test takes its own database from it."""
    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_url(request: pytest.FixtureRequest, pg_server: PgServer) -> str:
    """The URL (with password) of a fresh, empty database."""
    _check_marked(request, "needs_postgres")
    return pg_server.create_database()


@pytest.fixture
def own_pg_server() -> Iterator[PgServer]:
    """A started PostgreSQL server of the test's own, which it may stop and start again."""
    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()
