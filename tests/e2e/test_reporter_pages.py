"""The reporter pages on the real service, in Debian's Chromium.

``tipledger devchain`` and ``tipledger serve`` run as subprocesses in a temporary TIPLEDGER_HOME;
a person's path is then followed in the browser: submit a tip (Thai page, attachments, one-time
key) -> receipt -> anchored -> verified in the browser against the chain. Also: a tampered
document fails in the browser, both languages render, the service's answer is checked against
the browser's own commitment, and the pages talk to no origin but the service and the chain,
with a strict CSP and no cookie. Screenshots go to test-artifacts/e2e/.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from ledger.chain.client import connect
from ledger.core.receipt import Receipt
from ledger.verify import verify_receipt

from .conftest import (
    Recorder,
    Services,
    fits_the_screen,
    http_get,
    open_page,
    origin,
    unnamed_controls,
)

pytestmark = [pytest.mark.e2e, pytest.mark.chain]

TIP_TEXT = "จัดซื้อจัดจ้างไม่โปร่งใสที่สำนักงานเขต X ใบแจ้งหนี้เลขที่ 4711 ถูกจ่ายซ้ำสองครั้ง\nพยาน: เจ้าหน้าที่การเงิน"
ANCHOR_TIMEOUT = 30_000  # ms


def submit_tip(page: Any, services: Services, artifacts: Path, files: list[dict[str, Any]]) -> None:
    open_page(page, services.url + "/")
    page.fill("#tip-text", TIP_TEXT)
    page.check("#author-key")
    if files:
        page.set_input_files("#tip-files", files=files)
        page.locator("#file-list .mono").nth(len(files) - 1).wait_for()
    page.screenshot(path=artifacts / "01-submit-th.png", full_page=True)
    page.click("#submit-button")
    page.wait_for_url("**/receipt", timeout=20_000)
    page.wait_for_selector("body[data-ready=true]")


def test_submit_receipt_anchored_verified(
    tab: tuple[Any, Recorder], services: Services, artifacts: Path
) -> None:
    page, recorder = tab
    files = [
        {
            "name": 'ใบแจ้งหนี้ "4711".pdf',
            "mimeType": "application/pdf",
            "buffer": b"%PDF-1.4\n" + os.urandom(3 * 1024 * 1024),
        },
        {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": os.urandom(2048)},
        {"name": "notes", "mimeType": "", "buffer": b"no type\r\n"},
    ]
    # Every line the progress box shows while the tip is sealed and sent, across navigations.
    progress: list[str] = []
    page.expose_function("recordProgress", lambda text: progress.append(text))
    page.add_init_script(
        """document.addEventListener('DOMContentLoaded', () => {
             const el = document.getElementById('progress-text');
             if (el) new MutationObserver(() => window.recordProgress(el.textContent))
               .observe(el, { childList: true, characterData: true, subtree: true });
           });"""
    )
    submit_tip(page, services, artifacts, files)
    assert page.evaluate("document.documentElement.lang") == "th"
    assert "กำลังจัดทำเบาะแสในเบราว์เซอร์…" in progress
    assert "กำลังส่ง… 100%" in progress  # the upload of the 3 MB attachment, in per cent
    # The check of the service's answer comes after the upload, and nothing else does; its own
    # line can be lost when the page leaves for the receipt at once (the observer's last call
    # to the test dies with the page), so it is the last line or absent, never followed.
    after_upload = progress[len(progress) - 1 - progress[::-1].index("กำลังส่ง… 100%") + 1 :]
    assert all(p.startswith("กำลังตรวจคำตอบของระบบ") for p in after_upload), progress
    page.wait_for_selector("body[data-receipt-state=anchored]", timeout=ANCHOR_TIMEOUT)
    page.screenshot(path=artifacts / "02-receipt-anchored-th.png", full_page=True)
    assert page.locator("#qr").get_attribute("src").startswith("data:image/gif;base64,")

    with page.expect_download() as receipt_download:
        page.click("#download-receipt")
    with page.expect_download() as document_download:
        page.click("#download-document")
    with page.expect_download() as key_download:
        page.click("#download-key")
    receipt_text = Path(receipt_download.value.path()).read_text(encoding="utf-8")
    document = Path(document_download.value.path()).read_bytes()
    private_key = Path(key_download.value.path()).read_text().strip()

    # What the browser kept is a receipt the Python verifier (the CLI's code) accepts.
    receipt = Receipt.from_json(receipt_text)
    assert receipt.inclusion is not None
    verdict = verify_receipt(receipt, document, connect(services.rpc_url))
    assert verdict.ok, verdict.summary()
    # one numbering everywhere: entries counted from 1 (leaf_index on the wire counts from 0)
    entry, size = receipt.inclusion.leaf_index + 1, receipt.inclusion.tree_size
    assert f"entry {entry} of {size}," in verdict.summary()
    assert f"รายการที่ {entry} จาก {size} " in page.inner_text("#anchored-at")
    from eth_account import Account

    assert Account.from_key(private_key).address == receipt.author
    tip = json.loads(document)
    assert tip["format"] == "tipledger-tip/1"
    assert tip["text"] == TIP_TEXT
    assert [a["name"] for a in tip["attachments"]] == ["ใบแจ้งหนี้ _4711_.pdf", "photo.jpg", "notes"]
    assert tip["attachments"][2]["type"] == "application/octet-stream"

    # Verify in the browser: the tip from this tab, against the chain.
    page.click("#verify-link")
    page.wait_for_selector("body[data-ready=true]")
    assert page.is_checked("#doc-mode-session")
    assert page.input_value("#verify-rpc") == services.rpc_url
    page.click("#verify-button")
    page.wait_for_selector("#verdict:not([hidden])", timeout=20_000)
    assert page.get_attribute("#verdict", "data-status") == "valid"
    names = page.eval_on_selector_all(
        "#verdict-checks li", "els => els.map(e => [e.dataset.check, e.dataset.ok])"
    )
    inclusion_text = page.inner_text("#verdict-checks li[data-check=inclusion]")
    assert f"รายการที่ {entry} จาก {size} " in inclusion_text
    assert f"{entry} จาก {size}" in page.text_content("#verdict-facts")  # in closed details
    assert dict(names) == {
        "content_digest": "true",
        "commitment": "true",
        "inclusion": "true",
        "promise_signature": "true",
        "chain_id": "true",
        "latest_inclusion": "true",
        "checkpoint_root": "true",
        "checkpoint_timestamp": "true",
        "promise_signer_role": "true",
    }
    page.screenshot(path=artifacts / "03-verify-valid-th.png", full_page=True)

    # The same receipt and document, loaded from files in a fresh tab, in English.
    fresh = page.context.new_page()
    open_page(fresh, services.url + "/verify?lang=en")
    fresh.set_input_files("#verify-receipt-file", receipt_download.value.path())
    fresh.wait_for_function("() => document.getElementById('verify-receipt').value.length > 0")
    fresh.set_input_files("#verify-document-file", document_download.value.path())
    fresh.click("#verify-button")
    fresh.wait_for_selector("#verdict:not([hidden])", timeout=20_000)
    assert fresh.get_attribute("#verdict", "data-status") == "valid"
    assert "VALID" in fresh.inner_text("#verdict-title")
    fresh.screenshot(path=artifacts / "04-verify-valid-en.png", full_page=True)
    fresh.close()

    assert recorder.foreign(services.origins) == []
    assert any(origin(u) == origin(services.rpc_url) for u in recorder.requests)
    assert recorder.cookies == []
    assert recorder.problems == []


def test_tampered_document_fails_in_the_browser(
    tab: tuple[Any, Recorder], services: Services, artifacts: Path
) -> None:
    page, recorder = tab
    submit_tip(page, services, artifacts, [])
    page.wait_for_selector("body[data-receipt-state=anchored]", timeout=ANCHOR_TIMEOUT)
    page.click("#verify-link")
    page.wait_for_selector("body[data-ready=true]")

    # The exact text, retyped: valid. One character changed: invalid, at the document digest.
    page.check("#doc-mode-text")
    page.fill("#verify-text", TIP_TEXT)
    page.click("#verify-button")
    page.wait_for_selector("#verdict[data-status=valid]", timeout=20_000)
    page.fill("#verify-text", TIP_TEXT.replace("4711", "4712"))
    page.click("#verify-button")
    page.wait_for_selector("#verdict[data-status=invalid]", timeout=20_000)
    failed = page.eval_on_selector_all(
        "#verdict-checks li[data-ok=false]", "els => els.map(e => e.dataset.check)"
    )
    assert failed == ["content_digest"]
    page.screenshot(path=artifacts / "05-verify-tampered-document-th.png", full_page=True)

    # A receipt whose root was altered fails too, in the proof and on the chain.
    receipt = json.loads(page.input_value("#verify-receipt"))
    receipt["inclusion"]["root_hash"] = "0x" + "ab" * 32
    page.fill("#verify-receipt", json.dumps(receipt, indent=2))
    page.fill("#verify-text", TIP_TEXT)
    page.click("#verify-button")
    page.wait_for_selector("#verdict[data-status=invalid]", timeout=20_000)
    failed = page.eval_on_selector_all(
        "#verdict-checks li[data-ok=false]", "els => els.map(e => e.dataset.check)"
    )
    assert failed == ["inclusion", "checkpoint_root"]
    page.screenshot(path=artifacts / "06-verify-tampered-receipt-th.png", full_page=True)

    # A receipt that is not one is refused with a readable line.
    page.fill("#verify-receipt", '{"format": "tipledger-receipt/1"}')
    page.click("#verify-button")
    page.wait_for_selector("#verify-error:not([hidden])")
    assert "chain_id" in page.inner_text("#verify-error")
    assert recorder.foreign(services.origins) == []
    assert recorder.problems == []


def test_thai_and_english_render(
    tab: tuple[Any, Recorder], services: Services, artifacts: Path
) -> None:
    page, recorder = tab
    open_page(page, services.url + "/?lang=en")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.inner_text("h1") == "Report a corruption tip"
    assert page.inner_text(".lang-switch") == "ไทย"
    page.fill("#tip-text", "typed before switching")
    page.screenshot(path=artifacts / "07-submit-en.png", full_page=True)

    page.click(".lang-switch")  # switches in place: nothing typed is lost
    page.wait_for_function("() => document.documentElement.lang === 'th'")
    assert page.inner_text("h1") == "แจ้งเบาะแสการทุจริต"
    assert "ผู้แจ้งเบาะแส" in page.inner_text(".lead")
    assert page.input_value("#tip-text") == "typed before switching"
    assert page.title() == "แจ้งเบาะแสการทุจริต · TipLedger"
    assert page.url.endswith("/")
    assert page.get_attribute(".site-nav a[href^='/status']", "href") == "/status"

    for path, th_heading, en_heading in [
        ("/status", "ติดตามเรื่อง", "Follow up"),
        ("/verify", "ตรวจสอบใบรับ", "Verify a receipt"),
        ("/receipt", "ใบรับของท่าน", "Your receipt"),
    ]:
        open_page(page, services.url + path)
        assert page.evaluate("document.documentElement.lang") == "th"
        assert page.inner_text("h1") == th_heading
        open_page(page, services.url + path + "?lang=en")
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.inner_text("h1") == en_heading
        page.screenshot(path=artifacts / f"08-{path.strip('/')}-en.png", full_page=True)
    # Every form control has an accessible name.
    for path in ("/", "/status", "/verify"):
        open_page(page, services.url + path)
        assert unnamed_controls(page) == [], path
        assert fits_the_screen(page), path
    assert recorder.foreign(services.origins) == []
    assert recorder.problems == []


def test_status_page_fetches_the_inclusion(
    tab: tuple[Any, Recorder], services: Services, artifacts: Path
) -> None:
    page, recorder = tab
    submit_tip(page, services, artifacts, [])
    with page.expect_download() as download:
        page.click("#download-receipt")  # possibly still pending: the status page completes it
    pending = json.loads(Path(download.value.path()).read_text())
    pending["inclusion"] = None
    open_page(page, services.url + "/status")
    page.click("#older-ways summary")  # a receipt file: one of the older ways, behind the code
    page.fill("#status-receipt", json.dumps(pending))
    deadline = time.monotonic() + ANCHOR_TIMEOUT / 1000
    while True:
        page.click("#status-form button[type=submit]")
        page.wait_for_selector("#status-result:not([hidden])")
        if page.get_attribute("#status-result", "data-state") == "anchored":
            break
        assert time.monotonic() < deadline, "not anchored in time"
        time.sleep(0.5)
    page.screenshot(path=artifacts / "09-status-anchored-th.png", full_page=True)
    with page.expect_download() as updated:
        page.click("#status-download")
    receipt = Receipt.from_json(Path(updated.value.path()).read_text())
    assert receipt.inclusion is not None
    assert receipt.commitment == pending["commitment"]
    # Only the commitment went to the service: no request carries the salt.
    assert not [u for u in recorder.requests if pending["salt"][2:] in u]
    assert recorder.problems == []


def test_a_service_answer_that_differs_is_refused_loudly(
    tab: tuple[Any, Recorder], services: Services, artifacts: Path
) -> None:
    page, _recorder = tab

    def tamper(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        body["receipt"]["salt"] = "0x" + "00" * 32
        route.fulfill(response=response, body=json.dumps(body))

    page.route("**/v1/tips", tamper)
    open_page(page, services.url + "/")
    page.fill("#tip-text", "a tip whose answer is tampered with")
    page.click("#submit-button")
    page.wait_for_selector("#error-box:not([hidden])", timeout=20_000)
    text = page.inner_text("#error-box")
    assert "คำเตือน" in text
    assert "salt" in text
    assert page.url.rstrip("/") == services.url  # no receipt page for a mismatched answer
    assert page.evaluate("sessionStorage.length") == 0
    page.screenshot(path=artifacts / "10-submit-mismatch-th.png", full_page=True)


def test_security_headers(services: Services) -> None:
    rpc = origin(services.rpc_url)
    for path in ("/", "/receipt", "/status", "/verify", "/?lang=en", "/web-config.json"):
        status, headers, _body = http_get(services.url + path)
        assert status == 200, path
        h = {k.lower(): v for k, v in headers.items()}
        csp = h["content-security-policy"]
        for directive in (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ):
            assert directive in csp, (path, directive)
        connect = next(d for d in csp.split("; ") if d.startswith("connect-src"))
        assert connect.startswith(f"connect-src 'self' {rpc}"), connect
        assert ("https:" in connect) == path.startswith("/verify"), connect
        assert "unsafe" not in csp
        assert h["referrer-policy"] == "no-referrer"
        assert h["x-content-type-options"] == "nosniff"
        assert "camera=()" in h["permissions-policy"]
        assert "set-cookie" not in h
    for asset in (
        "/web/js/protocol.js",
        "/web/vendor/noble-curves/secp256k1.js",
        "/web/css/app.css",
    ):
        status, headers, _body = http_get(services.url + asset)
        h = {k.lower(): v for k, v in headers.items()}
        assert status == 200, asset
        assert h["x-content-type-options"] == "nosniff", asset
        assert "set-cookie" not in h
    assert "javascript" in http_get(services.url + "/web/js/protocol.js")[1]["content-type"]
    assert http_get(services.url + "/web/../routes/pages.py")[0] == 404
