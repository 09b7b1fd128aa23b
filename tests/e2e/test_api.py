"""The HTTP API through the real app (httpx over ASGI), on a scanned demo bucket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from shadow.config import load_settings
from shadow.corpora.demo import write_demo
from shadow.serve.api import create_app
from shadow.serve.daemon import build_service
from shadow.serve.service import Service
from tests.e2e.conftest import NOW

TOKEN = "s3cr3t-api-token"


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    corpus = write_demo(tmp_path / "bucket", now=NOW)
    settings = load_settings(
        source=f"dir:{corpus.root}",
        db=tmp_path / "s.db",
        api_token=TOKEN,
        webhook_token="hook-token",
    )
    svc = build_service(settings, CollectorRegistry())
    await svc.cycle(NOW.timestamp())
    yield svc
    await svc.close()


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(service)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://shadow"
    ) as c:
        yield c


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_report_needs_the_token_and_says_nothing_without_it(
    client: httpx.AsyncClient,
) -> None:
    """A missing or wrong token gets a bare 401; the right one gets the report."""
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = await client.get("/report", headers=headers)
        assert r.status_code == 401
        assert TOKEN not in r.text
    r = await client.get("/report", headers=AUTH)
    assert r.status_code == 200
    assert r.json()["schema_version"] == 1


async def test_report_filters_and_pages_runs(client: httpx.AsyncClient) -> None:
    """Filters on outcome and dimension narrow `runs`; limit and offset page through them."""
    full = (await client.get("/report", headers=AUTH)).json()
    mism = (await client.get("/report", params={"outcome": "mismatch"}, headers=AUTH)).json()
    assert mism["runs"] and all(r["outcome"] == "mismatch" for r in mism["runs"])
    assert full["totals"] == mism["totals"]
    steps = (await client.get("/report", params={"dimension": "steps"}, headers=AUTH)).json()
    assert all(any(f["dimension"] == "steps" for f in r["findings"]) for r in steps["runs"])
    page = (await client.get("/report", params={"limit": 5, "offset": 5}, headers=AUTH)).json()
    assert [r["run_id"] for r in full["runs"][5:10]] == [r["run_id"] for r in page["runs"]]
    assert full["runs_total"] == page["runs_total"]


async def test_readiness_is_412_until_ready(client: httpx.AsyncClient) -> None:
    """The gate answers 412 with the verdict and reasons when not READY."""
    r = await client.get("/readiness", headers=AUTH)
    assert r.status_code == 412
    body = r.json()
    assert (body["verdict"], body["ready"]) == ("NOT_READY", False)
    assert body["reasons"]


async def test_run_view_shows_both_sides_and_the_first_divergence(
    client: httpx.AsyncClient, service: Service
) -> None:
    """GET /runs/{id} answers for the primary id and the dry-run id alike."""
    j = service.engine.last_judgement
    assert j is not None
    key = next(
        r.key
        for r in j.results
        if [f.kind.value for f in r.findings if f.severity.value == "error"] == ["step_missing"]
    )
    for rid in (key, key + "-dryrun"):
        body = (await client.get(f"/runs/{rid}", headers=AUTH)).json()
        assert key == body["run_id"]
        assert body["primary"]["steps"] and body["candidate"]["steps"]
        assert body["first_divergence"]["kind"] == "step_missing"
        assert "steps.persist-results" in {d["path"] for d in body["field_differences"]}
    assert (await client.get("/runs/nope", headers=AUTH)).status_code == 404


async def test_health_and_metrics_are_open(client: httpx.AsyncClient, service: Service) -> None:
    """/healthz, /readyz and /metrics need no token; metrics carry no run ids."""
    assert (await client.get("/healthz")).status_code == 200
    r = await client.get("/readyz")
    assert r.status_code == 200 and r.json()["ready"]
    m = await client.get("/metrics")
    assert m.status_code == 200
    assert "shadow_readiness_verdict" in m.text
    j = service.engine.last_judgement
    assert j is not None and j.results
    assert [r.key for r in j.results if r.key in m.text] == []


async def test_metrics_negotiate_openmetrics_and_gzip_and_carry_the_process(
    client: httpx.AsyncClient,
) -> None:
    """/metrics answers what the scraper asks for (client_python's exposition): the text format
    by default, OpenMetrics on request, gzip when accepted, `name[]` to pick; and client_python's
    process, platform and GC collectors are on shadow's registry."""
    plain = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["content-type"].startswith("text/plain; version=")
    for name in ("process_resident_memory_bytes", "python_info", "python_gc_objects_collected"):
        assert f"\n{name}" in plain.text
    om = await client.get(
        "/metrics",
        headers={
            "Accept": "application/openmetrics-text; version=1.0.0",
            "Accept-Encoding": "gzip",
        },
    )
    assert om.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert "gzip" == om.headers["content-encoding"]
    assert om.text.endswith("# EOF\n") and "shadow_readiness_verdict" in om.text
    assert len(om.content) > int(om.headers["content-length"])  # it came compressed
    one = await client.get("/metrics", params={"name[]": "shadow_scans_total"})
    assert "shadow_scans_total" in one.text and "process_" not in one.text


async def test_minio_webhook_needs_its_token_and_queues_keys(
    client: httpx.AsyncClient, service: Service
) -> None:
    """A MinIO event with the webhook token is accepted (202) and counted; without it, 401."""
    event = {
        "EventName": "s3:ObjectCreated:Put",
        "Key": "runs/runs/x/status.json",
        "Records": [{"s3": {"object": {"key": "runs%2Fx%2By%2Fstatus.json", "size": 3}}}],
    }
    assert (await client.post("/events/minio", json=event)).status_code == 401
    r = await client.post(
        "/events/minio", json=event, headers={"Authorization": "Bearer hook-token"}
    )
    assert r.status_code == 202
    assert r.json() == {"queued": 1}
    assert (
        service.metrics.registry.get_sample_value(
            "shadow_events_received_total", {"source": "minio"}
        )
        == 1.0
    )
    assert (await client.head("/events/minio")).status_code == 200


async def test_a_notification_triggers_a_targeted_fetch(service: Service, tmp_path: Path) -> None:
    """A hinted key is fetched at once (a HEAD and one GET), and the judgement reflects it."""
    j = service.engine.last_judgement
    assert j is not None
    lost = next(r.key for r in j.results if r.state.value == "primary_only")
    root = Path(service.settings.source.removeprefix("dir:"))
    primary = root / "runs" / lost
    twin = root / "runs" / f"{lost}-dryrun"
    twin.mkdir()
    for path in sorted(p for p in primary.rglob("*.json") if "output" not in p.parts):
        target = twin / path.relative_to(primary)
        target.parent.mkdir(parents=True, exist_ok=True)
        doc = json.loads(path.read_text())
        if path.name == "status.json":
            doc["proposals_created"] = []
        if path.name == "manifest.json":
            doc["proposals_created"] = 0
        target.write_text(json.dumps(doc))
    keys = [
        f"runs/{lost}-dryrun/{p.relative_to(twin).as_posix()}" for p in sorted(twin.rglob("*.json"))
    ]
    summary = await service.hinted(keys, NOW.timestamp())
    assert summary is not None and len(keys) == summary.scan.fetched
    assert summary.report is not None
    state = next(r.state.value for r in summary.report.runs if r.run_id == lost)
    assert "paired" == state


def test_metrics_read_back_from_the_registry(service: Service) -> None:
    """The cycle summary lands in the registry: verdict, lost runs, parity, rejected objects by reason."""
    reg = service.metrics.registry
    assert 1.0 == reg.get_sample_value("shadow_readiness_verdict", {"verdict": "NOT_READY"})
    assert 0.0 == reg.get_sample_value("shadow_readiness_verdict", {"verdict": "READY"})
    assert 1.0 == reg.get_sample_value("shadow_lost_runs")
    assert 1.0 == reg.get_sample_value("shadow_rejected_objects", {"reason": "invalid_json"})
    steps = reg.get_sample_value("shadow_parity_ratio", {"dimension": "steps"})
    assert steps is not None and 0.9 < steps < 1.0
    assert 1.0 == reg.get_sample_value("shadow_scans_total", {"result": "ok"})
    assert (reg.get_sample_value("shadow_objects_fetched_total") or 0) > 1000
    # the p95 alert and the verdict read one number: the report's, to the last digit
    head = service.engine.last_head
    assert head is not None
    timing = next(c for c in head.readiness.criteria if c.name == "timing")
    assert timing.extra["p95"] == reg.get_sample_value("shadow_duration_p95_ratio")
    assert timing.threshold == reg.get_sample_value("shadow_timing_threshold_ratio")


@pytest.mark.parametrize(
    "path",
    [
        "/runs/..%2F..%2Fetc%2Fpasswd",
        "/runs/%2E%2E",
        "/runs/x'%20OR%20'1'%3D'1",
        "/runs/x%22%3B%20DROP%20TABLE%20results%3B%20--",
        "/runs/%25s%3F",
        "/runs/%00",
        "/runs/" + "a" * 5000,
    ],
)
async def test_hostile_run_ids_in_the_url_are_a_clean_404(
    client: httpx.AsyncClient, path: str
) -> None:
    """Traversal, quotes, SQL and NULs in a run id find nothing, say so in JSON, and break nothing."""
    r = await client.get(path, headers=AUTH)
    assert 404 == r.status_code
    assert "detail" in r.json()
    assert 200 == (await client.get("/report?limit=1", headers=AUTH)).status_code


async def test_tokens_are_compared_in_constant_time(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every token check goes through hmac.compare_digest, for the API and the webhook token."""
    import hmac

    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert (
        401 == (await client.get("/report", headers={"Authorization": "Bearer wrong"})).status_code
    )
    assert 200 == (await client.get("/report?limit=1", headers=AUTH)).status_code
    hook = await client.post(
        "/events/minio", json={"Records": []}, headers={"Authorization": "Bearer nope"}
    )
    assert 401 == hook.status_code
    assert [b"wrong", TOKEN.encode(), b"nope"] == [a for a, _ in seen]


async def test_the_report_is_whole_by_default_and_unknown_filters_are_refused(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """report.md: GET /report serves what `report --json` prints, every run (it used to stop at
    500); a filter value outside its closed vocabulary is a 422, never an empty list."""
    corpus = write_demo(tmp_path / "big", now=NOW, runs=520, days=3, plant=False)
    big = build_service(
        load_settings(source=f"dir:{corpus.root}", db=tmp_path / "big.db"), CollectorRegistry()
    )
    await big.cycle(NOW.timestamp())
    try:
        transport = httpx.ASGITransport(app=create_app(big))
        async with httpx.AsyncClient(transport=transport, base_url="http://shadow") as c:
            whole = (await c.get("/report")).json()
    finally:
        await big.close()
    assert whole["totals"]["runs"] > 500
    assert whole["totals"]["runs"] == len(whole["runs"]) == whole["runs_total"]
    for bad in ({"state": "bogus"}, {"state": "PAIRED"}, {"outcome": "x"}, {"dimension": "y"}):
        assert 422 == (await client.get("/report", params=bad, headers=AUTH)).status_code
    lost = (await client.get("/report", params={"state": "primary_only"}, headers=AUTH)).json()
    assert lost["runs"] and all(r["state"] == "primary_only" for r in lost["runs"])


async def test_the_token_guards_the_schema_and_any_bearer_spelling_works(
    client: httpx.AsyncClient,
) -> None:
    """With a token set, /docs and /redoc are not served (they load a CDN's script) and the
    schema is guarded like the API; the scheme is case-insensitive (RFC 7235); the webhook
    answers a stranger 401 before it reads the body."""
    for path in ("/docs", "/redoc"):
        assert 404 == (await client.get(path)).status_code
    assert 401 == (await client.get("/openapi.json")).status_code
    schema = await client.get("/openapi.json", headers=AUTH)
    assert 200 == schema.status_code and "/readiness" in schema.json()["paths"]
    for scheme in ("bearer", "BEARER", "Bearer"):
        r = await client.get("/report", headers={"Authorization": f"{scheme} {TOKEN}"})
        assert 200 == r.status_code
    r = await client.post("/events/minio", json={"Records": "x"})
    assert 401 == r.status_code
    r = await client.post(
        "/events/minio", json={"Records": "x"}, headers={"Authorization": "Bearer hook-token"}
    )
    assert 422 == r.status_code


async def test_readiness_is_412_before_the_first_judgement(tmp_path: Path) -> None:
    """While the first scan (a cold backfill) runs, the gate answers 412 INSUFFICIENT_DATA, not 503."""
    settings = load_settings(source=f"dir:{tmp_path}", db=tmp_path / "s.db", api_token=TOKEN)
    svc = build_service(settings, CollectorRegistry())
    app = create_app(svc)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://shadow"
        ) as c:
            r = await c.get("/readiness", headers=AUTH)
            assert 412 == r.status_code
            body = r.json()
            assert ("INSUFFICIENT_DATA", False) == (body["verdict"], body["ready"])
            assert ["no judgement yet: the first scan has not finished"] == body["reasons"]
            assert 401 == (await c.get("/readiness")).status_code
    finally:
        await svc.close()
