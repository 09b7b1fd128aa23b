"""A real Prometheus scrapes shadow (a running `shadow serve`, or two shards' real expositions) and
evaluates the shipped alert rules and the dashboards' queries."""

from __future__ import annotations

import asyncio
import http.server
import json
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shadow.bootstrap import make_engine
from shadow.config import load_settings
from shadow.corpora.demo import write_demo
from shadow.serve.metrics import ShadowMetrics
from tests.e2e.conftest import NOW
from tests.e2e.test_daemon import free_port, start_serve, wait_for

REPO = Path(__file__).resolve().parents[2]


def slow_down_candidates(root: Path, seconds: float) -> None:
    """Make every dry run end `seconds` later: a timing regression across the board."""
    for status in root.rglob("*-dryrun/status.json"):
        doc = json.loads(status.read_text())
        if doc.get("finished_at"):
            end = datetime.fromisoformat(doc["finished_at"].replace("Z", "+00:00"))
            doc["finished_at"] = (
                (end + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
            )
            status.write_text(json.dumps(doc))


def alerts(prom: str) -> dict[str, str]:
    data = httpx.get(f"{prom}/api/v1/alerts", timeout=5).json()
    return {a["labels"]["alertname"]: a["state"] for a in data["data"]["alerts"]}


@pytest.mark.slow
def test_prometheus_scrapes_shadow_and_raises_the_expected_alerts(
    tmp_path: Path, prometheus: str
) -> None:
    """Lost runs and a timing regression in the bucket become pending or firing alerts."""
    corpus = write_demo(tmp_path / "bucket", now=datetime.now(UTC).replace(microsecond=0))
    slow_down_candidates(corpus.root, 8.0)
    shadow_port, prom_port = free_port(), free_port()
    shadow = start_serve(corpus.root, tmp_path / "s.db", shadow_port)
    rules = tmp_path / "rules.yml"
    shutil.copy(REPO / "deploy/prometheus/rules.yml", rules)
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{rules}]\n"
        "scrape_configs:\n"
        f"  - job_name: shadow\n    static_configs: [{{targets: ['127.0.0.1:{shadow_port}']}}]\n"
    )
    prom = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{prom_port}"
    try:
        wait_for(f"{url}/-/ready", timeout=60)
        deadline = time.monotonic() + 60
        seen: dict[str, str] = {}
        t0 = time.monotonic()
        while time.monotonic() < deadline:
            seen = alerts(url)
            # ShadowDown can be pending from an evaluation before the first scrape (absent(up));
            # it must clear once shadow is scraped, so wait for that too instead of racing it.
            if {"ShadowLostRuns", "ShadowTimingRegression"} <= set(
                seen
            ) and "ShadowDown" not in seen:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - t0
        up = httpx.get(
            f"{url}/api/v1/query", params={"query": 'up{job="shadow"}'}, timeout=5
        ).json()["data"]["result"]
        assert [v["value"][1] for v in up] == ["1"]
        assert seen.get("ShadowLostRuns") in ("pending", "firing"), seen
        assert seen.get("ShadowTimingRegression") in ("pending", "firing"), seen
        assert "ShadowDown" not in seen
        print(f"alerts pending {elapsed:.1f}s after Prometheus became ready: {seen}")
    finally:
        prom.terminate()
        shadow.terminate()
        prom.wait(timeout=30)
        shadow.communicate(timeout=30)


# --- the dashboards' worst-verdict aggregation and the alerts' job selector, on a real Prometheus ---

VERDICT_CODE = {"0": "NOT_READY", "1": "INSUFFICIENT_DATA", "2": "READY"}


def _exposition_of(root: Path, db: Path) -> tuple[str, bytes]:
    """One real cycle over `root` through shadow's own metrics: its verdict and /metrics text."""
    settings = load_settings(source=f"dir:{root}", db=db)
    engine = make_engine(settings)
    registry = CollectorRegistry()
    metrics = ShadowMetrics(registry)
    summary = asyncio.run(engine.run_cycle(NOW.timestamp()))
    metrics.update(summary)
    engine.ledger.close()
    assert summary.head is not None
    return summary.head.readiness.verdict.value, generate_latest(registry)


class _Exposition(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(body: bytes) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = type("Shard", (_Exposition,), {"body": body})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"127.0.0.1:{server.server_address[1]}"


def _panel_expr(dashboard: str, title: str) -> str:
    dash = json.loads((REPO / "dashboards" / dashboard).read_text())
    (panel,) = [p for p in dash["panels"] if p["title"] == title]
    (target,) = panel["targets"]
    return str(target["expr"])


@pytest.mark.slow
def test_verdict_panel_shows_the_worst_shard_and_shadow_down_watches_only_its_job(
    tmp_path: Path, prometheus: str
) -> None:
    """Two shards' real expositions scraped by a real Prometheus: the overview's verdict query gives
    NOT_READY for READY + NOT_READY, INSUFFICIENT_DATA for READY + INSUFFICIENT_DATA or a shard that
    cannot be scraped, READY only when both are; ShadowDown, generated for one job, is active for
    that job's dead shard and not for another job's."""
    t_start = time.monotonic()
    corpora = {
        "READY": write_demo(tmp_path / "ready", now=NOW, plant=False).root,
        "NOT_READY": write_demo(tmp_path / "planted", now=NOW).root,
        "INSUFFICIENT_DATA": write_demo(tmp_path / "few", now=NOW, runs=20, plant=False).root,
    }
    servers, shard = [], {}
    for expected, root in corpora.items():
        verdict, body = _exposition_of(root, tmp_path / f"{expected}.db")
        assert expected == verdict  # the corpus really judges as named
        server, addr = _serve(body)
        servers.append(server)
        shard[expected] = addr
    second_ready, shard["READY2"] = _serve(_exposition_of(corpora["READY"], tmp_path / "r2.db")[1])
    servers.append(second_ready)
    print(f"corpora judged in {time.monotonic() - t_start:.1f}s")
    dead = f"127.0.0.1:{free_port()}"  # nothing listens: up == 0
    cases = {
        "ready-notready": ([shard["READY"], shard["NOT_READY"]], "NOT_READY"),
        "notready-ready": ([shard["NOT_READY"], shard["READY2"]], "NOT_READY"),
        "ready-insufficient": ([shard["READY"], shard["INSUFFICIENT_DATA"]], "INSUFFICIENT_DATA"),
        "insufficient-notready": ([shard["INSUFFICIENT_DATA"], shard["NOT_READY"]], "NOT_READY"),
        "ready-ready": ([shard["READY"], shard["READY2"]], "READY"),
        "ready-down": ([shard["READY"], dead], "INSUFFICIENT_DATA"),
        "other-down": ([dead], None),
    }
    rules = tmp_path / "rules.yml"
    generate = REPO / "deploy/prometheus/generate.py"
    subprocess.run(
        [sys.executable, str(generate), "--selector", 'job="ready-down"', "--out", str(rules)],
        check=True,
    )
    scrape = "".join(
        f"  - job_name: {job}\n    static_configs: [{{targets: {json.dumps(targets)}}}]\n"
        for job, (targets, _) in cases.items()
    )
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{rules}]\nscrape_configs:\n{scrape}"
    )
    prom_port = free_port()
    prom = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{prom_port}"
    panel = _panel_expr("shadow-overview.json", "Cutover verdict")
    try:
        wait_for(f"{url}/-/ready", timeout=60)
        t0 = time.monotonic()
        shown: dict[str, str | None] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for job, (_, expected) in cases.items():
                if expected is None:
                    continue
                expr = panel.replace("$job", job).replace("$instance", ".*")
                result = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5).json()[
                    "data"
                ]["result"]
                shown[job] = VERDICT_CODE[result[0]["value"][1]] if result else None
            active = {
                a["labels"].get("job")
                for a in httpx.get(f"{url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
                if a["labels"]["alertname"] == "ShadowDown"
            }
            if all(shown.get(j) == e for j, (_, e) in cases.items() if e) and active:
                break
            time.sleep(0.5)
        print(f"panel answers {time.monotonic() - t0:.1f}s after Prometheus became ready")
        assert {j: e for j, (_, e) in cases.items() if e} == shown
        assert {"ready-down"} == active  # pending or firing; other-down's up == 0 is not shadow's
    finally:
        prom.terminate()
        prom.wait(timeout=30)
        for server in servers:
            server.shutdown()
            server.server_close()
