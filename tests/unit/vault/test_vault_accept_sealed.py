"""Device-made identity records at the service (VaultService.accept_sealed_identity), the public
custodian set a device seals to (VaultService.custodian_set), and the CLI's check of that set
against the chain (ledger.vault.client.checked_custodian_set): every refusal named."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine

from ledger.chain.contract import role_id
from ledger.core.encoding import to_hex
from ledger.store.schema import vault_records, vault_shares
from ledger.vault.client import SealingSet, checked_custodian_set, seal_identity_on_device
from ledger.vault.custodian_keys import CustodianKey
from ledger.vault.digests import sign_registration
from ledger.vault.errors import (
    NoCustodianSetError,
    RecordError,
    RegistrationError,
    UnknownVaultItemError,
    VaultError,
)
from ledger.vault.onchain import VaultChain
from ledger.vault.records import IdentityRecord, RecordKind, combine, seal_identity
from ledger.vault.service import VaultService

CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OTHER_CONTRACT = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
IDENTITY = {"role": "reporter", "name": "สมหญิง ใจกล้า", "contact": "Signal +66 81 234 5678"}


@dataclass
class FakeContract:
    """What VaultChain asks of the contract here: its address and who holds CUSTODIAN_ROLE."""

    address: str = CONTRACT
    custodians: set[str] = field(default_factory=set)

    def has_role(self, role: str, address: str) -> bool:
        assert role_id(role) == role_id("CUSTODIAN_ROLE")
        return address in self.custodians


@dataclass
class Vault:
    service: VaultService
    keys: list[CustodianKey]
    contract: FakeContract

    @property
    def chain(self) -> VaultChain:
        return VaultChain(lambda: self.contract)  # type: ignore[arg-type,return-value]

    def share_keys(self, n: int | None = None) -> list[Any]:
        return [k.share_key for k in self.keys[:n]]

    def add_set(self, kind: RecordKind, threshold: int, keys: list[CustodianKey]) -> None:
        self.service.store.add_set(kind, threshold, [k.key_id for k in keys], keys[0].address)
        self.service.current_set(kind, fresh=True)


@pytest.fixture
def vault(engine: Engine) -> Vault:
    """Five registered custodians (real registration signatures), a 3-of-4 reporter set of the
    first four, no witness set; all five hold CUSTODIAN_ROLE on the fake chain."""
    contract = FakeContract()
    service = VaultService(engine, lambda: contract, CHAIN_ID, CONTRACT)  # type: ignore[arg-type,return-value]
    keys = [CustodianKey.generate() for _ in range(5)]
    for i, key in enumerate(keys):
        signature = sign_registration(key.eth_account, CHAIN_ID, CONTRACT, key.public())
        service.store.add_custodian(key.public(), f"custodian {i + 1}", signature)
        contract.custodians.add(key.address)
    made = Vault(service, keys, contract)
    made.add_set(RecordKind.REPORTER, 3, keys[:4])
    return made


def device_record(vault: Vault, **changes: Any) -> dict[str, Any]:
    record = seal_identity_on_device(IDENTITY, "reporter", vault.share_keys(4), 3)
    data = record.to_dict()
    data.update(changes)
    return data


# --- accepted ----------------------------------------------------------------------------------


def test_a_device_record_is_accepted_and_stored(vault: Vault) -> None:
    data = device_record(vault)
    prepared = vault.service.accept_sealed_identity(data, "reporter")
    assert prepared.record == IdentityRecord.from_dict(data)
    assert prepared.set_id == vault.service.current_set(RecordKind.REPORTER).id  # type: ignore[union-attr]
    assert prepared.summary() == {
        "record_id": data["record_id"],
        "kind": "reporter",
        "threshold": 3,
        "custodians": 4,
    }
    rows = prepared.rows(b"\x07" * 32)
    assert [t for t, _ in rows] == [vault_records] + [vault_shares] * 4
    assert rows[0][1]["commitment"] == b"\x07" * 32
    assert all(len(v["sealed"]) == 65 for _, v in rows[1:])
    # bytes of JSON are taken too; stored, the record reads back as version 2 and opens
    again = vault.service.accept_sealed_identity(json.dumps(data).encode(), "reporter")
    vault.service.store.add_record(again.record, again.set_id, None)
    stored = vault.service.store.record(again.record.record_id).record
    assert stored == again.record
    assert stored.version == 2
    shares = [
        k.open_share(s, stored.record_id)
        for k, s in zip(vault.keys[:4], stored.sealed_shares, strict=True)
    ]
    assert json.loads(combine(shares[1:], stored)) == IDENTITY


def test_a_record_sealed_to_a_set_made_moments_ago_is_accepted(vault: Vault) -> None:
    """The set is cached for a few seconds; a record for a newer set makes the service look."""
    vault.service.current_set(RecordKind.REPORTER)  # cached: the 3-of-4 set
    vault.service.store.add_set(
        RecordKind.REPORTER, 2, [k.key_id for k in vault.keys[1:]], vault.keys[0].address
    )
    record = seal_identity_on_device(IDENTITY, "reporter", vault.share_keys()[1:], 2)
    prepared = vault.service.accept_sealed_identity(record.to_dict(), "reporter")
    assert prepared.set_id == vault.service.current_set(RecordKind.REPORTER).id  # type: ignore[union-attr]


def test_add_sealed_identity_needs_a_stored_tip(vault: Vault) -> None:
    with pytest.raises(UnknownVaultItemError, match="no tip has commitment"):
        vault.service.add_sealed_identity(b"\x01" * 32, device_record(vault), "reporter")


# --- refused ----------------------------------------------------------------------------------


def test_a_version_1_record_from_a_device_is_refused(vault: Vault) -> None:
    v1 = seal_identity(
        IDENTITY, kind="reporter", custodians=vault.share_keys(4), threshold=3, version=1
    )
    with pytest.raises(RecordError, match="made only by the service"):
        vault.service.accept_sealed_identity(v1.to_dict(), "reporter")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (b"\xff{", "not UTF-8 JSON"),
        (b'{"format": ', "not UTF-8 JSON"),
        (b"[1, 2]", "is a JSON object, got list"),
        (b'{"format": "tipledger-tip/1"}', "not an identity record: format 'tipledger-tip/1'"),
        (b"{}", "not an identity record: format None"),
    ],
)
def test_what_is_not_a_record_is_refused(vault: Vault, given: bytes, message: str) -> None:
    with pytest.raises(RecordError, match=message):
        vault.service.accept_sealed_identity(given, "reporter")


def test_a_record_of_another_kind_is_refused(vault: Vault) -> None:
    with pytest.raises(RecordError, match="is a reporter record, but it is given as a witness"):
        vault.service.accept_sealed_identity(device_record(vault), "witness")


def test_a_kind_without_a_set_is_refused(vault: Vault) -> None:
    record = seal_identity_on_device(IDENTITY, "witness", vault.share_keys(4), 3)
    with pytest.raises(NoCustodianSetError, match="no witness custodian set"):
        vault.service.accept_sealed_identity(record.to_dict(), "witness")
    with pytest.raises(RecordError, match="unknown record kind 'suspect'"):
        vault.service.accept_sealed_identity(record.to_dict(), "suspect")


def test_a_later_epoch_is_refused(vault: Vault) -> None:
    data = device_record(vault, epoch=1)
    for share in data["sealed_shares"]:
        share["epoch"] = 1
    with pytest.raises(RecordError, match="a new record is at epoch 0, this one says 1"):
        vault.service.accept_sealed_identity(data, "reporter")


@pytest.mark.parametrize(
    ("custodians", "message"),
    [
        (slice(0, 3), "not sealed to the current reporter custodian set"),  # one missing
        (slice(1, 5), "not sealed to the current reporter custodian set"),  # another set
        (slice(None), "not sealed to the current reporter custodian set"),  # one too many
    ],
)
def test_a_record_for_other_custodians_is_refused(
    vault: Vault, custodians: slice, message: str
) -> None:
    keys = vault.share_keys()[custodians]
    record = seal_identity_on_device(IDENTITY, "reporter", keys, 3)
    with pytest.raises(RecordError, match=message):
        vault.service.accept_sealed_identity(record.to_dict(), "reporter")


def test_custodians_out_of_order_are_refused(vault: Vault) -> None:
    keys = vault.share_keys(4)
    record = seal_identity_on_device(IDENTITY, "reporter", [keys[1], keys[0], *keys[2:]], 3)
    with pytest.raises(RecordError, match="in this order"):
        vault.service.accept_sealed_identity(record.to_dict(), "reporter")


def test_indices_out_of_order_are_refused(vault: Vault) -> None:
    data = device_record(vault)
    data["sealed_shares"][0]["index"], data["sealed_shares"][1]["index"] = 2, 1
    with pytest.raises(RecordError, match=r"share indices are \[2, 1, 3, 4\]"):
        vault.service.accept_sealed_identity(data, "reporter")


def test_another_threshold_is_refused(vault: Vault) -> None:
    record = seal_identity_on_device(IDENTITY, "reporter", vault.share_keys(4), 2)
    with pytest.raises(RecordError, match="threshold is 2, the current reporter set's is 3"):
        vault.service.accept_sealed_identity(record.to_dict(), "reporter")


def test_a_stored_record_id_is_refused(vault: Vault) -> None:
    data = device_record(vault)
    first = vault.service.accept_sealed_identity(data, "reporter")
    vault.service.store.add_record(first.record, first.set_id, None)
    with pytest.raises(RecordError, match=f"record id {data['record_id']} is taken"):
        vault.service.accept_sealed_identity(data, "reporter")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("record_id",), "0x" + "00" * 31, "record_id: expected 0x \\+ 64 hex digits"),
        (("nonce",), "0x" + "00" * 11, "nonce: expected 0x \\+ 24 hex digits"),
        (("ciphertext",), "0x" + "00" * (64 * 1024 + 17), "ciphertext is 18 to 65552 bytes"),
        (("ciphertext",), "0x" + "00" * 17, "ciphertext is 18 to 65552 bytes"),
        (("sealed_shares", 2, "sealed"), "0x" + "00" * 64, "version 2' has 65-byte sealed"),
        (("sealed_shares", 2, "sealed"), "0x" + "00" * 66, "sealed: expected 0x"),
        (("sealed_shares", 2, "custodian_key_id"), "00", "custodian_key_id is 16"),
        (("threshold",), 1, "at least 2"),
        (("kind",), "suspect", "unknown record kind"),
    ],
)
def test_wrong_sizes_and_fields_are_refused(
    vault: Vault, path: tuple[Any, ...], value: Any, message: str
) -> None:
    data = device_record(vault)
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    if path == ("sealed_shares", 2, "sealed") and len(value) == 130:
        # all four 64-byte shares: version 1 sizes under the version 2 format
        for share in data["sealed_shares"]:
            share["sealed"] = value
        message = "format 'tipledger-identity-record/2' has 65-byte sealed shares"
    with pytest.raises(RecordError, match=message):
        vault.service.accept_sealed_identity(data, "reporter")


# --- the set a device seals to -----------------------------------------------------------------


def test_the_public_custodian_set(vault: Vault) -> None:
    view = vault.service.custodian_set("reporter")
    assert view["kind"] == "reporter"
    assert view["threshold"] == 3
    assert (view["chain_id"], view["contract"]) == (CHAIN_ID, CONTRACT)
    assert view["record_format"] == "tipledger-identity-record/2"
    assert [c["key_id"] for c in view["custodians"]] == [k.key_id for k in vault.keys[:4]]
    assert [c["index"] for c in view["custodians"]] == [1, 2, 3, 4]
    first = view["custodians"][0]
    assert first["x25519_public"] == to_hex(vault.keys[0].share_key.raw)
    assert first["address"] == vault.keys[0].address
    assert len(bytes.fromhex(first["registration_signature"][2:])) == 65
    with pytest.raises(NoCustodianSetError, match="no witness custodian set"):
        vault.service.custodian_set("witness")


def test_the_cli_checks_the_set_on_chain_and_seals_to_it(vault: Vault) -> None:
    view = vault.service.custodian_set("reporter")
    checked = checked_custodian_set(view, vault.chain, CHAIN_ID, "reporter")
    assert isinstance(checked, SealingSet)
    assert checked.threshold == 3
    assert [c.key_id for c in checked.custodians] == [k.key_id for k in vault.keys[:4]]
    record = seal_identity_on_device(IDENTITY, "reporter", checked.share_keys, checked.threshold)
    assert vault.service.accept_sealed_identity(record.to_dict(), "reporter").record == record


CheckRefusal = Callable[[dict[str, Any], Vault], None]


def _no_role(view: dict[str, Any], vault: Vault) -> None:
    vault.contract.custodians.discard(vault.keys[2].address)


def _forged_key(view: dict[str, Any], vault: Vault) -> None:
    # the service swaps in a key of its own, keeping the custodian's address and signature
    other = CustodianKey.generate()
    view["custodians"][1].update(x25519_public=to_hex(other.share_key.raw), key_id=other.key_id)


def _other_signer(view: dict[str, Any], vault: Vault) -> None:
    signature = sign_registration(
        vault.keys[4].eth_account, CHAIN_ID, CONTRACT, vault.keys[0].public()
    )
    view["custodians"][0]["registration_signature"] = to_hex(signature)


def _other_contract(view: dict[str, Any], vault: Vault) -> None:
    view["contract"] = OTHER_CONTRACT


def _other_chain(view: dict[str, Any], vault: Vault) -> None:
    view["chain_id"] = 1


def _reordered(view: dict[str, Any], vault: Vault) -> None:
    view["custodians"][0], view["custodians"][1] = view["custodians"][1], view["custodians"][0]


def _threshold_one(view: dict[str, Any], vault: Vault) -> None:
    view["threshold"] = 1


def _other_kind(view: dict[str, Any], vault: Vault) -> None:
    view["kind"] = "witness"


def _malformed(view: dict[str, Any], vault: Vault) -> None:
    del view["threshold"]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (_no_role, VaultError, "does not hold CUSTODIAN_ROLE on chain"),
        (_forged_key, RegistrationError, "does not prove possession"),
        (_other_signer, RegistrationError, "does not prove possession"),
        (_other_contract, VaultError, "another chain or contract"),
        (_other_chain, VaultError, "another chain or contract"),
        (_reordered, VaultError, "out of share order"),
        (_threshold_one, VaultError, "threshold 1 for 4 custodians"),
        (_other_kind, VaultError, "the service sent a witness one"),
        (_malformed, RecordError, "custodian set is malformed"),
    ],
)
def test_the_cli_refuses_a_set_that_does_not_check(
    vault: Vault, change: CheckRefusal, error: type[Exception], message: str
) -> None:
    view = json.loads(json.dumps(vault.service.custodian_set("reporter")))
    change(view, vault)
    with pytest.raises(error, match=message):
        checked_custodian_set(view, vault.chain, CHAIN_ID, "reporter")
