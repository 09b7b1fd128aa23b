"""The parity console in a real headless browser (Debian's chromium driven by Playwright;
`SHADOW_TEST_CHROMIUM` names another binary),
against a real `shadow serve` over a demo bucket. Screenshots of every page are kept in
test-artifacts/screenshots/ for people to look at."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from shadow.corpora.demo import DemoCorpus
from tests.e2e.console_corpus import HOSTILE_ERROR, HOSTILE_ID, WAIVERS, console_corpus
from tests.e2e.test_daemon import free_port, start_serve, wait_for

ARGS = [  # what a closed network and a root user need (see the env notes in the README)
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
TOKEN = "browser-t0ken"


@dataclass(frozen=True)
class Served:
    base: str
    corpus: DemoCorpus

    def api(self, path: str) -> httpx.Response:
        return httpx.get(self.base + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("console")
    corpus = console_corpus(tmp / "bucket")
    (tmp / "waivers.toml").write_text(WAIVERS)
    port = free_port()
    proc = start_serve(
        corpus.root,
        tmp / "s.db",
        port,
        ("SHADOW_API_TOKEN", TOKEN),
        ("SHADOW_WAIVERS", str(tmp / "waivers.toml")),
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/readyz")
        yield Served(f"http://127.0.0.1:{port}", corpus)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 768})  # a laptop screen
    p = context.new_page()
    p.goto(served.base + "/")
    assert "/login" in p.url
    p.fill("input[name=token]", TOKEN)
    p.click('form[action="/login"] button[type=submit]')
    p.wait_for_url(served.base + "/")
    yield p
    context.close()


def test_overview_shows_the_served_verdict(page: Page, served: Served) -> None:
    verdict = served.api("/readiness").json()["verdict"]
    assert page.inner_text("#verdict") == verdict
    assert page.locator("#criteria tr").count() > 5
    page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)


def test_runs_filter_by_form_and_page_through(page: Page, served: Served) -> None:
    page.goto(served.base + "/ui/runs")
    page.select_option("select[name=outcome]", "mismatch")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/ui/runs?*outcome=mismatch*")
    outcomes = page.locator("#runs tr td:nth-child(4)").all_inner_texts()
    expected = served.api("/report?outcome=mismatch&limit=0").json()["runs_total"]
    assert outcomes and set(outcomes) == {"mismatch"}
    assert len(outcomes) == min(50, expected)
    page.screenshot(path=str(SHOTS / "runs-mismatch.png"), full_page=True)
    page.goto(served.base + "/ui/runs")
    first = page.locator("#runs tr td:first-child").all_inner_texts()
    page.click("a[rel=next]")
    assert "page 2 of" in page.inner_text("nav.pager")
    assert not set(first) & set(page.locator("#runs tr td:first-child").all_inner_texts())


def test_pair_view_highlights_the_planted_divergence(page: Page, served: Served) -> None:
    planted = next(p for p in served.corpus.planted if p.kind.value == "terminal_state_differs")
    page.goto(f"{served.base}/ui/runs/{quote(planted.run_id)}")
    first = page.locator("#first-divergence")
    assert "status / terminal_state_differs" in first.inner_text()
    background = first.locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(255, 235, 233)"  # the highlight, not a plain row
    assert page.locator("#fields tr.differs").count() >= 1
    assert page.locator("#timelines .diverge").count() == 2
    page.screenshot(path=str(SHOTS / "pair.png"), full_page=True)


def test_waivers_page_lists_active_and_expired(page: Page, served: Served) -> None:
    page.goto(served.base + "/ui/waivers")
    rows = page.locator("#waivers tr.active, #waivers tr.expired")
    assert rows.count() == 2
    assert page.locator("#waivers tr.expired").inner_text().count("old-retry-policy") == 1
    page.screenshot(path=str(SHOTS / "waivers.png"), full_page=True)


def test_markup_in_run_ids_and_fields_is_shown_as_text_and_never_runs(
    page: Page, served: Served
) -> None:
    page.goto(f"{served.base}/ui/runs/{quote(HOSTILE_ID)}")
    assert page.inner_text("#run-id") == HOSTILE_ID
    assert HOSTILE_ERROR in page.inner_text("#fields")
    assert page.evaluate("typeof window.__xss") == "undefined"
    page.goto(served.base + "/ui/runs?outcome=mismatch")
    assert page.evaluate("typeof window.__xss") == "undefined"
    page.screenshot(path=str(SHOTS / "hostile-pair.png"), full_page=True)


@pytest.fixture(scope="module")
def elsewhere(served: Served) -> Iterator[str]:
    """A page on another site (another host name and port) whose form posts to shadow's logout,
    as a page anywhere on the web could."""
    html = (
        f'<form method="post" action="{served.base}/logout">'
        '<button type="submit">win a prize</button></form>'
    ).encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}/"  # not 127.0.0.1: another site
    server.shutdown()
    server.server_close()


def test_a_form_on_another_site_cannot_log_people_out(
    page: Page, served: Served, elsewhere: str
) -> None:
    """Issue 16 item 14: a cross-site form posting to /logout is refused (403) and the person
    stays logged in; the console's own Log out button still works."""
    page.goto(elsewhere)
    with page.expect_navigation():
        page.click("button")
    assert page.url == served.base + "/logout"
    assert "refused" in page.inner_text("body")
    page.goto(served.base + "/ui/runs")
    assert page.url == served.base + "/ui/runs"  # not sent to /login: still logged in
    page.click('form[action="/logout"] button[type=submit]')
    page.wait_for_url(served.base + "/login")
    page.goto(served.base + "/ui/runs")
    assert "/login" in page.url


def test_the_json_and_api_links_work_with_the_login_cookie(page: Page, served: Served) -> None:
    """Issue 16 item 15: logged in through the form only, "this pair as JSON" opens the pair's
    JSON and the header's API link opens a page whose schema link works too."""
    planted = served.corpus.planted[0]
    page.goto(f"{served.base}/ui/runs/{quote(planted.run_id)}")
    page.click("text=this pair as JSON")
    assert planted.run_id.startswith(json.loads(page.inner_text("body"))["run_id"])
    page.goto(served.base + "/")
    page.click("header >> text=API")
    assert page.url == served.base + "/ui/api"
    assert page.locator("#api-routes tr").count() > 5
    page.screenshot(path=str(SHOTS / "api.png"), full_page=True)
    page.click("text=/openapi.json")
    assert "/readiness" in json.loads(page.inner_text("body"))["paths"]
