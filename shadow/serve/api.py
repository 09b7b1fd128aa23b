"""HTTP API: report, runs, readiness gate, health, metrics, and MinIO notification hints.

Everything is served from the engine's last in-memory judgement; no request reads the bucket
or the ledger, and what a judgement serves is built once per judgement (`served.py`). Handlers
are coroutines that do constant work on the event loop; anything that grows with the bucket
(a whole report, a pair's field differences) runs in a worker thread. An optional API token
protects everything except /healthz, /readyz, /metrics and the webhook (which has its own
token); the console's login cookie is accepted too, so its links to the JSON work. A wrong token
gets a bare 401.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client.exposition import choose_encoder, gzip_accepted
from pydantic import BaseModel, ValidationError

from shadow.collectors.events import MinioLog
from shadow.core.fielddiff import field_differences
from shadow.core.findings import Dimension, Finding
from shadow.core.pairing import Pair, PairState
from shadow.core.results import Outcome, PairResult
from shadow.core.runs import NormalizedRun
from shadow.judging.judge import first_divergence
from shadow.judging.report import Report
from shadow.serve.access import (
    bearer,
    pair_key,
    presented_token,
    served_of,
    service_of,
    token_matches,
)
from shadow.serve.pages import pages
from shadow.serve.served import Served, ServedCache
from shadow.serve.service import Service
from shadow.serve.views import RunFilters

# MinIO's webhook target sends one record per request (internal/event/target/webhook.go:
# `Records: []event.Event{eventData}`), about a kilobyte. Bodies and key counts far beyond that
# are refused (413) before they cost memory or hold the scan back.
MAX_EVENT_BYTES = 256 * 1024
MAX_EVENT_KEYS = 1000


async def require_token(request: Request) -> None:
    """The API token, from a bearer header or the console's login cookie. The cookie is
    SameSite=Strict and every guarded route is a GET that reads: a page on another site can
    neither send it nor read what comes back."""
    if not token_matches(service_of(request).settings.api_token, presented_token(request)):
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


async def _served(request: Request) -> Served:
    served = await served_of(request)
    if served is None:
        raise HTTPException(
            status_code=503, detail="no judgement yet: the first scan has not finished"
        )
    return served


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
async def get_report(
    request: Request,
    agent: str | None = None,
    outcome: Outcome | None = None,
    state: PairState | None = None,
    dimension: Dimension | None = None,
    limit: Annotated[int | None, Query(ge=0)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The parity report (report.md): every run, as `shadow report --json` prints it. Filters
    (closed vocabularies: an unknown value is a 422, not an empty list) and paging (`limit`,
    `offset`) apply to `runs` only; `runs_total` counts the runs that pass the filters."""
    served = await _served(request)
    filters = RunFilters(  # the console's runs list filters alike
        agent,
        outcome.value if outcome else None,
        dimension.value if dimension else None,
        state.value if state else None,
    )

    key = ("report", filters, offset, limit)
    body = served.rendered.get(key)
    if body is None:  # a whole report of a large bucket takes a while: off the loop
        body = await run_in_threadpool(
            lambda: served.report(filters, offset, limit).model_dump_json().encode()
        )
        if limit is not None:  # a page is kept for the next reader; a whole report is not
            served.rendered.put(key, body)
    return Response(body, media_type="application/json")


@guarded.get("/runs/{run_id:path}", response_model=RunView)
async def get_run(request: Request, run_id: str) -> RunView:
    """One pairing key: both runs normalized, its findings and the first divergence."""
    served = await _served(request)
    j = served.judgement
    key = pair_key(j, run_id, service_of(request).settings.suffix)
    result = served.by_key.get(key) if key is not None else None
    if key is None or result is None:
        raise HTTPException(status_code=404, detail="no such run in the current judgement")
    return await run_in_threadpool(run_view, key, result, j.pairs[key])  # DeepDiff: off the loop


def run_view(key: str, result: PairResult, pair: Pair) -> RunView:
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
            for d in field_differences(pair.primary, pair.candidate)
        ],
    )


@guarded.get("/readiness", response_model=ReadinessView, responses={412: {"model": ReadinessView}})
async def get_readiness(request: Request) -> Response:
    """200 when READY, 412 otherwise: an Argo Rollouts web metric or a Flagger gate."""
    served = await served_of(request)
    if served is None:
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
    return Response(
        served.readiness, status_code=200 if served.ready else 412, media_type="application/json"
    )


@open_routes.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@open_routes.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
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
async def events_probe() -> Response:
    """MinIO probes the target with HEAD before sending."""
    return Response(status_code=200)


@open_routes.post("/events/minio", status_code=202)
async def events_minio(request: Request) -> dict[str, int]:
    """Queue the notified keys for a targeted fetch and answer at once; the listing reconciles.

    Errors are short and never echo the body: 401 without the webhook token (before the body is
    read), 413 for a body or a key count over the limits, 400 for a body that is not JSON, 422
    for JSON that is not a MinIO event."""
    svc = service_of(request)
    if not token_matches(svc.settings.webhook_token, bearer(request.headers.get("authorization"))):
        raise HTTPException(status_code=401)  # before the body is read: strangers learn nothing
    raw = await _limited_body(request, MAX_EVENT_BYTES)
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise HTTPException(status_code=400, detail="the body is not JSON") from None
    try:
        event = MinioLog.model_validate(doc)
    except ValidationError as exc:
        raise HTTPException(status_code=422, detail=_short_errors(exc)) from None
    if len(event.Records) > MAX_EVENT_KEYS:
        raise HTTPException(
            status_code=413, detail=f"{len(event.Records)} records; at most {MAX_EVENT_KEYS}"
        )
    keys = sorted({unquote_plus(rec.s3.object.key) for rec in event.Records})
    if not all(_is_utf8(k) for k in keys):  # an S3 key is UTF-8; a lone surrogate is not
        raise HTTPException(status_code=422, detail="an object key is not valid UTF-8")
    queued = svc.queue_hints(keys) if keys else 0
    if keys:
        svc.metrics.events.labels(source="minio").inc(len(keys))
    if queued:
        request.app.state.spawn(svc.hinted())
    return {"queued": queued}


async def _limited_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` bytes: by its
    Content-Length before reading, or while reading a body sent without one."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(status_code=413, detail=f"the body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(status_code=413, detail=f"the body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _short_errors(exc: ValidationError, most: int = 5) -> list[dict[str, Any]]:
    """Where and what, for the first few errors; never the input (it may be megabytes)."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    shown: list[dict[str, Any]] = [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors[:most]
    ]
    if len(errors) > most:
        shown.append({"loc": [], "msg": f"and {len(errors) - most} more", "type": "more"})
    return shown


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def create_app(service: Service, lifespan: Any = None) -> FastAPI:
    # With an API token, the schema is guarded like the API, and the docs pages are off: they
    # load Swagger UI from a CDN and cannot send the token (the console's /ui/api stands in).
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
    app.state.served = ServedCache()
    tasks: set[Any] = set()

    def spawn(coro: Any) -> None:
        import asyncio

        task = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    app.state.spawn = spawn
    if guarded_docs:  # the schema, for those with the token (the console's API page links it)
        app.add_api_route(
            "/openapi.json",
            lambda: JSONResponse(app.openapi()),
            dependencies=[Depends(require_token)],
            include_in_schema=False,
        )
    app.include_router(guarded)
    app.include_router(open_routes)
    app.include_router(pages)
    return app
