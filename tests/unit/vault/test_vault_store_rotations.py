"""Rotations in the store: one open per kind, contributions, and the atomic replacement."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from sqlalchemy import select
from vault_store_support import StoredVault

from ledger.store.disclosures import (
    APPROVED,
    PENDING,
    RECORDED,
    SUPERSEDED,
    DisclosureStore,
    ResealedShare,
)
from ledger.store.rotations import CANCELLED, DONE, OPEN, Contribution, RotationStore
from ledger.store.schema import vault_rotation_shares, vault_shares
from ledger.vault.errors import ShareError, UnknownVaultItemError, VaultConflictError
from ledger.vault.records import RecordKind, combine, reshare


def _start(v: StoredVault, to_set_id: int) -> int:
    rotations = RotationStore(v.store.engine)
    started = rotations.start(
        kind=RecordKind.REPORTER,
        to_set_id=to_set_id,
        coordinator_key_id=v.keys[0].key_id,
        created_at=1_764_400_000,
        records=[(v.record.record_id, 0)],
        digest_of=lambda rotation_id: bytes([rotation_id]) * 32,
    )
    assert started.state == OPEN
    assert started.digest == bytes([started.id]) * 32
    return started.id


def _request(v: StoredVault, state: str) -> int:
    requests = DisclosureStore(v.store.engine)
    r = requests.add_request(
        record_id=v.record.record_id,
        epoch=0,
        purpose=state,
        investigator_key=os.urandom(32),
        requester="0x" + "cd" * 20,
        filed_at=1_764_300_000,
        request_digest=os.urandom(32),
        need=3,
    )
    if state == RECORDED:
        requests.mark_recorded(r.id, tx_hash=None, block=None, at=None)
    return r.id


def test_rotation_replaces_the_record_and_deletes_old_shares(stored_vault: StoredVault) -> None:
    v = stored_vault
    new_set = v.store.add_set(
        RecordKind.REPORTER, 2, [k.key_id for k in v.keys[2:]], v.keys[0].address
    )
    rotations = RotationStore(v.store.engine)
    rotation_id = _start(v, new_set.id)
    with pytest.raises(VaultConflictError, match="still open"):
        _start(v, new_set.id)
    assert rotations.records(rotation_id) == [(v.record.record_id, 0)]
    contributions = [
        Contribution(v.record.record_id, i + 1, v.keys[i].key_id, bytes([i]) * 70) for i in range(3)
    ]
    rotations.contribute(rotation_id, contributions[:2])
    with pytest.raises(VaultConflictError, match="already contributed"):
        rotations.contribute(rotation_id, contributions[1:])
    rotations.contribute(rotation_id, contributions[2:])
    assert rotations.contributions(rotation_id) == contributions
    # the disclosures under way: open ones, and a recorded one not yet re-sealed, are voided
    pending, approved, recorded = (_request(v, s) for s in (PENDING, APPROVED, RECORDED))
    shares = [
        k.open_share(v.record.sealed_share_for(k.key_id), v.record.record_id) for k in v.keys[:3]
    ]
    new = reshare(shares, v.record, custodians=new_set.share_keys, threshold=2)
    done, voided = rotations.finish(rotation_id, [new], finished_at=1_764_400_100)
    assert (done.state, done.finished_at, voided) == (DONE, 1_764_400_100, 3)
    stored = v.store.record(v.record.record_id)
    assert stored.record == new
    assert stored.set_id == new_set.id
    requests = DisclosureStore(v.store.engine)
    assert {requests.request(i).state for i in (pending, approved, recorded)} == {SUPERSEDED}
    with v.store.engine.connect() as conn:
        left = conn.execute(select(vault_shares.c.custodian_key_id)).scalars().all()
        assert sorted(left) == sorted(k.key_id for k in v.keys[2:])
        assert conn.execute(select(vault_rotation_shares)).all() == []
    # the old shares are void for the new record; the new custodians' open it
    with pytest.raises(ShareError, match="re-shared since"):
        combine(shares, stored.record)
    fresh = [k.open_share(new.sealed_share_for(k.key_id), new.record_id) for k in v.keys[3:]]
    assert combine(fresh, stored.record) == combine(shares, v.record)
    with pytest.raises(VaultConflictError, match="done, not open"):
        rotations.contribute(rotation_id, contributions[:1])


def test_finish_refuses_records_it_does_not_list(stored_vault: StoredVault) -> None:
    v = stored_vault
    new_set = v.store.add_set(
        RecordKind.REPORTER, 2, [k.key_id for k in v.keys[2:]], v.keys[0].address
    )
    rotations = RotationStore(v.store.engine)
    rotation_id = _start(v, new_set.id)
    with pytest.raises(VaultConflictError, match="exactly its 1 records"):
        rotations.finish(rotation_id, [], finished_at=1)
    shares = [
        k.open_share(v.record.sealed_share_for(k.key_id), v.record.record_id) for k in v.keys[:3]
    ]
    new = reshare(shares, v.record, custodians=new_set.share_keys, threshold=2)
    with pytest.raises(VaultConflictError, match="at epoch 1"):
        rotations.finish(rotation_id, [replace(new, kind=RecordKind.WITNESS)], finished_at=1)
    assert v.store.record(v.record.record_id).record == v.record  # nothing changed


def test_cancel_and_a_completed_disclosure_survives(stored_vault: StoredVault) -> None:
    v = stored_vault
    new_set = v.store.add_set(
        RecordKind.REPORTER, 2, [k.key_id for k in v.keys[2:]], v.keys[0].address
    )
    rotations = RotationStore(v.store.engine)
    first = _start(v, new_set.id)
    rotations.contribute(
        first, [Contribution(v.record.record_id, 1, v.keys[0].key_id, b"\x00" * 70)]
    )
    cancelled = rotations.cancel(first, at=5)
    assert cancelled.state == CANCELLED
    assert rotations.contributions(first) == []
    with pytest.raises(VaultConflictError, match="cancelled, not open"):
        rotations.cancel(first, at=6)
    with pytest.raises(UnknownVaultItemError):
        rotations.rotation(first + 100)
    # a disclosure whose shares were all re-sealed is complete: a rotation leaves it recorded
    complete = _request(v, RECORDED)
    requests = DisclosureStore(v.store.engine)
    for i in range(3):
        requests.add_resealed(complete, ResealedShare(i + 1, v.keys[i].key_id, b"\x01" * 70, 1))
    second = _start(v, new_set.id)
    shares = [
        k.open_share(v.record.sealed_share_for(k.key_id), v.record.record_id) for k in v.keys[:3]
    ]
    new = reshare(shares, v.record, custodians=new_set.share_keys, threshold=2)
    _, voided = rotations.finish(second, [new], finished_at=7)
    assert voided == 0
    assert requests.request(complete).state == RECORDED
    assert [r.id for r in rotations.rotations()] == [first, second]
