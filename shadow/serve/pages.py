"""The parity console: server-rendered pages over the last judgement, for people.

No JavaScript and no front-end build: Jinja2 templates with autoescaping (every value from the
bucket is text, never markup). With an API token configured, pages ask for it once through a
login form and keep it in an HttpOnly, SameSite=Strict cookie; a bearer header works too. The
forms that change state (log in, log out) answer only requests from these pages
(`access.cross_origin`). Pages read what the judgement serves (`served.py`), built once per
judgement; a pair's view runs DeepDiff, so it is built in a worker thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from shadow.serve.access import (
    COOKIE,
    cross_origin,
    pair_key,
    presented_token,
    served_of,
    service_of,
    token_matches,
)
from shadow.serve.served import Served
from shadow.serve.views import RunFilters, held_for, pair_page, runs_page

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["qs"] = lambda params: urlencode(params)
templates.env.auto_reload = False  # package data: no stat of the file on every render

pages = APIRouter(include_in_schema=False)


def _allowed(request: Request) -> bool:
    """The API token, from a bearer header (scripts) or the login cookie (people)."""
    return token_matches(service_of(request).settings.api_token, presented_token(request))


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)


async def _page(request: Request) -> Served | Response:
    """What the judgement serves, or the response to give instead: the login redirect, or the
    waiting page before the first judgement."""
    if not _allowed(request):
        return _login_redirect(request)
    served = await served_of(request)
    if served is None:
        return templates.TemplateResponse(
            request, "waiting.html", {"active": None}, status_code=503
        )
    return served


def _render(
    request: Request, served: Served, name: str, status: int = 200, **context: Any
) -> Response:
    return templates.TemplateResponse(
        request, name, {"report": served.head, **context}, status_code=status
    )


Context = dict[str, Any]


async def _cached(
    request: Request,
    served: Served,
    key: Hashable,
    name: str,
    context: Callable[[], Awaitable[Context]],
) -> Response:
    """A page as rendered for this judgement: the same bytes for everyone until it changes.
    Its context is computed and the template rendered (a few ms for a page of runs) once, in
    a worker thread."""
    body = served.rendered.get(key)
    if body is None:
        template = templates.get_template(name)
        values = {"request": request, "report": served.head, **(await context())}
        body = await run_in_threadpool(lambda: template.render(values).encode())
        served.rendered.put(key, body)
    return HTMLResponse(body)


def _given(**context: Any) -> Callable[[], Awaitable[Context]]:
    async def ready() -> Context:
        return context

    return ready


@pages.get("/", response_class=HTMLResponse)
async def overview(request: Request) -> Response:
    served = await _page(request)
    if isinstance(served, Response):
        return served
    held = held_for(served.head.readiness.since, datetime.now(UTC))
    context = _given(active="overview", held=held)
    return await _cached(request, served, ("overview", held), "overview.html", context)


@pages.get("/ui/runs", response_class=HTMLResponse)
async def runs(
    request: Request,
    agent: str | None = None,
    outcome: str | None = None,
    dimension: str | None = None,
    state: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    served = await _page(request)
    if isinstance(served, Response):
        return served
    # The form's "any" sends an empty value: no filter.
    filters = RunFilters(agent or None, outcome or None, dimension or None, state or None)

    async def context() -> Context:
        matching = await request.app.state.served.matching(served, filters)
        view = runs_page(served.judgement.results, matching, filters, served.choices, page)
        return {"active": "runs", "view": view}

    return await _cached(request, served, ("runs", filters, page), "runs.html", context)


@pages.get("/ui/runs/{run_id:path}", response_class=HTMLResponse)
async def pair(request: Request, run_id: str) -> Response:
    served = await _page(request)
    if isinstance(served, Response):
        return served
    j = served.judgement
    key = pair_key(j, run_id, service_of(request).settings.suffix)
    result = served.by_key.get(key) if key is not None else None
    if key is None or result is None:
        return _render(request, served, "missing.html", 404, active="runs", run_id=run_id)

    async def context() -> Context:
        found = j.pairs[key]
        view = await run_in_threadpool(
            pair_page, key, result, found.primary, found.candidate, served.head.waivers
        )
        return {"active": "runs", "view": view}

    return await _cached(request, served, ("pair", key), "pair.html", context)


@pages.get("/ui/waivers", response_class=HTMLResponse)
async def waivers(request: Request) -> Response:
    served = await _page(request)
    if isinstance(served, Response):
        return served
    return await _cached(request, served, ("waivers",), "waivers.html", _given(active="waivers"))


@pages.get("/ui/api", response_class=HTMLResponse)
async def api_index(request: Request) -> Response:
    """The JSON API's routes, readable with the login cookie. /docs loads Swagger UI from a CDN
    and is off when a token is set; this page needs neither."""
    if not _allowed(request):
        return _login_redirect(request)
    routes = [
        (method.upper(), path, (op.get("description") or op.get("summary", "")).split("\n\n")[0])
        for path, ops in request.app.openapi()["paths"].items()
        for method, op in ops.items()
    ]
    docs = service_of(request).settings.api_token is None  # /docs is served only then
    return templates.TemplateResponse(
        request, "api.html", {"active": "api", "routes": routes, "docs": docs}
    )


def _refused(reason: str) -> Response:
    return PlainTextResponse(
        f"refused: this form only works from shadow's own pages ({reason})", status_code=403
    )


@pages.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"next": _local(next), "failed": False, "active": None}
    )


@pages.post("/login", response_class=HTMLResponse)
async def login(
    request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    if (reason := cross_origin(request)) is not None:
        return _refused(reason)
    if not token_matches(service_of(request).settings.api_token, token):
        return templates.TemplateResponse(
            request,
            "login.html",
            {"next": _local(next), "failed": True, "active": None},
            status_code=401,
        )
    response = RedirectResponse(_local(next), status_code=303)
    secure = request.url.scheme == "https"  # behind TLS the cookie never travels in clear
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/")
    return response


@pages.post("/logout")
async def logout(request: Request) -> Response:
    if (reason := cross_origin(request)) is not None:
        return _refused(reason)  # a page elsewhere must not log people out
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _local(target: str) -> str:
    """Only a path on this server: a login link must not send people elsewhere."""
    ok = target.startswith("/") and not target.startswith(("//", "/\\"))
    return target if ok else "/"
