"""Anchoring: put the log's newest tree head on chain, proven consistent with the last one.

Before every anchor the local log is reconciled with the chain: the chain's latest checkpoint
must be a tree head the local log has had. If it is not (a reset devchain, another contract, a
lost database), anchoring stops with ``ChainMismatchError``: sending anything would fork the log.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from ledger.chain.contract import Checkpoint, TipLedgerContract
from ledger.core.encoding import to_hex
from ledger.errors import ChainMismatchError
from ledger.store import LogStore, StoredCheckpoint


@dataclass(frozen=True)
class AnchorOutcome:
    checkpoint: StoredCheckpoint
    new: bool  # False when the chain already had this tree head
    gas_used: int = 0


class Anchorer:
    """Anchors one store's log through one contract with one ANCHORER_ROLE key."""

    def __init__(self, store: LogStore, contract: TipLedgerContract, account: LocalAccount):
        self.store = store
        self.contract = contract
        self.account = account

    def reconcile(self) -> Checkpoint:
        """The chain's latest checkpoint, after checking the local log agrees with it."""
        latest = self.contract.latest()
        if latest.tree_size == 0:
            return latest
        tree = self.store.tree()
        if latest.tree_size > tree.size:
            raise ChainMismatchError(
                f"the chain has a checkpoint of size {latest.tree_size} but the local log has "
                f"only {tree.size} entries; this database does not belong to contract "
                f"{self.contract.address} (or lost data): refusing to anchor"
            )
        local_root = tree.root(latest.tree_size)
        if local_root != latest.root_hash:
            raise ChainMismatchError(
                f"the chain's checkpoint at size {latest.tree_size} has root "
                f"{to_hex(latest.root_hash)}, the local log has {to_hex(local_root)} at that "
                "size: refusing to anchor a forked log"
            )
        if self.store.checkpoint(latest.tree_size) is None:
            self._record_from_chain(latest)
        return latest

    def _record_from_chain(self, latest: Checkpoint) -> None:
        # We crashed after the anchor transaction and before recording it: recover it from
        # the Anchored event rather than anchoring again.
        events = self.contract.anchored_events(latest.block_number, latest.block_number)
        tx = next((e.tx_hash for e in events if e.tree_size == latest.tree_size), b"\x00" * 32)
        self.store.record_checkpoint(
            StoredCheckpoint(
                latest.tree_size,
                latest.root_hash,
                tx,
                latest.block_number,
                latest.timestamp,
            )
        )

    def anchor(self) -> AnchorOutcome | None:
        """Anchor the log's current head; None if the log is empty."""
        latest = self.reconcile()
        tree = self.store.tree()
        size = tree.size
        if size == 0:
            return None
        if size == latest.tree_size:
            stored = self.store.checkpoint(size)
            assert stored is not None  # reconcile recorded it
            return AnchorOutcome(stored, new=False)
        root = tree.root(size)
        proof = tree.consistency_proof(latest.tree_size, size) if latest.tree_size else []
        result = self.contract.anchor(self.account, size, root, proof)
        checkpoint = StoredCheckpoint(
            size, root, result.tx_hash, result.block_number, result.block_timestamp
        )
        self.store.record_checkpoint(checkpoint)
        return AnchorOutcome(checkpoint, new=True, gas_used=result.gas_used)
