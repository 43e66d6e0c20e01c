"""A tip typed into the page reaches the service only sealed (issue 12, PROTOCOL.md 17).

A recording reverse proxy stands in front of the real service (`tipledger serve` on its
default: nothing in clear is taken), and the browser talks to the service only through it. Every
request body it forwards is kept. A reporter sends a tip with an attachment of several chunks
and an identity, the tip is anchored and verified in the browser, a member of the intake desk
opens it and its attachment on their own machine (`tipledger review show`), asks a question, and
the reporter answers on the follow-up page. No body the service received holds the tip's text,
the attachment's bytes, the identity's fields or the answer: raw, base64 or hex.

Two refusals follow: an envelope altered on its way is stored (the service cannot tell) but
refused at the desk with a clear line; and a member key the service offers that the chain does
not list stops the page before anything is sent.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ledger.chain.contract import TipLedgerContract
from ledger.cli.api_client import DeskClient
from ledger.desk.member_keys import MemberKey
from ledger.ops.devnet import INTAKE_MEMBER_KEY, INTAKE_MEMBER_PASSPHRASE

from .conftest import ROOT, Recorder, Services, open_page
from .test_follow_up_pages import ask, member  # noqa: F401 (member: the intake member fixture)
from .test_identity_pages import features, make_set

pytestmark = [pytest.mark.e2e, pytest.mark.chain]

ANCHOR_TIMEOUT = 30_000
TEXT = "ใบแจ้งหนี้ 4711 ถูกจ่ายซ้ำสองครั้ง marker-" + os.urandom(6).hex()
NAME = "นางสาวทดสอบ ลับเฉพาะ " + os.urandom(3).hex()
CONTACT = "signal-" + os.urandom(5).hex()
ANSWER = "เอกสารอยู่ในตู้ชั้นสาม answer-" + os.urandom(6).hex()
QUESTION = "เอกสารต้นฉบับอยู่ที่ใด"


@dataclass
class Recording:
    """What the proxy forwarded: (method, path, body) of every request."""

    bodies: list[tuple[str, str, bytes]] = field(default_factory=list)

    def posted(self, path: str) -> list[bytes]:
        return [b for m, p, b in self.bodies if m == "POST" and p.split("?")[0] == path]


def _forms(secret: bytes) -> list[bytes]:
    """The forms a secret could travel in: raw, base64 (both alphabets), hex."""
    return [
        secret,
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
        secret.hex().encode(),
    ]


@pytest.fixture(scope="module")
def proxy(services: Services) -> Iterator[tuple[str, Recording]]:
    """A reverse proxy to the service that records every request body it forwards."""
    target = urlsplit(services.url)
    recording = Recording()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recording.bodies.append((self.command, self.path, body))
            upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            upstream.close()

        do_GET = do_POST = do_HEAD = do_DELETE = _forward

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recording
    finally:
        server.shutdown()


def _review(services: Services, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIPLEDGER_")}
    passphrase = (services.home / INTAKE_MEMBER_PASSPHRASE).read_text().strip()
    env.update(
        TIPLEDGER_HOME=str(services.home), TIPLEDGER_MEMBER_PASSPHRASE=passphrase, NO_COLOR="1"
    )
    command = [sys.executable, "-m", "ledger.cli", "review", *args]
    command += ["--key-file", str(services.home / INTAKE_MEMBER_KEY), "--api", services.url]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_a_tip_typed_into_the_page_reaches_the_service_only_sealed(
    tab: tuple[Any, Recorder],
    services: Services,
    contract: TipLedgerContract,
    proxy: tuple[str, Recording],
    member: MemberKey,  # noqa: F811
    tmp_path: Path,
) -> None:
    page, recorder = tab
    url, recording = proxy
    if not features(services)["identity"]["reporter"]:
        make_set(services, contract, "reporter")
    attachment = os.urandom(200_000)  # four chunks of the sealed stream
    path = tmp_path / "หลักฐาน.bin"
    path.write_bytes(attachment)

    open_page(page, url + "/")
    page.fill("#tip-text", TEXT)
    page.set_input_files("#tip-files", str(path))
    page.wait_for_selector("#file-list .mono")  # its SHA-256, hashed in chunks in the browser
    page.fill("#identity-name", NAME)
    page.fill("#identity-contact", CONTACT)
    page.click("#submit-button")
    page.wait_for_url("**/receipt*", timeout=30_000)
    page.wait_for_selector("body[data-receipt-state=anchored]", timeout=ANCHOR_TIMEOUT)
    commitment = page.inner_text("#commitment").strip()

    # Verified in the browser against the chain, from the receipt the page kept.
    page.click("#verify-link")
    page.wait_for_selector("body[data-ready=true]")
    page.click("#verify-button")
    page.wait_for_selector("#verdict:not([hidden])", timeout=20_000)
    assert page.get_attribute("#verdict", "data-status") == "valid"

    # A member opens it on their own machine, attachment included, checked against the chain.
    out_dir = tmp_path / "opened"
    shown = _review(services, "show", commitment, "--attachments", str(out_dir), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["text"] == TEXT
    (opened,) = out_dir.iterdir()
    assert opened.read_bytes() == attachment
    assert "matches its digest" in shown.stderr

    # The desk asks; the reporter answers on the follow-up page, sealed there.
    with DeskClient(services.url, member.eth_account) as desk:
        ask(desk, member, commitment, QUESTION)
    open_page(page, url + "/receipt")
    page.click("#follow-up-link")
    page.wait_for_selector("body[data-follow-up=open]", timeout=20_000)
    page.fill("#reply-text", ANSWER)
    page.click("#reply-button")
    page.wait_for_function("() => document.body.dataset.messages === '2'", timeout=20_000)
    messages = _review(services, "messages", commitment, "--json")
    assert messages.returncode == 0, messages.stderr
    assert ANSWER in messages.stdout

    sent = [body for _m, _p, body in recording.bodies]
    # The recorder sees what the service stored: the envelope, and the sealed attachment.
    with DeskClient(services.url, member.eth_account) as desk:
        stored = desk.call("GET", f"/v1/review/tips/{commitment}")
        stream = desk.fetch(f"/v1/review/tips/{commitment}/attachments/0")
    (tip_body,) = [b for b in recording.posted("/v1/tips") if stored["envelope"].encode() in b]
    assert stream in tip_body
    for secret in (
        TEXT.encode(),
        attachment[:4096],
        attachment[-4096:],
        NAME.encode(),
        CONTACT.encode(),
        ANSWER.encode(),
    ):
        for form in _forms(secret):
            assert not any(form in body for body in sent), f"{secret[:24]!r} left the browser"
    # Nor in anything else the page sent anywhere (the chain's node included).
    assert not [u for u in recorder.requests if TEXT in u or CONTACT in u]
    assert recorder.problems == []


def test_an_envelope_altered_on_its_way_is_refused_at_the_desk_by_name(
    tab: tuple[Any, Recorder], services: Services, proxy: tuple[str, Recording]
) -> None:
    page, _recorder = tab
    url, _recording = proxy

    def tamper(route: Any) -> None:
        body = json.loads(route.request.post_data)
        envelope = bytearray(base64.b64decode(body["envelope"]))
        envelope[-1] ^= 1
        body["envelope"] = base64.b64encode(bytes(envelope)).decode()
        route.continue_(post_data=json.dumps(body))

    page.route("**/v1/tips", tamper)
    open_page(page, url + "/")
    page.fill("#tip-text", "altered on the way " + os.urandom(4).hex())
    page.click("#submit-button")
    page.wait_for_url("**/receipt*", timeout=30_000)
    commitment = page.inner_text("#commitment").strip()
    page.wait_for_selector("body[data-receipt-state=anchored]", timeout=ANCHOR_TIMEOUT)
    shown = _review(services, "show", commitment)
    assert shown.returncode == 1
    assert f"does not open for commitment {commitment}" in shown.stderr


def test_a_member_key_the_chain_does_not_list_stops_the_page(
    tab: tuple[Any, Recorder], services: Services, proxy: tuple[str, Recording]
) -> None:
    page, _recorder = tab
    url, recording = proxy
    slipped = "0x" + os.urandom(32).hex()

    def offer_another_key(route: Any) -> None:
        answer = route.fetch()
        data = answer.json()
        for agency in data["agencies"]:
            agency["members"].append(
                {"address": "0x" + "11" * 20, "encryption_key": slipped, "key_id": "00" * 8}
            )
        route.fulfill(response=answer, body=json.dumps(data))

    page.route("**/v1/agencies", offer_another_key)
    before = len(recording.posted("/v1/tips"))
    open_page(page, url + "/")
    page.fill("#tip-text", "a key slipped in " + os.urandom(4).hex())
    page.click("#submit-button")
    page.wait_for_selector("#error-box:not([hidden])", timeout=20_000)
    assert "บล็อกเชนไม่ได้บันทึกไว้" in page.inner_text("#error-box")
    assert len(recording.posted("/v1/tips")) == before  # nothing was sent


def test_an_answer_is_sealed_only_to_the_case_key_the_receipt_keeps(
    tab: tuple[Any, Recorder], services: Services, proxy: tuple[str, Recording]
) -> None:
    page, _recorder = tab
    url, recording = proxy
    open_page(page, url + "/")
    page.fill("#tip-text", "answers pinned to the case key " + os.urandom(4).hex())
    page.click("#submit-button")
    page.wait_for_url("**/receipt*", timeout=30_000)
    page.wait_for_selector("body[data-ready=true]")
    commitment = page.inner_text("#commitment").strip()
    slipped = os.urandom(32)

    def another_key(route: Any) -> None:
        answer = route.fetch()
        data = answer.json()
        data["seal_to"] = {
            "key": "0x" + slipped.hex(),
            "key_id": hashlib.sha256(slipped).digest()[:8].hex(),
        }
        route.fulfill(response=answer, body=json.dumps(data))

    page.route(f"**/v1/tips/{commitment}/follow-up", another_key)
    page.click("#follow-up-link")
    page.wait_for_selector("body[data-follow-up=open]", timeout=20_000)
    before = len(recording.posted(f"/v1/tips/{commitment}/follow-up/messages"))
    page.fill("#reply-text", "this must not be sealed to the service's key")
    page.click("#reply-button")
    page.wait_for_function(
        "() => document.getElementById('reply-status').textContent.includes('ระงับการส่ง')",
        timeout=20_000,
    )
    assert len(recording.posted(f"/v1/tips/{commitment}/follow-up/messages")) == before
