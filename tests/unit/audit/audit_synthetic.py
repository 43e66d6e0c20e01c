"""Synthetic chain histories for the audit's unit tests: real Merkle roots and proofs, real
EIP-712 signatures, events built as the contract would emit them (no chain needed)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence

from eth_utils.address import to_checksum_address

from ledger.audit.history import (
    AgencyHistory,
    ChainHistory,
    RoleChange,
    RoleHistory,
    ThresholdHistory,
)
from ledger.chain.contract import (
    ROLES,
    AgencyEvent,
    AnchoredEvent,
    CaseOpenedEvent,
    Checkpoint,
    DirectCommitmentEvent,
    MemberEvent,
    ReferredEvent,
    ReviewEvent,
    RoutedEvent,
)
from ledger.core.agency import INTAKE, agency_id
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
    agency: bytes = agency_id(INTAKE),
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
        agency=agency,
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
    agencies: AgencyHistory | None = None,
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
        agencies=agencies or AgencyHistory(),
        **events,  # type: ignore[arg-type]
    )


# --- agencies (PROTOCOL.md 16.5) -------------------------------------------------------------

INTAKE_ID = agency_id(INTAKE)


def agency_added(
    slug: str, block: int, log_index: int = 0, name_th: str = "", name_en: str = ""
) -> AgencyEvent:
    return AgencyEvent(
        block_number=block,
        tx_hash=tx(f"agency {slug} {block} {log_index}"),
        log_index=log_index,
        kind="added",
        agency=agency_id(slug),
        active=True,
        name_th=name_th or f"หน่วยงาน {slug}",
        name_en=name_en or f"Agency {slug}",
    )


def member(
    slug: str, account: str, block: int, log_index: int = 0, *, removed: bool = False
) -> MemberEvent:
    return MemberEvent(
        block_number=block,
        tx_hash=tx(f"member {slug} {account} {block} {log_index}"),
        log_index=log_index,
        kind="removed" if removed else "added",
        agency=agency_id(slug),
        member=to_checksum_address(account),
        encryption_key=None if removed else b"\x07" * 32,
    )


def routed_for(anchor: AnchoredEvent, previous_size: int, counts: dict[str, int]) -> RoutedEvent:
    """The Routed event of ``anchor``'s transaction, ``counts`` per agency slug."""
    ids = sorted(agency_id(s) for s in counts)
    by_id = {agency_id(s): n for s, n in counts.items()}
    return RoutedEvent(
        block_number=anchor.block_number,
        tx_hash=anchor.tx_hash,
        log_index=anchor.log_index + 1,
        tree_size=anchor.tree_size,
        routing_root=hashlib.sha256(anchor.root_hash).digest(),
        previous_size=previous_size,
        agencies=tuple(ids),
        counts=tuple(by_id[a] for a in ids),
    )


def opened(
    commitment: bytes, slug: str, tree_size: int, index: int, block: int, log_index: int = 0
) -> CaseOpenedEvent:
    """CaseOpened as the contract logs it: in the transaction of the review or referral
    at (block, log_index + 1), which must use the same tag (see ``in_tx``)."""
    return CaseOpenedEvent(
        block_number=block,
        tx_hash=tx(f"review {block} {log_index + 1}"),
        log_index=log_index,
        commitment=commitment,
        agency=agency_id(slug),
        tree_size=tree_size,
        index=index,
    )


def referred(
    commitment: bytes,
    source: str,
    target: str,
    by: str,
    block: int,
    timestamp: int,
    *,
    keep_access: bool = False,
    log_index: int = 0,
) -> ReferredEvent:
    return ReferredEvent(
        block_number=block,
        tx_hash=tx(f"review {block} {log_index}"),
        log_index=log_index,
        commitment=commitment,
        from_agency=agency_id(source),
        to_agency=agency_id(target),
        keep_access=keep_access,
        by=to_checksum_address(by),
        timestamp=timestamp,
    )
