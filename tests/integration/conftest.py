"""Integration fixtures: one real Anvil for the whole session, a fresh TipLedger per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from ledger.chain.anvil import Devchain
from ledger.chain.client import connect
from ledger.chain.deploy import deploy, open_deployment

from .chain_support import THRESHOLD, DeployedLedger


@pytest.fixture(scope="session")
def devchain() -> Iterator[Devchain]:
    with Devchain(accounts=12) as chain:
        yield chain


@pytest.fixture(scope="session")
def w3(devchain: Devchain) -> Web3:
    return connect(devchain.rpc_url)


@pytest.fixture
def deployed(devchain: Devchain, w3: Web3) -> DeployedLedger:
    """Accounts: 0 admin/deployer, 1 anchorer, 2-3 reviewers, 4-8 custodians, 9 outsider."""
    accounts = devchain.accounts
    admin, anchorer = accounts[0], accounts[1]
    reviewers, custodians, outsider = accounts[2:4], accounts[4:9], accounts[9]
    deployment = deploy(
        w3,
        admin,
        anchorer=anchorer.address,
        reviewers=[a.address for a in reviewers],
        custodians=[a.address for a in custodians],
        max_merge_delay=3600,
        disclosure_threshold=THRESHOLD,
    )
    return DeployedLedger(
        devchain=devchain,
        w3=w3,
        deployment=deployment,
        contract=open_deployment(w3, deployment),
        admin=admin,
        anchorer=anchorer,
        reviewers=tuple(reviewers),
        custodians=tuple(custodians),
        outsider=outsider,
    )
