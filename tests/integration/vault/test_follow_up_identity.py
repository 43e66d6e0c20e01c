"""A reporter with a follow-up secret: an identity with the tip, or added later; and the
reporter's commands (``submit --api`` keeps the secret in the receipt, ``follow-up ...``).

On the vault fixture (a 3-of-5 reporter custodian set on the real service).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from ledger.core.encoding import from_hex
from ledger.core.receipt import Receipt
from ledger.store.schema import follow_ups

from .conftest import Vault

pytestmark = pytest.mark.chain


def _count(v: Vault, table: Any, commitment: bytes) -> int:
    engine = create_engine(v.server.database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.scalar(
                    select(func.count()).select_from(table).where(table.c.commitment == commitment)
                )
                or 0
            )
    finally:
        engine.dispose()


def _post(v: Vault, path: str, body: dict[str, Any], secret: str | None = None) -> httpx.Response:
    headers = {} if secret is None else {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=v.server.url, timeout=30) as client:
        return client.post(path, json=body, headers=headers)


def test_a_tip_with_a_follow_up_and_an_identity_stores_both(vault: Vault) -> None:
    document = base64.b64encode(b"Both at once " + os.urandom(4).hex().encode()).decode()
    identity = {"name": "Somchai", "phone": "+66 2 000 0000"}
    response = _post(
        vault, "/v1/tips", {"document": document, "follow_up": True, "identity": identity}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["follow_up"]["secret"].startswith("tlf1_")
    assert body["identity"]["kind"] == "reporter"
    assert body["identity"]["threshold"] == 3
    commitment = from_hex(body["commitment"], 32)
    assert _count(vault, follow_ups, commitment) == 1
    records = vault.server.service.vault.records_of(commitment)
    assert [r["record_id"] for r in records] == [body["identity"]["record_id"]]
    # the same tip again stores neither again
    again = _post(vault, "/v1/tips", {"document": document, "salt": body["receipt"]["salt"]})
    assert again.status_code == 202
    repeat = _post(
        vault,
        "/v1/tips",
        {
            "document": document,
            "salt": body["receipt"]["salt"],
            "follow_up": True,
            "identity": identity,
        },
    )
    assert repeat.json()["follow_up"] is None
    assert repeat.json()["identity"] is None
    assert _count(vault, follow_ups, commitment) == 1
    assert len(vault.server.service.vault.records_of(commitment)) == 1


def test_the_reporter_adds_an_identity_later_with_the_secret(vault: Vault) -> None:
    document = base64.b64encode(b"Identity later " + os.urandom(4).hex().encode()).decode()
    body = _post(vault, "/v1/tips", {"document": document, "follow_up": True}).json()
    commitment = body["commitment"]
    secret = body["follow_up"]["secret"]
    path = f"/v1/tips/{commitment}/identity"
    identity = {"name": "Witness W.", "email": "w@example.org"}
    refused = _post(vault, path, {"identity": identity}, "tlf1_" + "A" * 43)
    assert refused.status_code == 401
    assert _post(vault, path, {"identity": identity}).status_code == 401
    assert vault.server.service.vault.records_of(from_hex(commitment, 32)) == []
    bad = _post(vault, path, {"identity": "me"}, secret)
    assert bad.status_code == 422
    added = _post(vault, path, {"identity": identity}, secret)
    assert added.status_code == 201, added.text
    summary = added.json()
    assert summary["kind"] == "reporter"
    records = vault.server.service.vault.records_of(from_hex(commitment, 32))
    assert [r["record_id"] for r in records] == [summary["record_id"]]


def test_the_reporter_commands(vault: Vault, tmp_path: Path) -> None:
    receipt_file = tmp_path / "receipt.json"
    text = "Reporter CLI tip " + os.urandom(4).hex()
    submitted = vault.cli(
        "submit", "--api", vault.server.url, "--text", text, "--secret", "--out", str(receipt_file)
    )
    assert submitted.exit_code == 0, submitted.output
    data = json.loads(receipt_file.read_text())
    assert data["follow_up"]["secret"].startswith("tlf2_")
    receipt = Receipt.from_dict(data)
    assert receipt.inclusion is not None  # anchored, and the secret was kept in the merge
    verified = vault.cli("verify", str(receipt_file), "--text", text, "--rpc", vault.server.rpc_url)
    assert verified.exit_code == 0, verified.output

    status = vault.cli("follow-up", "status", str(receipt_file), "--json")
    assert status.exit_code == 0, status.output
    view = json.loads(status.stdout)
    assert view["commitment"] == receipt.commitment
    assert view["anchored"] is True
    assert view["review"] is None

    replied = vault.cli("follow-up", "reply", str(receipt_file), "--text", "More details here")
    assert replied.exit_code == 0, replied.output
    status = vault.cli("follow-up", "status", str(receipt_file))
    assert "More details here" in status.stdout
    assert "none recorded yet" in status.stdout

    identity_file = tmp_path / "me.json"
    identity_file.write_text(json.dumps({"name": "Reporter R."}))
    added = vault.cli(
        "follow-up", "add-identity", str(receipt_file), "--identity-file", str(identity_file)
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["kind"] == "reporter"

    no_secret = tmp_path / "plain.json"
    plain = vault.cli(
        "submit",
        "--api",
        vault.server.url,
        "--text",
        text + " again",
        "--no-follow-up",
        "--out",
        str(no_secret),
    )
    assert plain.exit_code == 0, plain.output
    assert "follow_up" not in json.loads(no_secret.read_text())
    refused = vault.cli("follow-up", "status", str(no_secret))
    assert refused.exit_code == 2
    assert "no follow-up secret" in refused.stderr
    forged = json.loads(receipt_file.read_text())
    forged["follow_up"]["secret"] = "tlf2_" + "B" * 43
    forged_file = tmp_path / "forged.json"
    forged_file.write_text(json.dumps(forged))
    wrong = vault.cli("follow-up", "status", str(forged_file))
    assert wrong.exit_code == 2
    assert "401" in wrong.stderr


def test_the_identity_role_chooses_the_custodian_set(vault: Vault) -> None:
    document = base64.b64encode(b"A witness speaks " + os.urandom(4).hex().encode()).decode()
    # No witness set on this service: refused as a whole, and the tip is not stored either.
    witness = _post(
        vault, "/v1/tips", {"document": document, "identity": {"role": "witness", "name": "W"}}
    )
    assert witness.status_code == 409, witness.text
    assert "witness" in witness.json()["detail"]
    odd = _post(
        vault, "/v1/tips", {"document": document, "identity": {"role": "clerk", "name": "W"}}
    )
    assert odd.status_code == 422
    assert "identity.role" in odd.json()["detail"]
    reporter = _post(
        vault, "/v1/tips", {"document": document, "identity": {"role": "reporter", "name": "R"}}
    )
    assert reporter.status_code == 202, reporter.text
    assert reporter.json()["identity"]["kind"] == "reporter"
