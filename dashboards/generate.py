"""Generates shadow's Grafana dashboards as JSON (checked in, and checked in CI).

    python dashboards/generate.py          # rewrite the JSON files
    python dashboards/generate.py --check  # exit 1 if the checked-in JSON is stale

Stdlib only. Panels are laid out on Grafana's 24-column grid, row by row.

Portable: every panel reads the `$datasource` variable (no hard-coded datasource uid), and every
query is filtered by the `$job` and `$instance` variables. Sharded deployments (`--shard i/n`, one
instance per shard) aggregate the way the judgement does: the worst verdict wins (NOT_READY over
INSUFFICIENT_DATA over READY), parity and timing show the worst shard, counts add up.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "${datasource}"}
# Every query's selector: the job and the shards (instances) picked in the variables.
SEL = 'job=~"$job", instance=~"$instance"'


def sel(*matchers: str) -> str:
    return "{" + ", ".join((SEL, *matchers)) + "}"


def worst_verdict(metric: str, *matchers: str, count_silent_shards: bool = True) -> str:
    """The verdict as a number, worst shard first: min over instances of 2*READY + INSUFFICIENT_DATA.

    Each instance exports its verdict one-hot (`verdict` label, value 1 for the current one), so
    2*READY + INSUFFICIENT_DATA is 2, 1 or 0 (NOT_READY) per instance, and min() across instances
    lets the worst win. An instance Prometheus scrapes that has no verdict yet (its first scan is
    still running) or that it cannot scrape (`up` 0, its series gone stale) counts as
    INSUFFICIENT_DATA: its slice of the runs is not judged.
    """
    ready_sel = sel(*matchers, 'verdict="READY"')
    short_sel = sel(*matchers, 'verdict="INSUFFICIENT_DATA"')
    ready = f"max by (job, instance) ({metric}{ready_sel})"
    short = f"max by (job, instance) ({metric}{short_sel})"
    per_instance = f"2 * {ready} + on (job, instance) {short}"
    if count_silent_shards:
        scraped = f"0 * max by (job, instance) (up{sel()}) + 1"
        per_instance = f"({per_instance}) or on (job, instance) ({scraped})"
    return f"min({per_instance})"


class Layout:
    """Places panels left to right, wrapping at 24 columns."""

    def __init__(self) -> None:
        self.x = self.y = self.row_h = 0
        self.next_id = 1
        self.panels: list[dict[str, Any]] = []

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(
            {
                "type": "row",
                "title": title,
                "id": self._id(),
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.y += 1

    def add(self, panel: dict[str, Any], w: int, h: int) -> None:
        if self.x + w > 24:
            self._newline()
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        panel["id"] = self._id()
        self.panels.append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)

    def _newline(self) -> None:
        if self.x:
            self.y += self.row_h
        self.x, self.row_h = 0, 0

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    t: dict[str, Any] = {"refId": ref, "expr": expr, "legendFormat": legend, "datasource": DS}
    if instant:
        t["instant"] = True
    return t


def panel(
    kind: str,
    title: str,
    desc: str,
    targets: list[dict[str, Any]],
    unit: str = "short",
    **defaults: Any,
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "description": desc,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit, **defaults}, "overrides": []},
        "options": {},
    }


VERDICT_MAP = [
    {
        "type": "value",
        "options": {
            "0": {"text": "NOT_READY", "color": "red", "index": 0},
            "1": {"text": "INSUFFICIENT_DATA", "color": "yellow", "index": 1},
            "2": {"text": "READY", "color": "green", "index": 2},
        },
    }
]


def overview() -> dict[str, Any]:
    lay = Layout()
    lay.row("Can we cut over?")
    lay.add(
        panel(
            "stat",
            "Cutover verdict",
            "READY: every criterion passes with enough evidence. NOT_READY: something fails; see the reasons in "
            "`shadow verdict` or GET /readiness. INSUFFICIENT_DATA: nothing fails yet, evidence is short. "
            "With shards, the worst shard's verdict; a shard not judged yet or not scraped counts as "
            "INSUFFICIENT_DATA.",
            [target(worst_verdict("shadow_readiness_verdict"), "verdict", instant=True)],
            mappings=VERDICT_MAP,
            color={"mode": "thresholds"},
        ),
        8,
        6,
    )
    lay.add(
        panel(
            "stat",
            "Verdict held for",
            "How long the current verdict has held. A cutover review wants READY held for days.",
            [
                target(
                    f"time() - max(shadow_readiness_verdict_since_timestamp_seconds{sel()})",
                    "held",
                    instant=True,
                )
            ],
            "s",
        ),
        4,
        6,
    )
    lay.add(
        panel(
            "stat",
            "Evidence",
            "Compared pairs (summed over shards) and the days they span; readiness needs 200 pairs "
            "over 14 days by default.",
            [
                target(f"sum(shadow_evidence_pairs{sel()})", "pairs", instant=True),
                target(
                    f"max(shadow_evidence_span_seconds{sel()}) / 86400", "days", "B", instant=True
                ),
            ],
        ),
        4,
        6,
    )
    lay.add(
        panel(
            "table",
            "Readiness criteria",
            "1 = passes (on every shard). A failing criterion is why the verdict is NOT_READY; "
            "its measured value and examples are in the JSON report.",
            [
                target(
                    f"min by (criterion) (shadow_criterion_passed{sel()})",
                    "{{criterion}}",
                    instant=True,
                )
            ],
        ),
        8,
        6,
    )
    lay.row("Parity")
    lay.add(
        panel(
            "timeseries",
            "Parity per dimension",
            "Share of judged pairs that agree (the worst shard). Below the dashed threshold "
            "the dimension blocks cutover; look at the report's clusters for that dimension.",
            [
                target(f"min by (dimension) (shadow_parity_ratio{sel()})", "{{dimension}}"),
                target(
                    f"max by (dimension) (shadow_parity_threshold_ratio{sel()})",
                    "threshold {{dimension}}",
                    "B",
                ),
            ],
            "percentunit",
            min=0,
            max=1,
        ),
        12,
        8,
    )
    lay.add(
        panel(
            "timeseries",
            "Error findings by dimension",
            "Unwaived errors block readiness; waived ones are accepted "
            "differences with an owner and an expiry.",
            [
                target(
                    f"sum by (dimension) (shadow_error_findings{sel(UNWAIVED)})",
                    "{{dimension}}",
                ),
                target(
                    f"sum by (dimension) (shadow_error_findings{sel(WAIVED)})",
                    "{{dimension}} (waived)",
                    "B",
                ),
            ],
        ),
        12,
        8,
    )
    lay.add(
        panel(
            "timeseries",
            "Lost, orphan and stuck runs",
            "Lost: a primary run with no dry-run twin past the grace "
            "period (the candidate dropped a message). Orphan: a twin without a primary. Stuck: not terminal past "
            "the run timeout.",
            [
                target(f"sum(shadow_lost_runs{sel()})", "lost"),
                target(f"sum(shadow_orphan_runs{sel()})", "orphan", "B"),
                target(f"sum(shadow_stuck_runs{sel()})", "stuck", "C"),
            ],
        ),
        8,
        8,
    )
    lay.add(
        panel(
            "timeseries",
            "Duration ratio (dry run / primary)",
            "p50 and p95 of per-pair end-to-end duration ratios, "
            "mocked steps excluded, the slowest shard. Above the tolerance (1.2 by default: 20% slower) "
            "the p95 fails.",
            [
                target(f"max(shadow_duration_p50_ratio{sel()})", "p50"),
                target(f"max(shadow_duration_p95_ratio{sel()})", "p95", "B"),
                target(f"max(shadow_timing_threshold_ratio{sel()})", "tolerance", "C"),
            ],
        ),
        8,
        8,
    )
    lay.add(
        panel(
            "bargauge",
            "Duration ratio distribution",
            "How many pairs fall under each ratio bucket (cumulative).",
            [
                target(
                    f"sum by (le) (shadow_pair_duration_ratio_bucket{sel()})",
                    "{{le}}",
                    instant=True,
                )
            ],
        ),
        8,
        8,
    )
    lay.add(
        panel(
            "timeseries",
            "Pairs by outcome",
            "Every pairing key by outcome. Lost, orphan and stuck keys count as mismatch here, "
            "so mismatch can exceed the report's totals.mismatched, which counts paired runs only.",
            [target(f"sum by (outcome) (shadow_pairs{sel()})", "{{outcome}}")],
        ),
        8,
        8,
    )
    lay.add(
        panel(
            "timeseries",
            "Runs observed per side",
            "Runs shadow knows on each side; the two lines should track each other.",
            [target(f"sum by (side) (shadow_runs_observed{sel()})", "{{side}}")],
        ),
        8,
        8,
    )
    lay.add(
        panel(
            "timeseries",
            "Missed scheduled runs",
            "Cron runs expected from shadow's config that did not start "
            "on a side within their tolerance (last 24 h).",
            [
                target(
                    f"sum by (stratum, side) (shadow_schedule_missed_runs{sel()})",
                    "{{stratum}} {{side}}",
                )
            ],
        ),
        8,
        8,
    )
    lay.row("Scan health")
    lay.add(
        panel(
            "timeseries",
            "Scans by result",
            "Failed scans keep the previous judgement; see errors by kind.",
            [
                target(
                    f"sum by (result) (rate(shadow_scans_total{sel()}[$__rate_interval]))",
                    "{{result}}",
                )
            ],
            "ops",
        ),
        6,
        7,
    )
    lay.add(
        panel(
            "timeseries",
            "Scan duration p95",
            "Wall time of a scan-and-judge cycle.",
            [
                target(
                    "histogram_quantile(0.95, sum by (le) "
                    f"(rate(shadow_scan_duration_seconds_bucket{sel()}[$__rate_interval])))",
                    "p95",
                )
            ],
            "s",
        ),
        6,
        7,
    )
    lay.add(
        panel(
            "stat",
            "Since last good scan",
            "The stalest shard. Over three scan intervals the verdict is stale (ShadowScanStale).",
            [
                target(
                    f"time() - min(shadow_last_successful_scan_timestamp_seconds{sel()})",
                    "age",
                    instant=True,
                )
            ],
            "s",
        ),
        4,
        7,
    )
    lay.add(
        panel(
            "timeseries",
            "Scan errors by kind",
            "access_denied: check the read-only credentials; "
            "timeout/server_error: the object store; not_found: bucket or prefix.",
            [
                target(
                    f"sum by (kind) (rate(shadow_scan_errors_total{sel()}[$__rate_interval]))",
                    "{{kind}}",
                )
            ],
            "ops",
        ),
        8,
        7,
    )
    lay.add(
        panel(
            "timeseries",
            "Objects fetched",
            "GETs per second; near zero in steady state (unchanged objects are not re-read).",
            [
                target(
                    f"sum(rate(shadow_objects_fetched_total{sel()}[$__rate_interval]))",
                    "fetched",
                )
            ],
            "ops",
        ),
        12,
        7,
    )
    lay.add(
        panel(
            "timeseries",
            "Rejected objects by reason",
            "Bad run records: invalid JSON, schema violations, unknown "
            "states. `shadow report` lists the keys.",
            [target(f"sum by (reason) (shadow_rejected_objects{sel()})", "{{reason}}")],
        ),
        12,
        7,
    )
    return dashboard("shadow-overview", "shadow: cutover readiness", lay.panels, common_variables())


def per_agent() -> dict[str, Any]:
    lay = Layout()
    var = query_variable(
        "agent", f"label_values(shadow_agent_pairs{sel()}, agent)", "agent or job type"
    )
    lay.row("$agent")
    lay.add(
        panel(
            "stat",
            "Verdict",
            "This stratum's own verdict (the worst shard's, where several judge it); any NOT_READY "
            "stratum blocks the cutover.",
            [
                target(
                    worst_verdict(
                        "shadow_agent_readiness_verdict", AGENT, count_silent_shards=False
                    ),
                    "verdict",
                    instant=True,
                )
            ],
            mappings=VERDICT_MAP,
        ),
        6,
        6,
    )
    lay.add(
        panel(
            "timeseries",
            "Pairs by outcome",
            "Pairing keys of this stratum by outcome.",
            [target(f"sum by (outcome) (shadow_agent_pairs{sel(AGENT)})", "{{outcome}}")],
        ),
        9,
        6,
    )
    lay.add(
        panel(
            "timeseries",
            "Unwaived errors by dimension",
            "What blocks this stratum.",
            [
                target(
                    f"sum by (dimension) (shadow_agent_error_findings{sel(AGENT)})",
                    "{{dimension}}",
                )
            ],
        ),
        9,
        6,
    )
    lay.add(
        panel(
            "timeseries",
            "Duration ratio",
            "p50 and p95 of this stratum's duration ratios; above the tolerance is a regression.",
            [
                target(f"max(shadow_agent_duration_p50_ratio{sel(AGENT)})", "p50"),
                target(f"max(shadow_agent_duration_p95_ratio{sel(AGENT)})", "p95", "C"),
                target(f"max(shadow_timing_threshold_ratio{sel()})", "tolerance", "B"),
            ],
        ),
        24,
        8,
    )
    return dashboard(
        "shadow-agent", "shadow: per agent / job type", lay.panels, [*common_variables(), var]
    )


AGENT = 'agent="$agent"'
WAIVED, UNWAIVED = 'waived="true"', 'waived="false"'


def query_variable(
    name: str, query: str, label: str, *, all_value: str | None = None
) -> dict[str, Any]:
    var: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable"},
        "refresh": 2,  # on time range change: shards come and go
        "sort": 1,
        "current": {},
        "multi": all_value is not None,
        "includeAll": all_value is not None,
    }
    if all_value is not None:
        var["allValue"] = all_value
        var["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return var


def common_variables() -> list[dict[str, Any]]:
    """Which Prometheus, which shadow deployment (job), which shards (instances: all by default)."""
    return [
        {
            "name": "datasource",
            "label": "Prometheus",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
            "refresh": 1,
        },
        # shadow_scans_total exists from the first scrape (its results are pre-registered),
        # before any judgement, so a shard still backfilling is listed too.
        query_variable("job", "label_values(shadow_scans_total, job)", "job"),
        query_variable(
            "instance",
            'label_values(shadow_scans_total{job=~"$job"}, instance)',
            "instance (shard)",
            all_value=".*",
        ),
    ]


def dashboard(
    uid: str, title: str, panels: list[dict[str, Any]], variables: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["shadow"],
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "timezone": "utc",
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": panels,
    }


DASHBOARDS = {"shadow-overview.json": overview, "shadow-agent.json": per_agent}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    stale = []
    for name, build in DASHBOARDS.items():
        path = HERE / name
        text = render(build)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(
            f"stale dashboards (run python dashboards/generate.py): {', '.join(stale)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
