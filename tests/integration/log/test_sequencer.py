"""The sequencer on a real Anvil and real databases (SQLite and PostgreSQL): batching, anchoring
with consistency proofs, direct commitments, confirmations, durable transactions (dropped,
stuck, restarted), chains that do not match, outages, and the lease between instances."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine

from ledger.chain.client import send_transaction
from ledger.chain.tx_manager import bump_fee
from ledger.core import merkle
from ledger.core.eip712 import Signer
from ledger.core.receipt import Receipt
from ledger.log.receipts import inclusion_for, make_promise
from ledger.store import LogStore
from ledger.store.chain_txs import TX_FINAL, ChainCursor, TxStore
from ledger.store.database import open_database
from ledger.store.submissions import SOURCE_DIRECT, NewSubmission, SubmissionStore
from ledger.verify import verify_receipt

from ..chain_support import DeployedLedger
from .conftest import Tip, accept, build_sequencer, deploy_ledger, make_tip, rpc

pytestmark = pytest.mark.chain


def receipt_for(ledger: DeployedLedger, log: LogStore, tip: Tip, received_at: int) -> Receipt:
    checkpoint = log.latest_checkpoint()
    assert checkpoint is not None
    return Receipt.create(
        chain_id=ledger.deployment.chain_id,
        contract=ledger.deployment.address,
        commitment=tip.commitment,
        salt=tip.salt,
        content_digest=tip.digest,
        author=bytes(20),
        promise=make_promise(
            Signer(ledger.anchorer.key),
            ledger.deployment.chain_id,
            ledger.deployment.address,
            tip.commitment,
            received_at,
        ),
        inclusion=inclusion_for(log, tip.commitment, checkpoint),
    )


def assert_receipts_verify(ledger: DeployedLedger, log: LogStore, tips: list[Tip]) -> None:
    now = int(time.time())
    for tip in tips:
        verdict = verify_receipt(receipt_for(ledger, log, tip, now), tip.document, ledger.w3)
        assert verdict.ok, verdict.summary()


def test_step_sequences_anchors_and_receipts_verify_against_the_chain(
    engine: Engine, deployed: DeployedLedger
) -> None:
    seq = build_sequencer(engine, deployed)
    first = accept(seq.submissions, 5)
    result = seq.step()
    assert result.leader
    assert result.sequenced == 5
    assert result.anchored is not None
    assert result.anchored.tree_size == 5
    assert result.action == "sent"
    assert result.in_flight is None
    assert result.pending == 0
    on_chain = deployed.contract.latest()
    assert on_chain.tree_size == 5
    assert on_chain.root_hash == seq.log.tree().root() == result.anchored.root_hash
    assert_receipts_verify(deployed, seq.log, first)

    idle = seq.step()  # nothing new: nothing sent
    assert (idle.sequenced, idle.action, idle.anchored) == (0, None, None)

    second = accept(seq.submissions, 3)
    grown = seq.step()  # anchored with a consistency proof from 5 to 8, checked by the contract
    assert grown.anchored is not None
    assert grown.anchored.tree_size == 8
    assert deployed.contract.checkpoint(5).root_hash == on_chain.root_hash
    assert_receipts_verify(deployed, seq.log, first + second)  # old receipts move to size 8
    status = seq.status
    assert status.is_leader
    assert status.last_anchor is not None
    assert status.last_anchor.tree_size == 8
    assert status.last_anchor.tx_hash == grown.anchored.anchor_tx
    assert (status.pending, status.log_size, status.halted, status.last_error) == (
        0,
        8,
        False,
        None,
    )
    assert (status.batches, status.anchors) == (2, 2)
    txs = TxStore(engine).all()
    assert [t.tree_size for t in txs] == [5, 8]
    assert all(t.state == TX_FINAL for t in txs)
    assert txs[1].nonce == txs[0].nonce + 1


def test_the_batch_cap_splits_a_backlog_into_anchored_batches(
    engine: Engine, deployed: DeployedLedger
) -> None:
    seq = build_sequencer(engine, deployed, batch_cap=4)
    tips = accept(seq.submissions, 10)
    sizes = []
    for expected_pending in (6, 2, 0):
        result = seq.step()
        assert result.pending == expected_pending
        assert result.anchored is not None
        sizes.append(result.anchored.tree_size)
    assert sizes == [4, 8, 10]
    assert deployed.contract.latest().root_hash == merkle.root(seq.log.entries(0, 10))
    assert {bytes(c) for c in seq.log.entries(0, 10)} == {t.commitment for t in tips}


def test_direct_commitments_are_sequenced_and_the_cursor_persists(
    engine: Engine, deployed: DeployedLedger
) -> None:
    seq = build_sequencer(engine, deployed)
    via_api = accept(seq.submissions, 1)[0]
    seq.step()
    direct = [make_tip(), make_tip()]
    results = [deployed.contract.commit(deployed.outsider, t.commitment) for t in direct]
    results.append(deployed.contract.commit(deployed.outsider, via_api.commitment))  # known
    result = seq.step()
    assert result.ingested == 3
    assert result.sequenced == 2  # the known one maps to its existing entry
    assert result.anchored is not None
    assert result.anchored.tree_size == 3
    assert seq.log.index_of(via_api.commitment) == 0
    for tip, tx in zip(direct, results[:2], strict=True):
        row = seq.submissions.get(tip.commitment)
        assert row is not None
        assert row.source == SOURCE_DIRECT
        block = deployed.w3.eth.get_block(tx.block_number)
        assert row.received_at == block["timestamp"]  # the event's time, not ours
        assert row.leaf_index is not None
    cursor = ChainCursor(engine, "direct_commitments").get(0)
    assert cursor > max(tx.block_number for tx in results)

    # A new instance on the same database starts from the persisted cursor.
    again = build_sequencer(engine, deployed, holder=seq.lease.holder)
    assert again.step().ingested == 0
    late = make_tip()
    deployed.contract.commit(deployed.outsider, late.commitment)
    result = again.step()
    assert result.ingested == 1
    assert result.anchored is not None
    assert result.anchored.tree_size == 4
    assert again.log.index_of(late.commitment) == 3


def test_a_checkpoint_is_recorded_only_once_it_has_enough_confirmations(
    engine: Engine, deployed: DeployedLedger
) -> None:
    seq = build_sequencer(engine, deployed, confirmations=2)
    accept(seq.submissions, 3)
    result = seq.step()
    assert result.action == "sent"
    assert result.anchored is None
    assert result.in_flight is not None
    assert result.in_flight.state == "mined"
    assert deployed.contract.latest().tree_size == 3  # on chain, not yet final
    assert seq.log.latest_checkpoint() is None
    rpc(deployed.devchain, "evm_mine")
    one = seq.step()
    assert one.anchored is None
    assert one.in_flight is not None
    assert one.in_flight.confirmations == 1
    assert seq.log.latest_checkpoint() is None
    rpc(deployed.devchain, "evm_mine")
    two = seq.step()
    assert two.anchored is not None
    assert two.anchored.tree_size == 3
    assert seq.log.latest_checkpoint() == two.anchored
    assert two.in_flight is None


def test_a_dropped_transaction_is_resent_with_the_same_nonce_and_bytes(
    engine: Engine, private_ledger: DeployedLedger
) -> None:
    chain = private_ledger.devchain
    seq = build_sequencer(engine, private_ledger)
    rpc(chain, "anvil_setAutomine", False)
    accept(seq.submissions, 4)
    sent = seq.step()
    assert sent.action == "sent"
    assert sent.in_flight is not None
    assert sent.anchored is None
    [tx] = TxStore(engine).all()
    assert rpc(chain, "anvil_dropTransaction", "0x" + tx.current.tx_hash.hex())
    assert (
        private_ledger.w3.eth.get_transaction_count(private_ledger.anchorer.address, "pending")
        == tx.nonce
    )

    resent = seq.step()
    assert resent.action == "resent"
    assert resent.in_flight is not None
    assert resent.in_flight.tx_hash == tx.current.tx_hash  # the very same signed transaction
    assert resent.in_flight.versions == 1
    rpc(chain, "evm_mine")
    done = seq.step()
    assert done.anchored is not None
    assert done.anchored.tree_size == 4
    assert done.anchored.anchor_tx == tx.current.tx_hash
    [final] = TxStore(engine).all()
    assert (final.nonce, final.state) == (tx.nonce, TX_FINAL)


def test_a_stuck_transaction_is_replaced_with_fees_bumped_by_an_eighth(
    engine: Engine, private_ledger: DeployedLedger
) -> None:
    chain = private_ledger.devchain
    offset = [0.0]
    seq = build_sequencer(
        engine, private_ledger, clock=lambda: time.time() + offset[0], stuck_after=30
    )
    rpc(chain, "anvil_setAutomine", False)
    accept(seq.submissions, 2)
    assert seq.step().action == "sent"
    assert seq.step().action is None  # still pending, not yet stuck
    offset[0] = 31.0  # thirty-one seconds later, still not mined
    replaced = seq.step()
    assert replaced.action == "replaced"
    [tx] = TxStore(engine).all()
    first, second = tx.attempts
    assert first.max_fee_per_gas is not None
    assert first.max_priority_fee_per_gas is not None
    assert second.max_fee_per_gas is not None
    assert second.max_priority_fee_per_gas is not None
    assert second.max_fee_per_gas >= bump_fee(first.max_fee_per_gas)
    assert second.max_priority_fee_per_gas >= bump_fee(first.max_priority_fee_per_gas)
    assert second.max_fee_per_gas * 8 >= first.max_fee_per_gas * 9
    rpc(chain, "evm_mine")
    done = seq.step()
    assert done.anchored is not None
    assert done.anchored.anchor_tx == second.tx_hash
    receipt = private_ledger.w3.eth.get_transaction(second.tx_hash)
    assert receipt["nonce"] == tx.nonce


def test_a_transaction_priced_out_by_the_base_fee_is_repriced(
    engine: Engine, private_ledger: DeployedLedger
) -> None:
    chain = private_ledger.devchain
    seq = build_sequencer(engine, private_ledger)
    rpc(chain, "anvil_setAutomine", False)
    accept(seq.submissions, 3)
    seq.step()
    [tx] = TxStore(engine).all()
    base = private_ledger.w3.eth.get_block("latest")["baseFeePerGas"]
    rpc(chain, "anvil_setNextBlockBaseFeePerGas", hex(base * 100))
    rpc(chain, "evm_mine")  # the anchor cannot pay this base fee: Anvil evicts it
    repriced = seq.step()
    assert repriced.action == "replaced"
    [tx] = TxStore(engine).all()
    assert len(tx.attempts) == 2
    new_base = private_ledger.w3.eth.get_block("latest")["baseFeePerGas"]
    assert tx.current.max_fee_per_gas is not None
    assert tx.current.max_fee_per_gas >= new_base
    rpc(chain, "evm_mine")
    done = seq.step()
    assert done.anchored is not None
    assert done.anchored.tree_size == 3


def test_a_new_instance_resumes_the_persisted_transaction_and_nonce(
    engine: Engine, private_ledger: DeployedLedger
) -> None:
    chain, w3 = private_ledger.devchain, private_ledger.w3
    anchorer = private_ledger.anchorer
    # A lease long enough for a step on a loaded machine (0.5 s was not: the step lost the
    # lease before sending, seen twice on PostgreSQL), short enough to wait out below.
    lease = 2.0
    first = build_sequencer(engine, private_ledger, lease_seconds=lease)
    rpc(chain, "anvil_setAutomine", False)
    accept(first.submissions, 3)
    first.step()
    [tx] = TxStore(engine).all()
    # The instance dies (no release) and the node forgets the transaction (e.g. its restart).
    rpc(chain, "anvil_dropTransaction", "0x" + tx.current.tx_hash.hex())
    del first
    time.sleep(lease + 0.2)
    second = build_sequencer(engine, private_ledger, lease_seconds=lease)
    resumed = second.step()
    assert resumed.leader
    assert resumed.action == "resent"
    assert resumed.tx_hash == tx.current.tx_hash
    rpc(chain, "evm_mine")
    assert second.step().anchored is not None
    rpc(chain, "anvil_setAutomine", True)

    # Crash between persisting and sending: the next instance sends what was persisted.
    accept(second.submissions, 2)
    second.submissions.sequence(100)
    latest = private_ledger.contract.latest()
    plan = second.anchorer.plan(latest)
    assert plan is not None
    persisted = second.txs.prepare(
        to=private_ledger.contract.address,
        data=plan.calldata(private_ledger.contract),
        purpose="anchor",
        tree_size=plan.tree_size,
        root_hash=plan.root_hash,
    )
    assert persisted.nonce == tx.nonce + 1
    assert persisted.current.sent_at is None
    assert w3.eth.get_transaction_count(anchorer.address, "pending") == tx.nonce + 1
    third = build_sequencer(engine, private_ledger, holder=second.lease.holder)
    sent = third.step()
    assert sent.action == "sent"
    assert sent.anchored is not None
    assert sent.anchored.tree_size == 5
    assert sent.anchored.anchor_tx == persisted.current.tx_hash

    # Someone else used the key meanwhile: the next nonce is the node's, not one reused.
    send_transaction(w3, anchorer, {"to": anchorer.address, "value": 0}, what="a transfer")
    accept(third.submissions, 1)
    after = third.step()
    assert after.anchored is not None
    nonces = [t.nonce for t in TxStore(engine).all()]
    assert nonces == [tx.nonce, tx.nonce + 1, tx.nonce + 3]


def test_another_contract_is_refused_and_nothing_is_sent(
    engine: Engine, deployed: DeployedLedger
) -> None:
    seq = build_sequencer(engine, deployed)
    accept(seq.submissions, 2)
    assert seq.step().anchored is not None
    other = deploy_ledger(deployed.devchain)
    wrong = build_sequencer(engine, other, bind=False, holder=seq.lease.holder)
    accept(wrong.submissions, 2)
    result = wrong.step()
    assert result.halted
    assert result.error is not None
    assert "belongs to contract" in result.error
    assert wrong.status.halted
    assert wrong.status.last_error == result.error
    assert result.sequenced == 2  # submissions are still accepted and sequenced
    assert other.contract.latest().tree_size == 0
    assert len(TxStore(engine).all()) == 1  # nothing new persisted, nothing sent
    assert wrong.step().halted  # and it stays refused


def test_a_reset_chain_is_refused_and_never_forked(
    engine: Engine, private_ledger: DeployedLedger
) -> None:
    chain = private_ledger.devchain
    seq = build_sequencer(engine, private_ledger)
    accept(seq.submissions, 3)
    assert seq.step().anchored is not None
    chain.stop()
    assert chain.state is not None
    chain.state.unlink()  # restart without state: a reset devchain on the same port
    chain.start()
    result = seq.step()
    assert result.halted
    assert result.error is not None
    assert "no contract code" in result.error

    # Redeployed at the same address (same deployer, same nonce): the history is still gone.
    # At a later time, as any real restart is: within the same second Anvil would rebuild the
    # very same blocks, and a chain equal up to the deploy is a rollback, repaired, not refused.
    rpc(chain, "evm_increaseTime", 60)
    again = deploy_ledger(chain)
    assert again.contract.address == private_ledger.contract.address
    accept(seq.submissions, 1)
    result = seq.step()
    assert result.halted
    assert result.error is not None
    assert "lost history" in result.error
    assert again.contract.latest().tree_size == 0
    assert private_ledger.w3.eth.get_transaction_count(private_ledger.anchorer.address) == 0


def test_a_chain_outage_pauses_anchoring_and_it_resumes_by_itself(
    engine: Engine, private_ledger: DeployedLedger
) -> None:
    chain = private_ledger.devchain
    seq = build_sequencer(engine, private_ledger)
    accept(seq.submissions, 2)
    assert seq.step().anchored is not None
    chain.stop()  # dumps its state
    accept(seq.submissions, 3)
    down = seq.step()
    assert down.leader
    assert down.sequenced == 3  # sequencing does not need the chain
    assert down.error is not None
    assert "unavailable" in down.error
    assert not seq.status.chain_available
    assert not seq.status.halted
    chain.start()  # same port, same state
    deadline = time.monotonic() + 15
    anchored = None
    while anchored is None and time.monotonic() < deadline:
        anchored = seq.step().anchored
        time.sleep(0.2)
    assert anchored is not None
    assert anchored.tree_size == 5
    assert seq.status.chain_available
    assert seq.status.last_error is None


def test_two_instances_one_sequencer_and_a_takeover_after_the_lease(
    database_url: str, deployed: DeployedLedger
) -> None:
    engines = [open_database(database_url) for _ in range(2)]
    try:
        a = build_sequencer(engines[0], deployed, holder="instance-a", lease_seconds=1.0)
        b = build_sequencer(engines[1], deployed, holder="instance-b", lease_seconds=1.0)
        accept(a.submissions, 3)
        ra, rb = a.step(), b.step()
        assert ra.leader
        assert ra.anchored is not None
        assert not rb.leader
        accept(b.submissions, 2)
        for _ in range(3):
            rb = b.step()
            assert not rb.leader
            assert rb.sequenced == 0
            assert rb.action is None
        assert a.step().anchored is not None  # the leader does the work
        assert not b.status.is_leader

        # a stops renewing (it died): b takes over within lease_seconds + one interval.
        accept(b.submissions, 2)
        stopped = time.monotonic()
        while not b.step().leader:
            assert time.monotonic() - stopped < 1.0 + 0.2 + 0.5
            time.sleep(0.2)
        taken_over = b.status
        assert taken_over.is_leader
        assert taken_over.last_anchor is not None
        assert taken_over.last_anchor.tree_size == 7
        lost = a.step()
        assert not lost.leader  # a, back, is a follower now and sends nothing
        assert lost.action is None
        assert deployed.contract.latest().tree_size == 7
        nonces = [t.nonce for t in TxStore(engines[0]).all()]
        assert nonces == sorted(set(nonces))  # one anchor per nonce
    finally:
        for e in engines:
            e.dispose()


def test_run_steps_on_its_interval_wakes_on_a_full_batch_and_hands_over_on_stop(
    database_url: str, deployed: DeployedLedger
) -> None:
    engines = [open_database(database_url) for _ in range(2)]
    try:
        a = build_sequencer(engines[0], deployed, batch_interval=30, batch_cap=4)
        b = build_sequencer(engines[1], deployed, batch_interval=0.1, batch_cap=4)
        stop_a, stop_b = threading.Event(), threading.Event()
        thread_a = threading.Thread(target=a.run, args=(stop_a,))
        thread_a.start()
        deadline = time.monotonic() + 5
        while not a.status.is_leader:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        tips = accept(a.submissions, 2)
        a.notify(2)  # half a batch: a waits for its interval
        time.sleep(0.3)
        assert a.status.last_anchor is None
        tips += accept(a.submissions, 2)
        a.notify(2)  # a full batch now: no waiting for the 30 s interval
        while a.status.last_anchor is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert a.status.last_anchor.tree_size == 4
        thread_b = threading.Thread(target=b.run, args=(stop_b,))
        thread_b.start()
        time.sleep(0.3)
        assert not b.status.is_leader
        stop_a.set()  # a stops cleanly and releases the lease: b takes over at once
        a.notify(10**9)
        thread_a.join(5)
        assert not thread_a.is_alive()
        accept(b.submissions, 1)
        deadline = time.monotonic() + 3
        while b.status.last_anchor is None or b.status.last_anchor.tree_size != 5:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert b.status.is_leader
        stop_b.set()
        thread_b.join(5)
        assert {bytes(c) for c in b.log.entries(0, 4)} == {t.commitment for t in tips}
    finally:
        for e in engines:
            e.dispose()


def test_submissions_accepted_under_another_store_object_are_sequenced(
    engine: Engine, deployed: DeployedLedger
) -> None:
    intake = SubmissionStore(LogStore(engine))  # the service's intake has a store of its own
    seq = build_sequencer(engine, deployed)
    tip = make_tip()
    intake.accept([NewSubmission(tip.commitment, int(time.time()))])
    result = seq.step()
    assert result.anchored is not None
    assert intake.get(tip.commitment).leaf_index == 0  # type: ignore[union-attr]
