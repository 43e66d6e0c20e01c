"""Sign-In with Ethereum against the real service: challenges, sessions, roles read from chain."""

from __future__ import annotations

import time

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from ledger.auth.sessions import Challenge
from ledger.chain.contract import TipLedgerContract
from ledger.cli.api_client import DeskClient, ServiceError, sign_in
from ledger.errors import PermissionDeniedError

from .conftest import Server

REVIEWER_ROLE = "REVIEWER_ROLE"


def _contract(server: Server) -> TipLedgerContract:
    return TipLedgerContract(server.w3, server.deployment.address)


def _challenge(client: httpx.Client) -> Challenge:
    data = client.post("/v1/auth/challenge").json()
    return Challenge(**{k: data[k] for k in Challenge.__dataclass_fields__})


def _signed(client: httpx.Client, account: LocalAccount, **changes: object) -> dict[str, str]:
    challenge = _challenge(client)
    fields = {k: getattr(challenge, k) for k in Challenge.__dataclass_fields__}
    fields.update(changes)
    text = Challenge(**fields).message(account.address).to_text()  # type: ignore[arg-type]
    signature = account.sign_message(encode_defunct(text=text)).signature
    return {"message": text, "signature": "0x" + bytes(signature).hex()}


@pytest.fixture
def reviewer(server: Server) -> LocalAccount:
    account = server.accounts[2]
    contract = _contract(server)
    if not contract.has_role(REVIEWER_ROLE, account.address):
        contract.grant_role(server.admin, REVIEWER_ROLE, account.address)
    return account


def test_challenge_names_this_service(client: httpx.Client, server: Server) -> None:
    response = client.post("/v1/auth/challenge")
    assert response.status_code == 200
    data = response.json()
    assert data["uri"] == server.url
    assert data["domain"] == server.url.removeprefix("http://")
    assert data["chain_id"] == server.deployment.chain_id
    assert "{address}" in data["message_template"]
    assert "set-cookie" not in response.headers
    assert client.post("/v1/auth/challenge").json()["nonce"] != data["nonce"]


def test_reviewer_signs_in_and_out(client: httpx.Client, reviewer: LocalAccount) -> None:
    response = client.post("/v1/auth/session", json=_signed(client, reviewer))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["address"] == reviewer.address
    assert REVIEWER_ROLE in body["roles"]
    assert body["expires_at"] > body["issued_at"]
    headers = {"Authorization": f"Bearer {body['token']}"}
    me = client.get("/v1/auth/session", headers=headers)
    assert me.status_code == 200
    assert me.json()["address"] == reviewer.address
    assert me.json()["token"] is None
    assert client.delete("/v1/auth/session", headers=headers).status_code == 204
    gone = client.get("/v1/auth/session", headers=headers)
    assert gone.status_code == 401
    assert gone.headers["www-authenticate"] == "Bearer"


def test_address_without_a_role_is_refused(client: httpx.Client, server: Server) -> None:
    outsider = Account.create()
    response = client.post("/v1/auth/session", json=_signed(client, outsider))
    assert response.status_code == 403
    assert "holds none of" in response.json()["detail"]


def test_nonce_is_single_use(client: httpx.Client, reviewer: LocalAccount) -> None:
    body = _signed(client, reviewer)
    assert client.post("/v1/auth/session", json=body).status_code == 200
    again = client.post("/v1/auth/session", json=body)
    assert again.status_code == 401
    assert "nonce" in again.json()["detail"]


def test_nonce_the_service_never_issued(client: httpx.Client, reviewer: LocalAccount) -> None:
    response = client.post("/v1/auth/session", json=_signed(client, reviewer, nonce="A" * 22))
    assert response.status_code == 401
    assert "nonce" in response.json()["detail"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"domain": "evil.example"}, "domain mismatch"),
        ({"uri": "http://evil.example"}, "uri mismatch"),
        ({"chain_id": 1}, "chain id mismatch"),
        ({"scheme": "https"}, "scheme mismatch"),
        ({"expiration_time": "2020-01-01T00:00:00Z"}, "expired"),
        ({"issued_at": "2099-01-01T00:00:00Z"}, "issued in the future"),
    ],
)
def test_message_for_something_else_is_refused(
    client: httpx.Client, reviewer: LocalAccount, change: dict[str, object], reason: str
) -> None:
    response = client.post("/v1/auth/session", json=_signed(client, reviewer, **change))
    assert response.status_code == 401
    assert reason in response.json()["detail"]


def test_signature_by_another_key_is_refused(client: httpx.Client, reviewer: LocalAccount) -> None:
    body = _signed(client, reviewer)
    other = Account.create().sign_message(encode_defunct(text=body["message"])).signature
    body["signature"] = "0x" + bytes(other).hex()
    response = client.post("/v1/auth/session", json=body)
    assert response.status_code == 401
    assert "signature does not match" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"message": "hello", "signature": "0x00"},
        {"message": 5, "signature": "0x"},
        {"message": "x", "signature": "0x" + "00" * 65, "extra": 1},
    ],
)
def test_malformed_sign_in_is_a_4xx(client: httpx.Client, body: dict[str, object]) -> None:
    response = client.post("/v1/auth/session", json=body)
    assert response.status_code in (401, 422)
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("header", ["", "Bearer", "Basic abc", "Bearer tls_nonsense"])
def test_bad_bearer_is_401(client: httpx.Client, header: str) -> None:
    response = client.get("/v1/auth/session", headers={"Authorization": header})
    assert response.status_code == 401


def test_revoked_role_takes_effect_without_restart(server: Server) -> None:
    account = server.accounts[3]
    contract = _contract(server)
    contract.grant_role(server.admin, REVIEWER_ROLE, account.address)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        token = sign_in(http, account)
        headers = {"Authorization": f"Bearer {token}"}
        assert REVIEWER_ROLE in http.get("/v1/auth/session", headers=headers).json()["roles"]
        contract.revoke_role(server.admin, REVIEWER_ROLE, account.address)
        deadline = time.monotonic() + 15
        while REVIEWER_ROLE in http.get("/v1/auth/session", headers=headers).json()["roles"]:
            assert time.monotonic() < deadline, "the revocation never took effect"
            time.sleep(0.5)
        with pytest.raises(PermissionDeniedError):
            server.service.sessions.require(token, REVIEWER_ROLE)


def test_desk_client_signs_in(server: Server, reviewer: LocalAccount) -> None:
    with DeskClient(server.url, reviewer) as desk:
        assert desk.call("GET", "/v1/auth/session")["address"] == reviewer.address
    with pytest.raises(ServiceError, match="403"):
        DeskClient(server.url, Account.create())
