"""Many agencies on one channel, through the real service (SQLite and PostgreSQL) and a real
Anvil: routing, per-member grants, members removed and added, referral with grants checked
against the chain, and the thread following the case (PROTOCOL.md 16)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account.signers.local import LocalAccount

from ledger.chain.contract import TipLedgerContract
from ledger.cli.api_client import DeskClient, ServiceError
from ledger.core.agency import agency_id
from ledger.core.casekey import grant_member_key_id
from ledger.core.encoding import from_hex, to_hex
from ledger.core.envelope import open_tip
from ledger.core.hpke import key_id, public_bytes
from ledger.desk.member import case_key, grants_for, routing_proof
from ledger.errors import EnvelopeError
from ledger.followup.secrets import open_message
from ledger.log.intake import INTAKE_ID
from ledger.store.cases import split_grants

from .conftest import Server

B = agency_id("pacc")
QUIET = agency_id("quiet")  # registered, no member
SHUT = agency_id("shut")  # deactivated
CACHE = 1.1  # the service reads members from chain at most a second old


@dataclass
class Person:
    account: LocalAccount
    x25519: X25519PrivateKey


@dataclass
class Channel:
    server: Server
    contract: TipLedgerContract
    intake: Person
    b1: Person
    b2: Person


@pytest.fixture(scope="module")
def channel(server: Server) -> Channel:
    contract = TipLedgerContract(server.w3, server.deployment.address)
    admin = server.admin
    contract.add_agency(admin, B, "สำนักงาน ป.ป.ท.", "PACC")
    contract.add_agency(admin, QUIET, "หน่วยงานเงียบ", "Quiet agency")
    contract.add_agency(admin, SHUT, "หน่วยงานปิด", "Closed agency")
    contract.set_agency_active(admin, SHUT, False)
    b1 = Person(server.accounts[3], X25519PrivateKey.generate())
    b2 = Person(server.accounts[4], X25519PrivateKey.generate())
    for p in (b1, b2):
        contract.add_member(admin, B, p.account.address, public_bytes(p.x25519.public_key()))
    contract.add_member(
        admin,
        SHUT,
        server.accounts[5].address,
        public_bytes(X25519PrivateKey.generate().public_key()),
    )
    time.sleep(CACHE)
    intake = Person(server.accounts[2], server.desk_private)
    return Channel(server, contract, intake, b1, b2)


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        yield c


def _submit(http: httpx.Client, text: str, agency: str | None, *, follow_up: bool = False) -> dict:  # type: ignore[type-arg]
    body: dict[str, object] = {"document": base64.b64encode(text.encode()).decode()}
    if agency is not None:
        body["agency"] = agency
    if follow_up:
        body["follow_up"] = True
    answer = http.post("/v1/tips", json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _anchored(http: httpx.Client, commitment: str) -> None:
    deadline = time.monotonic() + 30
    while http.get(f"/v1/tips/{commitment}/receipt").status_code != 200:
        assert time.monotonic() < deadline, "not anchored within 30 s"
        time.sleep(0.1)


def _served(channel: Channel, who: Person, commitment: str, agency: str | None = None) -> dict:  # type: ignore[type-arg]
    params = {} if agency is None else {"agency": agency}
    with DeskClient(channel.server.url, who.account) as desk:
        return desk.call("GET", f"/v1/review/tips/{commitment}", params=params)  # type: ignore[no-any-return]


def _open(tip: dict, commitment: str, who: Person) -> bytes:  # type: ignore[type-arg]
    entry = from_hex(commitment, 32)
    case = case_key(tip, entry, who.x25519)
    return open_tip(case, base64.b64decode(tip["envelope"]), entry).document


def test_the_agencies_and_their_keys_are_public(channel: Channel, http: httpx.Client) -> None:
    listed = {a["id"]: a for a in http.get("/v1/agencies").json()["agencies"]}
    assert set(listed) == {"intake", "pacc", "quiet", "shut"}
    assert listed["shut"]["active"] is False
    keys = {m["key_id"] for m in listed["pacc"]["members"]}
    assert keys == {key_id(channel.b1.x25519.public_key()), key_id(channel.b2.x25519.public_key())}
    assert http.get("/v1/agencies/pacc").json()["name_en"] == "PACC"
    missing = http.get("/v1/agencies/nope")
    assert missing.status_code == 404
    assert "no agency 'nope'" in missing.json()["detail"]
    assert http.get("/v1/agencies/Not-A-Slug").status_code == 422


@pytest.mark.parametrize(
    ("agency", "said"),
    [
        ("nope", "there is no agency 'nope' on this channel"),
        ("quiet", "the agency 'quiet' has no members to seal a tip to"),
        ("shut", "the agency 'shut' is not taking tips (inactive)"),
        ("Bad Slug", "field 'agency': an agency id is 2 to 31"),
        (7, "field 'agency': expected an agency id (a string), got a number"),
    ],
)
def test_a_tip_for_an_agency_that_cannot_take_it_is_refused_and_stores_nothing(
    channel: Channel, http: httpx.Client, agency: object, said: str
) -> None:
    before = channel.server.service.submissions.pending_count()
    body = {"document": base64.b64encode(b"tip").decode(), "agency": agency}
    answer = http.post("/v1/tips", json=body)
    assert answer.status_code == 422
    assert said in answer.json()["detail"]
    assert channel.server.service.submissions.pending_count() == before


def test_a_tip_is_granted_to_each_member_of_its_agency_and_to_no_one_else(
    channel: Channel, http: httpx.Client
) -> None:
    tip = _submit(http, "to pacc", "pacc")
    commitment = tip["commitment"]
    _anchored(http, commitment)
    for member in (channel.b1, channel.b2):
        served = _served(channel, member, commitment)
        assert served["agency"] == "pacc"
        assert served["holders"] == ["pacc"]
        assert served["routing"] is not None
        assert _open(served, commitment, member) == b"to pacc"
    row = channel.server.service.submissions.get(from_hex(commitment, 32))
    assert row is not None
    granted = {grant_member_key_id(g) for g in split_grants(row.grants)}
    assert granted == {key_id(p.x25519.public_key()) for p in (channel.b1, channel.b2)}
    with pytest.raises(ServiceError, match=r"403.*is not a member of agency 'pacc'"):
        _served(channel, channel.intake, commitment, "pacc")
    with pytest.raises(ServiceError, match=r"403.*agency 'intake' does not hold case"):
        _served(channel, channel.intake, commitment)
    # the default: the national intake desk
    default = _submit(http, "no agency named", None)["commitment"]
    assert _served(channel, channel.intake, default)["agency"] == "intake"


def test_a_removed_member_is_not_granted_a_new_tip_and_one_added_is(
    channel: Channel, server: Server, http: httpx.Client
) -> None:
    contract, admin = channel.contract, server.admin
    c2 = Person(server.accounts[6], X25519PrivateKey.generate())
    old = _submit(http, "before the changes", "pacc")["commitment"]
    contract.remove_member(admin, B, channel.b2.account.address)
    contract.add_member(admin, B, c2.account.address, public_bytes(c2.x25519.public_key()))
    time.sleep(CACHE)
    try:
        new = _submit(http, "after the changes", "pacc")["commitment"]
        row = server.service.submissions.get(from_hex(new, 32))
        assert row is not None
        granted = {grant_member_key_id(g) for g in split_grants(row.grants)}
        assert key_id(channel.b2.x25519.public_key()) not in granted
        assert key_id(c2.x25519.public_key()) in granted
        # the removed member's key is refused for the new tip, whoever fetches it
        served = _served(channel, channel.b1, new)
        with pytest.raises(EnvelopeError, match="granted to member key"):
            case_key(served, from_hex(new, 32), channel.b2.x25519)
        with pytest.raises(ServiceError, match="403"):
            _served(channel, channel.b2, new)
        # the member added later reads new tips, and an open case once a member re-grants it
        assert _open(_served(channel, c2, new), new, c2) == b"after the changes"
        before = _served(channel, c2, old)
        assert before["grant"] is None
        with pytest.raises(EnvelopeError, match="a fellow member must grant it"):
            case_key(before, from_hex(old, 32), c2.x25519)
        served_old = _served(channel, channel.b1, old)
        case = case_key(served_old, from_hex(old, 32), channel.b1.x25519)
        fellows = [m for m in contract.members(B) if m.address == c2.account.address]
        with DeskClient(server.url, channel.b1.account) as desk:
            stored = desk.call(
                "POST",
                f"/v1/review/tips/{old}/grants",
                json={
                    "grants": [
                        base64.b64encode(g).decode()
                        for g in grants_for(fellows, case, from_hex(old, 32))
                    ]
                },
            )
            assert stored == {"commitment": old, "agency": "pacc", "grants": 1}
            # a grant for a key the chain does not list for the agency is refused
            stray = grants_for(
                [
                    fellows[0].__class__(
                        B,
                        fellows[0].address,
                        public_bytes(X25519PrivateKey.generate().public_key()),
                    )
                ],
                case,
                from_hex(old, 32),
            )
            refused = desk.http.post(
                f"/v1/review/tips/{old}/grants",
                json={"grants": [base64.b64encode(stray[0]).decode()]},
            )
            assert refused.status_code == 422
            assert "which the chain does not list for agency 'pacc'" in refused.json()["detail"]
        assert _open(_served(channel, c2, old), old, c2) == b"before the changes"
    finally:
        contract.remove_member(admin, B, c2.account.address)
        contract.add_member(
            admin, B, channel.b2.account.address, public_bytes(channel.b2.x25519.public_key())
        )
        time.sleep(CACHE)


def test_a_referral_hands_the_case_and_its_thread_to_the_other_agency(
    channel: Channel, server: Server, http: httpx.Client
) -> None:
    tip = _submit(http, "to be referred", "pacc", follow_up=True)
    commitment, entry = tip["commitment"], from_hex(tip["commitment"], 32)
    secret = tip["follow_up"]["secret"]
    _anchored(http, commitment)
    served = _served(channel, channel.b1, commitment)
    case = case_key(served, entry, channel.b1.x25519)
    receivers = channel.contract.members(INTAKE_ID)
    grants = [base64.b64encode(g).decode() for g in grants_for(receivers, case, entry)]
    result = channel.contract.refer(
        channel.b1.account, entry, B, INTAKE_ID, True, routing_proof(served)
    )
    with DeskClient(server.url, channel.b1.account) as desk:
        # the service takes grants only for a referral the chain shows, in that block
        wrong = desk.http.post(
            f"/v1/review/tips/{commitment}/referrals",
            json={
                "tx_hash": to_hex(result.tx_hash),
                "block_number": result.block_number - 1,
                "grants": grants,
            },
        )
        assert wrong.status_code == 404
        stored = desk.call(
            "POST",
            f"/v1/review/tips/{commitment}/referrals",
            json={
                "tx_hash": to_hex(result.tx_hash),
                "block_number": result.block_number,
                "grants": grants,
            },
        )
    assert stored == {
        "commitment": commitment,
        "from_agency": "pacc",
        "to_agency": "intake",
        "keep_access": True,
        "grants": len(receivers),
    }
    at_intake = _served(channel, channel.intake, commitment)
    assert at_intake["holders"] == ["intake", "pacc"]  # pacc kept access
    assert _open(at_intake, commitment, channel.intake) == b"to be referred"
    # the reporter's answer after the referral reaches the agency now holding the case
    reply = http.post(
        f"/v1/tips/{commitment}/follow-up/messages",
        json={"text": "อีกเรื่องหนึ่ง"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert reply.status_code == 201, reply.text
    with DeskClient(server.url, channel.intake.account) as desk:
        thread = desk.call("GET", f"/v1/review/tips/{commitment}/messages")
    message = thread["messages"][-1]
    intake_case = case_key(at_intake, entry, channel.intake.x25519)
    text = open_message(
        intake_case,
        base64.b64decode(message["sealed"]),
        commitment=entry,
        message_id=from_hex(message["id"], 16),
        sender=2,
    )
    assert text == "อีกเรื่องหนึ่ง"
    # the on-chain trail, and who may record a review now
    events = [e for e in channel.contract.referred_events() if e.commitment == entry]
    assert [(e.from_agency, e.to_agency, e.keep_access) for e in events] == [(B, INTAKE_ID, True)]
    review = channel.contract.record_review(
        channel.intake.account, entry, INTAKE_ID, 2, bytes(32), None
    )
    assert review.block_number > result.block_number
    assert _served(channel, channel.intake, commitment)["review"]["status"] == 2
