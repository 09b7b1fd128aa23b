"""A real PostgreSQL server for the tests: initdb in a temp dir, a free loopback port.

PostgreSQL refuses to run as root, so under root (CI) the server runs as `nobody` through
`setpriv`, which execs in place: the process we hold is the postmaster itself. The superuser
logs in over TCP with a password (SCRAM), so tests exercise URLs that carry one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests import tools

USER = "shadow"
PASSWORD = "pg-secret-never-logged-4242"


def _binary(name: str) -> str:
    found = tools.find(name)
    if found is None:
        raise RuntimeError(tools.message(tools.BY_MARKER["needs_postgres"]))
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="shadow-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            os.chown(self.dir, 65534, 65534)
            self._as_user = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        pwfile = self.dir / "pw"
        pwfile.write_text(PASSWORD)
        if self._as_user:
            os.chown(pwfile, 65534, 65534)
        subprocess.run(
            [
                *self._as_user,
                _binary("initdb"),
                "-D",
                str(self.data),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *self._as_user,
                _binary("postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.dir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=50",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with self.connect("postgres"):
                    return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: disconnects clients
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def url(self, dbname: str, *, password: bool = True) -> str:
        auth = f"{USER}:{PASSWORD}" if password else USER
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str) -> object:
        import psycopg

        return psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=3)

    def create_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        from psycopg import sql

        name = f"t_{uuid.uuid4().hex[:12]}"
        with self.connect("postgres") as conn:  # type: ignore[attr-defined]
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def destroy(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.dir)
