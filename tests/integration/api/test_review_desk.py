"""The review desk end to end, on a real Anvil and over real HTTP (SQLite and PostgreSQL).

A reviewer signs in with their key, lists the tips awaiting review, opens one with the desk key
and checks it against the chain (``tipledger review show``), asks the reporter a question sealed
on their own machine, reads the answer, and records a decision on chain with their own key;
the reporter then sees the outcome. A tampered envelope and a proof the chain refutes are
caught.
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
from eth_account.signers.local import LocalAccount
from sqlalchemy import create_engine, update
from typer.testing import CliRunner

from ledger.chain.client import connect
from ledger.chain.contract import TipLedgerContract
from ledger.cli.api_client import DeskClient, ServiceError
from ledger.cli.app import app
from ledger.core.encoding import from_hex, to_hex
from ledger.desk.check import check_tip
from ledger.desk.keys import save_private_key
from ledger.ops.keyfiles import save_dev_key
from ledger.store.schema import submissions

from .conftest import Server

pytestmark = pytest.mark.chain

PASSPHRASE = "desk passphrase for the test"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _contract(server: Server) -> TipLedgerContract:
    return TipLedgerContract(server.w3, server.deployment.address)


class Desk:
    """The reviewer's machine: their key file, the desk key file, and the CLI."""

    def __init__(self, server: Server, reviewer: LocalAccount, home: Path) -> None:
        self.server = server
        self.reviewer = reviewer
        self.home = home
        self.key_file = home / "reviewer-key.json"
        save_dev_key(self.key_file, reviewer)
        self.desk_key = home / "desk.pem"
        save_private_key(self.desk_key, server.desk_private, PASSPHRASE)
        self.runner = CliRunner()

    def run(self, *args: str, key_file: Path | None = None) -> Any:
        env = {
            "TIPLEDGER_HOME": str(self.home / "home"),
            "TIPLEDGER_DESK_PASSPHRASE": PASSPHRASE,
            "TIPLEDGER_PUBLIC_URL": self.server.url,
            "TIPLEDGER_RPC_URL": self.server.rpc_url,
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
        command, *rest = args
        chain = ["--rpc", self.server.rpc_url, "--contract", self.server.deployment.address]
        desk = ["--desk-key", str(self.desk_key)]
        extra = {
            "show": chain + desk,
            "decide": chain,
            "ask": desk,
            "messages": desk,
            "list": [],
        }[command]
        return self.runner.invoke(
            app,
            ["review", command, *rest, "--key-file", str(key_file or self.key_file), *extra],
            env=env,
            catch_exceptions=False,
        )


@pytest.fixture
def desk(server: Server, tmp_path: Path) -> Desk:
    reviewer = server.accounts[2]
    contract = _contract(server)
    if not contract.has_role("REVIEWER_ROLE", reviewer.address):
        contract.grant_role(server.admin, "REVIEWER_ROLE", reviewer.address)
    return Desk(server, reviewer, tmp_path)


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


def _listed(desk: Desk, *options: str) -> list[str]:
    result = desk.run("list", "--json", *options)
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
    tip = server.service.review_desk.tip(key)
    w3 = connect(server.rpc_url)
    kwargs = {"chain_id": server.deployment.chain_id, "contract": server.deployment.address}
    assert check_tip(tip, key, server.desk_private, w3, **kwargs).ok  # type: ignore[arg-type]

    # a root the chain never anchored at that size, with a proof that leads to it
    forged = json.loads(json.dumps(tip))
    forged["inclusion"]["root_hash"] = "0x" + os.urandom(32).hex()
    checked = check_tip(forged, key, server.desk_private, w3, **kwargs)  # type: ignore[arg-type]
    assert not checked.ok
    assert "INVALID" in checked.summary()
    # a proof that does not lead to the anchored root
    forged = json.loads(json.dumps(tip))
    forged["inclusion"]["proof"] = ["0x" + os.urandom(32).hex()] + forged["inclusion"]["proof"]
    assert not check_tip(forged, key, server.desk_private, w3, **kwargs).ok  # type: ignore[arg-type]
    # another tip's envelope under this commitment
    other = _submit(client, b"Other tip " + os.urandom(4).hex().encode())
    swapped = dict(
        tip, envelope=server.service.review_desk.tip(from_hex(other["commitment"], 32))["envelope"]
    )
    checked = check_tip(swapped, key, server.desk_private, w3, **kwargs)  # type: ignore[arg-type]
    assert not checked.ok
    assert checked.opened is None


def test_a_reviewer_without_the_role_cannot_decide(
    desk: Desk, server: Server, client: httpx.Client
) -> None:
    accepted = _submit(client, b"Outsider " + os.urandom(4).hex().encode())
    outsider_key = desk.home / "outsider.json"
    save_dev_key(outsider_key, server.accounts[9])
    note = desk.home / "note.txt"
    note.write_text("No.\n")
    result = desk.run(
        "decide",
        accepted["commitment"],
        "--status",
        "closed",
        "--note-file",
        str(note),
        key_file=outsider_key,
    )
    assert result.exit_code == 2
    assert "does not hold REVIEWER_ROLE" in result.stderr
    assert _contract(server).review_of(from_hex(accepted["commitment"], 32)).status == 0
    listed = desk.run("list", key_file=outsider_key)
    assert listed.exit_code == 2
    assert "403" in listed.stderr


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
