"""A chain that does not match the stored log (Anvil restarted without its state, then TipLedger
redeployed at the very same address, as `tipledger devchain` would): the service keeps
accepting, refuses to anchor with a clear error in /healthz and in its log, and never forks."""

from __future__ import annotations

import base64
import os

import httpx
import pytest

from ledger.chain.client import connect
from ledger.chain.contract import TipLedgerContract
from ledger.config import Settings
from ledger.ops.devnet import ensure_intake_desk, provision

from .support import Load, System, check_log_against_chain, wait_all_anchored, wait_until

pytestmark = [pytest.mark.chain, pytest.mark.slow]


def post_tip(url: str) -> int:
    body = {"document": base64.b64encode(os.urandom(32)).decode()}
    return httpx.post(url + "/v1/tips", json=body, timeout=10).status_code


def halted_with(system: System, words: str) -> bool:
    sequencer = system.service.health()["sequencer"]
    return bool(sequencer.get("halted")) and words in (sequencer.get("last_error") or "")


def test_a_reset_chain_stops_anchoring_with_a_clear_error_and_never_forks(
    system: System,
) -> None:
    service = system.service
    service.start()
    load = Load(service.url, pause=0.02).start()
    try:
        wait_until("anchored submissions", lambda: load.count() >= 30, 20)
    finally:
        load.stop()
    wait_all_anchored(system, load.acked, timeout=20)
    anchored = check_log_against_chain(system)
    txs_before = len(system.txs())

    system.chain.reset()  # same port, no state: the contract and its checkpoints are gone
    wait_until("a refusal in /healthz", lambda: halted_with(system, "no contract code"), 20)
    health = service.health()
    assert not health["ok"]
    assert health["accepting"]
    assert "refusing to anchor" in health["sequencer"]["last_error"]
    assert "REFUSING TO ANCHOR" in service.log()
    assert all(post_tip(service.url) == 202 for _ in range(5))  # the API keeps working

    # `tipledger devchain` on the reset chain deploys again: same deployer and nonce, so the same
    # address and code, but none of the history (and registers the intake desk's member again).
    # Still refused, restarted or not.
    s = Settings(home=system.home, database_url=system.database_url)
    w3 = connect(system.chain.rpc_url)
    deployment, new = provision(s, w3, system.chain.rpc_url)
    assert new
    ensure_intake_desk(s, w3, deployment)
    assert deployment.address == system.deployment.address
    wait_until("the refusal of the redeployed contract", lambda: halted_with(system, "lost"), 20)
    service.stop()
    service.start()
    wait_until("the refusal after a restart", lambda: halted_with(system, "lost history"), 20)
    assert all(post_tip(service.url) == 202 for _ in range(5))
    wait_until(  # accepted and sequenced ...
        "the new submissions in the log",
        lambda: service.health()["log_size"] >= anchored + 10,
        10,
    )
    # ... never anchored; and no receipt claims the anchors the reset chain lost.
    assert service.health()["anchored_size"] == 0

    assert TipLedgerContract(w3, deployment.address).latest().tree_size == 0  # no fork
    assert w3.eth.get_transaction_count(system.deployment.anchorer, "pending") == 0  # nothing sent
    assert len(system.txs()) == txs_before  # nor even prepared
