"""Shared types of the integration fixtures (importable, unlike conftest)."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain.anvil import Devchain
from ledger.chain.contract import TipLedgerContract
from ledger.chain.deploy import Deployment
from ledger.core.hpke import public_bytes
from ledger.log.intake import INTAKE_ID
from ledger.ops.devnet import INTAKE_NAME_EN, INTAKE_NAME_TH

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


def add_intake(
    contract: TipLedgerContract, admin: LocalAccount, member: LocalAccount
) -> X25519PrivateKey:
    """The intake agency on ``contract`` with ``member`` its one member; the member's X25519
    key, returned, opens every tip's grant. An anchor names its batch's agencies and a service
    refuses a tip for an agency without members (PROTOCOL.md 16), so every deployment that
    anchors or takes tips needs it."""
    key = X25519PrivateKey.generate()
    contract.add_agency(admin, INTAKE_ID, INTAKE_NAME_TH, INTAKE_NAME_EN)
    contract.add_member(admin, INTAKE_ID, member.address, public_bytes(key.public_key()))
    return key
