"""The parity console through the real app (httpx over ASGI): pages, filters, token, escaping."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from markupsafe import escape
from prometheus_client import CollectorRegistry

from shadow.config import load_settings
from shadow.corpora.demo import DemoCorpus
from shadow.judging.report import Report
from shadow.serve.api import create_app
from shadow.serve.daemon import build_service
from shadow.serve.service import Service
from tests.e2e.conftest import NOW
from tests.e2e.console_corpus import HOSTILE_ERROR, HOSTILE_ID, WAIVERS, console_corpus

TOKEN = "console-t0ken"


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[Service, DemoCorpus]]:
    corpus = console_corpus(tmp_path / "bucket")
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(WAIVERS)
    settings = load_settings(
        source=f"dir:{corpus.root}", db=tmp_path / "s.db", waivers=waivers, api_token=TOKEN
    )
    svc = build_service(settings, CollectorRegistry())
    await svc.cycle(NOW.timestamp())
    yield svc, corpus
    await svc.close()


@pytest.fixture
async def client(setup: tuple[Service, DemoCorpus]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(setup[0])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://shadow", follow_redirects=False
    ) as c:
        yield c


async def _logged_in(client: httpx.AsyncClient, setup: tuple[Service, DemoCorpus]) -> Report:
    """Log in and return the report the pages are rendered from."""
    await _login(client)
    report = setup[0].engine.last_report
    assert report is not None
    return report


async def _login(client: httpx.AsyncClient) -> None:
    r = await client.post("/login", data={"token": TOKEN, "next": "/ui/runs"})
    assert r.status_code == 303 and r.headers["location"] == "/ui/runs"
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()


def _rows(html: str, table: str) -> list[str]:
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return body.split("<tr")[2:]  # drop the header row


async def test_pages_ask_for_the_token_and_a_wrong_one_is_refused(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/", "/ui/runs?outcome=mismatch", "/ui/waivers", "/ui/runs/x"):
        r = await client.get(path)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=")
    r = await client.post("/login", data={"token": "wrong", "next": "/"})
    assert r.status_code == 401 and "not right" in r.text and "set-cookie" not in r.headers
    r = await client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200  # a bearer header works too, for scripts


async def test_login_never_redirects_off_site(client: httpx.AsyncClient) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        r = await client.post("/login", data={"token": TOKEN, "next": target})
        assert r.headers["location"] == "/"


async def test_overview_shows_the_verdict_criteria_and_what_is_missing(
    client: httpx.AsyncClient, setup: tuple[Service, DemoCorpus]
) -> None:
    report = await _logged_in(client, setup)
    html = (await client.get("/")).text
    assert f'id="verdict">{report.readiness.verdict.value}<' in html
    for c in report.readiness.criteria:
        assert f"<td>{c.name}</td>" in html
    assert report.readiness.reasons or report.readiness.needs
    for line in (*report.readiness.reasons, *report.readiness.needs):
        assert str(escape(line)) in html
    assert len(_rows(html, "clusters")) == min(15, len(report.clusters))


async def test_runs_filters_and_paging(
    client: httpx.AsyncClient, setup: tuple[Service, DemoCorpus]
) -> None:
    report = await _logged_in(client, setup)
    everything = (await client.get("/ui/runs")).text
    assert f"({len(report.runs)} matching)" in everything
    assert len(_rows(everything, "runs")) == 50
    page2 = (await client.get("/ui/runs?page=2")).text
    first = re.findall(r'href="/ui/runs/([^"]+)"', everything)
    second = re.findall(r'href="/ui/runs/([^"]+)"', page2)
    assert first and second and not set(first) & set(second)
    mismatched = [r for r in report.runs if r.outcome.value == "mismatch"]
    html = (await client.get("/ui/runs?outcome=mismatch")).text
    assert f"({len(mismatched)} matching)" in html
    assert all('class="fail">mismatch<' in row for row in _rows(html, "runs"))
    agent = report.runs[0].agent_slug
    html = (await client.get("/ui/runs", params={"agent": agent, "dimension": "timing"})).text
    expected = [
        r
        for r in report.runs
        if r.agent_slug == agent and any(f.dimension.value == "timing" for f in r.findings)
    ]
    assert f"({len(expected)} matching)" in html


async def test_pair_view_highlights_each_planted_divergence(
    client: httpx.AsyncClient, setup: tuple[Service, DemoCorpus]
) -> None:
    await _login(client)
    corpus = setup[1]
    shown = 0
    for planted in corpus.planted:
        r = await client.get(f"/ui/runs/{quote(planted.run_id)}")
        assert r.status_code == 200, planted
        shown += 1
        findings = _rows(r.text, "findings")
        hit = [
            row for row in findings if f"{planted.dimension.value} / {planted.kind.value}" in row
        ]
        assert hit, planted
        assert any("first divergence" in row for row in findings)
    assert shown == len(corpus.planted) > 10


async def test_waivers_page_counts_findings_and_tells_expired_from_active(
    client: httpx.AsyncClient, setup: tuple[Service, DemoCorpus]
) -> None:
    report = await _logged_in(client, setup)
    html = (await client.get("/ui/waivers")).text
    rows = _rows(html, "waivers")
    assert len(rows) == 2
    by_id = {w.id: w for w in report.waivers}
    active = next(r for r in rows if "slow-finalize-ok" in r)
    expired = next(r for r in rows if "old-retry-policy" in r)
    assert ">active<" in active and ">expired<" in expired
    assert f'<td class="num">{by_id["slow-finalize-ok"].findings_covered}</td>' in active
    assert by_id["slow-finalize-ok"].findings_covered > 0


async def test_markup_from_the_bucket_renders_as_text(client: httpx.AsyncClient) -> None:
    await _login(client)
    runs = (await client.get("/ui/runs", params={"page": 1, "outcome": "mismatch"})).text
    assert "<img src=x" not in runs and "&lt;img src=x onerror=window.__xss=1&gt;" in runs
    pair = (await client.get(f"/ui/runs/{quote(HOSTILE_ID)}")).text
    assert HOSTILE_ERROR not in pair
    assert "&lt;script&gt;window.__xss=2&lt;/script&gt;" in pair
    assert "<img src=x" not in pair


async def test_pair_view_names_the_waiver_that_covered_a_finding(
    client: httpx.AsyncClient, setup: tuple[Service, DemoCorpus]
) -> None:
    report = await _logged_in(client, setup)
    waived = next(
        r for r in report.runs if any(f.waived_by == "slow-finalize-ok" for f in r.findings)
    )
    html = (await client.get(f"/ui/runs/{quote(waived.run_id)}")).text
    row = next(r for r in _rows(html, "findings") if 'class="waiver"' in r)
    assert "slow-finalize-ok" in row and "sre@example.com" in row
    assert "the dry run&#39;s storage is remote" in row and "2099-12-31" in row


async def test_links_to_the_json_work_with_the_login_cookie(
    client: httpx.AsyncClient, setup: tuple[Service, DemoCorpus]
) -> None:
    """With a token set and only the login cookie: "this pair as JSON" answers the pair's JSON,
    and the header's "API" link, and every link on that page, answer 200 (not 401 or 404)."""
    await _login(client)
    planted = setup[1].planted[0]
    pair = (await client.get(f"/ui/runs/{quote(planted.run_id)}")).text
    link = re.search(r'<a href="([^"]+)">this pair as JSON</a>', pair)
    assert link is not None
    r = await client.get(link.group(1))
    assert 200 == r.status_code and planted.run_id.startswith(r.json()["run_id"])
    api = re.search(r'<a href="([^"]+)"[^>]*>API</a>', pair)
    assert api is not None
    page = await client.get(api.group(1))
    assert 200 == page.status_code
    links = re.findall(r'<a href="(/[^"]*)"', page.text.split("<main>", 1)[1])
    assert "/openapi.json" in links and "/readiness" in links and "/report" in links
    for href in links:
        assert (await client.get(href)).status_code in (200, 412), href  # 412: not READY
    client.cookies.set("shadow_token", "wrong")
    assert 401 == (await client.get(link.group(1))).status_code


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://other.shadow"},
        {"Origin": "https://evil.example"},  # a browser older than Sec-Fetch-Site
        {"Origin": "null"},  # a sandboxed frame
    ],
)
async def test_forms_refuse_requests_from_other_sites(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """Log out and log in answer 403 to a form posted from another origin, and leave the login
    cookie alone; from the console's own pages (or from a script, which sends neither header)
    they work."""
    await _login(client)
    r = await client.post("/logout", headers=headers)
    assert 403 == r.status_code and "set-cookie" not in r.headers
    r = await client.post("/login", data={"token": TOKEN, "next": "/"}, headers=headers)
    assert 403 == r.status_code and "set-cookie" not in r.headers
    assert 200 == (await client.get("/")).status_code  # still logged in
    for own in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://shadow"}, {}):
        r = await client.post("/logout", headers=own)
        assert 303 == r.status_code and 'shadow_token=""' in r.headers["set-cookie"]
