"""Issuing receipts: the promise at acceptance, the inclusion proof once anchored."""

from __future__ import annotations

from ledger.core.eip712 import Signer, sign_promise
from ledger.core.receipt import Inclusion, PromiseInfo, Receipt
from ledger.errors import ProofError
from ledger.store import LogStore, StoredCheckpoint


def make_promise(
    signer: Signer, chain_id: int, contract: str, commitment: bytes, received_at: int
) -> PromiseInfo:
    """The service's signed word that ``commitment`` will be in the log (PROTOCOL.md 5)."""
    signature = sign_promise(signer, chain_id, contract, commitment, received_at)
    return PromiseInfo.create(received_at=received_at, signer=signer.address, signature=signature)


def inclusion_for(store: LogStore, commitment: bytes, checkpoint: StoredCheckpoint) -> Inclusion:
    """An RFC 9162 inclusion proof of ``commitment`` against an anchored ``checkpoint``."""
    index = store.index_of(commitment)
    if index is None:
        raise ProofError("this commitment is not in the log")
    if index >= checkpoint.tree_size:
        raise ProofError(
            f"entry {index} is not covered by the checkpoint of size {checkpoint.tree_size} yet"
        )
    proof = store.tree().inclusion_proof(index, checkpoint.tree_size)
    return Inclusion.create(
        leaf_index=index,
        tree_size=checkpoint.tree_size,
        root_hash=checkpoint.root_hash,
        proof=proof,
        anchor_tx=checkpoint.anchor_tx,
        block_number=checkpoint.block_number,
        block_timestamp=checkpoint.block_timestamp,
    )


def with_inclusion(receipt: Receipt, inclusion: Inclusion) -> Receipt:
    return receipt.with_inclusion(inclusion)
