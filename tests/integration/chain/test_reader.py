"""ChainReader on a real Anvil: the node-state reads code outside ledger/chain goes through."""

from __future__ import annotations

import hashlib
import os
import socket

import pytest
from web3 import HTTPProvider, Web3
from web3.types import TxParams

from ledger.chain.client import send_transaction
from ledger.chain.reader import ChainReader
from ledger.core import merkle
from ledger.core.routing import agency_counts, route_leaf, routing_root
from ledger.errors import ChainError, ChainUnavailableError
from ledger.log.intake import INTAKE_ID

from ..chain_support import DeployedLedger, add_intake

pytestmark = pytest.mark.chain


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_reads_match_the_node(deployed: DeployedLedger) -> None:
    d, chain = deployed, deployed.contract.chain
    assert chain.chain_id() == d.deployment.chain_id
    head = chain.head_block()
    assert head == d.w3.eth.block_number
    assert chain.block_timestamp(head) == d.w3.eth.get_block(head)["timestamp"]
    assert chain.code_at(d.contract.address) == bytes(d.w3.eth.get_code(d.contract.address))
    assert chain.code_at(d.outsider.address) == b""
    assert chain.balance(d.outsider.address) == d.w3.eth.get_balance(d.outsider.address)


def test_transactions_receipts_and_logs(deployed: DeployedLedger) -> None:
    d, chain = deployed, deployed.contract.chain
    result = d.contract.commit(d.outsider, hashlib.sha256(b"direct").digest())
    assert chain.get_transaction(result.tx_hash)["from"] == d.outsider.address
    receipt = chain.wait_for_receipt(result.tx_hash, 5)
    assert receipt is not None
    assert receipt["blockNumber"] == result.block_number
    logs = chain.logs(
        {"address": d.contract.address, "fromBlock": result.block_number, "toBlock": "latest"}
    )
    assert [bytes(log["transactionHash"]) for log in logs] == [result.tx_hash]


def test_a_receipt_not_mined_in_time_is_none(deployed: DeployedLedger) -> None:
    chain = deployed.contract.chain
    assert chain.wait_for_receipt(bytes(32), 0.2, poll_latency=0.02) is None


def test_failures_are_chain_errors_named_by_the_caller(deployed: DeployedLedger) -> None:
    with pytest.raises(ChainError, match=r"^reading the deploy block: "):
        deployed.contract.chain.block_timestamp(10**9, "reading the deploy block")
    dead = ChainReader(Web3(HTTPProvider(f"http://127.0.0.1:{_free_port()}")))
    with pytest.raises(ChainUnavailableError, match=r"^reading the chain id: chain unavailable"):
        dead.chain_id()
    with pytest.raises(ChainUnavailableError, match=r"^checking the chain: chain unavailable"):
        dead.code_at(deployed.contract.address, "checking the chain")


def _routing(batch: list[bytes]) -> tuple[bytes, list[bytes], list[int]]:
    """A batch all routed to intake: its routing root, agencies and counts."""
    leaves = [route_leaf(c, INTAKE_ID, os.urandom(32)) for c in batch]
    agencies, counts = agency_counts([INTAKE_ID] * len(batch))
    return routing_root(leaves), agencies, counts


def test_checkpoints_in_batches_match_single_reads(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    add_intake(c, d.admin, d.reviewers[0])
    entries = [hashlib.sha256(bytes([i])).digest() for i in range(9)]
    c.anchor(d.anchorer, 4, merkle.root(entries[:4]), [], *_routing(entries[:4]))
    proof = merkle.consistency_proof(entries, 4)
    c.anchor(d.anchorer, 9, merkle.root(entries), proof, *_routing(entries[4:]))
    sizes = [4, 9, 5]
    assert c.checkpoints(sizes, "reading checkpoints") == [c.checkpoint(n) for n in sizes]
    assert c.checkpoints([], "reading checkpoints") == []


def test_balance_of_a_funded_account(deployed: DeployedLedger) -> None:
    d = deployed
    before = d.contract.chain.balance(d.outsider.address)
    transfer: TxParams = {"to": d.outsider.address, "value": Web3.to_wei(7, "wei")}
    send_transaction(d.w3, d.admin, transfer, what="a transfer")
    assert d.contract.chain.balance(d.outsider.address) == before + 7
