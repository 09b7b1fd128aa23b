"""`shadow serve` as a real process: scans on its schedule, serves HTTP, exits 0 on SIGTERM."""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from shadow.corpora.demo import write_demo
from tests.snapshots import tree_unchanged


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout: float = 30.0) -> bytes:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            r = httpx.get(url, timeout=2)
            if r.status_code == 200:
                return r.content
            last = AssertionError(f"HTTP {r.status_code}")
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready after {timeout}s: {last}")


def start_serve(
    root: Path, db: Path, port: int, *extra_env: tuple[str, str]
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SHADOW_SCAN_INTERVAL_SECONDS": "1",
        "SHADOW_SHUTDOWN_GRACE_SECONDS": "10",
        **dict(extra_env),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shadow.cli",
            "serve",
            "--source",
            f"dir:{root}",
            "--db",
            str(db),
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


SECRETS = (
    ("SHADOW_S3__SECRET_ACCESS_KEY", "s3-secret-in-env-0001"),
    ("SHADOW_API_TOKEN", "api-token-in-env-0002"),
    ("SHADOW_WEBHOOK_TOKEN", "hook-token-in-env-0003"),
)


def test_serve_judges_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """The daemon answers /readyz after its first scan, serves metrics, exits 0 on SIGTERM, logs no secret."""
    corpus = write_demo(tmp_path / "bucket", now=datetime.now(UTC).replace(microsecond=0))
    port = free_port()
    proc = start_serve(corpus.root, tmp_path / "s.db", port, *SECRETS)
    try:
        ready = json.loads(wait_for(f"http://127.0.0.1:{port}/readyz"))
        assert ready["ready"] is True
        metrics = wait_for(f"http://127.0.0.1:{port}/metrics").decode()
        assert 'shadow_readiness_verdict{verdict="NOT_READY"} 1.0' in metrics
        assert "shadow_lost_runs 1.0" in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert 0 == proc.returncode, out.decode()[-2000:]
    assert b"clean shutdown" in out
    for _, secret in SECRETS:
        assert secret.encode() not in out


def test_restart_on_the_same_ledger_gives_the_same_report(tmp_path: Path) -> None:
    """Stopping and restarting on the same database reproduces the report and refetches nothing."""
    now = datetime.now(UTC).replace(microsecond=0)
    corpus = write_demo(tmp_path / "bucket", now=now)
    db = tmp_path / "s.db"
    reports = []
    for _ in range(2):
        port = free_port()
        proc = start_serve(corpus.root, db, port)
        try:
            wait_for(f"http://127.0.0.1:{port}/readyz")
            body = json.loads(wait_for(f"http://127.0.0.1:{port}/report?limit=10000"))
            metrics = wait_for(f"http://127.0.0.1:{port}/metrics").decode()
            reports.append((body, metrics))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
    (first, _), (second, metrics_after_restart) = reports
    strip = lambda r: {k: v for k, v in r.items() if k not in ("generated_at",)}  # noqa: E731
    first_r, second_r = strip(first), strip(second)
    first_r["readiness"].pop("since"), second_r["readiness"].pop("since")
    assert first_r == second_r
    assert "shadow_objects_fetched_total 0.0" in metrics_after_restart


def _arrive(staged: Path, root: Path, dirs: list[str]) -> None:
    """Copy whole run directories into the watched tree (while no shadow runs)."""
    for d in dirs:
        shutil.copytree(staged / "runs" / d, root / "runs" / d)


@pytest.mark.slow
def test_kill_9_at_random_points_never_loses_or_double_counts(tmp_path: Path) -> None:
    """Ten SIGKILLs at seeded random points of start-up and of cycles, with runs arriving between
    restarts, all on one ledger: the final report equals an uninterrupted run's, nothing twice."""
    now = datetime.now(UTC).replace(microsecond=0)
    staged = write_demo(tmp_path / "staged", now=now, runs=60).root
    root = tmp_path / "bucket"
    (root / "runs").mkdir(parents=True)
    rng = random.Random(11)
    dirs = sorted(p.name for p in (staged / "runs").iterdir())
    rng.shuffle(dirs)
    batches = [dirs[i::10] for i in range(10)]  # a tenth of the runs arrives before each restart
    db = tmp_path / "killed.db"
    for kill, batch in enumerate(batches):
        _arrive(staged, root, batch)
        port = free_port()
        with tree_unchanged(root):
            proc = start_serve(root, db, port)
            if kill % 3 == 0:  # during start-up: opening the ledger, the first listing
                time.sleep(rng.uniform(0.3, 1.2))
            else:  # the first cycle starts with the app; land anywhere in it or the next ones
                wait_for(f"http://127.0.0.1:{port}/healthz")
                time.sleep(rng.uniform(0.0, 1.5))
            proc.kill()
            proc.communicate(timeout=30)
    reports = []
    for path in (db, tmp_path / "clean.db"):
        port = free_port()
        with tree_unchanged(root):
            proc = start_serve(root, path, port)
            try:
                wait_for(f"http://127.0.0.1:{port}/readyz", timeout=60)
                reports.append(json.loads(wait_for(f"http://127.0.0.1:{port}/report?limit=10000")))
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.communicate(timeout=30)
    for r in reports:
        r.pop("generated_at")
        r["readiness"].pop("since")
    killed, clean = reports
    assert clean == killed
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    with sqlite3.connect(db) as con:
        keys = [k for (k,) in con.execute("SELECT key FROM objects ORDER BY key")]
        history = con.execute("SELECT run_dir, state FROM history ORDER BY run_dir, seq").fetchall()
        verdicts = con.execute("SELECT verdict, config_hash FROM verdicts ORDER BY id").fetchall()
    assert files == keys  # every object once, none lost
    repeats = [a for a, b in itertools.pairwise(history) if a == b]
    assert [] == repeats  # no state observed twice in a row for one run
    assert all(a != b for a, b in itertools.pairwise(verdicts))  # a verdict row per change only


@pytest.mark.slow
def test_serve_logs_json_one_summary_line_per_cycle_and_no_scheduler_chatter(
    tmp_path: Path,
) -> None:
    """With SHADOW_LOG_FORMAT=json every line shadow, uvicorn and APScheduler write is one JSON
    object; each cycle logs one summary line with its figures as fields; APScheduler's per-run
    INFO lines are gone; no secret appears."""
    corpus = write_demo(tmp_path / "bucket", now=datetime.now(UTC).replace(microsecond=0), runs=40)
    port = free_port()
    proc = start_serve(
        corpus.root, tmp_path / "s.db", port, ("SHADOW_LOG_FORMAT", "json"), *SECRETS
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/readyz")
        time.sleep(2.5)  # a few more cycles at one a second
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert 0 == proc.returncode, out.decode()[-2000:]
    lines = [json.loads(line) for line in out.decode().splitlines()]  # every line is JSON
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    loggers = {line["logger"] for line in lines}
    assert {"uvicorn.error", "shadow.serve.daemon", "shadow.serve.service"} <= loggers
    cycles = [line for line in lines if line["message"].startswith("cycle:")]
    assert len(cycles) >= 2
    first = cycles[0]
    assert {"listed", "fetched", "judged", "verdict", "seconds"} <= set(first)
    assert first["fetched"] > 0 and first["judged"] > 0 and first["verdict"] == "NOT_READY"
    assert all(line["fetched"] == 0 for line in cycles[1:])  # nothing changed since
    assert not any("Running job" in line["message"] for line in lines)
    assert not any("executed successfully" in line["message"] for line in lines)
    assert not any("color_message" in line for line in lines)
    for _, secret in SECRETS:
        assert secret.encode() not in out


@pytest.mark.slow
def test_a_fifo_named_by_the_webhook_never_hangs_the_daemon(tmp_path: Path) -> None:
    """A FIFO in the watched directory, named by a bucket notification: the hinted fetch does not
    block on it (it is no object), cycles go on, and SIGTERM still exits 0 promptly."""
    corpus = write_demo(tmp_path / "bucket", now=datetime.now(UTC).replace(microsecond=0), runs=20)
    twin = next(p for p in sorted((corpus.root / "runs").iterdir()) if p.name.endswith("-dryrun"))
    (twin / "status.json").unlink()
    os.mkfifo(twin / "status.json")
    key = f"runs/{twin.name}/status.json"
    port = free_port()
    proc = start_serve(
        corpus.root,
        tmp_path / "s.db",
        port,
        ("SHADOW_WEBHOOK_TOKEN", "hook"),
        ("SHADOW_SHUTDOWN_GRACE_SECONDS", "3"),
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/readyz")
        event = {"EventName": "s3:ObjectCreated:Put", "Records": [{"s3": {"object": {"key": key}}}]}
        hinted = httpx.post(
            f"http://127.0.0.1:{port}/events/minio",
            json=event,
            headers={"Authorization": "Bearer hook"},
            timeout=5,
        )
        assert 202 == hinted.status_code
        time.sleep(2.5)  # the hinted fetch and a couple of cycles
        assert json.loads(wait_for(f"http://127.0.0.1:{port}/readyz", timeout=10))["ready"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            raise AssertionError(
                "SIGTERM did not stop the daemon:\n" + out.decode()[-2000:]
            ) from None
    assert 0 == proc.returncode, out.decode()[-2000:]
    assert f"{key} (FIFO)".encode() in out  # the listing named it, as a scan error
