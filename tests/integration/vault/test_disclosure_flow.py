"""The whole identity vault, end to end: a reporter's identity from submission to a 3-of-5
disclosure, then a rotation to a new custodian set, on a real Anvil, over real HTTP, with a key
file of their own for every custodian, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ledger.chain.contract import TipLedgerContract
from ledger.cli.api_client import sign_in
from ledger.core.encoding import from_hex, to_hex
from ledger.store.schema import vault_shares
from ledger.vault.custodian_keys import load_custodian_key
from ledger.vault.errors import ShareError
from ledger.vault.records import combine

from .conftest import Vault

pytestmark = pytest.mark.chain

IDENTITY: dict[str, Any] = {
    "name": "สมชาย ใจดี",
    "national_id": "1-2345-67890-12-3",
    "phone": "+66 81 234 5678",
}


@contextmanager
def _session(vault: Vault, i: int) -> Iterator[httpx.Client]:
    key = load_custodian_key(
        vault.custodians[i].key_file, vault.custodians[i].passphrase_file.read_text().rstrip("\n")
    )
    with httpx.Client(base_url=vault.server.url, timeout=30) as client:
        client.headers["Authorization"] = f"Bearer {sign_in(client, key.eth_account)}"
        yield client


def test_identity_from_submission_to_a_three_of_five_disclosure(vault: Vault) -> None:
    service = vault.server.service
    commitment, record_id = vault.submit(IDENTITY)
    # The server keeps the ciphertext and five sealed shares, never the identity.
    stored = service.vault.store.record(record_id)
    assert stored.commitment == commitment
    assert (stored.record.threshold, len(stored.record.sealed_shares)) == (3, 5)
    assert b"234 5678" not in stored.record.ciphertext
    assert not any("234 5678" in line or "สมชาย" in line for line in vault.server.logs)

    # 1. The investigator files a request for the tip's reporter identity.
    filed = vault.as_investigator(
        "disclosure",
        "request",
        "--tip",
        to_hex(commitment),
        "--purpose",
        "Protection order 12/2026",
    )
    assert filed.exit_code == 0, filed.output
    request = filed.stdout.strip()

    # 2. Custodians see it waiting for them, and read it with its digest recomputed locally.
    listed = vault.as_custodian(0, "custodian", "requests")
    assert listed.exit_code == 0, listed.output
    assert "Protection order" in listed.stdout
    shown = vault.as_custodian(0, "custodian", "show", request)
    assert shown.exit_code == 0, shown.output
    assert "recomputed here" in shown.stderr
    declined = vault.as_custodian(4, "custodian", "decline", request, "--reason", "Not justified")
    assert declined.exit_code == 0, declined.output

    # 3. Two approvals are not a quorum: every layer refuses to go on.
    for i in (0, 1):
        approved = vault.as_custodian(i, "custodian", "approve", request, "--yes")
        assert approved.exit_code == 0, approved.output
    early = vault.as_investigator(
        "disclosure", "record", request, "--sender-key", str(vault.admin_key)
    )
    assert early.exit_code == 2
    assert "has 2 approvals, 3 are needed" in early.stderr
    not_yet = vault.as_custodian(0, "custodian", "reseal", request)
    assert not_yet.exit_code == 2
    assert "the chain has no recordDisclosure" in not_yet.stderr
    with _session(vault, 0) as client:
        withheld = client.get(f"/v1/vault/requests/{request}/share")
        assert withheld.status_code == 409
        assert "not recorded on chain" in withheld.json()["detail"]
    closed = vault.as_investigator("disclosure", "open", request)
    assert closed.exit_code == 2
    assert "not recorded on chain" in closed.stderr

    # 4. The third approval, and the disclosure is recorded on chain.
    third = vault.as_custodian(2, "custodian", "approve", request, "--yes")
    assert third.exit_code == 0, third.output
    assert "now approved, 3 of 3" in third.stderr
    recorded = vault.as_investigator(
        "disclosure", "record", request, "--sender-key", str(vault.admin_key)
    )
    assert recorded.exit_code == 0, recorded.output
    assert "DisclosureApproved(recordId=" + to_hex(record_id) in recorded.stderr
    contract = TipLedgerContract(vault.server.w3, vault.server.deployment.address)
    [event] = [
        e
        for e in contract.disclosure_events(vault.server.deployment.deploy_block)
        if e.record_id == record_id
    ]
    assert event.requester == vault.investigator.address
    assert event.tx_hash == from_hex(recorded.stdout.strip(), 32)

    # 5. Only the approving custodians re-seal, each once.
    for i, why in ((3, "did not approve"), (4, "did not approve")):
        refused = vault.as_custodian(i, "custodian", "reseal", request)
        assert refused.exit_code == 2
        assert why in refused.stderr
    for i in (0, 1, 2):
        resealed = vault.as_custodian(i, "custodian", "reseal", request)
        assert resealed.exit_code == 0, resealed.output
        assert "recorded on chain: DisclosureApproved in tx" in resealed.stderr
    again = vault.as_custodian(0, "custodian", "reseal", request)
    assert again.exit_code == 2
    assert "already been re-sealed" in again.stderr

    # 6. Only the investigator's machine combines the shares.
    opened = vault.as_investigator("disclosure", "open", request)
    assert opened.exit_code == 0, opened.output
    assert json.loads(opened.stdout) == IDENTITY

    # 7. Oversight sees the request, its approvals (with signatures) and the decline.
    overseen = vault.cli("disclosure", "list", "--json", "--key-file", str(vault.admin_key))
    assert overseen.exit_code == 0, overseen.output
    [entry] = [r for r in json.loads(overseen.stdout) if r["id"] == int(request)]
    assert entry["state"] == "recorded"
    assert sorted(a["address"] for a in entry["approvals"]) == sorted(
        c.address for c in vault.custodians[:3]
    )
    assert [d["reason"] for d in entry["declines"]] == ["Not justified"]
    assert entry["recorded"]["tx_hash"] == to_hex(event.tx_hash)
    assert entry["resealed"] == 3


def test_rotation_moves_records_to_a_new_set_and_deletes_old_shares(vault: Vault) -> None:
    service = vault.server.service.vault
    admin = ["--key-file", str(vault.admin_key)]
    ids = [c.key_id for c in vault.custodians]
    vault.ok("vault", "set-custodians", "--kind", "witness", "--threshold", "3", *ids, *admin)
    commitment, _ = vault.submit({"name": "A. Reporter"})
    witness = {"name": "A. Witness", "phone": "+66 2 123 4567"}
    summary = service.add_identity(commitment, json.dumps(witness).encode(), kind="witness")
    record_id = from_hex(summary["record_id"], 32)
    filed = vault.as_investigator(
        "disclosure", "request", "--record", summary["record_id"], "--purpose", "Hearing"
    )
    assert filed.exit_code == 0, filed.output

    # A new witness set: custodians 2 to 5, 3 of 4. Custodian 1 is in the old set only.
    vault.ok("vault", "set-custodians", "--kind", "witness", "--threshold", "3", *ids[1:], *admin)
    outsider = vault.as_custodian(0, "vault", "rotate", "start", "--kind", "witness")
    assert outsider.exit_code == 2
    assert "not in the current witness set" in outsider.stderr
    started = vault.as_custodian(1, "vault", "rotate", "start", "--kind", "witness")
    assert started.exit_code == 0, started.output
    rotation = started.stdout.strip()
    assert "contributed 1 share(s)" in started.stderr
    early = vault.as_custodian(1, "vault", "rotate", "finish", rotation)
    assert early.exit_code == 2
    assert "1 of the 3 contributions" in early.stderr
    for i in (2, 4):
        done = vault.as_custodian(i, "vault", "rotate", "contribute", rotation)
        assert done.exit_code == 0, done.output
    not_coordinator = vault.as_custodian(2, "vault", "rotate", "finish", rotation)
    assert not_coordinator.exit_code == 2
    finished = vault.as_custodian(1, "vault", "rotate", "finish", rotation)
    assert finished.exit_code == 0, finished.output
    assert "1 unfinished request(s) superseded" in finished.stderr

    # The record is at epoch 1, sealed to the new set only; the old shares are gone.
    stored = service.store.record(record_id)
    assert stored.record.epoch == 1
    assert list(stored.record.custodian_key_ids) == ids[1:]
    with vault.server.service.engine.connect() as conn:
        rows = conn.execute(
            select(vault_shares.c.custodian_key_id, vault_shares.c.epoch).where(
                vault_shares.c.record_id == record_id
            )
        ).all()
    assert sorted(rows) == sorted((k, 1) for k in ids[1:])
    with pytest.raises(ShareError, match="holds no share"):
        stored.record.sealed_share_for(ids[0])
    # Any three of the new custodians open it, on their own machines.
    keys = [
        load_custodian_key(c.key_file, c.passphrase_file.read_text().rstrip("\n"))
        for c in vault.custodians[2:]
    ]
    shares = [k.open_share(stored.record.sealed_share_for(k.key_id), record_id) for k in keys]
    assert json.loads(combine(shares, stored.record)) == witness
    [request] = [r for r in service.disclosures.listing() if r["record_id"] == summary["record_id"]]
    assert request["state"] == "superseded"
