"""The EVM probe on Anvil: today's default passes both probes; an Anvil set to a pre-Shanghai
hardfork is refused before deploying, like a Ganache (see test_ganache.py)."""

from __future__ import annotations

import pytest
from web3 import Web3

from ledger.chain.anvil import Devchain
from ledger.chain.client import connect
from ledger.chain.deploy import deploy
from ledger.chain.evm import probe_evm
from ledger.errors import UnsupportedNodeError

pytestmark = pytest.mark.chain


def test_anvil_runs_push0_and_mcopy(w3: Web3) -> None:
    support = probe_evm(w3)
    assert (support.shanghai, support.cancun) == (True, True)


@pytest.mark.parametrize(("hardfork", "refused"), [("london", True), ("shanghai", False)])
def test_anvil_with_an_older_hardfork(hardfork: str, refused: bool) -> None:
    with Devchain(extra_args=["--hardfork", hardfork]) as chain:
        w3 = connect(chain.rpc_url)
        support = probe_evm(w3)
        assert support.cancun is False
        admin = chain.accounts[0]
        if refused:
            with pytest.raises(UnsupportedNodeError, match="predates Shanghai"):
                deploy(w3, admin, anchorer=admin.address)
            assert w3.eth.get_transaction_count(admin.address) == 0
        else:
            assert deploy(w3, admin, anchorer=admin.address).code_hash.startswith("0x")
