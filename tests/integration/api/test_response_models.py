"""Real answers, over real HTTP, against the response models the routes declare (SQLite and
PostgreSQL, the service's sequencer anchoring on the session's Anvil).

The hot routes answer with orjson straight from dicts, never through their models: the models
are what the OpenAPI document promises. Each answer here is parsed from its bytes by the model
the route declares for its status code (read from the app, so a moved or renamed model is
still the one checked), in strict mode (no coercion: an int is an int, a string a string), and
must come back unchanged when dumped: no key the model does not describe, none it misreads.
Every non-vault route with a response model is exercised; a test holds that list complete.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from api.main import create_app
from ledger.auth.sessions import MEMBER, REVIEWER_ROLE, Challenge
from ledger.chain.contract import TipLedgerContract
from ledger.cli.api_client import sign_in
from ledger.core.agency import agency_id
from ledger.core.encoding import from_hex, to_hex
from ledger.core.hpke import public_bytes
from ledger.core.receipt import Receipt
from ledger.desk.member import case_key, grants_for, routing_proof
from ledger.device import member_keys
from ledger.followup.code import code_bearer, seal_with_code
from ledger.followup.secrets import (
    FROM_REVIEWER,
    new_message_id,
    parse_secret,
    reporter_key,
    seal_message,
)
from ledger.log.intake import INTAKE_ID

from .conftest import Server

pytestmark = pytest.mark.chain

Route = tuple[str, str]  # method, path template

# The non-vault routes that declare a response model, each exercised below.
COVERED: set[Route] = {
    ("POST", "/v1/tips"),
    ("GET", "/v1/tips/{commitment}/receipt"),
    ("GET", "/v1/log/checkpoint"),
    ("GET", "/v1/log/proof/inclusion"),
    ("GET", "/v1/log/proof/consistency"),
    ("GET", "/v1/log/entries"),
    ("GET", "/v1/log/arrivals"),
    ("POST", "/v1/verify"),
    ("GET", "/healthz"),
    ("POST", "/v1/auth/challenge"),
    ("POST", "/v1/auth/session"),
    ("GET", "/v1/auth/session"),
    ("GET", "/v1/tips/{commitment}/follow-up"),
    ("POST", "/v1/tips/{commitment}/follow-up/messages"),
    ("GET", "/v1/codes/{locator}"),
    ("GET", "/v1/review/tips"),
    ("GET", "/v1/review/tips/{commitment}"),
    ("GET", "/v1/review/tips/{commitment}/messages"),
    ("POST", "/v1/review/tips/{commitment}/messages"),
    ("POST", "/v1/review/tips/{commitment}/referrals"),
    ("POST", "/v1/review/tips/{commitment}/grants"),
    ("GET", "/v1/agencies"),
    ("GET", "/v1/agencies/{agency}"),
}


def is_vault(path: str) -> bool:
    return path.startswith("/v1/vault")


def served_routes(server: Server) -> dict[Route, APIRoute]:
    """Every route the app serves, by method and path template."""
    app = create_app(server.service, manage_lifecycle=False)
    found: dict[Route, APIRoute] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            for method in (route.methods or set()) - {"HEAD", "OPTIONS"}:
                found[(method, context.path or route.path)] = route
    return found


class Answers:
    """Checks each answer against the model its route declares for the status it has."""

    def __init__(self, server: Server, http: httpx.Client) -> None:
        self.routes = served_routes(server)
        self.http = http

    def model(self, route: Route, status: int) -> type[BaseModel]:
        declared = self.routes[route]
        extra = declared.responses.get(status) or declared.responses.get(str(status)) or {}
        model = extra.get("model")
        if model is None and status == (declared.status_code or 200):
            model = declared.response_model
        assert isinstance(model, type), f"{route} answered {status}: no model declared for it"
        assert issubclass(model, BaseModel)
        return model

    def check(self, route: Route, response: httpx.Response, status: int) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        model = self.model(route, status)
        parsed = model.model_validate_json(response.content, strict=True)
        data: dict[str, Any] = response.json()
        # What the model holds is the whole answer: nothing undescribed, nothing coerced.
        assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == data, (
            f"{route} {status}: the answer differs from its {model.__name__}"
        )
        return data

    def call(
        self,
        method: str,
        template: str,
        status: int,
        *,
        commitment: str | None = None,
        agency: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        route = (method, template)
        assert route in COVERED or status >= 400, f"{route} is not in COVERED"
        url = template.replace("{commitment}", commitment or "").replace("{agency}", agency or "")
        return self.check(route, self.http.request(method, url, **kwargs), status)


@pytest.fixture
def answers(server: Server, client: httpx.Client) -> Answers:
    return Answers(server, client)


def grant_reviewer(server: Server, account: LocalAccount) -> None:
    contract = TipLedgerContract(server.w3, server.deployment.address)
    if not contract.has_role(REVIEWER_ROLE, account.address):
        contract.grant_role(server.admin, REVIEWER_ROLE, account.address)


@pytest.fixture
def reviewer(server: Server) -> Iterator[dict[str, str]]:
    """The session of accounts[2], the intake desk's one member (no role needed)."""
    account = server.accounts[2]
    with server.client() as http:
        yield {"Authorization": f"Bearer {sign_in(http, account)}"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def anchored(answers: Answers, commitment: str, timeout: float = 60) -> dict[str, Any]:
    """The receipt route's 200 answer, once the tip is anchored (each 202 on the way checked)."""
    deadline = time.monotonic() + timeout
    while True:
        response = answers.http.get(f"/v1/tips/{commitment}/receipt")
        route = ("GET", "/v1/tips/{commitment}/receipt")
        if response.status_code == 200:
            return answers.check(route, response, 200)
        answers.check(route, response, 202)
        assert time.monotonic() < deadline, "not anchored in time"
        time.sleep(0.1)


def submit(answers: Answers, document: bytes, **extra: Any) -> dict[str, Any]:
    return answers.call("POST", "/v1/tips", 202, json={"document": b64(document), **extra})


# --- the list is complete ------------------------------------------------------------------------


def test_every_non_vault_route_with_a_response_model_is_covered(server: Server) -> None:
    declared = {
        route
        for route, api_route in served_routes(server).items()
        if api_route.response_model is not None and not is_vault(route[1])
    }
    assert declared == COVERED, declared ^ COVERED


# --- tips and receipts ---------------------------------------------------------------------------


def test_tip_accepted_and_receipt_status(answers: Answers) -> None:
    accepted = submit(answers, b"response models: a plain tip " + os.urandom(4).hex().encode())
    assert accepted["follow_up"] is None
    pending_seen = False
    for i in range(20):  # the sequencer runs every 0.2 s: catch one answer while pending
        tip = submit(answers, f"pending {i} {os.urandom(4).hex()}".encode())
        response = answers.http.get(f"/v1/tips/{tip['commitment']}/receipt")
        if response.status_code == 202:
            pending = answers.check(("GET", "/v1/tips/{commitment}/receipt"), response, 202)
            assert pending["status"] == "pending"
            assert pending["inclusion"] is None
            pending_seen = True
            break
    assert pending_seen, "every receipt was anchored before it could be fetched"
    done = anchored(answers, accepted["commitment"])
    assert done["status"] == "anchored"
    assert done["inclusion"] is not None
    Receipt.from_dict({**accepted["receipt"], "inclusion": done["inclusion"]})


def test_tip_accepted_with_a_client_salt_and_author(answers: Answers) -> None:
    salt = "0x" + os.urandom(32).hex()
    author = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    accepted = submit(answers, b"with salt and author", salt=salt, author=author)
    assert accepted["receipt"]["salt"] == salt
    assert accepted["receipt"]["author"] == author


def test_tip_accepted_multipart_with_a_follow_up(answers: Answers) -> None:
    accepted = answers.call(
        "POST",
        "/v1/tips",
        202,
        data={"document": "Invoice paid twice " + os.urandom(4).hex(), "follow_up": "true"},
        files=[("files", ("order.pdf", b"%PDF-1.4 order", "application/pdf"))],
    )
    assert accepted["document"]
    assert accepted["follow_up"]["secret"].startswith("tlf1_")
    assert accepted["receipt"]["follow_up"] == accepted["follow_up"]


# --- the log -------------------------------------------------------------------------------------


def test_checkpoint_proofs_and_entries(answers: Answers, server: Server) -> None:
    for i in range(3):
        last = submit(answers, f"log {i} {os.urandom(4).hex()}".encode())
    anchored(answers, last["commitment"])
    cp = answers.call("GET", "/v1/log/checkpoint", 200)
    size = cp["tree_size"]
    assert size >= 3
    proof = answers.call(
        "GET", "/v1/log/proof/inclusion", 200, params={"index": size - 1, "size": size}
    )
    assert all(isinstance(h, str) for h in proof["proof"])
    answers.call("GET", "/v1/log/proof/consistency", 200, params={"first": 1, "second": size})
    entries = answers.call("GET", "/v1/log/entries", 200, params={"start": 0, "end": size})
    assert len(entries["entries"]) == size
    # oversight only: the admin holds DEFAULT_ADMIN_ROLE
    admin = {"Authorization": f"Bearer {sign_in(answers.http, server.admin)}"}
    arrivals = answers.call(
        "GET", "/v1/log/arrivals", 200, params={"start": 0, "end": size}, headers=admin
    )
    assert arrivals["next"] == size


# --- verify and health ---------------------------------------------------------------------------


def test_verdicts_pending_valid_and_invalid(answers: Answers) -> None:
    document = b"verify me " + os.urandom(4).hex().encode()
    accepted = submit(answers, document)
    answers.call("POST", "/v1/verify", 200, json={"receipt": accepted["receipt"]})
    done = anchored(answers, accepted["commitment"])
    receipt = {**accepted["receipt"], "inclusion": done["inclusion"]}
    valid = answers.call(
        "POST", "/v1/verify", 200, json={"receipt": receipt, "document": b64(document)}
    )
    assert valid["valid"] is True
    assert isinstance(valid["proven_time"], int)
    wrong = answers.call(
        "POST", "/v1/verify", 200, json={"receipt": receipt, "document": b64(b"other")}
    )
    assert wrong["valid"] is False


def test_health(answers: Answers) -> None:
    anchored(answers, submit(answers, b"health " + os.urandom(4).hex().encode())["commitment"])
    health = answers.call("GET", "/healthz", 200)
    assert health["ok"] is True
    assert health["sequencer"]["running"] is True
    assert health["sequencer"]["last_anchor"] is not None


# --- sign-in -------------------------------------------------------------------------------------


def test_challenge_and_sessions(server: Server, answers: Answers) -> None:
    account = server.accounts[2]
    grant_reviewer(server, account)
    data = answers.call("POST", "/v1/auth/challenge", 200)
    assert "{address}" in data["message_template"]
    challenge = Challenge(**{k: data[k] for k in Challenge.__dataclass_fields__})
    text = challenge.message(account.address).to_text()
    signature = account.sign_message(encode_defunct(text=text)).signature
    session = answers.call(
        "POST",
        "/v1/auth/session",
        200,
        json={"message": text, "signature": to_hex(bytes(signature))},
    )
    assert REVIEWER_ROLE in session["roles"]
    assert MEMBER in session["roles"]  # accounts[2] is the intake desk's member
    me = answers.call(
        "GET", "/v1/auth/session", 200, headers={"Authorization": f"Bearer {session['token']}"}
    )
    assert me["token"] is None
    assert me["address"] == account.address


# --- the follow-up and the review desk -----------------------------------------------------------


def test_follow_up_and_review_desk(
    server: Server, answers: Answers, reviewer: dict[str, str]
) -> None:
    accepted = submit(answers, b"desk " + os.urandom(4).hex().encode(), follow_up=True)
    commitment = accepted["commitment"]
    reporter = {"Authorization": f"Bearer {accepted['follow_up']['secret']}"}
    follow_up = "/v1/tips/{commitment}/follow-up"
    desk = "/v1/review/tips/{commitment}"

    view = answers.call("GET", follow_up, 200, commitment=commitment, headers=reporter)
    assert view["review"] is None
    page = answers.call("GET", "/v1/review/tips", 200, headers=reviewer, params={"limit": 200})
    assert all(isinstance(t["commitment"], str) for t in page["tips"])
    pending = answers.call("GET", desk, 200, commitment=commitment, headers=reviewer)
    assert pending["review"] is None

    # a question sealed as a member seals it: to the reporter's key the thread gives, and to
    # the case key opened from the member's grant
    thread = answers.call("GET", desk + "/messages", 200, commitment=commitment, headers=reviewer)
    assert thread["messages"] == []
    entry = from_hex(commitment, 32)
    case = case_key(pending, entry, server.desk_private)
    message_id = new_message_id()
    sealed: dict[str, Any] = {
        "commitment": entry,
        "message_id": message_id,
        "sender": FROM_REVIEWER,
        "text": "Which office?",
    }
    key = reporter_key(parse_secret(accepted["follow_up"]["secret"]), entry).public_key()
    answers.call(
        "POST",
        desk + "/messages",
        201,
        commitment=commitment,
        headers=reviewer,
        json={
            "id": to_hex(message_id),
            "to_reporter": b64(seal_message(key, **sealed)),
            "to_desk": b64(seal_message(case.public_key(), **sealed)),
        },
    )
    answers.call(
        "POST",
        follow_up + "/messages",
        201,
        commitment=commitment,
        headers=reporter,
        json={"text": "The treasury office."},
    )

    # anchored and under review on chain: every field of the answers is filled in
    anchored(answers, commitment)
    served = answers.call("GET", desk, 200, commitment=commitment, headers=reviewer)
    proof = routing_proof(served)
    assert proof is not None
    contract = TipLedgerContract(server.w3, server.deployment.address)
    contract.record_review(server.accounts[2], entry, INTAKE_ID, 1, bytes(32), proof)
    deadline = time.monotonic() + 30
    while True:
        view = answers.call("GET", follow_up, 200, commitment=commitment, headers=reporter)
        if view["review"] is not None:
            break
        assert time.monotonic() < deadline, "the review was not seen"
        time.sleep(0.2)
    assert view["anchored"] is True
    assert [m["from"] for m in view["messages"]] == ["reviewer", "reporter"]
    shown = answers.call("GET", desk, 200, commitment=commitment, headers=reviewer)
    assert shown["inclusion"] is not None
    assert shown["routing"] is not None
    assert shown["grant"] is not None
    assert shown["case_key"] == to_hex(public_bytes(case.public_key()))
    assert shown["review"]["reviewer"] == server.accounts[2].address
    assert shown["latest_review"] == shown["review"]
    thread = answers.call("GET", desk + "/messages", 200, commitment=commitment, headers=reviewer)
    assert [m["from"] for m in thread["messages"]] == ["reviewer", "reporter"]
    under_review = answers.call(
        "GET",
        "/v1/review/tips",
        200,
        headers=reviewer,
        params={"under_review": "true", "limit": 200},
    )
    listed = {t["commitment"]: t for t in under_review["tips"]}
    if commitment in listed:  # the first page may end before it
        assert listed[commitment]["anchored"] is True


# --- agencies, grants and referral ---------------------------------------------------------------

PACC = agency_id("pacc")


def test_agencies_grants_and_a_referral(
    server: Server, answers: Answers, reviewer: dict[str, str]
) -> None:
    contract = TipLedgerContract(server.w3, server.deployment.address)
    contract.add_agency(server.admin, PACC, "สำนักงาน ป.ป.ท.", "PACC")
    member_key = X25519PrivateKey.generate().public_key()
    contract.add_member(server.admin, PACC, server.accounts[3].address, public_bytes(member_key))
    deadline = time.monotonic() + 30
    while True:  # the service reads the agencies from chain at most a second old
        listed = answers.call("GET", "/v1/agencies", 200)["agencies"]
        if "pacc" in {a["id"] for a in listed}:
            break
        assert time.monotonic() < deadline, "the new agency was not listed"
        time.sleep(0.2)
    intake = answers.call("GET", "/v1/agencies/{agency}", 200, agency="intake")
    assert [m["address"] for m in intake["members"]] == [server.accounts[2].address]
    assert intake["active"] is True

    accepted = submit(answers, b"to be referred " + os.urandom(4).hex().encode())
    commitment, entry = accepted["commitment"], from_hex(accepted["commitment"], 32)
    anchored(answers, commitment)
    desk = "/v1/review/tips/{commitment}"
    served = answers.call("GET", desk, 200, commitment=commitment, headers=reviewer)
    case = case_key(served, entry, server.desk_private)
    # a re-grant to the agency's members, made on the member's machine
    regranted = answers.call(
        "POST",
        desk + "/grants",
        201,
        commitment=commitment,
        headers=reviewer,
        json={"grants": [b64(g) for g in grants_for(contract.members(INTAKE_ID), case, entry)]},
    )
    assert regranted == {"commitment": commitment, "agency": "intake", "grants": 1}
    # refer() on chain by the member, then the grants for the receiving agency's members
    result = contract.refer(server.accounts[2], entry, INTAKE_ID, PACC, True, routing_proof(served))
    receivers = contract.members(PACC)
    grants = [b64(g) for g in grants_for(receivers, case, entry)]
    beyond = answers.call(  # a block the chain does not have yet: not found, not a chain error
        "POST",
        desk + "/referrals",
        404,
        commitment=commitment,
        headers=reviewer,
        json={
            "tx_hash": to_hex(result.tx_hash),
            "block_number": result.block_number + 10_000,
            "grants": grants,
        },
    )
    assert "beyond the chain's latest block" in beyond["detail"]
    stored = answers.call(
        "POST",
        desk + "/referrals",
        201,
        commitment=commitment,
        headers=reviewer,
        json={
            "tx_hash": to_hex(result.tx_hash),
            "block_number": result.block_number,
            "grants": grants,
        },
    )
    assert stored == {
        "commitment": commitment,
        "from_agency": "intake",
        "to_agency": "pacc",
        "keep_access": True,
        "grants": len(receivers),
    }
    shown = answers.call("GET", desk, 200, commitment=commitment, headers=reviewer)
    assert shown["holders"] == ["intake", "pacc"]


def test_a_reporter_s_code(server: Server, answers: Answers) -> None:
    """The locator finds the tip; the thread of a code's tip is version 3, with its tag."""
    members = TipLedgerContract(server.w3, server.deployment.address)
    made = seal_with_code(
        member_keys(members, "intake"), agency="intake", document=b"code " + os.urandom(4)
    )
    # (the sealed tip's 202 is checked by test_sealed_tips.py: its receipt has no salt here)
    assert answers.http.post("/v1/tips", json=made.tip.sealed.to_json()).status_code == 202
    route = ("GET", "/v1/codes/{locator}")
    found = answers.check(route, answers.http.get(f"/v1/codes/{made.code.locator}"), 200)
    assert found == {"commitment": to_hex(made.tip.commitment)}
    answers.check(route, answers.http.get("/v1/codes/000000"), 404)
    answers.check(route, answers.http.get("/v1/codes/lower1"), 422)
    token = {"Authorization": f"Bearer {code_bearer(made.keys, made.tip.commitment)}"}
    view = answers.call(
        "GET",
        "/v1/tips/{commitment}/follow-up",
        200,
        commitment=found["commitment"],
        headers=token,
    )
    assert view["version"] == 3
    assert view["case_key_tag"].startswith("0x")


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "template", "status", "kwargs"),
    [
        ("GET", "/v1/tips/{commitment}/receipt", 404, {}),
        ("GET", "/v1/tips/{commitment}/follow-up", 401, {}),
        ("GET", "/v1/log/proof/inclusion", 422, {"params": {"index": -1, "size": 1}}),
        ("GET", "/v1/log/proof/inclusion", 400, {"params": {"index": 1, "size": 1}}),
        ("GET", "/v1/log/entries", 422, {"params": {"start": "x", "end": 1}}),
        ("POST", "/v1/verify", 422, {"json": {"receipt": {"format": "nope"}}}),
        ("GET", "/v1/review/tips", 401, {}),
        ("GET", "/v1/agencies/{agency}", 404, {"agency": "nope"}),
        ("GET", "/v1/agencies/{agency}", 422, {"agency": "Not-A-Slug"}),
    ],
)
def test_refusals_are_error_models(
    answers: Answers, method: str, template: str, status: int, kwargs: dict[str, Any]
) -> None:
    error = answers.call(method, template, status, commitment="0x" + "ab" * 32, **kwargs)
    assert error["detail"]
