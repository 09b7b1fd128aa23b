"""HTTP API: report, runs, readiness gate, health, metrics, and MinIO notification hints.

Everything is served from the engine's last in-memory judgement; no request reads the bucket
or the ledger. An optional API token protects everything except /healthz, /readyz, /metrics
and the webhook (which has its own token); a wrong token gets a bare 401.
"""

from __future__ import annotations

import dataclasses
import gzip
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client.exposition import choose_encoder, gzip_accepted
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shadow.core.fielddiff import field_differences
from shadow.core.findings import Dimension, Finding
from shadow.core.pairing import PairState
from shadow.core.results import Outcome
from shadow.core.runs import NormalizedRun
from shadow.judging.judge import first_divergence
from shadow.judging.report import Report
from shadow.serve.access import bearer, pair_key, service_of, token_matches
from shadow.serve.pages import pages
from shadow.serve.service import Service
from shadow.serve.views import RunFilters


def require_token(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    if not token_matches(service_of(request).settings.api_token, bearer(authorization)):
        raise HTTPException(status_code=401)


class RunView(BaseModel):
    run_id: str
    agent_slug: str
    state: str
    outcome: str
    primary: dict[str, Any] | None
    candidate: dict[str, Any] | None
    findings: list[Finding]
    first_divergence: Finding | None
    field_differences: list[dict[str, Any]] = []


class ReadinessView(BaseModel):
    verdict: str
    ready: bool
    reasons: list[str]
    needs: list[str]
    since: str | None
    generated_at: str


class MinioRecordObject(BaseModel):
    model_config = ConfigDict(extra="allow")
    key: str


class MinioRecordS3(BaseModel):
    model_config = ConfigDict(extra="allow")
    object: MinioRecordObject


class MinioRecord(BaseModel):
    model_config = ConfigDict(extra="allow")
    s3: MinioRecordS3


class MinioEvent(BaseModel):
    model_config = ConfigDict(extra="allow")
    EventName: str | None = None
    Key: str | None = None
    Records: list[MinioRecord] = Field(default_factory=list)


def _report(svc: Service) -> Report:
    report = svc.engine.last_report
    if report is None:
        raise HTTPException(
            status_code=503, detail="no judgement yet: the first scan has not finished"
        )
    return report


def _run_dict(run: NormalizedRun | None) -> dict[str, Any] | None:
    """A run as JSON, each step with its duration (stored apart from the shared step shapes)."""
    if run is None:
        return None
    out = dataclasses.asdict(run)
    for step, ms in zip(out["steps"], out.pop("step_durations"), strict=True):
        step["duration_ms"] = ms
    return out


guarded = APIRouter(dependencies=[Depends(require_token)])
open_routes = APIRouter()


@guarded.get("/report", response_model=Report)
def get_report(
    request: Request,
    agent: str | None = None,
    outcome: Outcome | None = None,
    state: PairState | None = None,
    dimension: Dimension | None = None,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Report:
    """The parity report (report.md): every run, as `shadow report --json` prints it. Filters
    (closed vocabularies: an unknown value is a 422, not an empty list) and paging (`limit`,
    `offset`) apply to `runs` only; `runs_total` counts the runs that pass the filters."""
    report = _report(service_of(request))
    filters = RunFilters(
        agent,
        outcome.value if outcome else None,
        dimension.value if dimension else None,
        state.value if state else None,
    )
    runs = [r for r in report.runs if filters.keep(r)]  # the console's runs list filters alike
    end = None if limit is None else offset + limit
    return report.model_copy(update={"runs": runs[offset:end], "runs_total": len(runs)})


@guarded.get("/runs/{run_id}", response_model=RunView)
def get_run(request: Request, run_id: str) -> RunView:
    """One pairing key: both runs normalized, its findings and the first divergence."""
    svc = service_of(request)
    j = svc.engine.last_judgement
    if j is None:
        raise HTTPException(status_code=503, detail="no judgement yet")
    key = pair_key(j, run_id, svc.settings.suffix)
    result = next((r for r in j.results if r.key == key), None)
    if key is None or result is None:
        raise HTTPException(status_code=404, detail="no such run in the current judgement")
    pair = j.pairs[key]
    return RunView(
        run_id=key,
        agent_slug=result.agent,
        state=result.state.value,
        outcome=result.outcome.value,
        primary=_run_dict(pair.primary),
        candidate=_run_dict(pair.candidate),
        findings=list(result.findings),
        first_divergence=first_divergence(result.findings),
        field_differences=[
            {"path": d.path, "primary": d.primary, "candidate": d.candidate}
            for d in (
                field_differences(pair.primary, pair.candidate)
                if pair.primary and pair.candidate
                else []
            )
        ],
    )


@guarded.get("/readiness", response_model=ReadinessView, responses={412: {"model": ReadinessView}})
def get_readiness(request: Request) -> JSONResponse:
    """200 when READY, 412 otherwise: an Argo Rollouts web metric or a Flagger gate."""
    svc = service_of(request)
    if svc.engine.last_report is None:
        # A cold backfill can take many minutes: a gate asking meanwhile hears "not ready", the
        # same 412 as any other not-READY answer, rather than a 503 it may read as an outage.
        pending = ReadinessView(
            verdict="INSUFFICIENT_DATA",
            ready=False,
            reasons=["no judgement yet: the first scan has not finished"],
            needs=[],
            since=None,
            generated_at=datetime.now(UTC).isoformat(),
        )
        return JSONResponse(pending.model_dump(), status_code=412)
    report = _report(svc)
    r = report.readiness
    view = ReadinessView(
        verdict=r.verdict.value,
        ready=r.verdict.value == "READY",
        reasons=r.reasons,
        needs=r.needs,
        since=r.since.isoformat() if r.since else None,
        generated_at=report.generated_at.isoformat(),
    )
    return JSONResponse(view.model_dump(), status_code=200 if view.ready else 412)


@open_routes.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@open_routes.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready while the last good scan is younger than three scan intervals."""
    svc = service_of(request)
    body = {
        "ready": svc.ready(),
        "last_good_scan": svc.health.last_good_scan,
        "last_error": svc.health.last_error,
    }
    return JSONResponse(body, status_code=200 if body["ready"] else 503)


@open_routes.get("/metrics")
def metrics(request: Request) -> Response:
    """The registry through client_python's own exposition, negotiated as its handlers do
    (prometheus_client/exposition.py `_bake_output`): OpenMetrics when the Accept header asks
    for it, else the text format; gzip when Accept-Encoding allows; `name[]` picks metrics.
    A plain function, so FastAPI runs it in a worker thread, off the event loop."""
    registry: Any = service_of(request).metrics.registry
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    names = request.query_params.getlist("name[]")
    body = encoder(registry.restricted_registry(names) if names else registry)
    headers = {"Content-Type": content_type, "Vary": "Accept, Accept-Encoding"}
    if gzip_accepted(request.headers.get("accept-encoding", "")):
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return Response(body, headers=headers)


@open_routes.head("/events/minio")
def events_probe() -> Response:
    """MinIO probes the target with HEAD before sending."""
    return Response(status_code=200)


@open_routes.post("/events/minio", status_code=202)
async def events_minio(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> dict[str, int]:
    """Queue the notified keys for a targeted fetch and answer at once; the listing reconciles."""
    svc = service_of(request)
    if not token_matches(svc.settings.webhook_token, bearer(authorization)):
        raise HTTPException(status_code=401)  # before the body is read: strangers learn nothing
    try:
        event = MinioEvent.model_validate_json(await request.body())
    except ValidationError as exc:
        raise HTTPException(status_code=422, detail=exc.errors(include_url=False)) from None
    keys = sorted({unquote_plus(rec.s3.object.key) for rec in event.Records})
    if keys:
        svc.metrics.events.labels(source="minio").inc(len(keys))
        request.app.state.spawn(svc.hinted(keys))
    return {"queued": len(keys)}


def create_app(service: Service, lifespan: Any = None) -> FastAPI:
    # With an API token, the schema and its docs pages are guarded like the API: off.
    guarded_docs = service.settings.api_token is not None
    app = FastAPI(
        title="shadow",
        version="1",
        lifespan=lifespan,
        description="Dual-run shadow comparison: parity report and cutover readiness.",
        docs_url=None if guarded_docs else "/docs",
        redoc_url=None if guarded_docs else "/redoc",
        openapi_url=None if guarded_docs else "/openapi.json",
    )
    app.state.service = service
    tasks: set[Any] = set()

    def spawn(coro: Any) -> None:
        import asyncio

        task = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    app.state.spawn = spawn
    app.include_router(guarded)
    app.include_router(open_routes)
    app.include_router(pages)
    return app
