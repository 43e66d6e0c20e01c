"""Issue 12, point 6, in Chromium: the page code a reporter runs is the code the server loaded.

Every page loads with no Content-Security-Policy or integrity complaint (the inline import map is
allowed by its hash and nothing else inline is); and a file whose served bytes differ from the
ones its integrity was computed from is refused: the page's entry module (by its ``integrity``
attribute), a module it imports and a vendored library three imports down (by the import map),
and the stylesheet. The altered code would mark the page if it ran; it never does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.routes.pages import LANGUAGES, PAGES, mount_pages

from .conftest import PHONE, ServedApp

pytestmark = pytest.mark.e2e

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
# What the altered modules would do first if the browser ran them.
MARK = b"document.documentElement.dataset.tampered = 'ran';\n"
TROUBLE = ("integrity", "content security policy", "importmap", "import map")


class Tamper:
    """Serves ``edit(body)`` instead of the body the app sends for ``path``: a file changed on
    the server (or on the way) after the pages' hashes were computed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.path: str | None = None
        self.edit: Callable[[bytes], bytes] = lambda body: body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        # plain bytes, always a full answer: no gzip, no 304
        drop = (b"accept-encoding", b"if-none-match")
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k not in drop]}
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def altered(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = self.edit(b"".join(chunks))
            keep = [(k, v) for k, v in start["headers"] if k not in (b"content-length", b"etag")]
            headers = [*keep, (b"content-length", str(len(body)).encode())]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, altered)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[ServedApp, Tamper]]:
    app = FastAPI()
    mount_pages(app, chain_rpc_url="http://127.0.0.1:8545", chain_id=31337, contract=CONTRACT)
    tamper = Tamper(app)
    with ServedApp(tamper) as server:
        yield server, tamper


class Tab:
    """A fresh tab, with every console line, page error and failed request it saw."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport=PHONE)
        self.page = self.context.new_page()
        self.lines: list[str] = []
        self.page.on("console", lambda m: self.lines.append(f"console {m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.lines.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.lines.append(f"failed: {r.url}"))

    def trouble(self) -> list[str]:
        return [line for line in self.lines if any(w in line.lower() for w in TROUBLE)]

    def ready(self) -> bool:
        return bool(self.page.evaluate("() => document.body.dataset.ready === 'true'"))


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    opened = Tab(browser)
    yield opened
    opened.context.close()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_loads_with_no_policy_or_integrity_complaint(
    served: tuple[ServedApp, Tamper], tab: Tab, path: str, language: str
) -> None:
    server, tamper = served
    tamper.path = None
    tab.page.goto(f"{server.url}{path}?lang={language}")
    tab.page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    assert tab.trouble() == []
    # the import map is there, was accepted (a refused one is a console error) and covers the
    # page's modules: every script this page ran came with an integrity to check it against
    covered = tab.page.evaluate(
        """() => {
             const map = JSON.parse(document.querySelector('script[type=importmap]').textContent);
             const loaded = performance.getEntriesByType('resource')
               .filter((e) => e.initiatorType === 'script' || e.name.endsWith('.js'))
               .map((e) => new URL(e.name).pathname);
             return { loaded, missing: loaded.filter((u) => !(u in map.integrity)) };
           }"""
    )
    assert len(covered["loaded"]) >= 5, covered
    assert covered["missing"] == []
    assert tab.page.evaluate("() => document.querySelector('link[rel=stylesheet]').sheet !== null")


@pytest.mark.parametrize(
    ("asset", "how"),
    [
        ("/web/js/page-status.js", "the script tag's integrity"),
        ("/web/js/ui.js", "the import map (a static import)"),
        ("/web/vendor/noble-hashes/sha3.js", "the import map (vendored, three imports down)"),
    ],
)
def test_an_altered_module_is_refused_and_nothing_runs(
    served: tuple[ServedApp, Tamper], tab: Tab, asset: str, how: str
) -> None:
    server, tamper = served
    tamper.path, tamper.edit = asset, lambda body: MARK + body
    try:
        tab.page.goto(server.url + "/status?lang=en")
        tab.page.wait_for_timeout(1500)  # ample for the page to start, were it allowed to
    finally:
        tamper.path = None
    refused = [line for line in tab.trouble() if "integrity" in line.lower()]
    assert any(asset in line for line in refused), (how, tab.lines)
    assert tab.page.evaluate("() => document.documentElement.dataset.tampered") is None
    assert not tab.ready()  # the module graph did not run: the form never came alive
    # the same page, served as loaded, runs: it is the alteration that was refused
    tab.page.goto(server.url + "/status?lang=en")
    tab.page.wait_for_selector("body[data-ready=true]", timeout=15_000)


def test_an_altered_stylesheet_is_refused(served: tuple[ServedApp, Tamper], tab: Tab) -> None:
    server, tamper = served
    tamper.path, tamper.edit = "/web/css/app.css", lambda body: body + b"\nbody{display:none}\n"
    try:
        tab.page.goto(server.url + "/status")
        tab.page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    finally:
        tamper.path = None
    assert any("/web/css/app.css" in line for line in tab.trouble()), tab.lines
    assert tab.page.evaluate("() => document.querySelector('link[rel=stylesheet]').sheet") is None
    assert tab.page.is_visible("main")
