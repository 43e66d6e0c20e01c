"""Who holds a role now, from the contract's OpenZeppelin ``RoleGranted`` / ``RoleRevoked``
events (``hasRole`` answers for one address; moving a deployment needs the whole list)."""

from __future__ import annotations

from eth_typing import ChecksumAddress
from web3 import Web3

from ledger.chain.client import chain_errors
from ledger.chain.contract import TipLedgerContract
from ledger.core.names import role_id

__all__ = ["role_holders"]


def role_holders(contract: TipLedgerContract, role: str, from_block: int) -> list[ChecksumAddress]:
    """The current holders of ``role``, in the order first granted, each checked with hasRole."""
    wanted = role_id(role)
    events = contract.contract.events
    with chain_errors(f"reading the {role} grants", contract.error_decoder):
        granted = events.RoleGranted().get_logs(from_block=from_block, to_block="latest")
    seen: list[ChecksumAddress] = []
    for log in granted:
        if bytes(log["args"]["role"]) != wanted:
            continue
        account = Web3.to_checksum_address(log["args"]["account"])
        if account not in seen:
            seen.append(account)
    return [a for a in seen if contract.has_role(wanted, a)]
