"""Issue 14, point 4: ``/docs`` from vendored files under the pages' headers; no ``/redoc``.

Over real HTTP against the real server: the page and everything it loads come from this origin,
with the Content-Security-Policy, Referrer-Policy and the other headers the reporter pages get;
and every HTML answer of the service carries them (the pages, ``/docs``, and any HTML a route
might produce without headers of its own).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.responses import HTMLResponse

from api.middleware import HtmlSecurityHeaders
from api.routes.pages import PAGES, content_security_policy, security_headers

from .conftest import free_socket

PAGE_HEADERS = {
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
_REF = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.IGNORECASE | re.DOTALL)


@pytest.fixture(scope="module")
def module_database_url(
    tmp_path_factory: pytest.TempPathFactory,
    make_database_url: Callable[[str, Path], AbstractContextManager[str]],
) -> Iterator[str]:
    """SQLite only: nothing here depends on the database."""
    with make_database_url("sqlite", tmp_path_factory.mktemp("db")) as url:
        yield url


def _directives(csp: str) -> dict[str, list[str]]:
    parts = (d.strip().split() for d in csp.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


def _assert_page_headers(response: httpx.Response) -> None:
    csp = _directives(response.headers["content-security-policy"])
    # no 'unsafe-inline', no 'unsafe-eval', no CDN: this origin, and the pages' import map by
    # its hash (the one inline script, issue 12 point 6)
    script = csp["script-src"]
    assert script[0] == "'self'", csp
    assert all(re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", s) for s in script[1:]), csp
    assert len(script) <= 2, csp
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert "'self'" in csp["font-src"]
    assert len(csp["font-src"]) == 1
    for name, value in PAGE_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert "permissions-policy" in response.headers


def test_docs_are_served_from_this_origin(client: httpx.Client) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    _assert_page_headers(docs)
    assert "http://" not in docs.text
    assert "https://" not in docs.text
    refs = _REF.findall(docs.text)
    assert refs, docs.text
    assert all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs
    for attrs, body in _SCRIPT.findall(docs.text):  # no inline code: every script is a file
        assert "src=" in attrs
        assert not body.strip()
    for ref in refs:  # everything it loads is here, under the same headers
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert "content-security-policy" in asset.headers, ref
        assert asset.headers["x-content-type-options"] == "nosniff"
    bundle = next(ref for ref in refs if ref.endswith("swagger-ui-bundle.js"))
    assert (
        client.get(bundle)
        .headers["content-type"]
        .startswith(("text/javascript", "application/javascript"))
    )


def test_redoc_and_the_cdn_pages_are_gone(client: httpx.Client) -> None:
    for path in ("/redoc", "/docs/oauth2-redirect"):
        assert client.get(path).status_code == 404, path
    assert client.get("/openapi.json").status_code == 200  # the document itself stays


def test_every_html_answer_carries_the_page_headers(client: httpx.Client) -> None:
    paths = {*PAGES, "/docs", "/nowhere", "/web/nowhere.js"}
    for path, ops in client.get("/openapi.json").json()["paths"].items():
        if "get" in ops and "{" not in path:
            paths.add(path)
    html = 0
    for path in sorted(paths):
        response = client.get(path)
        if response.headers.get("content-type", "").startswith("text/html"):
            html += 1
            _assert_page_headers(response)
    assert html >= len(PAGES) + 1


def test_html_without_headers_of_its_own_gets_them() -> None:
    """A route that answers bare HTML (none does today) still sends the pages' headers."""
    app = FastAPI()

    @app.get("/bare")
    def bare() -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>bare</title>")

    @app.get("/json")
    def json() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(HtmlSecurityHeaders, headers=security_headers(content_security_policy(None)))
    sock = free_socket()
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not uv.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with httpx.Client(base_url=url, timeout=30) as http:
            _assert_page_headers(http.get("/bare"))
            assert "content-security-policy" not in http.get("/json").headers
    finally:
        uv.should_exit = True
        thread.join(30)
        sock.close()
