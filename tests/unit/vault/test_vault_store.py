"""The vault store on SQLite and PostgreSQL: custodians, versioned sets, identity records."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import Engine, func, select

from ledger.store import LogStore
from ledger.store.schema import vault_records, vault_shares
from ledger.store.submissions import NewSubmission, SubmissionStore
from ledger.store.vault import VaultStore, record_rows
from ledger.vault.custodian_keys import CustodianKey
from ledger.vault.errors import UnknownVaultItemError, VaultConflictError
from ledger.vault.records import RecordKind, combine, seal_identity

SIGNATURE = b"\x01" * 65


def _custodians(store: VaultStore, n: int) -> list[CustodianKey]:
    keys = [CustodianKey.generate() for _ in range(n)]
    for i, k in enumerate(keys):
        store.add_custodian(k.public(), f"custodian {i}", SIGNATURE)
    return keys


def _tip(engine: Engine) -> bytes:
    commitment = os.urandom(32)
    SubmissionStore(LogStore(engine)).accept([NewSubmission(commitment, 1_764_200_000)])
    return commitment


def test_custodians_register_once(engine: Engine) -> None:
    store = VaultStore(engine, clock=lambda: 1_764_200_123)
    [key] = _custodians(store, 1)
    stored = store.custodian(key.key_id)
    assert stored.address == key.address
    assert stored.x25519_public == key.share_key.raw
    assert stored.registered_at == 1_764_200_123
    assert stored.active
    assert stored.registration_signature == SIGNATURE
    assert stored.public_info().share_key == key.share_key
    assert store.custodian_by_address(key.address.lower()) == stored
    with pytest.raises(VaultConflictError, match="already registered"):
        store.add_custodian(key.public(), "again", SIGNATURE)
    assert [c.key_id for c in store.custodians()] == [key.key_id]
    assert not store.set_custodian_active(key.key_id, False).active
    with pytest.raises(UnknownVaultItemError):
        store.custodian("00" * 8)
    assert store.custodian_by_address("0x" + "11" * 20) is None


def test_sets_are_versions_in_share_order(engine: Engine) -> None:
    store = VaultStore(engine)
    keys = _custodians(store, 5)
    assert store.current_set(RecordKind.REPORTER) is None
    first = store.add_set(RecordKind.REPORTER, 3, [k.key_id for k in keys], keys[0].address)
    assert (first.version, first.threshold) == (1, 3)
    assert [m.key_id for m in first.members] == [k.key_id for k in keys]
    assert first.index_of(keys[2].key_id) == 3
    order = [keys[4], keys[0], keys[1]]
    second = store.add_set(RecordKind.REPORTER, 2, [k.key_id for k in order], keys[0].address)
    witness = store.add_set(
        RecordKind.WITNESS, 2, [keys[3].key_id, keys[4].key_id], "0x" + "22" * 20
    )
    assert second.version == 2
    assert witness.version == 1
    current = store.current_set(RecordKind.REPORTER)
    assert current is not None
    assert current.id == second.id
    assert [m.key_id for m in current.members] == [k.key_id for k in order]
    assert store.custodian_set(first.id) == first
    assert [s.id for s in store.sets(RecordKind.REPORTER)] == [first.id, second.id]
    assert len(store.sets()) == 3
    with pytest.raises(UnknownVaultItemError):
        store.custodian_set(9999)


def test_record_round_trip_with_its_tip(engine: Engine, identity: dict[str, str]) -> None:
    store = VaultStore(engine)
    keys = _custodians(store, 5)
    s = store.add_set(RecordKind.REPORTER, 3, [k.key_id for k in keys], keys[0].address)
    record = seal_identity(identity, kind="reporter", custodians=s.share_keys, threshold=3)
    commitment = _tip(engine)
    store.add_record(record, s.id, commitment)
    stored = store.record(record.record_id)
    assert stored.record == record
    assert (stored.set_id, stored.commitment) == (s.id, commitment)
    assert [r.record for r in store.records_of(commitment)] == [record]
    shares = [
        k.open_share(stored.record.sealed_share_for(k.key_id), record.record_id) for k in keys[1:4]
    ]
    assert combine(shares, stored.record) == combine(shares, record)
    # one identity per tip and kind; a witness of the same tip is its own record
    again = seal_identity(identity, kind="reporter", custodians=s.share_keys, threshold=3)
    with pytest.raises(VaultConflictError, match="already has a reporter identity"):
        store.add_record(again, s.id, commitment)
    witness = seal_identity(identity, kind="witness", custodians=s.share_keys, threshold=2)
    store.add_record(witness, s.id, commitment)
    assert len(store.records_of(commitment)) == 2
    with pytest.raises(UnknownVaultItemError, match="no tip"):
        store.add_record(
            seal_identity(identity, kind="reporter", custodians=s.share_keys, threshold=3),
            s.id,
            os.urandom(32),
        )
    with pytest.raises(UnknownVaultItemError):
        store.record(os.urandom(32))
    # a refused record leaves nothing behind
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(vault_records)).scalar() == 2
        assert conn.execute(select(func.count()).select_from(vault_shares)).scalar() == 10


def test_records_off_set_and_counts(engine: Engine) -> None:
    store = VaultStore(engine)
    keys = _custodians(store, 3)
    old = store.add_set(RecordKind.REPORTER, 2, [k.key_id for k in keys], keys[0].address)
    a = seal_identity({"a": 1}, kind="reporter", custodians=old.share_keys, threshold=2)
    store.add_record(a, old.id, None)
    new = store.add_set(RecordKind.REPORTER, 2, [k.key_id for k in keys[:2]], keys[0].address)
    b = seal_identity({"b": 2}, kind="reporter", custodians=new.share_keys, threshold=2)
    store.add_record(b, new.id, None)
    assert store.records_off_set(RecordKind.REPORTER, new.id) == [(a.record_id, 0)]
    assert store.records_off_set(RecordKind.WITNESS, new.id) == []
    assert store.count_records() == {("reporter", old.id): 1, ("reporter", new.id): 1}


def test_companion_rows_go_in_with_the_tip(engine: Engine, identity: dict[str, str]) -> None:
    """The rows ``record_rows`` makes are what the intake writes in a new tip's transaction."""
    store = VaultStore(engine)
    keys = _custodians(store, 3)
    s = store.add_set(RecordKind.REPORTER, 2, [k.key_id for k in keys], keys[0].address)
    record = seal_identity(identity, kind="reporter", custodians=s.share_keys, threshold=2)
    commitment = os.urandom(32)
    rows = record_rows(record, s.id, commitment)
    assert [t for t, _ in rows] == [vault_records] + [vault_shares] * 3
    submissions = SubmissionStore(LogStore(engine))
    first = NewSubmission(commitment, 1_764_200_000, promise_signature=b"\x01" * 65)
    submissions.accept([first], companions=[rows])
    assert store.record(record.record_id).record == record
    # the same tip again: its companions are not written twice
    other = seal_identity(identity, kind="reporter", custodians=s.share_keys, threshold=2)
    submissions.accept(
        [NewSubmission(commitment, 1_764_200_001, promise_signature=b"\x02" * 65)],
        companions=[record_rows(other, s.id, commitment)],
    )
    with pytest.raises(UnknownVaultItemError):
        store.record(other.record_id)
