"""Persisted outgoing transactions on SQLite and PostgreSQL: one row per nonce, versions in
order, states, fencing by a guard, the chain cursor; and the fee bump rule."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import Connection, Engine

from ledger.chain.tx_manager import bump_fee
from ledger.errors import LeaseLostError
from ledger.store.chain_txs import (
    TX_FINAL,
    TX_MINED,
    TX_PENDING,
    ChainCursor,
    NewAttempt,
    NonceTakenError,
    TxStore,
)

SENDER = "0x" + "ab" * 20


def attempt(fee: int) -> NewAttempt:
    return NewAttempt(os.urandom(32), os.urandom(100), fee, fee // 10, None)


def create(store: TxStore, nonce: int, **kw: object) -> object:
    return store.create(
        chain_id=31337,
        sender=SENDER,
        nonce=nonce,
        purpose="anchor",
        to_address="0x" + "cd" * 20,
        data=b"\x01\x02",
        gas=90_000,
        attempt=attempt(1000),
        created_at=1.0,
        tree_size=5,
        root_hash=bytes(32),
        **kw,  # type: ignore[arg-type]
    )


def test_one_transaction_per_nonce_and_its_versions_in_order(engine: Engine) -> None:
    store = TxStore(engine)
    assert store.next_nonce(31337, SENDER) == 0
    create(store, 7)
    assert store.next_nonce(31337, SENDER) == 8
    assert store.next_nonce(1, SENDER) == 0  # per chain
    with pytest.raises(NonceTakenError):
        create(store, 7)
    [tx] = store.open_transactions(31337, SENDER)
    assert (tx.nonce, tx.state, tx.current.sent_at) == (7, TX_PENDING, None)
    store.mark_sent(tx.current.tx_hash, 10.0)
    store.mark_sent(tx.current.tx_hash, 20.0)  # the first send is the one that counts
    second = attempt(2000)
    tx = store.add_attempt(tx.id, second, 30.0)
    assert [a.max_fee_per_gas for a in tx.attempts] == [1000, 2000]
    assert tx.attempts[0].sent_at == 10.0
    assert tx.current.tx_hash == second.tx_hash
    tx = store.set_state(tx.id, TX_MINED, mined_hash=second.tx_hash, block_number=12)
    assert tx.is_open
    tx = store.set_state(tx.id, TX_FINAL, mined_hash=second.tx_hash, block_number=12)
    assert not tx.is_open
    assert store.open_transactions(31337, SENDER) == []
    assert [t.nonce for t in store.all()] == [7]


def test_a_guard_refuses_inside_the_persisting_transaction(engine: Engine) -> None:
    store = TxStore(engine)

    def lost(_conn: Connection) -> None:
        raise LeaseLostError("not the sequencer")

    with pytest.raises(LeaseLostError):
        create(store, 0, guard=lost)
    assert store.all() == []


def test_the_cursor_persists(engine: Engine) -> None:
    cursor = ChainCursor(engine, "direct_commitments")
    assert cursor.get(42) == 42
    cursor.set(100)
    cursor.set(250)
    assert ChainCursor(engine, "direct_commitments").get(42) == 250
    assert ChainCursor(engine, "other").get(1) == 1


def test_fee_bumps_are_at_least_an_eighth_and_a_wei() -> None:
    assert bump_fee(8) == 9
    assert bump_fee(9) == 11  # 10.125 rounded up
    assert bump_fee(1) == 2
    assert bump_fee(0) == 1
    for value in (7, 1_000_000_007, 2 * 10**9 + 1):
        assert bump_fee(value) * 8 >= value * 9
