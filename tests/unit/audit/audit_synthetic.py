"""Synthetic chain histories for the audit's unit tests: real Merkle roots and proofs, real
EIP-712 signatures, events built as the contract would emit them (no chain needed)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence

from eth_utils.address import to_checksum_address

from ledger.audit.history import ChainHistory, RoleChange, RoleHistory, ThresholdHistory
from ledger.chain.contract import (
    ROLES,
    AnchoredEvent,
    Checkpoint,
    DirectCommitmentEvent,
    ReviewEvent,
)
from ledger.core.tree import MerkleTree

CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
T0 = 1_800_000_000
REVIEWER = ROLES["REVIEWER_ROLE"]
CUSTODIAN = ROLES["CUSTODIAN_ROLE"]


def entry(i: int) -> bytes:
    return hashlib.sha256(f"entry {i}".encode()).digest()


def entries(n: int) -> list[bytes]:
    return [entry(i) for i in range(n)]


def tx(tag: str) -> bytes:
    return hashlib.sha256(tag.encode()).digest()


def anchors_for(
    log: Sequence[bytes], sizes: Sequence[int], *, first_block: int = 10, spacing: int = 60
) -> list[AnchoredEvent]:
    """Anchored events for the honest ``log`` at ``sizes``: one block each, ``spacing`` s apart."""
    tree = MerkleTree()
    tree.extend(log)
    return [
        AnchoredEvent(
            block_number=first_block + k,
            tx_hash=tx(f"anchor {n}"),
            log_index=0,
            tree_size=n,
            root_hash=tree.root(n),
            timestamp=T0 + spacing * (k + 1),
        )
        for k, n in enumerate(sizes)
    ]


def honest_proofs(log: Sequence[bytes], anchors: Sequence[AnchoredEvent]):  # type: ignore[no-untyped-def]
    """A ProofReader giving the consistency proof each anchor transaction would have carried."""
    tree = MerkleTree()
    tree.extend(log)
    previous = {a.tree_size: p.tree_size for p, a in itertools.pairwise(anchors)}

    def read(anchor: AnchoredEvent) -> list[bytes] | None:
        first = previous.get(anchor.tree_size, 0)
        return tree.consistency_proof(first, anchor.tree_size) if first else []

    return read


def stored_for(anchors: Sequence[AnchoredEvent]) -> dict[int, Checkpoint]:
    return {
        a.tree_size: Checkpoint(a.tree_size, a.root_hash, a.timestamp, a.block_number)
        for a in anchors
    }


def grant(role: bytes, account: str, block: int, log_index: int = 0) -> RoleChange:
    return RoleChange(role, account, True, block, log_index)


def revoke(role: bytes, account: str, block: int, log_index: int = 0) -> RoleChange:
    return RoleChange(role, account, False, block, log_index)


def review(
    commitment: bytes,
    reviewer: str,
    block: int,
    timestamp: int,
    status: int = 1,
    log_index: int = 0,
) -> ReviewEvent:
    return ReviewEvent(
        block_number=block,
        tx_hash=tx(f"review {block} {log_index}"),
        log_index=log_index,
        commitment=commitment,
        status=status,
        note_digest=bytes(32),
        reviewer=to_checksum_address(reviewer),
        timestamp=timestamp,
    )


def direct(commitment: bytes, block: int, timestamp: int, sender: str) -> DirectCommitmentEvent:
    return DirectCommitmentEvent(
        block_number=block,
        tx_hash=tx(f"direct {block}"),
        log_index=0,
        commitment=commitment,
        sender=to_checksum_address(sender),
        timestamp=timestamp,
    )


def history(
    anchors: Sequence[AnchoredEvent],
    *,
    now: int | None = None,
    max_merge_delay: int = 3600,
    roles: Sequence[RoleChange] = (),
    threshold: int = 3,
    **events: object,
) -> ChainHistory:
    last = max((a.block_number for a in anchors), default=1)
    return ChainHistory(
        chain_id=CHAIN_ID,
        contract=CONTRACT,
        from_block=0,
        to_block=last + 100,
        head_timestamp=now if now is not None else T0 + 10_000,
        max_merge_delay=max_merge_delay,
        anchors=list(anchors),
        roles=RoleHistory(roles),
        thresholds=ThresholdHistory(threshold),
        stored=stored_for(anchors),
        deploy_block=1,
        deploy_timestamp=T0,
        **events,  # type: ignore[arg-type]
    )
