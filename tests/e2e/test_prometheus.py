"""A real Prometheus scrapes a running `shadow serve` and evaluates the shipped alert rules."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from shadow.corpora.demo import write_demo
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


def test_prometheus_scrapes_shadow_and_raises_the_expected_alerts(tmp_path: Path) -> None:
    """Lost runs and a timing regression in the bucket become pending or firing alerts."""
    prometheus = shutil.which("prometheus")
    assert prometheus, "Debian's prometheus package must be installed (.ci/run installs it)"
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
