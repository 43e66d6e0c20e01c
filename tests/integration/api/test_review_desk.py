"""The review desk end to end, on a real Anvil and over real HTTP (SQLite and PostgreSQL).

A member of the intake desk signs in with their member key file, lists the cases awaiting
review, opens one with their grant of its case key and checks it against the chain
(``tipledger review show``), asks the reporter a question sealed on their own machine, reads the
answer, and records a decision on chain with their own key; the reporter then sees the outcome.
A tampered envelope and a proof the chain refutes are caught; a member of an agency that does
not hold the case, and an address that is no member, are refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account.signers.local import LocalAccount
from sqlalchemy import create_engine, update
from typer.testing import CliRunner

from ledger.chain.client import connect
from ledger.chain.contract import TipLedgerContract
from ledger.cli.api_client import DeskClient, ServiceError
from ledger.cli.app import app
from ledger.core.agency import agency_id
from ledger.core.encoding import from_hex, to_hex
from ledger.desk.check import check_tip
from ledger.desk.member import case_key, routing_proof
from ledger.desk.member_keys import MemberKey, save_member_key
from ledger.errors import ContractRevertedError
from ledger.ops.key_pair_file import MIN_SCRYPT_N
from ledger.store.schema import submissions

from .conftest import Server

pytestmark = pytest.mark.chain

PASSPHRASE = "member passphrase for the test"
PACC = agency_id("pacc")  # an agency of its own, holding none of these cases


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _contract(server: Server) -> TipLedgerContract:
    return TipLedgerContract(server.w3, server.deployment.address)


def member_key_file(path: Path, x25519: X25519PrivateKey, account: LocalAccount) -> Path:
    save_member_key(path, MemberKey(x25519, account), PASSPHRASE, scrypt_n=MIN_SCRYPT_N)
    return path


class Desk:
    """The member's machine: their member key file (the intake member's X25519 key and
    Ethereum account), and the CLI."""

    def __init__(self, server: Server, reviewer: LocalAccount, home: Path) -> None:
        self.server = server
        self.reviewer = reviewer
        self.home = home
        self.key_file = member_key_file(home / "member-key.json", server.desk_private, reviewer)
        self.runner = CliRunner()

    def run(self, *args: str, key_file: Path | None = None) -> Any:
        env = {
            "TIPLEDGER_HOME": str(self.home / "home"),
            "TIPLEDGER_MEMBER_PASSPHRASE": PASSPHRASE,
            "TIPLEDGER_PUBLIC_URL": self.server.url,
            "TIPLEDGER_RPC_URL": self.server.rpc_url,
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
        command, *rest = args
        chain = ["--rpc", self.server.rpc_url, "--contract", self.server.deployment.address]
        extra = {"show": chain, "decide": chain, "ask": [], "messages": [], "list": []}[command]
        return self.runner.invoke(
            app,
            ["review", command, *rest, "--key-file", str(key_file or self.key_file), *extra],
            env=env,
            catch_exceptions=False,
        )


@pytest.fixture
def desk(server: Server, tmp_path: Path) -> Desk:
    """accounts[2], the intake desk's one member (no role: membership is what counts)."""
    return Desk(server, server.accounts[2], tmp_path)


@pytest.fixture(scope="module")
def other_agency(server: Server) -> tuple[LocalAccount, X25519PrivateKey]:
    """A member of another agency, 'pacc', which holds none of these cases."""
    account, x25519 = server.accounts[3], X25519PrivateKey.generate()
    contract = _contract(server)
    contract.add_agency(server.admin, PACC, "สำนักงาน ป.ป.ท.", "PACC")
    contract.add_member(server.admin, PACC, account.address, x25519.public_key().public_bytes_raw())
    return account, x25519


def _submit(client: httpx.Client, document: bytes) -> dict[str, Any]:
    response = client.post("/v1/tips", json={"document": b64(document), "follow_up": True})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def _wait_anchored(client: httpx.Client, commitment: str) -> None:
    deadline = time.monotonic() + 60
    while client.get(f"/v1/tips/{commitment}/receipt").status_code != 200:
        assert time.monotonic() < deadline, "not anchored in time"
        time.sleep(0.1)


def _listed(desk: Desk, *options: str, key_file: Path | None = None) -> list[str]:
    result = desk.run("list", "--json", *options, key_file=key_file)
    assert result.exit_code == 0, result.output
    return [t["commitment"] for t in json.loads(result.stdout)]


def test_the_desk_reviews_a_tip_end_to_end(
    desk: Desk, server: Server, client: httpx.Client
) -> None:
    text = "Invoice 4711 paid twice at district office 9 " + os.urandom(4).hex()
    accepted = _submit(client, text.encode())
    commitment = accepted["commitment"]
    secret = accepted["follow_up"]["secret"]
    reporter = {"Authorization": f"Bearer {secret}"}
    _wait_anchored(client, commitment)

    assert commitment in _listed(desk)

    shown = desk.run("show", commitment)
    assert shown.exit_code == 0, shown.output
    assert "VALID: the document existed" in shown.stderr
    assert text in shown.stdout
    assert "follow-up yes" in shown.stdout
    as_json = json.loads(desk.run("show", commitment, "--json").stdout)
    assert as_json["valid"] is True
    assert as_json["text"] == text
    assert {c["name"] for c in as_json["checks"] if c["ok"]} >= {"content_digest", "commitment"}

    question = "Which office issued the second payment? " + os.urandom(4).hex()
    asked = desk.run("ask", commitment, "--text", question)
    assert asked.exit_code == 0, asked.output
    view = client.get(f"/v1/tips/{commitment}/follow-up", headers=reporter).json()
    assert [(m["from"], m["text"]) for m in view["messages"]] == [("reviewer", question)]
    answer = "The treasury office, on the 3rd. " + os.urandom(4).hex()
    replied = client.post(
        f"/v1/tips/{commitment}/follow-up/messages", json={"text": answer}, headers=reporter
    )
    assert replied.status_code == 201
    thread = desk.run("messages", commitment, "--json")
    assert thread.exit_code == 0, thread.output
    messages = json.loads(thread.stdout)
    assert [(m["from"], m["text"], m["ok"]) for m in messages] == [
        ("reviewer", question, True),
        ("reporter", answer, True),
    ]
    assert messages[0]["reviewer"] == desk.reviewer.address

    note = desk.home / "note.txt"
    note.write_text("Both payment orders confirmed against the treasury ledger.\n")
    decided = desk.run("decide", commitment, "--status", "substantiated", "--note-file", str(note))
    assert decided.exit_code == 0, decided.output
    review = _contract(server).review_of(from_hex(commitment, 32))
    assert review.status == 2
    assert review.reviewer == desk.reviewer.address
    events = [
        e
        for e in _contract(server).review_events(server.deployment.deploy_block)
        if to_hex(e.commitment) == commitment
    ]
    assert events[-1].note_digest == hashlib.sha256(note.read_bytes()).digest()

    # the reporter sees the outcome, read from the chain
    view = client.get(f"/v1/tips/{commitment}/follow-up", headers=reporter).json()
    assert view["review"]["status"] == 2
    assert view["review"]["status_name"] == "substantiated"
    assert view["review"]["recorded_at"] > 0
    assert view["anchored"] is True
    # ... and the tip no longer awaits review
    assert commitment not in _listed(desk)
    shown = desk.run("show", commitment)
    assert "substantiated by " + desk.reviewer.address in shown.stdout


def test_under_review_stays_listed_when_asked(
    desk: Desk, server: Server, client: httpx.Client
) -> None:
    accepted = _submit(client, b"Under review " + os.urandom(4).hex().encode())
    commitment = accepted["commitment"]
    _wait_anchored(client, commitment)  # a first review shows the routing, which the anchor holds
    note = desk.home / "note.txt"
    note.write_text("Looking into it.\n")
    decided = desk.run("decide", commitment, "--status", "under_review", "--note-file", str(note))
    assert decided.exit_code == 0, decided.output
    assert commitment not in _listed(desk)
    assert commitment in _listed(desk, "--under-review")


def test_a_tampered_envelope_is_invalid(desk: Desk, server: Server, client: httpx.Client) -> None:
    accepted = _submit(client, b"Tamper with me " + os.urandom(4).hex().encode())
    commitment = accepted["commitment"]
    _wait_anchored(client, commitment)
    key = from_hex(commitment, 32)
    engine = create_engine(server.database_url)
    try:
        with engine.begin() as conn:
            original = conn.execute(
                submissions.select().where(submissions.c.commitment == key)
            ).one()
            envelope = bytearray(bytes(original.envelope))
            envelope[-1] ^= 0x01
            conn.execute(
                update(submissions)
                .where(submissions.c.commitment == key)
                .values(envelope=bytes(envelope))
            )
        shown = desk.run("show", commitment)
        assert shown.exit_code == 1, shown.output
        assert "INVALID" in shown.stderr
        assert "altered" in shown.stderr
    finally:
        with engine.begin() as conn:
            conn.execute(
                update(submissions)
                .where(submissions.c.commitment == key)
                .values(envelope=bytes(original.envelope))
            )
        engine.dispose()
    assert desk.run("show", commitment).exit_code == 0


def test_a_proof_the_chain_refutes_is_invalid(
    desk: Desk, server: Server, client: httpx.Client
) -> None:
    accepted = _submit(client, b"Proof check " + os.urandom(4).hex().encode())
    commitment = accepted["commitment"]
    _wait_anchored(client, commitment)
    key = from_hex(commitment, 32)
    tip = server.desk_tip(commitment)
    case = case_key(tip, key, server.desk_private)
    w3 = connect(server.rpc_url)
    kwargs = {"chain_id": server.deployment.chain_id, "contract": server.deployment.address}
    assert check_tip(tip, key, case, w3, **kwargs).ok  # type: ignore[arg-type]

    # a root the chain never anchored at that size, with a proof that leads to it
    forged = json.loads(json.dumps(tip))
    forged["inclusion"]["root_hash"] = "0x" + os.urandom(32).hex()
    checked = check_tip(forged, key, case, w3, **kwargs)  # type: ignore[arg-type]
    assert not checked.ok
    assert "INVALID" in checked.summary()
    # a proof that does not lead to the anchored root
    forged = json.loads(json.dumps(tip))
    forged["inclusion"]["proof"] = ["0x" + os.urandom(32).hex()] + forged["inclusion"]["proof"]
    assert not check_tip(forged, key, case, w3, **kwargs).ok  # type: ignore[arg-type]
    # another tip's envelope under this commitment (opened with its own case key)
    other = _submit(client, b"Other tip " + os.urandom(4).hex().encode())
    other_tip = server.desk_tip(other["commitment"])
    other_case = case_key(other_tip, from_hex(other["commitment"], 32), server.desk_private)
    swapped = dict(tip, envelope=other_tip["envelope"])
    checked = check_tip(swapped, key, other_case, w3, **kwargs)  # type: ignore[arg-type]
    assert not checked.ok
    assert checked.opened is None
    # ... and with this case's key it does not open at all
    checked = check_tip(swapped, key, case, w3, **kwargs)  # type: ignore[arg-type]
    assert not checked.ok
    assert checked.opened is None


def test_only_a_member_of_an_agency_holding_the_case_can_decide(
    desk: Desk,
    server: Server,
    client: httpx.Client,
    other_agency: tuple[LocalAccount, X25519PrivateKey],
) -> None:
    accepted = _submit(client, b"Outsider " + os.urandom(4).hex().encode())
    commitment = accepted["commitment"]
    _wait_anchored(client, commitment)
    note = desk.home / "note.txt"
    note.write_text("No.\n")
    decide = ("decide", commitment, "--status", "closed", "--note-file", str(note))

    # a member of an agency that does not hold the case: the service refuses to serve it
    pacc_key = member_key_file(desk.home / "pacc-key.json", other_agency[1], other_agency[0])
    result = desk.run(*decide, key_file=pacc_key)
    assert result.exit_code == 2, result.output
    assert f"agency 'pacc' does not hold case {commitment}" in result.stderr
    assert "403" in result.stderr
    assert "Traceback" not in result.output
    shown = desk.run("show", commitment, key_file=pacc_key)
    assert shown.exit_code == 2
    assert "does not hold case" in shown.stderr
    # ... and the chain refuses it too, straight from the member's key with intake's proof:
    # the routing leaf names intake, not pacc
    proof = routing_proof(server.desk_tip(commitment))
    with pytest.raises(ContractRevertedError) as refused:
        _contract(server).record_review(
            other_agency[0], from_hex(commitment, 32), PACC, 4, bytes(32), proof
        )
    assert refused.value.error_name == "InvalidRoutingProof"
    # an address that is a member of no agency (and holds no role) cannot even sign in
    outsider_key = member_key_file(
        desk.home / "outsider.json", X25519PrivateKey.generate(), server.accounts[9]
    )
    result = desk.run(*decide, key_file=outsider_key)
    assert result.exit_code == 2
    assert "is a member of no agency" in result.stderr
    assert _contract(server).review_of(from_hex(commitment, 32)).status == 0
    listed = desk.run("list", key_file=outsider_key)
    assert listed.exit_code == 2
    assert "403" in listed.stderr
    # the pacc member's own list has none of intake's cases
    assert commitment not in _listed(desk, key_file=pacc_key)


def test_bad_desk_input_is_a_clear_error(desk: Desk, client: httpx.Client) -> None:
    accepted = _submit(client, b"Bad input " + os.urandom(4).hex().encode())
    note = desk.home / "note.txt"
    note.write_text("x\n")
    bad_status = desk.run(
        "decide", accepted["commitment"], "--status", "guilty", "--note-file", str(note)
    )
    assert bad_status.exit_code == 2
    assert "unknown review status" in bad_status.stderr
    bad_commitment = desk.run("show", "0x1234")
    assert bad_commitment.exit_code == 2
    assert "COMMITMENT" in bad_commitment.stderr
    unknown = desk.run("show", "0x" + os.urandom(32).hex())
    assert unknown.exit_code == 2
    assert "no tip with commitment" in unknown.stderr


def test_the_listing_pages_with_a_cursor(desk: Desk, server: Server, client: httpx.Client) -> None:
    mine = {
        _submit(client, f"Paged {i} {os.urandom(4).hex()}".encode())["commitment"] for i in range(3)
    }
    with DeskClient(server.url, desk.reviewer) as api:
        seen: list[str] = []
        after: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 1}
            if after:
                params["after"] = after
            page = api.call("GET", "/v1/review/tips", params=params)
            assert len(page["tips"]) <= 1
            seen.extend(t["commitment"] for t in page["tips"])
            pages += 1
            after = page["next"]
            if after is None:
                break
            assert pages < 1000
        assert mine <= set(seen)
        assert len(seen) == len(set(seen))  # no tip twice
        received = [t["received_at"] for t in api.call("GET", "/v1/review/tips")["tips"]]
        assert received == sorted(received)  # oldest first
        for bad in ({"after": "nonsense"}, {"limit": 0}, {"limit": 501}):
            with pytest.raises(ServiceError, match="422"):
                api.call("GET", "/v1/review/tips", params=bad)
