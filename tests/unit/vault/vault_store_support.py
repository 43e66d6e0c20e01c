"""A vault store holding one record, for the store tests (importable, unlike conftest)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from ledger.store.vault import CustodianSet, VaultStore
from ledger.vault.custodian_keys import CustodianKey
from ledger.vault.records import IdentityRecord, RecordKind, seal_identity


@dataclass
class StoredVault:
    """A vault store with five registered custodians, a 3-of-5 reporter set and one record."""

    store: VaultStore
    keys: list[CustodianKey]
    custodian_set: CustodianSet
    record: IdentityRecord


def stored(engine: Engine) -> StoredVault:
    store = VaultStore(engine)
    keys = [CustodianKey.generate() for _ in range(5)]
    for i, k in enumerate(keys):
        store.add_custodian(k.public(), f"custodian {i + 1}", b"\x01" * 65)
    s = store.add_set(RecordKind.REPORTER, 3, [k.key_id for k in keys], keys[0].address)
    record = seal_identity(
        {"name": "A. Reporter"}, kind="reporter", custodians=s.share_keys, threshold=3
    )
    store.add_record(record, s.id, None)
    return StoredVault(store, keys, s, record)
