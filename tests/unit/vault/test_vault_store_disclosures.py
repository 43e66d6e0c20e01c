"""Disclosure requests in the store: states, one decision per custodian, atomic quorums."""

from __future__ import annotations

import os
import threading

import pytest
from vault_store_support import StoredVault

from ledger.store.disclosures import (
    APPROVED,
    DECLINED,
    PENDING,
    RECORDED,
    SUPERSEDED,
    Decision,
    DisclosureRequest,
    DisclosureStore,
    ResealedShare,
    next_state,
)
from ledger.vault.errors import UnknownVaultItemError, VaultConflictError


def _file(v: StoredVault, need: int = 3, filed_at: int = 1_764_300_000) -> DisclosureRequest:
    return DisclosureStore(v.store.engine).add_request(
        record_id=v.record.record_id,
        epoch=0,
        purpose="Protection order, case 12/2026",
        investigator_key=os.urandom(32),
        requester="0x" + "ab" * 20,
        filed_at=filed_at,
        request_digest=os.urandom(32),
        need=need,
    )


def _decision(v: StoredVault, i: int, approve: bool = True) -> Decision:
    key = v.keys[i]
    if approve:
        return Decision(key.key_id, key.address, True, bytes([i + 1]) * 65, None, 1_764_300_100 + i)
    return Decision(key.key_id, key.address, False, None, f"no: {i}", 1_764_300_100 + i)


def _open(_r: DisclosureRequest) -> None:
    pass


@pytest.mark.parametrize(
    ("state", "approvals", "declines", "expected"),
    [
        (PENDING, 0, 0, PENDING),
        (PENDING, 2, 2, PENDING),  # the fifth can still make three
        (PENDING, 3, 0, APPROVED),
        (PENDING, 1, 3, DECLINED),  # 1 + 1 undecided < 3
        (APPROVED, 4, 1, APPROVED),
        (RECORDED, 0, 5, RECORDED),
        (SUPERSEDED, 5, 0, SUPERSEDED),
    ],
)
def test_next_state(state: str, approvals: int, declines: int, expected: str) -> None:
    assert next_state(state, approvals, declines, members=5, need=3) == expected


def test_request_round_trip(stored_vault: StoredVault) -> None:
    created = _file(stored_vault)
    store = DisclosureStore(stored_vault.store.engine)
    assert store.request(created.id) == created
    assert created.state == PENDING
    assert created.need == 3
    assert [r.id for r in store.requests()] == [created.id]
    assert store.requests(state=APPROVED) == []
    assert [r.id for r in store.requests(record_ids=[stored_vault.record.record_id])] == [
        created.id
    ]
    with pytest.raises(UnknownVaultItemError):
        store.request(created.id + 100)
    with pytest.raises(VaultConflictError, match="identical request"):
        store.add_request(
            record_id=created.record_id,
            epoch=0,
            purpose="again",
            investigator_key=created.investigator_key,
            requester=created.requester,
            filed_at=created.filed_at,
            request_digest=created.request_digest,
            need=3,
        )


def test_quorum_of_approvals(stored_vault: StoredVault) -> None:
    store = DisclosureStore(stored_vault.store.engine)
    r = _file(stored_vault)
    for i in range(2):
        assert (
            store.decide(r.id, _decision(stored_vault, i), members=5, need=3, check=_open).state
            == PENDING
        )
    with pytest.raises(VaultConflictError, match="already approved"):
        store.decide(r.id, _decision(stored_vault, 1), members=5, need=3, check=_open)
    with pytest.raises(VaultConflictError, match="already approved"):
        store.decide(
            r.id, _decision(stored_vault, 1, approve=False), members=5, need=3, check=_open
        )
    after = store.decide(r.id, _decision(stored_vault, 2), members=5, need=3, check=_open)
    assert after.state == APPROVED
    decisions = store.decisions([r.id])[r.id]
    assert [d.custodian_key_id for d in decisions] == [k.key_id for k in stored_vault.keys[:3]]
    assert all(d.approve and d.signature is not None for d in decisions)


def test_declines_close_the_request_and_check_refuses(stored_vault: StoredVault) -> None:
    store = DisclosureStore(stored_vault.store.engine)
    r = _file(stored_vault)
    for i in range(2):
        store.decide(
            r.id, _decision(stored_vault, i, approve=False), members=5, need=3, check=_open
        )
    closed = store.decide(
        r.id, _decision(stored_vault, 2, approve=False), members=5, need=3, check=_open
    )
    assert closed.state == DECLINED
    [first, *_] = store.decisions([r.id])[r.id]
    assert first.reason == "no: 0"
    assert first.signature is None

    def refuse(locked: DisclosureRequest) -> None:
        raise VaultConflictError(f"request {locked.id} is {locked.state}")

    with pytest.raises(VaultConflictError, match="declined"):
        store.decide(r.id, _decision(stored_vault, 3), members=5, need=3, check=refuse)
    assert len(store.decisions([r.id])[r.id]) == 3  # the refused decision was not kept


def test_concurrent_approvals_reach_the_quorum(stored_vault: StoredVault) -> None:
    """Five custodians approve at once: the row lock makes the last one see all the others."""
    store = DisclosureStore(stored_vault.store.engine)
    r = _file(stored_vault, need=5)
    barrier = threading.Barrier(5)
    errors: list[BaseException] = []

    def approve(i: int) -> None:
        barrier.wait()
        try:
            store.decide(r.id, _decision(stored_vault, i), members=5, need=5, check=_open)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.request(r.id).state == APPROVED
    assert len(store.decisions([r.id])[r.id]) == 5


def test_recorded_and_resealed(stored_vault: StoredVault) -> None:
    store = DisclosureStore(stored_vault.store.engine)
    r = _file(stored_vault)
    recorded = store.mark_recorded(r.id, tx_hash=b"\x07" * 32, block=12, at=1_764_300_500)
    assert (recorded.state, recorded.recorded_block, recorded.recorded_at) == (
        RECORDED,
        12,
        1_764_300_500,
    )
    share = ResealedShare(2, stored_vault.keys[1].key_id, b"\x01" * 70, 1_764_300_600)
    store.add_resealed(r.id, share)
    with pytest.raises(VaultConflictError, match="already been re-sealed"):
        store.add_resealed(r.id, share)
    assert store.resealed(r.id) == [share]
    assert store.resealed_counts([r.id, r.id + 1]) == {r.id: 1}
