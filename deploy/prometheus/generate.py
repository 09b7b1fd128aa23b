"""Generates shadow's alert rules, the way monitoring mixins do: one source, settings at generation.

    python deploy/prometheus/generate.py          # rewrite rules.yml and the Kubernetes PrometheusRule
    python deploy/prometheus/generate.py --check  # exit 1 if either checked-in file is stale
    python deploy/prometheus/generate.py --selector 'job="cutover-shadow"' \\
        --runbook-url-base https://wiki.example.com/shadow/runbook --out my-rules.yml

`--selector` is the label matcher that finds shadow's series in your Prometheus: it goes into every
rule, so `ShadowDown` watches `up` of that job only (under a ServiceMonitor the job is the
Service's `app.kubernetes.io/name` label, see deploy/kubernetes/base/servicemonitor.yaml).
`runbook_url` is the base URL plus `#<alertname in lower case>`, the anchor of the alert's
`## AlertName` section in docs/runbook.md.

Severities follow production impact, not shadow's own health: shadow watches a dry run, so only
a fault on the primary side (the orchestrator that runs production) is `critical`; everything
about the candidate, the evidence or shadow itself is a `warning` (docs/runbook.md).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RULES = HERE / "rules.yml"
PROMETHEUS_RULE = REPO / "deploy/kubernetes/base/prometheusrule.yaml"
DEFAULT_SELECTOR = 'job="shadow"'


def default_runbook_base() -> str:
    """The `Runbook` URL in pyproject.toml: one place to change where on-call lands."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return str(project["urls"]["Runbook"])


@dataclass(frozen=True)
class Config:
    selector: str = DEFAULT_SELECTOR
    runbook_url_base: str = ""

    def sel(self, *matchers: str) -> str:
        """A selector: the configured matcher plus the rule's own."""
        return "{" + ", ".join((self.selector, *matchers)) + "}"


def alert(
    cfg: Config,
    name: str,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    description: str,
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{cfg.runbook_url_base}#{name.lower()}",
        },
    }


def parity_rules(cfg: Config) -> list[dict[str, Any]]:
    missed = (
        "{{ $value }} expected cron run(s) of {{ $labels.stratum }} are missing on the "
        "{{ $labels.side }} side past the tolerance."
    )
    missed_summary = "shadow: a scheduled {{ $labels.stratum }} run did not happen on the {{ $labels.side }} side"
    return [
        alert(
            cfg,
            "ShadowParityBelowThreshold",
            f"shadow_parity_ratio{cfg.sel()}\n"
            "  < on(job, instance, dimension) group_left\n"
            f"shadow_parity_threshold_ratio{cfg.sel()}",
            "30m",
            "warning",
            "shadow: {{ $labels.dimension }} parity below its threshold",
            "{{ $labels.dimension }} parity is {{ $value | humanizePercentage }} of judged pairs, below "
            "the readiness threshold, for 30 minutes. Check `shadow report` clusters for the dimension.",
        ),
        alert(
            cfg,
            "ShadowLostRuns",
            f"shadow_lost_runs{cfg.sel()} > 0",
            "5m",
            "warning",  # the dry run lost messages: the candidate's fault, production unaffected
            "shadow: primary runs without a dry-run twin (lost messages)",
            "{{ $value }} primary run(s) have had no dry-run twin for longer than the grace period.",
        ),
        alert(
            cfg,
            "ShadowStuckRuns",
            f"shadow_stuck_runs{cfg.sel()} > 0",
            "10m",
            "warning",
            "shadow: runs stuck in a non-terminal state",
            "{{ $value }} run(s) are still not terminal past the run timeout plus grace.",
        ),
        # One alert, two severities: a primary run that did not start is a production job that
        # did not run; a candidate's is a dry run that did not.
        alert(
            cfg,
            "ShadowScheduledRunMissed",
            "shadow_schedule_missed_runs" + cfg.sel('side="primary"') + " > 0",
            "5m",
            "critical",
            missed_summary,
            missed,
        ),
        alert(
            cfg,
            "ShadowScheduledRunMissed",
            "shadow_schedule_missed_runs" + cfg.sel('side!="primary"') + " > 0",
            "5m",
            "warning",
            missed_summary,
            missed,
        ),
        alert(
            cfg,
            "ShadowTimingRegression",
            f"shadow_duration_p95_ratio{cfg.sel()}\n"
            "  > on(job, instance)\n"
            f"shadow_timing_threshold_ratio{cfg.sel()}",
            "30m",
            "warning",
            "shadow: dry runs are slower than the timing tolerance at p95",
            "The p95 of paired duration ratios (dry run / primary, mocked steps excluded) is "
            '{{ $value | printf "%.2f" }}.',
        ),
        alert(
            cfg,
            "ShadowReadinessRegressed",
            "(shadow_readiness_verdict"
            + cfg.sel('verdict="NOT_READY"')
            + " == 1)\n"
            + "  and ignoring(verdict)\n"
            + "(max_over_time(shadow_readiness_verdict"
            + cfg.sel('verdict="READY"')
            + "[6h]) == 1)",
            "5m",
            "warning",  # a gate reading /readiness stops the cutover by itself
            "shadow: the cutover verdict fell from READY to NOT_READY",
            "The readiness verdict was READY within the last 6 hours and is NOT_READY now. "
            "`shadow verdict` lists the reasons.",
        ),
    ]


def health_rules(cfg: Config) -> list[dict[str, Any]]:
    return [
        alert(
            cfg,
            "ShadowRejectedObjectsIncreasing",
            f"sum by (job, instance) (delta(shadow_rejected_objects{cfg.sel()}[30m])) > 0",
            "10m",
            "warning",
            "shadow: new run records are being rejected as bad input",
            "{{ $value }} more object(s) were rejected in the last 30 minutes. `shadow report` lists "
            "them with their reasons.",
        ),
        alert(
            cfg,
            "ShadowScansFailing",
            "increase(shadow_scans_total" + cfg.sel('result="failed"') + "[15m]) > 0",
            "15m",
            "warning",
            "shadow: scans are failing",
            '{{ $value | printf "%.0f" }} scan(s) failed in 15 minutes; see '
            "shadow_scan_errors_total by kind and the logs.",
        ),
        alert(
            cfg,
            "ShadowScanStale",
            f"time() - shadow_last_successful_scan_timestamp_seconds{cfg.sel()}\n"
            f"  > 3 * shadow_scan_interval_seconds{cfg.sel()}",
            "5m",
            "warning",
            "shadow: no successful scan for more than three intervals",
            "The last successful scan finished {{ $value | humanizeDuration }} ago; the verdict is "
            "going stale.",
        ),
        alert(
            cfg,
            "ShadowDown",
            f"up{cfg.sel()} == 0 or absent(up{cfg.sel()})",
            "5m",
            "warning",  # no judgement while it lasts; a readiness gate fails closed meanwhile
            "shadow is down",
            "Prometheus cannot scrape shadow; parity is not being judged.",
        ),
    ]


def groups(cfg: Config) -> list[dict[str, Any]]:
    return [
        {"name": "shadow-parity", "rules": parity_rules(cfg)},
        {"name": "shadow-health", "rules": health_rules(cfg)},
    ]


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, so a PromQL expression reads as written."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(doc: dict[str, Any]) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)


def header(cfg: Config, what: str) -> str:
    return (
        f"# {what} Generated by deploy/prometheus/generate.py: edit that file, then run it.\n"
        f"# Selector: {cfg.selector}. Runbooks: {cfg.runbook_url_base} (docs/runbook.md).\n"
        "# Tested with `promtool test rules rules_test.yml` (tests/integration/test_observability.py).\n"
    )


def render_rules(cfg: Config) -> str:
    return header(cfg, "shadow's alert rules.") + _dump({"groups": groups(cfg)})


def render_prometheus_rule(cfg: Config) -> str:
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "shadow", "labels": {"app.kubernetes.io/name": "shadow"}},
        "spec": {"groups": groups(cfg)},
    }
    return header(cfg, "prometheus-operator's copy of rules.yml.") + _dump(doc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 if a checked-in file is stale")
    ap.add_argument("--selector", default=DEFAULT_SELECTOR, help=f"default: {DEFAULT_SELECTOR}")
    ap.add_argument("--runbook-url-base", help="default: the Runbook URL in pyproject.toml")
    ap.add_argument("--out", type=Path, help="write only rules.yml, to this path")
    ap.add_argument("--prometheus-rule-out", type=Path, help="write only the PrometheusRule here")
    args = ap.parse_args(argv)
    cfg = Config(args.selector, args.runbook_url_base or default_runbook_base())
    if args.out or args.prometheus_rule_out:
        if args.out:
            args.out.write_text(render_rules(cfg))
        if args.prometheus_rule_out:
            args.prometheus_rule_out.write_text(render_prometheus_rule(cfg))
        return 0
    outputs = {RULES: render_rules(cfg), PROMETHEUS_RULE: render_prometheus_rule(cfg)}
    if args.check:
        stale = [p for p, text in outputs.items() if not p.exists() or p.read_text() != text]
        if stale:
            names = ", ".join(str(p.relative_to(REPO)) for p in stale)
            print(f"stale (run python deploy/prometheus/generate.py): {names}", file=sys.stderr)
            return 1
        return 0
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
