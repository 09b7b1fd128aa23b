"""Observability as code: alert rules under promtool, dashboards against the real exposition, compose."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest

from shadow.bootstrap import make_engine
from shadow.config import load_settings
from shadow.corpora.demo import write_demo
from shadow.serve.metrics import ShadowMetrics
from tests.conftest import Promtool
from tests.e2e.conftest import NOW

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy/prometheus/rules.yml"


@pytest.fixture(scope="module")
def exposition(tmp_path_factory: pytest.TempPathFactory) -> str:
    """shadow's real /metrics text after one cycle over a demo bucket with schedules configured."""
    tmp = tmp_path_factory.mktemp("expo")
    corpus = write_demo(tmp / "bucket", now=NOW)
    settings = load_settings(
        source=f"dir:{corpus.root}",
        db=tmp / "s.db",
        schedules=[{"stratum": "archivist-violin", "cron": "0 */12 * * *"}],
    )
    engine = make_engine(settings)
    registry = CollectorRegistry()
    metrics = ShadowMetrics(registry)
    metrics.update(asyncio.run(engine.run_cycle(NOW.timestamp())))
    engine.ledger.close()
    return generate_latest(registry).decode()


def test_alert_rules_pass_promtool_checks_and_unit_tests(promtool: Promtool) -> None:
    """The rule file parses and every rule's firing and not-firing tests pass."""
    check = promtool("check", "rules", str(RULES))
    assert 0 == check.returncode, check.stdout.decode() + check.stderr.decode()
    tests = promtool("test", "rules", str(REPO / "deploy/prometheus/rules_test.yml"))
    assert 0 == tests.returncode, tests.stdout.decode() + tests.stderr.decode()
    config = promtool("check", "config", str(REPO / "deploy/prometheus/prometheus.yml"))
    assert 0 == config.returncode, config.stdout.decode() + config.stderr.decode()


def test_rules_are_generated_with_a_runbook_url_and_a_for_on_every_alert() -> None:
    """rules.yml and the PrometheusRule are fresh from generate.py; each alert has a severity, a `for`,
    text, and a runbook_url whose anchor is a section of docs/runbook.md."""
    fresh = subprocess.run(
        [sys.executable, str(REPO / "deploy/prometheus/generate.py"), "--check"],
        capture_output=True,
        check=False,
    )
    assert 0 == fresh.returncode, fresh.stderr.decode()
    runbook = (REPO / "docs/runbook.md").read_text()
    anchors = {h.strip().lower() for h in re.findall(r"^## (\S+)\s*$", runbook, re.M)}
    base = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Runbook"]
    assert base.startswith("https://") and base.endswith("docs/runbook.md")
    tested = (REPO / "deploy/prometheus/rules_test.yml").read_text()
    operator = yaml.safe_load((REPO / "deploy/kubernetes/base/prometheusrule.yaml").read_text())
    groups = yaml.safe_load(RULES.read_text())["groups"]
    assert groups == operator["spec"]["groups"]
    for group in groups:
        for rule in group["rules"]:
            name = rule["alert"]
            assert rule["labels"]["severity"] in ("critical", "warning"), name
            assert re.fullmatch(r"\d+[mh]", rule["for"]), name
            assert {"summary", "description", "runbook_url"} == set(rule["annotations"]), name
            assert f"{base}#{name.lower()}" == rule["annotations"]["runbook_url"]
            assert name.lower() in anchors, f"docs/runbook.md has no section for {name}"
            assert f"alertname: {name}" in tested, f"no promtool test for {name}"


def test_rules_watch_only_the_job_given_at_generation(tmp_path: Path, promtool: Promtool) -> None:
    """Generated for job="cutover-shadow", ShadowDown fires when that job is down or absent and not
    when a job named shadow is; the runbook links follow the base URL given."""
    rules = tmp_path / "rules.yml"
    gen = subprocess.run(
        [
            sys.executable,
            str(REPO / "deploy/prometheus/generate.py"),
            "--selector",
            'job="cutover-shadow"',
            "--runbook-url-base",
            "https://wiki.example.com/shadow",
            "--out",
            str(rules),
        ],
        capture_output=True,
        check=False,
    )
    assert 0 == gen.returncode, gen.stderr.decode()
    down = {
        "exp_labels": {"severity": "warning", "job": "cutover-shadow", "instance": "c:8000"},
        "exp_annotations": {
            "summary": "shadow is down",
            "description": "Prometheus cannot scrape shadow; parity is not being judged.",
            "runbook_url": "https://wiki.example.com/shadow#shadowdown",
        },
    }
    absent = {**down, "exp_labels": {"severity": "warning", "job": "cutover-shadow"}}
    cases = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {  # a job called shadow is down, the configured one is up: no alert
                "interval": "1m",
                "input_series": [
                    {"series": 'up{job="shadow",instance="s:8000"}', "values": "0x20"},
                    {"series": 'up{job="cutover-shadow",instance="c:8000"}', "values": "1x10 0x10"},
                ],
                "alert_rule_test": [
                    {"eval_time": "9m", "alertname": "ShadowDown", "exp_alerts": []},
                    {"eval_time": "18m", "alertname": "ShadowDown", "exp_alerts": [down]},
                ],
            },
            {  # only the other job exists: the configured one is absent
                "interval": "1m",
                "input_series": [
                    {"series": 'up{job="shadow",instance="s:8000"}', "values": "1x10"}
                ],
                "alert_rule_test": [
                    {"eval_time": "8m", "alertname": "ShadowDown", "exp_alerts": [absent]}
                ],
            },
        ],
    }
    test_file = tmp_path / "rules_test.yml"
    test_file.write_text(yaml.safe_dump(cases))
    result = promtool("test", "rules", str(test_file))
    assert 0 == result.returncode, result.stdout.decode() + result.stderr.decode()


def test_exposition_passes_promtool_lint(exposition: str, promtool: Promtool) -> None:
    """promtool finds no naming or help problems in shadow's metrics."""
    lint = promtool("check", "metrics", stdin=exposition.encode())
    assert 0 == lint.returncode, lint.stdout.decode() + lint.stderr.decode()


def _names(exposition: str) -> set[str]:
    return {
        line.split("{")[0].split(" ")[0]
        for line in exposition.splitlines()
        if line and not line.startswith("#")
    }


def test_rules_use_only_metrics_shadow_exports(exposition: str) -> None:
    """Every shadow_* metric an alert reads exists in the exposition."""
    used = set(re.findall(r"shadow_[a-z0-9_]+", RULES.read_text()))
    assert set() == used - _names(exposition)


DASHBOARDS = sorted((REPO / "dashboards").glob("*.json"))


def _exprs(dash: dict) -> list[str]:  # type: ignore[type-arg]
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def test_dashboards_are_generated_valid_and_laid_out() -> None:
    """Dashboards are fresh from generate.py, parse, have unique uids and non-overlapping panels, and
    read the datasource, job and instance from variables instead of hard-coding them."""
    fresh = subprocess.run(
        [sys.executable, str(REPO / "dashboards/generate.py"), "--check"],
        capture_output=True,
        check=False,
    )
    assert 0 == fresh.returncode, fresh.stderr.decode()
    assert len(DASHBOARDS) >= 2
    uids = []
    for path in DASHBOARDS:
        dash = json.loads(path.read_text())
        uids.append(dash["uid"])
        cells: set[tuple[int, int]] = set()
        for p in dash["panels"]:
            g = p["gridPos"]
            assert g["x"] + g["w"] <= 24, (path.name, p["title"])
            area = {
                (x, y)
                for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])
            }
            assert set() == cells & area, (path.name, p["title"])
            cells |= area
            if p["type"] != "row":
                assert {"type": "prometheus", "uid": "${datasource}"} == p["datasource"]
            for t in p.get("targets", []):
                assert {"type": "prometheus", "uid": "${datasource}"} == t["datasource"]
                assert 'job=~"$job", instance=~"$instance"' in t["expr"], (path.name, t["expr"])
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        assert "datasource" == variables["datasource"]["type"]
        assert {"job", "instance"} <= set(variables)
        assert variables["instance"]["includeAll"] and ".*" == variables["instance"]["allValue"]
    assert len(uids) == len(set(uids))


def test_dashboard_queries_parse_and_use_real_metrics(
    exposition: str, tmp_path: Path, promtool: Promtool
) -> None:
    """Every panel query is valid PromQL (promtool) and reads only metrics shadow exports."""
    exprs = [e for path in DASHBOARDS for e in _exprs(json.loads(path.read_text()))]
    subst = [
        e.replace("$__rate_interval", "5m")
        .replace("$__range", "1h")
        .replace("$agent", "x")
        .replace("$job", "shadow")
        .replace("$instance", ".*")
        for e in exprs
    ]
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"dashboard:expr:{i}", "expr": e} for i, e in enumerate(subst)
                ],
            }
        ]
    }
    path = tmp_path / "dash_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    check = promtool("check", "rules", str(path))
    assert 0 == check.returncode, check.stdout.decode() + check.stderr.decode()
    exported = _names(exposition)
    histogram_bases = {n.removesuffix("_bucket") for n in exported if n.endswith("_bucket")}
    used = {m for e in exprs for m in re.findall(r"shadow_[a-z0-9_]+", e)}
    missing = {
        m for m in used if m not in exported and m.removesuffix("_bucket") not in histogram_bases
    }
    assert set() == missing


def test_compose_file_is_valid_pinned_and_least_privilege() -> None:
    """compose.yaml validates against the compose spec, pins images, and runs shadow read-only as non-root."""
    tool = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.compose-spec", str(REPO / "compose.yaml")],
        capture_output=True,
        check=False,
    )
    assert 0 == result.returncode, result.stdout.decode() + result.stderr.decode()
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    assert {"minio", "shadow", "prometheus", "alertmanager", "grafana"} <= set(services)
    for name, svc in services.items():
        image = svc.get("image")
        if image:
            assert ":" in image and not image.endswith(":latest"), name
        for volume in svc.get("volumes", []):
            src = volume.split(":")[0]
            if src.startswith("./"):
                assert (REPO / src).exists(), (name, src)
    shadow = services["shadow"]
    assert shadow["user"].split(":")[0] != "0" and shadow["read_only"] is True
    env = shadow["environment"]
    assert (
        "ROOT" not in env["SHADOW_S3__ACCESS_KEY_ID"]
        and "minioadmin" not in env["SHADOW_S3__ACCESS_KEY_ID"]
    )
    policy = json.loads((REPO / "deploy/minio/shadow-readonly.json").read_text())
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert set() == {
        a for a in actions if any(w in a for w in ("Put", "Delete", "Create", "Tagging"))
    }
    dockerfile = (REPO / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")


def test_compose_services_have_healthchecks_and_wait_for_each_other() -> None:
    """Prometheus, Alertmanager and Grafana are health-checked; each waits for what it needs to be
    healthy; long-running services restart unless stopped, one-shot jobs never."""
    services = yaml.safe_load((REPO / "compose.yaml").read_text())["services"]
    for name in ("minio", "shadow", "prometheus", "alertmanager", "grafana"):
        assert "healthcheck" in services[name], name
        assert "unless-stopped" == services[name]["restart"], name
    for name in ("minio-init", "minio-events", "demo-seed", "demo-upload"):
        assert "no" == services[name]["restart"], name
    for name, needs in {
        "prometheus": {"shadow", "alertmanager"},
        "grafana": {"prometheus"},
    }.items():
        depends = services[name]["depends_on"]
        assert {n: {"condition": "service_healthy"} for n in needs} == depends, name
