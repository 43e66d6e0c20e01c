"""What the vault asks the chain: roles, the disclosure threshold, recorded disclosures.

Shared by the service (it withholds shares until the chain has the record) and by the custodian
and investigator tools (they check the chain themselves instead of trusting the service).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledger.chain.contract import TipLedgerContract
from ledger.core.encoding import to_hex

__all__ = ["RecordedDisclosure", "VaultChain"]


@dataclass(frozen=True)
class RecordedDisclosure:
    """A ``DisclosureApproved`` event (``isDisclosed`` is true for its record and digest)."""

    record_id: bytes
    request_digest: bytes
    requester: str | None
    tx_hash: bytes | None
    block_number: int | None
    timestamp: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_id": to_hex(self.record_id),
            "request_digest": to_hex(self.request_digest),
            "requester": self.requester,
            "tx_hash": None if self.tx_hash is None else to_hex(self.tx_hash),
            "block_number": self.block_number,
            "timestamp": self.timestamp,
        }


class VaultChain:
    """The contract as the vault needs it; ``contract`` is called for each use (it may be the
    service's lazily opened one)."""

    def __init__(self, contract: Callable[[], TipLedgerContract], *, deploy_block: int = 0):
        self._contract = contract
        self.deploy_block = deploy_block

    def contract(self) -> TipLedgerContract:
        return self._contract()

    def has_role(self, role: str, address: str) -> bool:
        return self._contract().has_role(role, address)

    def threshold(self) -> int:
        """The contract's ``disclosureThreshold()``: signatures ``recordDisclosure`` needs."""
        return self._contract().disclosure_threshold()

    def recorded(self, record_id: bytes, request_digest: bytes) -> RecordedDisclosure | None:
        """The on-chain record of this disclosure, or None if ``isDisclosed`` says there is none.

        ``isDisclosed`` decides; the event (searched from the deploy block) adds where and when.
        """
        contract = self._contract()
        if not contract.is_disclosed(record_id, request_digest):
            return None
        for event in contract.disclosure_events(self.deploy_block):
            if event.record_id == record_id and event.request_digest == request_digest:
                return RecordedDisclosure(
                    record_id=record_id,
                    request_digest=request_digest,
                    requester=str(event.requester),
                    tx_hash=event.tx_hash,
                    block_number=event.block_number,
                    timestamp=event.timestamp,
                )
        return RecordedDisclosure(record_id, request_digest, None, None, None, None)
