"""Generates shadow's Grafana dashboards as JSON (checked in, and checked in CI).

    python dashboards/generate.py          # rewrite the JSON files
    python dashboards/generate.py --check  # exit 1 if the checked-in JSON is stale

Stdlib only. Panels are laid out on Grafana's 24-column grid, row by row.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "prometheus"}


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
            "`shadow verdict` or GET /readiness. INSUFFICIENT_DATA: nothing fails yet, evidence is short.",
            [
                target(
                    'max(shadow_readiness_verdict{verdict="READY"}) * 2 + '
                    'max(shadow_readiness_verdict{verdict="INSUFFICIENT_DATA"})',
                    "verdict",
                    instant=True,
                )
            ],
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
                    "time() - max(shadow_readiness_verdict_since_timestamp_seconds)",
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
            "Compared pairs and the days they span; readiness needs 200 pairs over 14 days by default.",
            [
                target("max(shadow_evidence_pairs)", "pairs", instant=True),
                target("max(shadow_evidence_span_seconds) / 86400", "days", "B", instant=True),
            ],
        ),
        4,
        6,
    )
    lay.add(
        panel(
            "table",
            "Readiness criteria",
            "1 = passes. A failing criterion is why the verdict is NOT_READY; "
            "its measured value and examples are in the JSON report.",
            [target("max by (criterion) (shadow_criterion_passed)", "{{criterion}}", instant=True)],
        ),
        8,
        6,
    )
    lay.row("Parity")
    lay.add(
        panel(
            "timeseries",
            "Parity per dimension",
            "Share of judged pairs that agree. Below the dashed threshold "
            "the dimension blocks cutover; look at the report's clusters for that dimension.",
            [
                target("max by (dimension) (shadow_parity_ratio)", "{{dimension}}"),
                target(
                    "max by (dimension) (shadow_parity_threshold_ratio)",
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
                    'sum by (dimension) (shadow_error_findings{waived="false"})', "{{dimension}}"
                ),
                target(
                    'sum by (dimension) (shadow_error_findings{waived="true"})',
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
                target("max(shadow_lost_runs)", "lost"),
                target("max(shadow_orphan_runs)", "orphan", "B"),
                target("max(shadow_stuck_runs)", "stuck", "C"),
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
            "mocked steps excluded. Above the tolerance (1.2 by default: 20% slower) the p95 fails.",
            [
                target("max(shadow_duration_p50_ratio)", "p50"),
                target("max(shadow_duration_p95_ratio)", "p95", "B"),
                target("max(shadow_timing_threshold_ratio)", "tolerance", "C"),
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
            [target("max by (le) (shadow_pair_duration_ratio_bucket)", "{{le}}", instant=True)],
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
            [target("sum by (outcome) (shadow_pairs)", "{{outcome}}")],
        ),
        8,
        8,
    )
    lay.add(
        panel(
            "timeseries",
            "Runs observed per side",
            "Runs shadow knows on each side; the two lines should track each other.",
            [target("sum by (side) (shadow_runs_observed)", "{{side}}")],
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
                    "sum by (stratum, side) (shadow_schedule_missed_runs)", "{{stratum}} {{side}}"
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
            [target("sum by (result) (rate(shadow_scans_total[$__rate_interval]))", "{{result}}")],
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
                    "histogram_quantile(0.95, sum by (le) (rate(shadow_scan_duration_seconds_bucket[$__rate_interval])))",
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
            "Over three scan intervals the verdict is stale (ShadowScanStale).",
            [
                target(
                    "time() - max(shadow_last_successful_scan_timestamp_seconds)",
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
                    "sum by (kind) (rate(shadow_scan_errors_total[$__rate_interval]))", "{{kind}}"
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
            [target("sum(rate(shadow_objects_fetched_total[$__rate_interval]))", "fetched")],
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
            [target("sum by (reason) (shadow_rejected_objects)", "{{reason}}")],
        ),
        12,
        7,
    )
    return dashboard("shadow-overview", "shadow: cutover readiness", lay.panels, [])


def per_agent() -> dict[str, Any]:
    lay = Layout()
    var = {
        "name": "agent",
        "type": "query",
        "datasource": DS,
        "query": "label_values(shadow_agent_pairs, agent)",
        "refresh": 2,
        "current": {},
        "label": "agent or job type",
    }
    lay.row("$agent")
    lay.add(
        panel(
            "stat",
            "Verdict",
            "This stratum's own verdict; any NOT_READY stratum blocks the cutover.",
            [
                target(
                    'max(shadow_agent_readiness_verdict{agent="$agent",verdict="READY"}) * 2 + '
                    'max(shadow_agent_readiness_verdict{agent="$agent",verdict="INSUFFICIENT_DATA"})',
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
            [target('sum by (outcome) (shadow_agent_pairs{agent="$agent"})', "{{outcome}}")],
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
                    'sum by (dimension) (shadow_agent_error_findings{agent="$agent"})',
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
                target('max(shadow_agent_duration_p50_ratio{agent="$agent"})', "p50"),
                target('max(shadow_agent_duration_p95_ratio{agent="$agent"})', "p95", "C"),
                target("max(shadow_timing_threshold_ratio)", "tolerance", "B"),
            ],
        ),
        24,
        8,
    )
    return dashboard("shadow-agent", "shadow: per agent / job type", lay.panels, [var])


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
