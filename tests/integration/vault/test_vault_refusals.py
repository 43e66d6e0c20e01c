"""What the vault refuses, at every layer: the API (roles, parts, on-chain record), the contract
(too few, duplicate or non-custodian signatures), and the custodian's and investigator's tools
(which trust the chain and their own arithmetic, not the service)."""

from __future__ import annotations

import base64
import os
import time
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import update

from api.vault_models import (
    ChainState,
    CustodianModel,
    CustodianSetModel,
    RequestModel,
    ResealedSharesModel,
    VaultInfo,
)
from ledger.chain.contract import TipLedgerContract
from ledger.cli.api_client import sign_in
from ledger.core.eip712 import sign_disclosure
from ledger.core.encoding import from_hex, to_hex
from ledger.errors import ContractRevertedError
from ledger.store.schema import vault_requests
from ledger.vault.client import check_approvals, check_request
from ledger.vault.custodian_keys import CustodianKey, load_custodian_key
from ledger.vault.digests import sign_registration
from ledger.vault.errors import ApprovalError, NoCustodianSetError
from ledger.vault.onchain import VaultChain

from ..api.conftest import Server
from .conftest import Vault

pytestmark = pytest.mark.chain

Z32 = "0x" + "00" * 32


def _headers(server: Server, account: LocalAccount) -> dict[str, str]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return {"Authorization": f"Bearer {sign_in(client, account)}"}


def _key(vault: Vault, i: int) -> CustodianKey:
    c = vault.custodians[i]
    return load_custodian_key(c.key_file, c.passphrase_file.read_text().rstrip("\n"))


def _investigator(vault: Vault) -> CustodianKey:
    p = vault.investigator
    return load_custodian_key(p.key_file, p.passphrase_file.read_text().rstrip("\n"))


def _contract(server: Server) -> TipLedgerContract:
    return TipLedgerContract(server.w3, server.deployment.address)


def _http(server: Server, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30, headers=headers or {})


def _extra_custodian(vault: Vault, *, register: bool = True) -> CustodianKey:
    """A custodian with CUSTODIAN_ROLE (and registered), in no set."""
    key = CustodianKey.generate()
    _contract(vault.server).grant_role(vault.server.admin, "CUSTODIAN_ROLE", key.address)
    if register:
        info = vault.server.service.vault.info()
        signature = sign_registration(
            key.eth_account, info["chain_id"], info["contract"], key.public()
        )
        body = {"registration": key.public().to_dict(), "signature": to_hex(signature)}
        with _http(vault.server, _headers(vault.server, key.eth_account)) as client:
            assert client.post("/v1/vault/custodians", json=body).status_code == 201
    return key


def _request(vault: Vault) -> dict[str, Any]:
    """A new record and a request for it, filed by the investigator over the API."""
    _commitment, record_id = vault.submit({"name": "A. Reporter", "n": os.urandom(4).hex()})
    investigator = _investigator(vault)
    body = {
        "record_id": to_hex(record_id),
        "purpose": "Protection order",
        "investigator_key": to_hex(investigator.share_key.raw),
    }
    with _http(vault.server, _headers(vault.server, investigator.eth_account)) as client:
        response = client.post("/v1/vault/requests", json=body)
    assert response.status_code == 201, response.text
    view: dict[str, Any] = response.json()
    RequestModel.model_validate(view)
    return view


def _approval(vault: Vault, key: CustodianKey, view: dict[str, Any]) -> bytes:
    info = vault.server.service.vault.info()
    return key.sign_disclosure(
        chain_id=info["chain_id"],
        contract=info["contract"],
        record_id=from_hex(view["record_id"], 32),
        request_digest=from_hex(view["request_digest"], 32),
        requester=view["requester"],
    )


def _approve(vault: Vault, i: int, view: dict[str, Any]) -> httpx.Response:
    key = _key(vault, i)
    with _http(vault.server, _headers(vault.server, key.eth_account)) as client:
        return client.post(
            f"/v1/vault/requests/{view['id']}/approvals",
            json={"signature": to_hex(_approval(vault, key, view))},
        )


def test_an_identity_needs_a_custodian_set(server: Server) -> None:
    """Before any set is configured (this runs before the module's ``vault`` fixture)."""
    with _http(server) as client:
        info = client.get("/v1/vault")
        assert info.status_code == 200
        VaultInfo.model_validate(info.json())
        assert info.json()["kinds"]["reporter"]["available"] is False
        body = {"document": base64.b64encode(b"tip").decode(), "identity": {"name": "X"}}
        refused = client.post("/v1/tips", json=body)
    assert refused.status_code == 409
    assert "no reporter custodian set is configured" in refused.json()["detail"]
    assert server.service.vault.available("reporter") is False
    with pytest.raises(NoCustodianSetError):
        server.service.vault.prepare_identity(b'{"name": "X"}', "witness")


ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", "/v1/vault/custodians", None, "desk"),
    ("POST", "/v1/vault/custodians", {"registration": {}, "signature": "0x00"}, "custodian"),
    ("GET", "/v1/vault/custodians/me", None, "custodian"),
    ("POST", "/v1/vault/custodians/0011223344556677/active", {"active": False}, "admin"),
    ("GET", "/v1/vault/sets", None, "desk"),
    (
        "POST",
        "/v1/vault/sets",
        {"kind": "reporter", "threshold": 2, "custodians": ["a", "b"]},
        "admin",
    ),
    ("GET", f"/v1/vault/records?commitment={Z32}", None, "desk"),
    ("GET", f"/v1/vault/records/{Z32}", None, "desk"),
    (
        "POST",
        "/v1/vault/requests",
        {"record_id": Z32, "purpose": "x", "investigator_key": "0x" + "11" * 32},
        "reviewer",
    ),
    ("GET", "/v1/vault/requests", None, "desk"),
    ("GET", "/v1/vault/requests/1", None, "desk"),
    ("POST", "/v1/vault/requests/1/approvals", {"signature": "0x00"}, "custodian"),
    ("POST", "/v1/vault/requests/1/declines", {"reason": "x"}, "custodian"),
    ("GET", "/v1/vault/requests/1/chain", None, "desk"),
    ("GET", "/v1/vault/requests/1/share", None, "custodian"),
    ("POST", "/v1/vault/requests/1/resealed", {"resealed": "0x00"}, "custodian"),
    ("GET", "/v1/vault/requests/1/resealed", None, "reviewer"),
    ("GET", "/v1/vault/rotations", None, "desk"),
    ("POST", "/v1/vault/rotations", {"kind": "reporter"}, "custodian"),
    ("GET", "/v1/vault/rotations/1", None, "desk"),
    ("GET", "/v1/vault/rotations/1/shares", None, "custodian"),
    (
        "POST",
        "/v1/vault/rotations/1/contributions",
        {"shares": [{"record_id": Z32, "resealed": "0x00"}]},
        "custodian",
    ),
    ("GET", "/v1/vault/rotations/1/contributions", None, "custodian"),
    ("POST", "/v1/vault/rotations/1/finish", {"records": []}, "custodian"),
    ("POST", "/v1/vault/rotations/1/cancel", None, "custodian or admin"),
]


def test_privileged_endpoints_refuse_anonymous_callers_and_other_roles(vault: Vault) -> None:
    server = vault.server
    reviewer_only = _headers(server, _investigator(vault).eth_account)
    custodian_only = _headers(server, _key(vault, 0).eth_account)
    # A desk session whose address has since lost its only role on chain.
    former = Account.create()
    contract = _contract(server)
    contract.grant_role(server.admin, "REVIEWER_ROLE", former.address)
    former_headers = _headers(server, former)
    contract.revoke_role(server.admin, "REVIEWER_ROLE", former.address)
    wrong = {
        "desk": former_headers,
        "custodian": reviewer_only,
        "reviewer": custodian_only,
        "admin": custodian_only,
        "custodian or admin": reviewer_only,
    }
    deadline = time.monotonic() + 15  # the service caches a role for a few seconds
    with _http(server) as client:
        while client.get("/v1/vault/sets", headers=former_headers).status_code != 403:
            assert time.monotonic() < deadline, "the revoked role was never noticed"
            time.sleep(0.5)
        for method, path, body, role in ENDPOINTS:
            anonymous = client.request(method, path, json=body)
            assert anonymous.status_code == 401, (method, path, anonymous.text)
            assert anonymous.headers["www-authenticate"] == "Bearer"
            other = client.request(method, path, json=body, headers=wrong[role])
            assert other.status_code == 403, (method, path, role, other.text)
            assert isinstance(other.json()["detail"], str)


def test_registration_needs_proof_of_possession(vault: Vault) -> None:
    key = _extra_custodian(vault, register=False)
    info = vault.server.service.vault.info()
    other = CustodianKey.generate()
    right = sign_registration(key.eth_account, info["chain_id"], info["contract"], key.public())
    forged = sign_registration(other.eth_account, info["chain_id"], info["contract"], key.public())
    elsewhere = sign_registration(key.eth_account, 1, info["contract"], key.public())
    with _http(vault.server, _headers(vault.server, key.eth_account)) as client:

        def post(public: dict[str, str], signature: bytes) -> httpx.Response:
            body = {"registration": public, "signature": to_hex(signature), "name": "New"}
            return client.post("/v1/vault/custodians", json=body)

        refused = post(key.public().to_dict(), forged)
        assert refused.status_code == 422
        assert f"signed by {other.address}" in refused.json()["detail"]
        assert post(key.public().to_dict(), elsewhere).status_code == 422  # another chain
        not_mine = post(other.public().to_dict(), forged)
        assert not_mine.status_code == 403
        assert "registers its own keys" in not_mine.json()["detail"]
        assert post({"format": "nope"}, right).status_code == 422
        created = post(key.public().to_dict(), right)
        assert created.status_code == 201, created.text
        CustodianModel.model_validate(created.json())
        assert post(key.public().to_dict(), right).status_code == 409
        assert client.get("/v1/vault/custodians/me").json()["key_id"] == key.key_id


def test_set_configuration_is_checked(vault: Vault) -> None:
    admin = _headers(vault.server, vault.server.admin)
    ids = [c.key_id for c in vault.custodians]
    unroled = _extra_custodian(vault)
    _contract(vault.server).revoke_role(vault.server.admin, "CUSTODIAN_ROLE", unroled.address)
    with _http(vault.server, admin) as client:

        def post(threshold: int, members: list[str], kind: str = "witness") -> httpx.Response:
            body = {"kind": kind, "threshold": threshold, "custodians": members}
            return client.post("/v1/vault/sets", json=body)

        assert post(1, ids).status_code == 422  # one custodian alone would read identities
        assert post(6, ids).status_code == 422
        assert post(2, ids[:2]).json()["detail"].endswith("could never approve a disclosure")
        assert post(3, [*ids[:3], ids[0]]).status_code == 422  # duplicate
        assert post(3, [*ids[:3], "00" * 8]).status_code == 404
        assert post(3, [*ids[:3], "nope"], kind="other").status_code == 422
        no_role = post(3, [*ids[:3], unroled.key_id])
        assert no_role.status_code == 409
        assert "does not hold CUSTODIAN_ROLE" in no_role.json()["detail"]
        listed = client.get("/v1/vault/sets")
        assert listed.status_code == 200
        for s in listed.json():
            CustodianSetModel.model_validate(s)
        assert [s["kind"] for s in listed.json() if s["current"]].count("reporter") == 1


def test_approvals_are_checked(vault: Vault) -> None:
    view = _request(vault)
    key = _key(vault, 0)
    outsider = Account.create()
    info = vault.server.service.vault.info()
    record_id, digest = from_hex(view["record_id"], 32), from_hex(view["request_digest"], 32)
    by_outsider = sign_disclosure(
        outsider, info["chain_id"], info["contract"], record_id, digest, view["requester"]
    )
    other_digest = key.sign_disclosure(
        chain_id=info["chain_id"],
        contract=info["contract"],
        record_id=record_id,
        request_digest=os.urandom(32),
        requester=view["requester"],
    )
    path = f"/v1/vault/requests/{view['id']}"
    with _http(vault.server, _headers(vault.server, key.eth_account)) as client:
        for signature, status, text in (
            (by_outsider, 422, f"recovers to {outsider.address}"),
            (other_digest, 422, "is not"),
            (b"\x01" * 65, 422, "malformed"),
        ):
            refused = client.post(f"{path}/approvals", json={"signature": to_hex(signature)})
            assert refused.status_code == status, refused.text
            assert text in refused.json()["detail"]
        assert client.post(f"{path}/approvals", json={"signature": "0x1234"}).status_code == 422
        assert client.post(f"{path}/declines", json={"reason": " "}).status_code == 422
        mine = client.post(
            f"{path}/approvals", json={"signature": to_hex(_approval(vault, key, view))}
        )
        assert mine.status_code == 200, mine.text
        again = client.post(
            f"{path}/approvals", json={"signature": to_hex(_approval(vault, key, view))}
        )
        assert again.status_code == 409
        assert "already approved" in again.json()["detail"]
        assert (
            client.post(f"{path}/declines", json={"reason": "changed my mind"}).status_code == 409
        )
        assert (
            client.post(
                "/v1/vault/requests/99999/approvals", json={"signature": "0x" + "00" * 65}
            ).status_code
            == 404
        )
    stranger = _extra_custodian(vault)
    with _http(vault.server, _headers(vault.server, stranger.eth_account)) as client:
        refused = client.post(
            f"{path}/approvals", json={"signature": to_hex(_approval(vault, stranger, view))}
        )
    assert refused.status_code == 403
    assert "holds no share" in refused.json()["detail"]


def test_shares_are_withheld_until_the_chain_records_the_disclosure(vault: Vault) -> None:
    server = vault.server
    view = _request(vault)
    path = f"/v1/vault/requests/{view['id']}"
    for i in range(3):
        assert _approve(vault, i, view).status_code == 200
    investigator = _investigator(vault)
    inv = _headers(server, investigator.eth_account)
    first = _headers(server, _key(vault, 0).eth_account)
    with _http(server, first) as client:
        approved = client.get(path).json()
        assert approved["state"] == "approved"
        withheld = client.get(f"{path}/share")
        assert withheld.status_code == 409
        assert "isDisclosed is false" in withheld.json()["detail"]
        early = client.post(f"{path}/resealed", json={"resealed": "0x" + "01" * 70})
        assert early.status_code == 409
    with _http(server, inv) as client:
        assert client.get(f"{path}/resealed").status_code == 409

    # The contract refuses too few, duplicate and non-custodian signatures.
    contract = _contract(server)
    signatures = [from_hex(a["signature"], 65) for a in approved["approvals"]]
    record_id, digest = from_hex(view["record_id"], 32), from_hex(view["request_digest"], 32)
    outsider = Account.create()
    info = server.service.vault.info()
    foreign = sign_disclosure(
        outsider, info["chain_id"], info["contract"], record_id, digest, view["requester"]
    )
    for sigs, error in (
        (signatures[:2], "InsufficientSignatures"),
        ([signatures[0], signatures[0], signatures[1]], "DuplicateSigner"),
        ([*signatures[:2], foreign], "NotCustodian"),
    ):
        with pytest.raises(ContractRevertedError) as refused:
            contract.record_disclosure(server.admin, record_id, digest, view["requester"], sigs)
        assert refused.value.error_name == error
    assert not contract.is_disclosed(record_id, digest)
    contract.record_disclosure(server.admin, record_id, digest, view["requester"], signatures)

    with _http(server, first) as client:
        state = client.get(f"{path}/chain")
        assert state.status_code == 200
        ChainState.model_validate(state.json())
        assert state.json()["recorded"] is True
        assert state.json()["request"]["state"] == "recorded"
        share = client.get(f"{path}/share")
        assert share.status_code == 200, share.text
        index = share.json()["share"]["index"]
        wrong_index = bytes((1, index % 5 + 1)) + bytes(4) + bytes(64)
        assert (
            client.post(f"{path}/resealed", json={"resealed": to_hex(wrong_index)}).status_code
            == 422
        )
        assert client.post(f"{path}/resealed", json={"resealed": "0x01"}).status_code == 422
    fourth = _headers(server, _key(vault, 3).eth_account)
    with _http(server, fourth) as client:
        assert client.get(f"{path}/share").status_code == 403  # did not approve
        late = client.post(
            f"{path}/approvals", json={"signature": to_hex(_approval(vault, _key(vault, 3), view))}
        )
        assert late.status_code == 409
        assert "is recorded" in late.json()["detail"]
    other_reviewer = server.accounts[2]
    contract.grant_role(server.admin, "REVIEWER_ROLE", other_reviewer.address)
    with _http(server, _headers(server, other_reviewer)) as client:
        assert client.get(f"{path}/resealed").status_code == 403
    with _http(server, inv) as client:
        mine = client.get(f"{path}/resealed")
        assert mine.status_code == 200
        ResealedSharesModel.model_validate(mine.json())
        assert mine.json()["resealed"] == []

    # A custodian who uploads a tampered share cannot make the investigator accept a wrong
    # identity: the share does not open (and were it to, the AES-GCM tag would refuse K).
    for i in (1, 2):
        assert vault.as_custodian(i, "custodian", "reseal", str(view["id"])).exit_code == 0
    short = vault.as_investigator("disclosure", "open", str(view["id"]))
    assert short.exit_code == 2
    assert "2 of the 3 shares needed" in short.stderr
    tampered = bytes((1, index)) + bytes(4) + os.urandom(64)
    with _http(server, first) as client:
        accepted = client.post(f"{path}/resealed", json={"resealed": to_hex(tampered)})
        assert accepted.status_code == 200  # the server cannot tell: it never opens a share
    detected = vault.as_investigator("disclosure", "open", str(view["id"]))
    assert detected.exit_code == 2
    assert f"resealed share {index} does not open" in detected.stderr
    assert "Traceback" not in detected.output


def test_custodian_tool_trusts_the_chain_and_its_own_digest(vault: Vault) -> None:
    """A service that lies (here: its database edited) cannot make a custodian re-seal or sign."""
    view = _request(vault)
    for i in range(3):
        assert _approve(vault, i, view).status_code == 200
    engine = vault.server.service.engine
    where = vault_requests.c.id == view["id"]
    with engine.begin() as conn:
        conn.execute(update(vault_requests).where(where).values(state="recorded"))
    refused = vault.as_custodian(0, "custodian", "reseal", str(view["id"]))
    assert refused.exit_code == 2
    assert "the chain has no recordDisclosure" in refused.stderr
    assert "Traceback" not in refused.output
    with engine.begin() as conn:
        conn.execute(update(vault_requests).where(where).values(purpose="Something else"))
    for command in ("show", "approve"):
        altered = vault.as_custodian(
            3, "custodian", command, str(view["id"]), *(["--yes"] if command == "approve" else [])
        )
        assert altered.exit_code == 2
        assert "its fields give" in altered.stderr
    with pytest.raises(Exception, match="its fields give"):
        check_request(vault.server.service.vault.disclosures.get(view["id"]))


def test_investigator_tool_checks_every_approval(vault: Vault) -> None:
    view = _request(vault)
    for i in range(3):
        assert _approve(vault, i, view).status_code == 200
    view = vault.server.service.vault.disclosures.get(view["id"])
    checked = check_request(view)
    chain = VaultChain(lambda: _contract(vault.server))
    chain_id = vault.server.deployment.chain_id
    assert len(check_approvals(view, checked, chain, chain_id)) == 3
    approvals = view["approvals"]
    outsider = Account.create()
    info = vault.server.service.vault.info()
    foreign = sign_disclosure(
        outsider,
        info["chain_id"],
        info["contract"],
        checked.record_id,
        checked.request_digest,
        checked.requester,
    )
    for changed, message in (
        ([approvals[0], approvals[0], approvals[1]], "twice"),
        (approvals[:2], "has 2 approvals, 3 are needed"),
        ([*approvals[:2], {**approvals[2], "address": outsider.address}], "was signed by"),
        (
            [*approvals[:2], {"address": outsider.address, "signature": to_hex(foreign)}],
            "does not hold CUSTODIAN_ROLE",
        ),
    ):
        with pytest.raises(ApprovalError, match=message):
            check_approvals({**view, "approvals": changed}, checked, chain, chain_id)
