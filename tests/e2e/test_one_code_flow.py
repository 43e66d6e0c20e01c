"""The reporter's one code, end to end in Chromium on a phone, in Thai (issue 13, parts 1 and 7).

A reporter sends a tip; the receipt page shows one 16-symbol code, which they write down (the
page asks before the tab closes until they say so). The browser is closed. In a new one, the
code alone opens the follow-up: the desk's question (asked through the desk API as a member
would) opens in the browser, the answer is sealed there and the desk opens it with the case key.
With their copy of the tip document, the code gives back a receipt that verifies on the verify
page as the receipt from the submit page does. A mistyped code is refused on the device, with
aria-invalid on the field; a service that names another key to seal answers to is refused;
a locator already taken (409) makes the page send again with a new code.
Screenshots (Thai, phone): test-artifacts/e2e/50-code-*.png.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.chain.client import connect
from ledger.cli.api_client import DeskClient
from ledger.core import hpke
from ledger.core.encoding import from_hex
from ledger.core.receipt import Receipt
from ledger.core.reporter_code import code_keys, parse_code
from ledger.desk.member_keys import MemberKey
from ledger.followup.secrets import FROM_REPORTER, key_id, open_message
from ledger.verify import verify_receipt

from .conftest import PHONE, Recorder, Services, fits_the_screen, open_page, unnamed_controls
from .test_follow_up_pages import ask, messages_on_page, open_case
from .test_follow_up_pages import member as member  # the intake member fixture

pytestmark = [pytest.mark.e2e, pytest.mark.chain]

ANCHOR_TIMEOUT = 30_000  # ms
TIP = "ผู้อำนวยการกองคลังสั่งให้แยกสัญญาจัดซื้อเป็นหลายฉบับ เพื่อไม่ต้องประกวดราคา"
QUESTION = "สัญญาที่แยกมีกี่ฉบับ และลงวันที่ใด"
ANSWER = "ห้าฉบับ ลงวันที่ 2 ถึง 6 มิถุนายน"


def _new_phone(browser: Any, **extra: Any) -> tuple[Any, Any, Recorder]:
    context = browser.new_context(viewport=PHONE, locale="th-TH", accept_downloads=True, **extra)
    page = context.new_page()
    return context, page, Recorder(page)


def _send(page: Any, services: Services, text: str, artifacts: Path | None) -> tuple[str, str]:
    """Send a tip from the submit page; the code and the commitment from the receipt page."""
    open_page(page, services.url + "/")
    page.fill("#tip-text", text)
    if artifacts is not None:
        page.screenshot(path=artifacts / "50-code-submit-th.png", full_page=True)
    page.click("#submit-button")
    page.wait_for_selector("#error-box:not([hidden]), body[data-receipt-state]", timeout=30_000)
    assert page.is_hidden("#error-box"), page.inner_text("#error-box")
    page.wait_for_selector("body[data-ready=true]")
    code = page.get_attribute("#reporter-code", "data-code")
    assert code is not None
    return code, page.inner_text("#commitment").strip()


def _verdict(page: Any) -> tuple[str, list[tuple[str, str]]]:
    """The verify page's verdict and its checks (name, ok) for what its form holds."""
    page.click("#verify-button")
    page.wait_for_selector("#verdict:not([hidden])", timeout=20_000)
    checks = page.eval_on_selector_all(
        "#verdict-checks li", "els => els.map(e => [e.dataset.check, e.dataset.ok])"
    )
    return page.get_attribute("#verdict", "data-status"), [(c[0], c[1]) for c in checks]


def _sign_in(page: Any, services: Services, code: str) -> None:
    open_page(page, services.url + "/status")
    page.fill("#status-code", code)
    page.click("#code-button")
    page.wait_for_selector("body[data-follow-up=open]", timeout=30_000)


def test_a_mistyped_code_is_refused_on_the_device(browser: Any, services: Services) -> None:
    context, page, recorder = _new_phone(browser)
    open_page(page, services.url + "/status")
    attrs = page.eval_on_selector(
        "#status-code",
        "el => [el.inputMode, el.autocapitalize, el.spellcheck, el.autocomplete, el.type]",
    )
    assert attrs == ["text", "characters", False, "off", "text"]
    page.fill("#status-code", "7KQM-4T9X-J2RB-8HCF")  # the check symbol is wrong
    page.click("#code-button")
    page.wait_for_selector("#code-error:not([hidden])")
    assert page.get_attribute("#status-code", "aria-invalid") == "true"
    assert "code-error" in (page.get_attribute("#status-code", "aria-describedby") or "")
    assert "พิมพ์ผิด" in page.inner_text("#code-error")
    assert page.evaluate("document.activeElement.id") == "status-code"
    page.fill("#status-code", "7KQM-4T9X-J2RB")
    page.click("#code-button")
    assert "มี 12 ตัว" in page.inner_text("#code-error")  # of 16
    assert not [u for u in recorder.requests if "/v1/codes/" in u]  # nothing was asked
    page.fill("#status-code", "7KQM-4T9X-J2RB-8HCE")  # the vector: well formed, no such tip
    assert page.get_attribute("#status-code", "aria-invalid") is None  # cleared when typing
    page.click("#code-button")
    page.wait_for_selector("#status-error:not([hidden])")
    assert "ไม่พบเบาะแสที่ใช้รหัสนี้" in page.inner_text("#status-error")
    context.close()


def test_a_seal_to_the_code_does_not_pin_is_refused(
    browser: Any, services: Services, member: MemberKey
) -> None:
    context, page, _recorder = _new_phone(browser)
    code, commitment = _send(page, services, "เบาะแสทดสอบกุญแจ " + os.urandom(3).hex(), None)
    page.check("#code-written")
    with DeskClient(services.url, member.eth_account) as desk:
        ask(desk, member, commitment, QUESTION)
    # A service lying about the key to seal answers to (its own key, with its right key id).
    liar_key = X25519PrivateKey.generate().public_key()
    liar = hpke.public_bytes(liar_key)

    def lie(route: Any) -> None:
        response = route.fetch()
        view = response.json()
        view["seal_to"] = {"key": "0x" + liar.hex(), "key_id": key_id(liar_key).hex()}
        route.fulfill(response=response, json=view)

    page.route(f"**/v1/tips/{commitment}/follow-up", lie)
    _sign_in(page, services, code)
    page.fill("#reply-text", ANSWER)
    page.click("#reply-button")
    page.wait_for_selector("#reply-status[data-i18n='status.code_key_not_pinned']")
    assert "ระงับการส่ง" in page.inner_text("#reply-status")
    with DeskClient(services.url, member.eth_account) as desk:
        thread = desk.call("GET", f"/v1/review/tips/{commitment}/messages")
    assert [m["from"] for m in thread["messages"]] == ["reviewer"]  # nothing was sent
    context.close()


def test_a_taken_locator_gets_a_new_code(browser: Any, services: Services) -> None:
    """The service's 409 for a locator another tip has: the page makes a new code, seals the
    tip again with the new code's salt, and sends it again, without the reporter doing a thing."""
    context, page, recorder = _new_phone(browser)
    sent: list[dict[str, Any]] = []

    def taken_once(route: Any) -> None:
        sent.append(json.loads(route.request.post_data))
        if len(sent) == 1:
            detail = (
                "this code's first six symbols are taken: make a new code on the device "
                "and send again"
            )
            route.fulfill(status=409, json={"detail": detail})
        else:
            route.continue_()

    page.route("**/v1/tips", taken_once)
    code, commitment = _send(page, services, "เบาะแสทดสอบรหัสซ้ำ " + os.urandom(3).hex(), None)
    first, second = sent
    assert first["follow_up"]["locator"] != second["follow_up"]["locator"]
    assert second["follow_up"]["locator"] == code.replace("-", "")[:6]
    assert first["commitment"] != second["commitment"] == commitment  # the new code's salt
    assert [p for p in recorder.problems if "409" not in p] == []
    page.check("#code-written")
    context.close()


def test_one_code_follows_up_and_gives_the_receipt_back(
    browser: Any, services: Services, artifacts: Path, member: MemberKey, tmp_path: Path
) -> None:
    context, page, recorder = _new_phone(browser)
    code, commitment = _send(page, services, TIP + " " + os.urandom(3).hex(), artifacts)
    parse_code(code)  # a well-formed code, written as four groups
    assert len(code) == 19
    assert code.count("-") == 3
    assert page.is_visible("#code-card")
    card = page.inner_text("#code-card")
    assert "จดรหัสลงกระดาษ" in card  # write it on paper, Thai first
    assert "ว่าเนื้อหาของเบาะแสเป็นความจริง" in card  # what a receipt does not prove
    assert not page.is_visible("#follow-up")  # no tlf2_ secret any more
    assert not page.is_visible("#follow-up-missing")
    page.wait_for_selector("body[data-receipt-state=anchored]", timeout=ANCHOR_TIMEOUT)
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "50-code-receipt-th.png", full_page=True)

    # The receipt file stays, as the optional extra: it holds the code.
    with page.expect_download() as saved:
        page.click("#download-receipt")
    kept = json.loads(Path(saved.value.path()).read_text(encoding="utf-8"))
    assert kept["follow_up"] == {"code": code}
    assert saved.value.suggested_filename.startswith("receipt-")
    with page.expect_download() as doc:
        page.click("#download-document")
    document_path = tmp_path / "my-copy.json"
    Path(doc.value.path()).rename(document_path)
    # The salt is the code's: code + the reporter's copy of the tip give the commitment.
    assert Receipt.from_dict(kept).salt == "0x" + code_keys(parse_code(code)).salt.hex()
    assert Receipt.from_dict(kept).commitment == commitment

    # Until the code is written down, closing the tab asks first (the download is not enough).
    page.click("h1")
    dialogs: list[str] = []

    def stay(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", stay)
    page.close(run_before_unload=True)
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]
    page.check("#code-written")
    assert recorder.problems == []
    context.close()  # the browser is closed: nothing of this tab is left

    # The desk asks a question, as a member does from their machine.
    with DeskClient(services.url, member.eth_account) as desk:
        ask(desk, member, commitment, QUESTION)

    # A new browser: the code alone.
    context, page, recorder = _new_phone(browser)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.url} {r.headers} {r.post_data}"))
    _sign_in(page, services, code.lower().replace("-", " "))  # as typed, in any case
    assert messages_on_page(page) == [("reviewer", QUESTION)]
    assert page.get_attribute("#status-result", "data-state") == "anchored"
    assert page.is_visible("#recover-view")
    assert unnamed_controls(page) == []
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "50-code-status-th.png", full_page=True)

    page.fill("#reply-text", ANSWER)
    page.click("#reply-button")
    page.wait_for_function("() => document.body.dataset.messages === '2'", timeout=20_000)
    with DeskClient(services.url, member.eth_account) as desk:
        thread = desk.call("GET", f"/v1/review/tips/{commitment}/messages")
        (answer,) = [m for m in thread["messages"] if m["from"] == "reporter"]
        opened = open_message(
            open_case(desk, member, commitment),
            base64.b64decode(answer["sealed"]),
            commitment=from_hex(commitment, 32),
            message_id=from_hex(answer["id"], 16),
            sender=FROM_REPORTER,
        )
    assert opened == ANSWER

    # The code never left the browser: only its locator, and the token it gives.
    secret_part = code.replace("-", "")[6:]
    assert not [r for r in sent if secret_part in r.upper().replace("-", "")]
    assert [r for r in sent if f"/v1/codes/{code[:4]}{code[5:7]}" in r]
    assert not [r for r in sent if ANSWER in r]

    # The receipt back, from the code and the reporter's copy of the tip.
    page.set_input_files("#recover-document", str(document_path))
    page.click("#recover-button")
    page.wait_for_selector("body[data-recovered=anchored]", timeout=20_000)
    with page.expect_download() as again:
        page.click("#recover-download")
    back = json.loads(Path(again.value.path()).read_text(encoding="utf-8"))
    assert back["follow_up"] == {"code": code}
    assert again.value.suggested_filename.startswith("receipt-")
    mine, theirs = Receipt.from_dict(back), Receipt.from_dict(kept)
    assert (mine.commitment, mine.salt, mine.content_digest, mine.author) == (
        theirs.commitment,
        theirs.salt,
        theirs.content_digest,
        theirs.author,
    )
    assert mine.promise == theirs.promise
    assert mine.inclusion is not None

    # ... verified on the verify page with the document: the verdict is the submit page's
    # receipt's, and Python's (ledger.verify) for the same receipt and document.
    page.click("#recover-verify")
    page.wait_for_url("**/verify*")
    page.wait_for_selector("body[data-ready=true]")
    assert page.is_checked("#doc-mode-session")
    recovered_verdict = _verdict(page)
    page.fill("#verify-receipt", json.dumps(kept))
    original_verdict = _verdict(page)
    page.fill("#verify-receipt", json.dumps(back))
    assert _verdict(page) == recovered_verdict
    assert recovered_verdict == original_verdict
    status, checks = recovered_verdict
    for name in ("content_digest", "commitment", "inclusion", "promise_signature"):
        assert (name, "true") in checks, name
    python = verify_receipt(mine, document_path.read_bytes(), connect(services.rpc_url))
    assert status == ("valid" if python.ok else "invalid"), python.summary()
    page.screenshot(path=artifacts / "50-code-verify-th.png", full_page=True)
    assert [p for p in recorder.problems if "401" not in p] == []
    context.close()
