"""The parity console: server-rendered pages over the last judgement, for people.

No JavaScript and no front-end build: Jinja2 templates with autoescaping (every value from the
bucket is text, never markup). With an API token configured, pages ask for it once through a
login form and keep it in an HttpOnly, SameSite=Strict cookie; a bearer header works too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from shadow.judging.report import RunOut
from shadow.serve.access import bearer, pair_key, service_of, token_matches
from shadow.serve.views import RunFilters, held_for, pair_page, runs_page

COOKIE = "shadow_token"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["qs"] = lambda params: urlencode(params)

pages = APIRouter(include_in_schema=False)


def _allowed(request: Request) -> bool:
    """The API token, from a bearer header (scripts) or the login cookie (people)."""
    presented = bearer(request.headers.get("authorization"))
    if presented is None:
        presented = request.cookies.get(COOKIE)
    return token_matches(service_of(request).settings.api_token, presented)


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)


def _render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    if not _allowed(request):
        return _login_redirect(request)
    report = service_of(request).engine.last_head
    if report is None:
        return templates.TemplateResponse(
            request, "waiting.html", {"active": None}, status_code=503
        )
    return templates.TemplateResponse(
        request, name, {"report": report, **context}, status_code=status
    )


@pages.get("/", response_class=HTMLResponse)
def overview(request: Request) -> Response:
    report = service_of(request).engine.last_head
    held = held_for(report.readiness.since, datetime.now(UTC)) if report is not None else None
    return _render(request, "overview.html", active="overview", held=held)


@pages.get("/ui/runs", response_class=HTMLResponse)
def runs(
    request: Request,
    agent: str | None = None,
    outcome: str | None = None,
    dimension: str | None = None,
    state: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    report = service_of(request).engine.last_report
    view = (
        runs_page(
            # The form's "any" sends an empty value: no filter.
            report,
            RunFilters(agent or None, outcome or None, dimension or None, state or None),
            page,
        )
        if report is not None
        else None
    )
    return _render(request, "runs.html", active="runs", view=view)


@pages.get("/ui/runs/{run_id:path}", response_class=HTMLResponse)
def pair(request: Request, run_id: str) -> Response:
    svc = service_of(request)
    report, j = svc.engine.last_head, svc.engine.last_judgement
    if report is None or j is None or not _allowed(request):
        return _render(request, "pair.html")  # the login redirect or the waiting page
    key = pair_key(j, run_id, svc.settings.suffix)
    result = next((r for r in j.results if r.key == key), None)
    if key is None or result is None:
        return _render(request, "missing.html", status=404, active="runs", run_id=run_id)
    found = j.pairs[key]
    view = pair_page(key, RunOut.of(result), found.primary, found.candidate, report.waivers)
    return _render(request, "pair.html", active="runs", view=view)


@pages.get("/ui/waivers", response_class=HTMLResponse)
def waivers(request: Request) -> Response:
    return _render(request, "waivers.html", active="waivers")


@pages.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"next": _local(next), "failed": False, "active": None}
    )


@pages.post("/login", response_class=HTMLResponse)
def login(
    request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
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
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _local(target: str) -> str:
    """Only a path on this server: a login link must not send people elsewhere."""
    ok = target.startswith("/") and not target.startswith(("//", "/\\"))
    return target if ok else "/"
