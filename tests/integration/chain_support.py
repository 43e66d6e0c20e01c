"""Shared types of the integration fixtures (importable, unlike conftest)."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain.anvil import Devchain
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import Deployment

THRESHOLD = 3


@dataclass(frozen=True)
class DeployedLedger:
    """A fresh TipLedger and the dev accounts holding its roles."""

    devchain: Devchain
    w3: Web3
    deployment: Deployment
    contract: TipLedgerContract
    admin: LocalAccount
    anchorer: LocalAccount
    reviewers: tuple[LocalAccount, ...]
    custodians: tuple[LocalAccount, ...]
    outsider: LocalAccount
