"""The reporter's one code (PROTOCOL.md 17.8) over real HTTP, on SQLite and PostgreSQL, on the
service's default (nothing sealed on the server).

A tip sealed under a code carries a version 3 enrolment; the code's locator finds it
(``GET /v1/codes/{locator}``), the token from the code opens its thread, the desk's question
opens on the device, the answer is sealed only to the case key the code's tag pins (a service
naming another key is refused on the device), an identity is added with the code, and the code
with the reporter's copy of the document gives back a receipt that verifies on the chain. A
locator already used is refused (409) with nothing stored; malformed enrolments are 422.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select, update

from ledger.chain.contract import TipLedgerContract
from ledger.core.encoding import from_hex, to_hex
from ledger.core.hpke import key_id_bytes, public_bytes
from ledger.core.identity import RecordKind
from ledger.core.reporter_code import (
    ALPHABET,
    ReporterCode,
    case_key_tag,
    new_code,
    parse_code,
)
from ledger.device import member_keys
from ledger.errors import EnvelopeError, ProtocolError
from ledger.followup.code import (
    CodeTip,
    code_bearer,
    open_code_thread,
    recovered_receipt,
    seal_code_answer,
    seal_with_code,
)
from ledger.followup.secrets import (
    FROM_REPORTER,
    FROM_REVIEWER,
    new_message_id,
    open_message,
    reporter_key,
    seal_message,
)
from ledger.store.schema import follow_ups, submissions
from ledger.vault.client import checked_custodian_set, seal_identity_on_device
from ledger.vault.onchain import VaultChain
from ledger.verify import verify_receipt

from .. import sealing
from ..vault.conftest import Vault, vault  # noqa: F401 - the fixture
from .conftest import Server

pytestmark = pytest.mark.chain

TAKEN = "this code's first six symbols are taken: make a new code on the device and send again"


@pytest.fixture(scope="module")
def server_sealing() -> bool:
    return False  # the default: everything arrives sealed on the device


def auth(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def code_tip(server: Server, document: bytes, code: ReporterCode | None = None) -> CodeTip:
    keys = member_keys(TipLedgerContract(server.w3, server.deployment.address), "intake")
    return seal_with_code(keys, agency="intake", document=document, code=code)


def post(client: httpx.Client, made: CodeTip) -> httpx.Response:
    return sealing.post(client, made.tip)


def rows(server: Server, table: Any, commitment: bytes) -> list[Any]:
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(table).where(table.c.commitment == commitment)).all())
    finally:
        engine.dispose()


def same_locator(code: ReporterCode) -> ReporterCode:
    """Another code with ``code``'s first six symbols (its check symbol found by trying)."""
    middle = "".join(ALPHABET[b % 32] for b in os.urandom(9))
    for check in ALPHABET:
        try:
            return parse_code(code.locator + middle + check)
        except ProtocolError:
            continue
    raise AssertionError("no check symbol")


def anchored(client: httpx.Client, commitment: str) -> None:
    deadline = time.monotonic() + 30
    while client.get(f"/v1/tips/{commitment}/receipt").status_code == 202:
        assert time.monotonic() < deadline, "never anchored"
        time.sleep(0.1)


def ask(server: Server, made: CodeTip, text: str) -> None:
    """A member's question, sealed as `tipledger review ask` seals it, stored by the service."""
    commitment = made.tip.commitment
    case = server.case_key(to_hex(commitment))
    message_id = new_message_id()

    def sealed(key: Any) -> bytes:
        return seal_message(
            key, commitment=commitment, message_id=message_id, sender=FROM_REVIEWER, text=text
        )

    server.service.follow_ups.desk_ask(
        commitment,
        reviewer=server.accounts[2].address,
        message_id=message_id,
        to_reporter=sealed(reporter_key(made.keys.follow_up, commitment).public_key()),
        to_desk=sealed(case.public_key()),
    )


def test_a_code_s_tip_from_submit_to_answer(server: Server, client: httpx.Client) -> None:
    document = (
        b'{"format":"tipledger-tip/1","text":"Tender 88 ' + os.urandom(4).hex().encode() + b'"}'
    )
    made = code_tip(server, document)
    r = post(client, made)
    assert r.status_code == 202, r.text
    assert r.json()["follow_up"] is None
    commitment = made.tip.commitment
    commitment_hex = to_hex(commitment)

    # stored: version 2's row with the locator and the tag, never the code
    (row,) = rows(server, follow_ups, commitment)
    assert row.locator == made.code.locator
    assert row.secret_hash.startswith("sha256:")
    tag = case_key_tag(made.keys, commitment, made.tip.sealed.case_key)
    assert bytes(row.case_key_tag) == tag

    # the locator finds the tip; the token from the code opens its thread
    found = client.get(f"/v1/codes/{made.code.locator}")
    assert found.status_code == 200, found.text
    assert found.json() == {"commitment": commitment_hex}
    token = code_bearer(made.keys, commitment)
    assert token.startswith("tlt2_")
    path = f"/v1/tips/{commitment_hex}/follow-up"
    marker = "QUESTION-" + os.urandom(6).hex()
    ask(server, made, marker)
    view = client.get(path, headers=auth(token)).json()
    case_raw = made.tip.sealed.case_key
    assert view["version"] == 3
    assert view["case_key_tag"] == to_hex(tag)
    assert view["seal_to"] == {"key": to_hex(case_raw), "key_id": key_id_bytes(case_raw).hex()}
    assert marker not in str(view)
    assert open_code_thread(view, made.keys, commitment)["messages"][0]["text"] == marker

    # the answer, sealed on the device to the case key the tag pins; the desk opens it
    answer = "ANSWER-" + os.urandom(6).hex()
    body = seal_code_answer(view, made.keys, commitment, answer)
    sent = client.post(path + "/messages", json=body, headers=auth(token))
    assert sent.status_code == 201, sent.text
    opened = open_code_thread(client.get(path, headers=auth(token)).json(), made.keys, commitment)
    assert [(m["from"], m["text"]) for m in opened["messages"]] == [
        ("reviewer", marker),
        ("reporter", answer),
    ]
    desk_copy = server.service.follow_ups.store.messages(commitment)[-1].to_desk
    case = server.case_key(commitment_hex)
    assert (
        open_message(
            case,
            desk_copy,
            commitment=commitment,
            message_id=from_hex(body["id"], 16),
            sender=FROM_REPORTER,
        )
        == answer
    )

    # the code and the document give back the receipt, which verifies on the chain
    anchored(client, commitment_hex)
    status = client.get(f"/v1/tips/{commitment_hex}/receipt").json()
    receipt = recovered_receipt(made.keys, document, status)
    assert receipt.salt_bytes == made.tip.salt
    verdict = verify_receipt(receipt, document, server.w3)
    assert verdict.ok, verdict.summary()
    with pytest.raises(ProtocolError, match="not the one sent with this code"):
        recovered_receipt(made.keys, document + b" ", status)


def test_a_service_that_lies_about_the_case_key_is_refused(
    server: Server, client: httpx.Client
) -> None:
    made = code_tip(server, b"Lying service " + os.urandom(6))
    assert post(client, made).status_code == 202
    commitment = made.tip.commitment
    path = f"/v1/tips/{to_hex(commitment)}/follow-up"
    token = auth(code_bearer(made.keys, commitment))
    view = client.get(path, headers=token).json()
    member = public_bytes(server.desk_private.public_key())  # a key of its own choosing
    lies = [
        {**view, "seal_to": {"key": to_hex(member), "key_id": key_id_bytes(member).hex()}},
        {k: v for k, v in view.items() if k != "case_key_tag"},
        {**view, "version": 2},
        {**view, "case_key_tag": "0x" + "00" * 16},
    ]
    for lie in lies:
        with pytest.raises(EnvelopeError):
            seal_code_answer(lie, made.keys, commitment, "A.")
        with pytest.raises(EnvelopeError):
            open_code_thread(lie, made.keys, commitment)
    # the row tampered with: the view's tag no longer checks the case key
    engine = create_engine(server.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(follow_ups)
                .where(follow_ups.c.commitment == commitment)
                .values(case_key_tag=os.urandom(16))
            )
        tampered = client.get(path, headers=token).json()
        with pytest.raises(EnvelopeError, match="refusing to seal"):
            seal_code_answer(tampered, made.keys, commitment, "A.")
    finally:
        engine.dispose()
    assert server.service.follow_ups.store.messages(commitment) == []


def test_an_identity_added_with_the_code(vault: Vault) -> None:  # noqa: F811
    server = vault.server
    made = code_tip(server, b"Identity later " + os.urandom(6))
    with server.client() as client:
        assert post(client, made).status_code == 202
        commitment = made.tip.commitment
        view = client.get("/v1/vault/custodian-set/reporter").json()
        contract = TipLedgerContract(server.w3, server.deployment.address)
        chain = VaultChain(lambda: contract)
        checked = checked_custodian_set(
            view, chain, server.deployment.chain_id, RecordKind.REPORTER
        )
        record = seal_identity_on_device(
            {"name": "Reporter R."}, RecordKind.REPORTER, checked.share_keys, checked.threshold
        ).to_dict()
        path = f"/v1/tips/{to_hex(commitment)}/identity"
        wrong = client.post(path, json={"record": record}, headers=auth("tlt2_" + "A" * 43))
        assert wrong.status_code == 401
        added = client.post(
            path, json={"record": record}, headers=auth(code_bearer(made.keys, commitment))
        )
        assert added.status_code == 201, added.text
    assert [r["record_id"] for r in server.service.vault.records_of(commitment)] == [
        added.json()["record_id"]
    ]


def test_a_locator_taken_is_refused_with_nothing_stored(
    server: Server, client: httpx.Client
) -> None:
    first = code_tip(server, b"First " + os.urandom(6))
    assert post(client, first).status_code == 202
    second = code_tip(server, b"Second " + os.urandom(6), same_locator(first.code))
    r = post(client, second)
    assert r.status_code == 409, r.text
    assert r.json() == {"detail": TAKEN}
    assert rows(server, submissions, second.tip.commitment) == []
    assert rows(server, follow_ups, second.tip.commitment) == []
    # the same tip again is a repeat, not a conflict
    again = post(client, first)
    assert again.status_code == 202
    assert again.json()["commitment"] == to_hex(first.tip.commitment)

    # two tips racing for one new locator: one stored, the other refused alone
    racer = new_code()
    racing = [code_tip(server, b"Race " + os.urandom(6), c) for c in (racer, same_locator(racer))]
    answers: list[int] = []

    def send(made: CodeTip) -> None:
        with server.client() as own:
            answers.append(post(own, made).status_code)

    threads = [threading.Thread(target=send, args=(m,)) for m in racing]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(answers) == [202, 409]
    stored = [m for m in racing if rows(server, submissions, m.tip.commitment)]
    assert len(stored) == 1
    assert rows(server, follow_ups, stored[0].tip.commitment)[0].locator == racer.locator


def test_code_lookups(server: Server, client: httpx.Client) -> None:
    made = code_tip(server, b"Looked up " + os.urandom(6))
    assert post(client, made).status_code == 202
    unknown = new_code().locator
    while unknown == made.code.locator:  # pragma: no cover - one in a billion
        unknown = new_code().locator
    r = client.get(f"/v1/codes/{unknown}")
    assert r.status_code == 404
    assert r.json() == {"detail": "no tip has this code"}
    for bad in ("7kqm4t", "7KQM4", "7KQM4TX", "7KQMIT"):
        r = client.get(f"/v1/codes/{bad}")
        assert r.status_code == 422, (bad, r.text)
        assert "first 6 symbols" in r.json()["detail"]
    # unknown locators count as wrong tokens: past the per-key bound, 429 with Retry-After;
    # a known locator still finds its tip
    statuses = [client.get(f"/v1/codes/{unknown}") for _ in range(12)]
    assert statuses[-1].status_code == 429
    assert int(statuses[-1].headers["Retry-After"]) >= 1
    assert client.get(f"/v1/codes/{made.code.locator}").status_code == 200


def test_malformed_enrolments_are_refused(server: Server, client: httpx.Client) -> None:
    made = code_tip(server, b"Malformed " + os.urandom(6))
    good = made.tip.sealed.to_json()["follow_up"]
    cases = [
        ({**good, "locator": "7kqm4t"}, "follow_up.locator"),
        ({**good, "locator": "7KQM4"}, "follow_up.locator"),
        ({**good, "locator": "7KQMIT"}, "follow_up.locator"),
        ({**good, "case_key_tag": "0x" + "00" * 15}, "follow_up.case_key_tag"),
        ({k: v for k, v in good.items() if k != "case_key_tag"}, "follow_up.case_key_tag"),
        ({**good, "pin": "x"}, "unknown field 'pin'"),
        ({**good, "verifier": "0x12"}, "verifier"),
        ({**good, "version": 4}, "version"),
    ]
    for enrolment, said in cases:
        body = {**made.tip.sealed.to_json(), "follow_up": enrolment}
        r = client.post("/v1/tips", json=body)
        assert r.status_code == 422, (enrolment, r.text)
        assert said in r.json()["detail"], r.text
    assert rows(server, submissions, made.tip.commitment) == []
