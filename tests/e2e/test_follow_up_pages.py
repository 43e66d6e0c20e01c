"""Anonymous follow-up in the browser, against the real service and chain.

A reporter sends a tip from the Thai page and gets the reporter's one code made in the browser
with the receipt (shown, and in the downloaded receipt, which still opens the follow-up). The
intake desk's member (the key file `tipledger devchain` made), signed in with Sign-In with
Ethereum, opens the case key from their grant, seals a question on their machine and posts it
through the desk API, and records "under review" on chain; the reporter's page opens the
question in the browser, the reporter answers (sealed in the browser), and the member opens the
answer with the case key. The code never leaves the browser (only its first six symbols):
requests carry only the token derived from it, in an Authorization header, never in a URL, a
cookie or localStorage.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ledger.chain.contract import TipLedgerContract
from ledger.cli.api_client import DeskClient
from ledger.core.encoding import from_hex, to_hex
from ledger.core.errors import ProtocolError
from ledger.core.followup import follow_up_token, token_text
from ledger.core.receipt import Receipt
from ledger.core.reporter_code import ALPHABET, code_keys, parse_code
from ledger.desk.member import case_key, routing_proof
from ledger.desk.member_keys import MemberKey, load_member_key
from ledger.followup.secrets import (
    FROM_REPORTER,
    FROM_REVIEWER,
    key_id,
    new_message_id,
    open_message,
    seal_message,
)
from ledger.log.intake import INTAKE_ID
from ledger.ops.devnet import INTAKE_MEMBER_KEY, INTAKE_MEMBER_PASSPHRASE

from .conftest import (
    PHONE,
    ROOT,
    Recorder,
    Services,
    fits_the_screen,
    open_page,
    send_tip,
    unnamed_controls,
)

pytestmark = [pytest.mark.e2e, pytest.mark.chain]

ANCHOR_TIMEOUT = 30_000  # ms
TIP = "เงินค่าซ่อมถนนสาย 17 ถูกเบิกจ่ายสองครั้ง โดยผู้รับเหมารายเดียวกัน"
QUESTION = "ใบเบิกจ่ายทั้งสองฉบับลงวันที่เท่าใด\nWhich dates are on the two payment orders?"
SECOND_QUESTION = "ผู้รับเหมาชื่ออะไร"
ANSWER = "ฉบับแรก 3 มีนาคม ฉบับที่สอง 17 มีนาคม\n(both signed by the same officer)"
UNDER_REVIEW = 1


@pytest.fixture(scope="module")
def member(services: Services) -> MemberKey:
    """The intake desk's member, from the key file the first `tipledger devchain` made."""
    passphrase = (services.home / INTAKE_MEMBER_PASSPHRASE).read_text().strip()
    return load_member_key(services.home / INTAKE_MEMBER_KEY, passphrase)


def open_case(desk: DeskClient, member: MemberKey, commitment: str) -> X25519PrivateKey:
    """The case key, from the member's grant of it (as `tipledger review` opens it)."""
    tip = desk.call("GET", f"/v1/review/tips/{commitment}")
    return case_key(tip, from_hex(commitment, 32), member.x25519_private)


def ask(desk: DeskClient, member: MemberKey, commitment: str, text: str) -> str:
    """A question sealed on the member's machine (to the reporter's key and the case key) and
    posted through the desk API, as `tipledger review ask` does."""
    case_public = open_case(desk, member, commitment).public_key()
    thread = desk.call("GET", f"/v1/review/tips/{commitment}/messages")
    assert thread["desk_key_id"] == key_id(case_public).hex()
    reporter_key = X25519PublicKey.from_public_bytes(from_hex(thread["reporter_key"], 32))
    message_id = new_message_id()
    fields: dict[str, Any] = {
        "commitment": from_hex(commitment, 32),
        "message_id": message_id,
        "sender": FROM_REVIEWER,
        "text": text,
    }
    sent = desk.call(
        "POST",
        f"/v1/review/tips/{commitment}/messages",
        json={
            "id": to_hex(message_id),
            "to_reporter": base64.b64encode(seal_message(reporter_key, **fields)).decode(),
            "to_desk": base64.b64encode(seal_message(case_public, **fields)).decode(),
        },
    )
    return str(sent["id"])


def read_qr(page: Any) -> str:
    """The text of the receipt page's QR code, read back from its pixels by the qr package's
    decoder (from node_modules, lent to this page for the test only)."""
    decoder = ROOT / "node_modules" / "qr" / "decode.js"
    if not decoder.is_file():
        pytest.skip("node_modules lacks the qr package's decoder: run `npm ci`")
    # Served as if next to the vendored encoder, whose ./index.js it imports.
    page.route(
        "**/web/vendor/qr/decode.js",
        lambda route: route.fulfill(
            body=decoder.read_bytes(), content_type="text/javascript; charset=utf-8"
        ),
    )
    text: str = page.evaluate(
        """async () => {
          const { decodeQR } = await import('/web/vendor/qr/decode.js');
          const img = document.getElementById('qr');
          await img.decode();
          const canvas = document.createElement('canvas');
          canvas.width = img.naturalWidth;
          canvas.height = img.naturalHeight;
          const g = canvas.getContext('2d');
          g.drawImage(img, 0, 0);
          const { data } = g.getImageData(0, 0, canvas.width, canvas.height);
          return decodeQR({ width: canvas.width, height: canvas.height, data });
        }"""
    )
    return text


def _wrong_rest(code: str) -> str:
    """A well-formed code with the same locator as ``code`` and another secret part."""
    symbols = code.replace("-", "")
    for symbol in ALPHABET:
        data = symbols[:6] + symbol * 9
        for check in ALPHABET:
            try:
                return parse_code(data + check).text
            except ProtocolError:
                continue
    raise AssertionError("no code checks")  # pragma: no cover


def messages_on_page(page: Any) -> list[tuple[str, str]]:
    return [
        (m[0], m[1])
        for m in page.eval_on_selector_all(
            "#messages li",
            "els => els.map(e => [e.dataset.from, e.querySelector('.message-text').textContent])",
        )
    ]


def test_the_receipt_shows_and_keeps_the_follow_up_code(
    tab: tuple[Any, Recorder], services: Services, artifacts: Path
) -> None:
    page, recorder = tab
    open_page(page, services.url + "/")
    assert page.is_visible("#follow-up-fieldset")
    assert page.is_checked("#follow-up-choice")  # asked for by default
    send_tip(page, services, TIP)
    secret = page.get_attribute("#reporter-code", "data-code") or ""
    assert parse_code(secret).text == secret  # the reporter's one code, made in this browser
    assert page.is_visible("#code-card")
    assert not page.is_visible("#follow-up")  # no tlf2_ secret any more
    advice = page.inner_text("#code-card")
    assert "การเก็บรักษารหัส" in advice  # Thai first
    assert page.get_attribute("#qr", "data-holds-secret") == "false"  # the code goes on paper
    scanned = json.loads(read_qr(page))
    assert "follow_up" not in scanned
    assert scanned["inclusion"] is None
    assert Receipt.from_dict(scanned).commitment == page.inner_text("#commitment").strip()
    page.wait_for_selector("body[data-receipt-state=anchored]", timeout=ANCHOR_TIMEOUT)
    page.screenshot(path=artifacts / "20-receipt-follow-up-secret-th.png", full_page=True)

    with page.expect_download() as download:
        page.click("#download-receipt")
    kept = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    # the code (the case key is pinned by the tag the code made, not kept in the receipt)
    assert kept["follow_up"] == {"code": secret}
    receipt = Receipt.from_dict(kept)  # still a receipt: verifiers ignore the extra field
    assert receipt.inclusion is not None
    assert fits_the_screen(page)

    # The downloaded file opens the follow-up in another browser, in English.
    fresh = page.context.browser.new_context(viewport=PHONE, locale="en-GB")
    other = fresh.new_page()
    open_page(other, services.url + "/status?lang=en")
    other.click("#older-ways summary")  # a receipt file: one of the older ways
    other.set_input_files("#status-file", download.value.path())
    other.wait_for_function("() => document.getElementById('status-receipt').value.length > 0")
    other.click("#status-button")
    other.wait_for_selector("body[data-follow-up=open]", timeout=20_000)
    assert other.get_attribute("#review-state", "data-review") == "none"
    assert other.is_visible("#messages-empty")
    assert "No questions from the reviewers yet" in other.inner_text("#messages-empty")
    other.screenshot(path=artifacts / "25-follow-up-from-file-en.png", full_page=True)
    fresh.close()

    # English one click away, the advice with it.
    page.click(".lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert "Keeping the code" in page.inner_text("#code-card")
    assert page.get_attribute("#reporter-code", "data-code") == secret
    page.screenshot(path=artifacts / "21-receipt-follow-up-secret-en.png", full_page=True)

    # The secret never travelled in a URL, nor was anything left in localStorage or a cookie.
    assert not [u for u in recorder.requests if secret in u]
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    assert recorder.cookies == []
    assert recorder.problems == []


def test_a_tip_without_follow_up_gets_no_secret(
    tab: tuple[Any, Recorder], services: Services
) -> None:
    page, recorder = tab
    open_page(page, services.url + "/")
    page.fill("#tip-text", "a tip whose sender wants no follow-up " + os.urandom(4).hex())
    page.uncheck("#follow-up-choice")
    page.click("#submit-button")
    page.wait_for_url("**/receipt", timeout=20_000)
    page.wait_for_selector("body[data-ready=true]")
    assert not page.is_visible("#follow-up")
    assert not page.is_visible("#follow-up-missing")
    assert page.get_attribute("#qr", "data-holds-secret") == "false"
    assert recorder.problems == []


def test_a_reviewer_question_reaches_the_reporter_and_the_answer_reaches_the_desk(
    tab: tuple[Any, Recorder],
    services: Services,
    artifacts: Path,
    contract: TipLedgerContract,
    member: MemberKey,
) -> None:
    page, recorder = tab
    sent: list[str] = []  # every request's URL, headers and body, as the page sends them
    page.on("request", lambda r: sent.append(f"{r.url} {r.headers} {r.post_data}"))
    send_tip(page, services, TIP + " " + os.urandom(4).hex())
    secret = page.get_attribute("#reporter-code", "data-code") or ""
    commitment = page.inner_text("#commitment").strip()
    page.wait_for_selector("body[data-receipt-state=anchored]", timeout=ANCHOR_TIMEOUT)

    with DeskClient(services.url, member.eth_account) as desk:
        ask(desk, member, commitment, QUESTION)
        # the case's first review shows the contract its routing (the proof the service gives)
        proof = routing_proof(desk.call("GET", f"/v1/review/tips/{commitment}"))
        entry = from_hex(commitment, 32)
        contract.record_review(
            member.eth_account, entry, INTAKE_ID, UNDER_REVIEW, b"\0" * 32, proof
        )

        # From the receipt page to the follow-up, which opens at once with the tab's receipt.
        page.click("#follow-up-link")
        page.wait_for_selector("body[data-follow-up=open]", timeout=20_000)
        assert page.evaluate("location.hash") == "#follow-up"
        assert messages_on_page(page) == [("reviewer", QUESTION)]
        assert page.get_attribute("#review-state", "data-review") == "under_review"
        assert "อยู่ระหว่างการพิจารณา" in page.inner_text("#review-title")
        assert page.get_attribute("#status-result", "data-state") == "anchored"
        assert unnamed_controls(page) == []
        assert fits_the_screen(page)
        page.screenshot(path=artifacts / "22-follow-up-question-th.png", full_page=True)

        # The reporter answers; the answer shows in the thread ...
        page.fill("#reply-text", ANSWER)
        page.click("#reply-button")
        page.wait_for_function("() => document.body.dataset.messages === '2'", timeout=20_000)
        assert messages_on_page(page) == [("reviewer", QUESTION), ("reporter", ANSWER)]
        assert page.input_value("#reply-text") == ""

        # ... and reaches the desk, sealed to the case key: the member opens it with it.
        thread = desk.call("GET", f"/v1/review/tips/{commitment}/messages")
        answers = [m for m in thread["messages"] if m["from"] == "reporter"]
        assert len(answers) == 1
        opened = open_message(
            open_case(desk, member, commitment),
            base64.b64decode(answers[0]["sealed"]),
            commitment=from_hex(commitment, 32),
            message_id=from_hex(answers[0]["id"], 16),
            sender=FROM_REPORTER,
        )
        assert opened == ANSWER

        # A later question appears when the reporter checks for new messages.
        ask(desk, member, commitment, SECOND_QUESTION)
    page.click("#refresh-button")
    page.wait_for_function("() => document.body.dataset.messages === '3'", timeout=20_000)
    assert messages_on_page(page)[-1] == ("reviewer", SECOND_QUESTION)

    # The same thread in English, switched in place (the answer box keeps what is typed).
    page.fill("#reply-text", "half-typed")
    page.click(".lang-switch")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert page.inner_text("#review-title") == "Under review"
    assert page.inner_text("#messages li[data-from=reporter] .message-from") == "You"
    assert page.input_value("#reply-text") == "half-typed"
    page.screenshot(path=artifacts / "23-follow-up-thread-en.png", full_page=True)

    assert not [u for u in recorder.requests if secret in u]
    assert page.evaluate("localStorage.length") == 0
    assert recorder.cookies == []
    assert recorder.problems == []
    # The code made in the browser never left it, in no header and no body (only its first six
    # symbols): the follow-up requests carried the token derived from it, the answer went sealed.
    device_secret = code_keys(parse_code(secret)).follow_up
    token = token_text(follow_up_token(device_secret, from_hex(commitment, 32)))
    assert not [r for r in sent if secret in r or secret.replace("-", "")[6:] in r]
    assert not [r for r in sent if device_secret.text in r or device_secret.text[5:] in r]
    assert [r for r in sent if f"Bearer {token}" in r]
    assert not [r for r in sent if ANSWER.split("\n")[0] in r]  # (JSON keeps Thai as it is)

    # Another browser, with only the code typed in.
    fresh = page.context.browser.new_context(viewport=PHONE)
    other = fresh.new_page()
    other_recorder = Recorder(other)
    open_page(other, services.url + "/status")
    other.fill("#status-code", _wrong_rest(secret))  # its tip's locator, the rest wrong
    other.click("#code-button")
    other.wait_for_selector("#status-error:not([hidden])", timeout=20_000)
    assert "รหัสนี้เปิดเรื่องไม่ได้" in other.inner_text("#status-error")
    assert not other.is_visible("#follow-up-view")
    other.fill("#status-code", secret)
    other.click("#code-button")
    other.wait_for_selector("body[data-follow-up=open]", timeout=20_000)
    assert [m[0] for m in messages_on_page(other)] == ["reviewer", "reporter", "reviewer"]
    assert other.get_attribute("#status-result", "data-state") == "anchored"
    # the success is shown as one, not in the red error box
    assert other.get_attribute("#status-result", "class").split() == ["state", "anchored"]
    assert not other.is_visible("#status-download")  # no receipt was given: nothing to update
    other.screenshot(path=artifacts / "24-follow-up-secret-only-th.png", full_page=True)
    # The wrong secret's 401 is the one thing the browser logs.
    assert [p for p in other_recorder.problems if "401" not in p] == []
    fresh.close()
