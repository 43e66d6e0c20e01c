"""Durable anchor transactions through the real service: a transaction the node dropped is sent
again (the same signed bytes), also by a restarted service after kill -9; one stuck unmined is
replaced at the same nonce with fees raised by at least 12.5 %; nonces survive the restarts."""

from __future__ import annotations

import base64
import os

import httpx
import pytest
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound

from ledger.chain.tx_manager import bump_fee
from ledger.store.chain_txs import StoredTx

from .support import System, wait_until

pytestmark = [pytest.mark.chain, pytest.mark.slow]


def post_tips(url: str, n: int) -> list[str]:
    out = []
    for _ in range(n):
        body = {"document": base64.b64encode(os.urandom(32)).decode()}
        r = httpx.post(url + "/v1/tips", json=body, timeout=10)
        assert r.status_code == 202
        out.append(r.json()["commitment"])
    return out


def known_to_node(system: System, tx_hash: bytes) -> bool:
    try:
        system.w3.eth.get_transaction(HexBytes(tx_hash))
    except TransactionNotFound:
        return False
    return True


def open_anchor(system: System) -> StoredTx | None:
    txs = [t for t in system.txs() if t.state == "pending" and t.current.sent_at is not None]
    return txs[-1] if txs else None


def test_dropped_and_stuck_anchors_are_resent_and_nonces_survive_restarts(
    system: System,
) -> None:
    service, chain = system.service, system.chain
    service.start()
    post_tips(service.url, 3)
    wait_until("the first anchor", lambda: service.health()["anchored_size"] == 3, 15)

    chain.rpc("anvil_setAutomine", False)  # from now on, blocks only when the test mines one
    post_tips(service.url, 2)
    tx = wait_until("an anchor transaction in flight", lambda: open_anchor(system), 15)
    assert known_to_node(system, tx.current.tx_hash)
    sent = tx.current

    # Dropped from the node's mempool: the service sends the same signed transaction again.
    assert chain.rpc("anvil_dropTransaction", "0x" + sent.tx_hash.hex())
    wait_until("the dropped anchor to be resent", lambda: known_to_node(system, sent.tx_hash), 10)

    # kill -9 while it is in flight, and the node forgets it again: the restarted service finds
    # it in the database and resends it, same nonce, same bytes.
    service.kill9()
    assert chain.rpc("anvil_dropTransaction", "0x" + sent.tx_hash.hex())
    service.start()
    wait_until("the restart to resend it", lambda: known_to_node(system, sent.tx_hash), 15)
    assert service.log().split("===== start 2 =====")[1].count("sending it again") >= 1

    # Still unmined tx_stuck_seconds after it was first sent: replaced with higher fees.
    def replaced() -> StoredTx | None:
        [current] = [t for t in system.txs() if t.id == tx.id]
        return current if len(current.attempts) >= 2 else None

    replacement = wait_until("a replacement with higher fees", replaced, 20).current
    assert replacement.max_fee_per_gas is not None
    assert replacement.max_priority_fee_per_gas is not None
    assert sent.max_fee_per_gas is not None
    assert sent.max_priority_fee_per_gas is not None
    assert replacement.max_fee_per_gas >= bump_fee(sent.max_fee_per_gas)
    assert replacement.max_priority_fee_per_gas >= bump_fee(sent.max_priority_fee_per_gas)
    wait_until(
        "the replacement at the node", lambda: known_to_node(system, replacement.tx_hash), 10
    )
    assert system.w3.eth.get_transaction(HexBytes(replacement.tx_hash))["nonce"] == tx.nonce

    chain.rpc("evm_mine")
    wait_until("the anchor", lambda: service.health()["anchored_size"] == 5, 15)
    chain.rpc("anvil_setAutomine", True)

    # After one more restart, the next anchor takes the next nonce: none skipped, none reused.
    service.stop()
    service.start()
    post_tips(service.url, 2)
    wait_until("the last anchor", lambda: service.health()["anchored_size"] == 7, 15)
    txs = system.txs()
    assert [t.nonce for t in txs] == list(range(len(txs)))
    assert all(t.state == "final" for t in txs)
    mined = next(t for t in txs if t.id == tx.id)
    assert mined.mined_hash == replacement.tx_hash
    assert system.w3.eth.get_transaction_count(system.deployment.anchorer) == len(txs)
