"""The reporter pages without a browser: templates, texts, headers, the vendored libraries."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from api.routes import pages
from api.routes.pages import (
    LANGUAGES,
    PAGES,
    STATIC_DIR,
    content_security_policy,
    load_texts,
    mount_pages,
    public_rpc_url,
    render_page,
    rpc_origin,
)

from .conftest import ROOT, ServedApp

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@contextlib.contextmanager
def served(app: FastAPI) -> Iterator[httpx.Client]:
    """A client for ``app`` served by uvicorn on loopback: real HTTP, as a browser gets it."""
    with ServedApp(app) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


class _Keys(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()
        self.ids: list[str] = []
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if a.get("data-i18n"):
            self.keys.add(str(a["data-i18n"]))
        for pair in (a.get("data-i18n-attr") or "").split(";"):
            if ":" in pair:
                self.keys.add(pair.split(":", 1)[1])
        if a.get("id"):
            self.ids.append(str(a["id"]))


def test_both_languages_have_the_same_keys() -> None:
    th, en = load_texts("th"), load_texts("en")
    assert set(th) == set(en)
    for key in th:
        assert set(re.findall(r"\{(\w+)\}", th[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key
    assert th["submit.heading"] == "แจ้งเบาะแสการทุจริต"
    assert "ผู้แจ้งเบาะแส" in th["submit.identity_role_reporter"]
    assert th["submit.identity_role_witness"] == "พยาน"


# Words a frightened reader would misread, each with what the pages say instead (issue 13).
MISLEADING_THAI = {
    "ลายนิ้วมือ": "biometrics on an anonymous form: รหัสประจำเอกสาร (ค่าแฮช SHA-256)",
    "ไม่ช้ากว่า": "a calque: อย่างช้าที่สุดเมื่อ",
    "จารึก": "one word for recording: บันทึก",
    "ยืนยันใบรับ": "verifying a receipt is ตรวจสอบ, not confirming it",
    # "ผนึก" alone (a bare calque of "seal"): the pages say ปิดผนึก, as a sealed envelope is said
    "(?<!ปิด)ผนึก": "the word for sealing is ปิดผนึก",
    "salt": "jargon: ค่าสุ่มประจำเบาะแส",
    "ภายใต้ราก": "jargon: อยู่ในบันทึกที่ใบรับระบุ",
    "ที่อยู่ของกุญแจ": "reads as a postal address: หมายเลขประจำกุญแจ",
    "คุณ": "the form addresses its reader as ท่าน throughout",
}


def test_the_thai_texts_avoid_words_that_mislead() -> None:
    th = load_texts("th")
    found = [
        (key, word, why)
        for key, text in th.items()
        for word, why in MISLEADING_THAI.items()
        if re.search(word, text)
    ]
    assert found == []
    # a valid verdict says the document matches the receipt, not that the tip is true
    assert th["verify.valid"] == "ตรงกับใบรับ"
    assert "ไม่ได้รับรองว่าเนื้อหาของเบาะแสเป็นความจริง" in th["verify.valid_text"]
    # the status page has one name, wherever it is named
    assert th["nav.status"] == th["status.heading"] == "ติดตามเรื่อง"
    assert th["status.doc_title"].startswith("ติดตามเรื่อง ·")
    assert '"ติดตามเรื่อง"' in th["receipt.secret_advice_3"]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders_completely(path: str, language: str) -> None:
    html = render_page(PAGES[path], path, language).decode("utf-8")
    assert "{{" not in html
    assert "}}" not in html
    parser = _Keys()
    parser.feed(html)
    assert parser.lang == language
    assert parser.keys <= set(load_texts(language)), parser.keys - set(load_texts(language))
    assert len(parser.ids) == len(set(parser.ids)), "duplicate ids"
    assert "<script>" not in html  # no inline script: the CSP would block it
    assert " style=" not in html  # no inline style either
    assert re.findall(r'<script[^>]*src="([^"]+)"', html) == [
        f"/web/js/page-{PAGES[path].removesuffix('.html')}.js"
    ]


def test_keys_used_by_scripts_exist() -> None:
    texts = set(load_texts("en"))
    used: set[str] = set()
    for script in (STATIC_DIR / "js").glob("*.js"):
        source = script.read_text(encoding="utf-8")
        used |= set(
            re.findall(
                r"['\"`]((?:submit|receipt|status|verify|nav|identity|review)\.[a-z_]+)['\"`]",
                source,
            )
        )
    assert used <= texts, used - texts
    # Keys the scripts build from the service's words: review status names, identity kinds.
    for name in ("under_review", "substantiated", "unsubstantiated", "referred", "closed", "none"):
        assert {f"review.{name}", f"review.{name}_text"} <= texts, name
    for kind in pages.IDENTITY_KINDS:
        assert {f"identity.sealed_{kind}", f"identity.not_offered_{kind}"} <= texts, kind
    verify_js = (STATIC_DIR / "js" / "verify.js").read_text(encoding="utf-8")
    codes = set(re.findall(r"check\(\w+, (?:true|false), '(\w+)'", verify_js))
    names = set(re.findall(r"export const [A-Z_]+ = '(\w+)';", verify_js))
    warnings = set(re.findall(r"code: '(\w+)'", verify_js))
    assert len(codes) > 15
    assert len(names) == 10  # latest_inclusion (PROTOCOL.md 18) with the nine of section 7
    assert {f"code.{c}" for c in codes} <= texts
    assert {f"check.{n}" for n in names} <= texts
    assert {f"warning.{w}" for w in warnings} <= texts


def test_rpc_origin_and_public_url() -> None:
    assert rpc_origin("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert rpc_origin("https://rpc.example.org/v1/key") == "https://rpc.example.org"
    assert rpc_origin("http://[::1]:8545/") == "http://[::1]:8545"
    assert rpc_origin("ws://127.0.0.1:8545") is None
    assert rpc_origin(None) is None
    assert public_rpc_url("https://user:secret@rpc.example.org") is None
    assert public_rpc_url("file:///etc/passwd") is None
    assert public_rpc_url("https://rpc.example.org") == "https://rpc.example.org"
    csp = content_security_policy("https://rpc.example.org/path")
    assert "connect-src 'self' https://rpc.example.org;" in csp
    assert "https:;" not in csp
    assert "connect-src 'self' https: " in content_security_policy(None, any_rpc=True)


def test_mounted_routes_headers_and_config() -> None:
    app = FastAPI()
    mount_pages(
        app,
        chain_rpc_url="http://127.0.0.1:8545",
        chain_id=31337,
        contract=CONTRACT,
        max_body_bytes=1000,
        deploy_block=7,
    )
    with served(app) as client:
        _check_mounted_routes(client, app)


def _check_mounted_routes(client: httpx.Client, app: FastAPI) -> None:
    for path in PAGES:
        for query, language in (("", "th"), ("?lang=en", "en"), ("?lang=xx", "th")):
            response = client.get(path + query)
            assert response.status_code == 200
            assert f'<html lang="{language}">' in response.text
            assert response.headers["content-language"] == language
            assert response.headers["cache-control"] == "no-store"
            assert "set-cookie" not in response.headers
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    config = client.get("/web-config.json").json()
    assert config == {
        "chain_id": 31337,
        "contract": CONTRACT,
        "deploy_block": 7,  # where the transparency page starts reading events
        "rpc_url": "http://127.0.0.1:8545",
        "features": {"follow_up": False, "identity": {"reporter": False, "witness": False}},
        "max_body_bytes": 1000,
        "languages": ["th", "en"],
        "default_language": "th",
        "log_url": "/log",  # where the verify page reads the log's tiles (PROTOCOL.md 18)
    }
    asset = client.get("/web/js/protocol.js")
    assert asset.status_code == 200
    assert asset.headers["x-content-type-options"] == "nosniff"
    assert client.get("/web/../routes/pages.py").status_code == 404
    assert client.get("/web/nope.js").status_code == 404
    assert client.head("/verify").status_code == 200
    # served from memory, gzip-compressed ahead, revalidated by ETag
    packed = client.get("/web/js/protocol.js", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < len(asset.content) / 2
    assert packed.content == asset.content  # httpx unpacks it
    assert (
        "content-encoding"
        not in client.get(
            "/web/js/protocol.js", headers={"Accept-Encoding": "gzip;q=0, identity"}
        ).headers
    )
    again = client.get("/web/js/protocol.js", headers={"If-None-Match": asset.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
    assert page.headers["vary"] == "Accept-Encoding"
    assert pages.STATIC_PREFIX == "/web"


def test_features_are_worked_out_on_every_request() -> None:
    """A custodian set registered while the service runs turns its identity kind on at once;
    the follow-up form appears as soon as the app routes the follow-up API."""
    offered: set[str] = set()
    asked: list[str] = []

    def available(kind: str) -> bool:
        asked.append(kind)
        return kind in offered

    app = FastAPI()
    mount_pages(
        app,
        chain_rpc_url="http://127.0.0.1:8545",
        chain_id=31337,
        contract=CONTRACT,
        identity_available=available,
    )
    with served(app) as client:

        def features() -> dict[str, object]:
            response = client.get("/web-config.json")
            assert response.status_code == 200
            assert response.headers["cache-control"] == "no-store"
            return dict(response.json()["features"])

        assert features() == {"follow_up": False, "identity": {"reporter": False, "witness": False}}
        assert asked == ["reporter", "witness"]
        offered.add("witness")
        assert features()["identity"] == {"reporter": False, "witness": True}
        offered.add("reporter")
        assert features()["identity"] == {"reporter": True, "witness": True}

        router = APIRouter()

        @router.get("/v1/tips/{commitment}/follow-up")
        def follow_up(commitment: str) -> dict[str, str]:
            return {"commitment": commitment}

        app.include_router(router)  # as create_app does, after the pages are mounted
        assert features()["follow_up"] is True
        # Only that route counts: a look-alike path does not turn the form on.
        other = FastAPI()
        mount_pages(other, chain_rpc_url=None, chain_id=1, contract=CONTRACT)

        @other.get("/v1/tips/{commitment}/follow-up/messages")
        def messages(commitment: str) -> dict[str, str]:
            return {"commitment": commitment}

    with served(other) as other_client:
        assert other_client.get("/web-config.json").json()["features"] == {
            "follow_up": False,
            "identity": {"reporter": False, "witness": False},
        }


def test_vendored_libraries_are_current() -> None:
    if not (ROOT / "node_modules" / "@noble" / "curves").is_dir():
        pytest.skip("node_modules lacks the vendored packages: run `npm ci`")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor_web.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
