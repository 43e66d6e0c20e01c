"""Tips sealed on the reporter's device (PROTOCOL.md 17), on the service's default: nothing in
clear is taken, a sealed tip is stored as sent and opens only at the desk, on SQLite and
PostgreSQL over real HTTP with the real chain."""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.cli.api_client import DeskClient
from ledger.core.attachment import HEADER_SIZE, check_attachment, open_attachment
from ledger.core.casekey import grant_case_key
from ledger.core.encoding import checksum_address, to_hex
from ledger.core.envelope import open_tip
from ledger.core.receipt import Receipt
from ledger.core.tip import parse_tip_document
from ledger.device import AttachmentFile
from ledger.errors import EnvelopeError
from ledger.store.attachments import AttachmentStore
from ledger.verify import verify_receipt

from .. import sealing
from .conftest import Server


@pytest.fixture(scope="module")
def server_sealing() -> bool:
    return False  # the default: tips arrive sealed on the device


def _seal(server: Server, document: bytes | None = None, **kw: Any) -> Any:
    return sealing.seal(server.w3, server.deployment.address, document, **kw)


def _anchored(client: httpx.Client, commitment: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while (r := client.get(f"/v1/tips/{commitment}/receipt")).status_code == 202:
        assert time.monotonic() < deadline, "never anchored"
        time.sleep(0.1)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def test_a_tip_in_clear_is_refused_and_nothing_is_stored(
    server: Server, client: httpx.Client
) -> None:
    before = server.service.reader.tree().size + server.service.reader.pending_count()
    document = b"in clear " + os.urandom(8).hex().encode()
    r = client.post("/v1/tips", json={"document": base64.b64encode(document).decode()})
    assert r.status_code == 422
    assert "sealed on the sender's device" in r.json()["detail"]
    assert "TIPLEDGER_SERVER_SEALING" in r.json()["detail"]
    form = client.post("/v1/tips", files={"document": ("tip.txt", document, "text/plain")})
    assert form.status_code == 422
    assert "sealed on the sender's device" in form.json()["detail"]
    after = server.service.reader.tree().size + server.service.reader.pending_count()
    assert after == before


def test_a_sealed_tip_is_anchored_verifies_and_opens_only_at_the_desk(
    server: Server, client: httpx.Client
) -> None:
    document = b"Invoice 4711 paid twice " + os.urandom(8).hex().encode()
    tip = _seal(server, document)
    r = sealing.post(client, tip)
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["commitment"] == to_hex(tip.commitment)
    # The service never had them: its receipt has no salt, digest or author.
    assert not {"salt", "content_digest", "author"} & set(answer["receipt"])
    status = _anchored(client, answer["commitment"])
    receipt = Receipt.from_dict(
        {
            **answer["receipt"],
            "salt": to_hex(tip.salt),
            "content_digest": to_hex(tip.content_digest),
            "author": checksum_address(tip.author),
            "inclusion": status["inclusion"],
        }
    )
    assert verify_receipt(receipt, document, server.w3).ok
    # Stored exactly as sealed: the envelope the desk gets is the device's.
    desk = server.desk_tip(answer["commitment"])
    assert base64.b64decode(desk["envelope"]) == tip.sealed.envelope
    assert desk["case_key"] == to_hex(tip.sealed.case_key)
    opened = open_tip(server.case_key(answer["commitment"]), tip.sealed.envelope, tip.commitment)
    assert opened.document == document
    assert opened.salt == tip.salt
    # Sent again, the same commitment keeps its first entry and promise.
    again = sealing.post(client, tip)
    assert again.status_code == 202
    assert again.json()["promise"] == answer["promise"]


def test_attachments_sealed_on_the_device_open_at_the_desk_and_match_the_document(
    server: Server, client: httpx.Client
) -> None:
    files = (
        AttachmentFile("invoice.pdf", os.urandom(40_000), "application/pdf"),  # body limit 64 KiB
        AttachmentFile("empty.txt", b"", None),
    )
    tip = _seal(server, text="see the attached invoice", attachments=files)
    r = sealing.post(client, tip)
    assert r.status_code == 202, r.text
    commitment = r.json()["commitment"]
    desk = server.desk_tip(commitment)
    assert desk["attachments"] == [len(s) for s in tip.streams]
    case = server.case_key(commitment)
    document = open_tip(case, base64.b64decode(desk["envelope"]), tip.commitment).document
    entries = parse_tip_document(document).attachments  # type: ignore[union-attr]
    with DeskClient(server.url, server.accounts[2]) as member:
        for i, (entry, original) in enumerate(zip(entries, files, strict=True)):
            stream = member.fetch(f"/v1/review/tips/{commitment}/attachments/{i}")
            assert stream == tip.streams[i]
            data = open_attachment(case, tip.commitment, i, stream)
            check_attachment(data, entry)
            assert data == original.data
        with pytest.raises(Exception, match="404"):
            member.fetch(f"/v1/review/tips/{commitment}/attachments/2")
    # Nothing readable was stored: the stored streams are the sealed ones.
    assert AttachmentStore(server.service.read_engine).stream(tip.commitment, 0) == tip.streams[0]
    assert files[0].data[:64] not in tip.streams[0]


def _post_json(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/tips", json=body)


def test_grants_must_be_exactly_one_per_member_the_chain_lists(
    server: Server, client: httpx.Client
) -> None:
    tip = _seal(server, b"grants " + os.urandom(8))
    body = tip.sealed.to_json()
    missing = _post_json(client, {**body, "grants": []})
    assert missing.status_code == 422
    assert "no grant for member key" in missing.json()["detail"]
    # A grant to a key of the service's own choosing (not on chain) is refused by name.
    stranger = X25519PrivateKey.generate()
    case = X25519PrivateKey.generate()
    extra = base64.b64encode(grant_case_key(stranger.public_key(), case, tip.commitment)).decode()
    slipped = _post_json(client, {**body, "grants": [*body["grants"], extra]})
    assert slipped.status_code == 422
    assert "which the chain does not list for agency 'intake'" in slipped.json()["detail"]
    twice = _post_json(client, {**body, "grants": body["grants"] * 2})
    assert twice.status_code == 422
    assert "granted twice" in twice.json()["detail"]
    assert server.service.reader.submissions.standing(tip.commitment) is None  # nothing stored


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"case_key": "0x" + "11" * 32}, "not to the case key"),
        ({"envelope": base64.b64encode(b"\x01" * 10).decode()}, "a sealed tip is at least"),
        ({"format": "tipledger-sealed-tip/9"}, "field 'format'"),
        ({"commitment": "0x1234"}, "field 'commitment'"),
        ({"grants": "AAAA"}, "field 'grants': expected a list"),
        ({"agency": "no-such-agency"}, "no agency 'no-such-agency'"),
        ({"attachments": 1}, "lists 1 attachment(s) but 0"),
        ({"colour": "red"}, "unknown field 'colour'"),
    ],
)
def test_a_malformed_sealed_tip_is_refused_with_its_reason(
    server: Server, client: httpx.Client, change: dict[str, Any], words: str
) -> None:
    tip = _seal(server, b"malformed " + os.urandom(8))
    body = {**tip.sealed.to_json(), **change}
    if "attachments" in change:  # a count without its parts: only multipart carries them
        files = [("tip", ("tip.json", json.dumps(body).encode(), "application/json"))]
        r = client.post("/v1/tips", files=files)
    else:
        r = _post_json(client, body)
    assert r.status_code == 422, r.text
    assert words in r.json()["detail"]


def test_a_sealed_attachment_for_another_case_key_is_refused(
    server: Server, client: httpx.Client
) -> None:
    first = _seal(server, text="one", attachments=(AttachmentFile("a.bin", b"a" * 100),))
    second = _seal(server, text="two", attachments=(AttachmentFile("b.bin", b"b" * 100),))
    mixed = type(first)(**{**first.__dict__, "streams": second.streams})
    r = sealing.post(client, mixed)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("attachment 0:")
    short = type(first)(**{**first.__dict__, "streams": (first.streams[0][: HEADER_SIZE - 1],)})
    assert sealing.post(client, short).status_code == 422


def test_a_tampered_envelope_is_stored_but_refused_at_the_desk_by_name(
    server: Server, client: httpx.Client
) -> None:
    tip = _seal(server, b"tampered on the way " + os.urandom(8))
    envelope = bytearray(tip.sealed.envelope)
    envelope[-1] ^= 1  # the service cannot tell: only a member's key can
    body = {**tip.sealed.to_json(), "envelope": base64.b64encode(bytes(envelope)).decode()}
    r = _post_json(client, body)
    assert r.status_code == 202, r.text
    case = server.case_key(r.json()["commitment"])
    with pytest.raises(EnvelopeError, match="does not open for commitment"):
        open_tip(case, bytes(envelope), tip.commitment)
