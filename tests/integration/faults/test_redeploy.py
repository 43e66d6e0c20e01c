"""A chain reset under a deployment: the same key redeploys at the same address with the same
code, in another block. ``open_deployment`` tells the two apart by the deploy block's hash."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from ledger.chain.anvil import rpc_request
from ledger.chain.deploy import deploy, open_deployment
from ledger.errors import DeploymentError

from ..chain_support import DeployedLedger

pytestmark = pytest.mark.chain


def test_a_same_address_same_code_redeploy_on_a_reset_chain_is_refused(
    deployed: DeployedLedger, caplog: pytest.LogCaptureFixture
) -> None:
    url, w3, admin = deployed.devchain.rpc_url, deployed.w3, deployed.admin
    before = rpc_request(url, "evm_snapshot")
    first = deploy(w3, admin, anchorer=deployed.anchorer.address)
    assert first.deploy_block_hash is not None
    open_deployment(w3, first)
    # The chain loses the deployment (reset to before it); a later block time, as after any
    # restart; the same deployer deploys again with the same nonce.
    rpc_request(url, "evm_revert", [before])
    rpc_request(url, "evm_increaseTime", [60])
    cleanup = rpc_request(url, "evm_snapshot")
    try:
        again = deploy(w3, admin, anchorer=deployed.anchorer.address)
        assert (again.address, again.code_hash, again.deploy_block) == (
            first.address,
            first.code_hash,
            first.deploy_block,
        )
        assert again.deploy_block_hash != first.deploy_block_hash
        open_deployment(w3, again)  # the deployment that is on chain: accepted
        with pytest.raises(DeploymentError, match="contract deployed again at the same address"):
            open_deployment(w3, first)

        # An older deployment file (no hash): what can be checked is, and the gap is said.
        old_file = replace(first, deploy_block_hash=None)
        with caplog.at_level(logging.WARNING, logger="tipledger.chain"):
            open_deployment(w3, old_file)
        assert "records no deploy block hash" in caplog.text
        beyond = replace(old_file, deploy_block=w3.eth.block_number + 100)
        with pytest.raises(DeploymentError, match="the chain does not contain block"):
            open_deployment(w3, beyond)
    finally:
        rpc_request(url, "evm_revert", [cleanup])


def test_the_deploy_block_hash_is_saved_and_read_back(deployed: DeployedLedger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "deployment.json"
    deployed.deployment.save(path)
    loaded = type(deployed.deployment).load(path)
    assert loaded == deployed.deployment
    assert loaded.block_hash() == bytes(w3_block_hash(deployed))


def w3_block_hash(deployed: DeployedLedger) -> bytes:
    return bytes(deployed.w3.eth.get_block(deployed.deployment.deploy_block)["hash"])
