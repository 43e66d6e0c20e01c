"""``tipledger pages digest [--api URL]`` (issue 12, point 6): one digest over the page files.

The digest is what coreutils compute from the release's files; a server serving this release
gives the same digest and exit 0; a server whose files, pages or page policy differ gives exit 1
and one line naming what differs first.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from typer.testing import CliRunner

from api.assets import StaticAssets, make_asset
from api.routes.pages import STATIC_DIR, mount_pages
from ledger.cli.app import app as cli

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
LINE = re.compile(r"^pages sha256:([0-9a-f]{64}) \((\d+) assets\)$")


def pages_app() -> FastAPI:
    app = FastAPI()
    mount_pages(app, chain_rpc_url="http://127.0.0.1:8545", chain_id=31337, contract=CONTRACT)
    return app


class Rewrite:
    """Answers ``path`` with ``edit(headers, body)`` of what the app sent (gzip turned off)."""

    Edit = Callable[[dict[bytes, bytes], bytes], tuple[dict[bytes, bytes], bytes]]

    def __init__(self, app: ASGIApp, path: str, edit: Edit) -> None:
        self.app, self.path, self.edit = app, path, edit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        scope = {**scope, "headers": [h for h in scope["headers"] if h[0] != b"accept-encoding"]}
        start: dict[str, object] = {}
        chunks: list[bytes] = []

        async def rewritten(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            headers, body = self.edit(dict(start["headers"]), b"".join(chunks))  # type: ignore[call-overload]
            headers[b"content-length"] = str(len(body)).encode()
            await send({**start, "headers": list(headers.items())})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewritten)


@contextlib.contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture
def url() -> Iterator[str]:
    with serve(pages_app()) as served:
        yield served


def digest(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["pages", "digest", *args])
    return result.exit_code, result.stdout.strip(), result.stderr.strip()


def test_the_digest_is_what_coreutils_compute_from_the_files() -> None:
    if not (shutil.which("sha256sum") and shutil.which("find")):
        pytest.skip(
            "the digest is recomputed with sha256sum (coreutils) and find (findutils), as the "
            "docs tell a reader to, and one of them is not on this PATH"
        )
    code, line, _ = digest()
    assert code == 0
    match = LINE.match(line)
    assert match is not None, line
    recipe = "find . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum"
    by_hand = subprocess.run(
        ["sh", "-c", recipe], cwd=STATIC_DIR, capture_output=True, text=True, check=True
    ).stdout.split()[0]
    assert match[1] == by_hand
    assert int(match[2]) == len([p for p in STATIC_DIR.rglob("*") if p.is_file()]) > 50


def test_a_server_of_this_release_serves_the_same_digest(url: str) -> None:
    code, line, _ = digest()
    assert code == 0
    served_code, served_line, served_note = digest("--api", url)
    assert (served_code, served_line) == (0, line), served_note
    assert served_note == "the server serves this release's page code"
    listing = httpx.get(url + "/web-assets.json").json()
    assert listing["digest"] == "sha256:" + LINE.match(line)[1]  # type: ignore[index]
    assert listing["assets"]["js/ui.js"]["integrity"].startswith("sha384-")


def test_an_asset_altered_after_start_makes_it_exit_1() -> None:
    app = pages_app()
    static: StaticAssets = app.state.web_assets
    original = static.assets["js/ui.js"]
    static.assets["js/ui.js"] = make_asset(original.body + b"\n// altered\n", original.media_type)
    with serve(app) as url:
        code, line, note = digest("--api", url)
    assert code == 1
    assert LINE.match(line), line
    assert line != digest()[1]
    assert "the server serves different page code" in note
    assert note.endswith("first differing asset: js/ui.js (different bytes)"), note
    assert "\n" not in note


def _listing_edit(change: Callable[[dict[str, object]], None]) -> Rewrite.Edit:

    def edit(headers: dict[bytes, bytes], body: bytes) -> tuple[dict[bytes, bytes], bytes]:
        listing = orjson.loads(body)
        change(listing["assets"])
        return headers, orjson.dumps(listing)

    return edit


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda assets: assets.pop("css/app.css"), "css/app.css (not served)"),
        (
            lambda assets: assets.update({"js/app.css": assets["css/app.css"]}),
            "js/app.css (not in this release)",
        ),
    ],
)
def test_a_file_missing_or_extra_on_the_server_makes_it_exit_1(
    change: Callable[[dict[str, object]], None], named: str
) -> None:
    app = pages_app()
    if "js/app.css" in named:  # the server does serve the extra file it lists
        static: StaticAssets = app.state.web_assets
        static.assets["js/app.css"] = static.assets["css/app.css"]
    with serve(Rewrite(app, "/web-assets.json", _listing_edit(change))) as url:
        code, _line, note = digest("--api", url)
    assert code == 1
    assert note.endswith(f"first differing asset: {named}"), note


def _page_edit(headers: dict[bytes, bytes], body: bytes) -> tuple[dict[bytes, bytes], bytes]:
    extra = b'<script type="module" src="/web/js/protocol.js"></script>\n</head>'
    return headers, body.replace(b"</head>", extra, 1)


def _csp_edit(headers: dict[bytes, bytes], body: bytes) -> tuple[dict[bytes, bytes], bytes]:
    csp = headers[b"content-security-policy"].replace(
        b"script-src ", b"script-src 'unsafe-inline' "
    )
    return {**headers, b"content-security-policy": csp}, body


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (_page_edit, 'page /?lang=th: it has \'<script type="module" src="/web/js/protocol.js"'),
        (_csp_edit, "page /?lang=th: its Content-Security-Policy has script-src 'unsafe-inline'"),
    ],
)
def test_a_page_loading_other_code_makes_it_exit_1(edit: Rewrite.Edit, named: str) -> None:
    """Same files, but a page that loads one more script, or lets inline code run."""
    with serve(Rewrite(pages_app(), "/", edit)) as url:
        code, line, note = digest("--api", url)
    assert code == 1
    assert line == digest()[1]  # the files are this release's
    assert f"the server's pages load different code: {named}" in note, note


def test_an_unreachable_server_is_one_line_and_exit_2() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, _line, note = digest("--api", f"http://127.0.0.1:{port}")
    assert code == 2
    assert "cannot reach the service" in note
    assert digest("--api", "ftp://example.org")[0] == 2
