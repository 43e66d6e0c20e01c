"""Anchoring: put the log's newest tree head on chain, proven consistent with the last one.

Before every anchor the local log is reconciled with the chain: the node must still serve the
contract this store belongs to (same chain, same code, deployed in the same block), the chain's
latest checkpoint must be a tree head the local log has had, and every checkpoint this store
recorded as anchored must still be on chain. If not (a reset devchain, another contract, a lost
database), anchoring stops with ``ChainMismatchError``: sending anything would fork the log.

No receipt claims an anchor the chain does not hold. While the chain holds no contract of this
log (reset, redeployed), readers see nothing anchored (``LogStore.set_backed_size(0)``; the
checkpoints stay recorded, for a node that comes back). The same deployment whose chain lost its
newest blocks (a node restarted from older state) is repaired: the checkpoints beyond the chain's
latest are forgotten (those tips are pending again), and the log is anchored again from the
chain's latest, an append-only extension of what the contract holds.

Roots are always computed from the stored tree, never from anything held in memory only. A
checkpoint is recorded as anchored once its transaction has ``confirmations`` blocks on top.

``anchor()`` sends and waits in one call (the CLI's path). The service's sequencer instead takes
``plan()`` and sends it as a durable transaction (``ledger.chain.tx_manager``), then ``record()``s
it once final.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from ledger.chain.contract import Checkpoint, TipLedgerContract
from ledger.core.encoding import to_hex
from ledger.core.routing import agency_counts, route_leaf, routing_root
from ledger.errors import ChainMismatchError
from ledger.store import LogStore, StoredCheckpoint
from ledger.store.cases import CaseStore

log = logging.getLogger("tipledger.anchoring")

_UNSET = object()


@dataclass(frozen=True)
class AnchorOutcome:
    checkpoint: StoredCheckpoint
    new: bool  # False when the chain already had this tree head
    gas_used: int = 0


@dataclass(frozen=True)
class AnchorPlan:
    """The next anchor: the stored log's head and its consistency proof from the chain's, and
    the batch's routing (PROTOCOL.md 16.4): its root and how many tips went to each agency."""

    tree_size: int
    root_hash: bytes
    proof: list[bytes]
    previous_size: int
    routing_root: bytes
    agencies: list[bytes]
    counts: list[int]

    def calldata(self, contract: TipLedgerContract) -> bytes:
        return contract.encode_anchor(
            self.tree_size,
            self.root_hash,
            self.proof,
            self.routing_root,
            self.agencies,
            self.counts,
        )


class Anchorer:
    """Anchors one store's log through one contract with one ANCHORER_ROLE key."""

    def __init__(
        self,
        store: LogStore,
        contract: TipLedgerContract,
        account: LocalAccount,
        *,
        confirmations: int = 0,
        deploy_block: int = 0,
        deploy_block_hash: bytes | None = None,
        on_lost_history: Callable[[Checkpoint], None] | None = None,
    ):
        self.store = store
        self.cases = CaseStore(store.engine)
        self.contract = contract
        self.account = account
        self.confirmations = max(0, confirmations)
        self.deploy_block = deploy_block
        self.deploy_block_hash = deploy_block_hash
        # Called before the checkpoints the chain lost are forgotten (the sequencer sends its
        # lost anchor transactions again).
        self.on_lost_history = on_lost_history
        self._cap: object = _UNSET  # what this process last wrote as the readers' cap

    def check_chain(self) -> None:
        """The node still serves the contract this store belongs to: same chain, same code."""
        chain = self.contract.chain
        chain_id = chain.chain_id("checking the chain")
        code = chain.code_at(self.contract.address, "checking the chain")
        bound = self.store.deployment()
        if bound is not None and bound != (chain_id, self.contract.address.lower()):
            raise ChainMismatchError(
                f"this log belongs to contract {bound[1]} on chain {bound[0]}, but the node "
                f"serves chain {chain_id} and the service is set to {self.contract.address}: "
                "refusing to anchor"
            )
        if keccak(code) != self.contract.code_hash:
            state = "there is no contract code" if not code else "the contract code differs"
            self._backed(0)
            raise ChainMismatchError(
                f"{state} at {self.contract.address} on chain {chain_id}: the chain was reset "
                "or replaced, and this log's anchors are not on it; refusing to anchor"
            )
        self._check_deploy_block(chain_id)

    def _check_deploy_block(self, chain_id: int) -> None:
        """The contract is the one this log was anchored on: deployed in the same block (a
        redeploy on a reset chain has the same address and code). The store remembers the
        block from its first check (the deployment file's hash, else the chain's)."""
        chain = self.contract.chain
        recorded = self.store.deployment_block()
        if recorded is None:
            if not self.deploy_block:
                return  # not told where the contract was deployed: nothing to remember
            found = chain.block_hash(self.deploy_block, "checking the deploy block")
            if found is None:
                return  # the code check above has passed: a deploy block given wrong
            recorded = self.store.remember_deployment_block(
                self.deploy_block, self.deploy_block_hash or found
            )
        number, expected = recorded
        if chain.block_hash(number, "checking the deploy block") == expected:
            return
        self._backed(0)
        raise ChainMismatchError(
            f"this log is anchored on the TipLedger deployed in block {number} (hash "
            f"{to_hex(expected)}); the contract at {self.contract.address} on chain {chain_id} "
            "was deployed again on a chain that lost history (a reset devchain?), and this "
            "log's anchors are not on it; refusing to anchor"
        )

    def reconcile(self) -> Checkpoint:
        """The chain's latest checkpoint, after checking the local log agrees with it.

        Records the chain's latest final checkpoint if this store has not yet (a crash after
        the anchor transaction, before it was recorded).
        """
        self.check_chain()
        self._backed(None)  # the chain holds this deployment: what it lost is dropped below
        latest = self.contract.latest()
        self._check_recorded(latest)
        if latest.tree_size == 0:
            return latest
        self._check_local(latest)
        final = latest if self.confirmations == 0 else self._final_latest()
        if final is not None and final.tree_size and self.store.checkpoint(final.tree_size) is None:
            self._check_local(final)
            self._record_from_chain(final)
        return latest

    def _backed(self, size: int | None) -> None:
        """Cap the readers' anchored size (0: the chain holds none of this log's anchors), or
        lift the cap (None); written only when it changes."""
        if self._cap != size:
            self.store.set_backed_size(size)
            self._cap = size

    def _check_recorded(self, latest: Checkpoint) -> None:
        recorded = self.store.latest_checkpoint()
        if recorded is None:
            return
        if latest.tree_size < recorded.tree_size:
            self._lost_history(latest, recorded)
            recorded = self.store.latest_checkpoint()
            if recorded is None:
                return
        on_chain = self.contract.checkpoint(recorded.tree_size)
        if on_chain.root_hash != recorded.root_hash:
            raise ChainMismatchError(
                f"the chain's checkpoint of size {recorded.tree_size} has root "
                f"{to_hex(on_chain.root_hash)}, this log recorded {to_hex(recorded.root_hash)}: "
                "refusing to anchor"
            )

    def _lost_history(self, latest: Checkpoint, recorded: StoredCheckpoint) -> None:
        """The chain (the same deployment, checked) lost its newest anchors: forget the
        checkpoints it no longer has, if what it still has is a head of this log."""
        if latest.tree_size:
            self._check_local(latest)  # else a fork: refused
        if self.on_lost_history is not None:
            self.on_lost_history(latest)
        dropped = self.store.drop_checkpoints_above(latest.tree_size)
        log.warning(
            "the chain lost history: its latest checkpoint is of size %d, this log recorded %d "
            "as anchored; %d checkpoint(s) forgotten, entries %d..%d pending again until they "
            "are anchored again",
            latest.tree_size,
            recorded.tree_size,
            dropped,
            latest.tree_size,
            recorded.tree_size - 1,
        )

    def _final_latest(self) -> Checkpoint | None:
        head = self.contract.chain.head_block()
        block = head - self.confirmations
        if block < self.deploy_block:
            return None
        return self.contract.latest(block=block)

    def _check_local(self, latest: Checkpoint) -> None:
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

    def plan(self, latest: Checkpoint) -> AnchorPlan | None:
        """The anchor to send after the chain's ``latest`` (reconciled), or None if the stored
        log has not grown past it."""
        tree = self.store.tree()
        size = tree.size
        if size <= latest.tree_size:
            return None
        proof = tree.consistency_proof(latest.tree_size, size) if latest.tree_size else []
        routes = self.cases.routes(latest.tree_size, size)
        root = routing_root([route_leaf(r.commitment, r.agency, r.salt) for r in routes])
        agencies, counts = agency_counts([r.agency for r in routes])
        return AnchorPlan(size, tree.root(size), proof, latest.tree_size, root, agencies, counts)

    def record(
        self,
        tree_size: int,
        root_hash: bytes,
        tx_hash: bytes,
        block_number: int,
        block_timestamp: int,
    ) -> StoredCheckpoint:
        """Record a final anchor, after checking it against the stored log once more."""
        local = self.store.tree().root(tree_size)
        if local != root_hash:
            raise ChainMismatchError(
                f"the anchored root of size {tree_size} is {to_hex(root_hash)}, the stored log "
                f"has {to_hex(local)}: refusing to record it"
            )
        checkpoint = StoredCheckpoint(tree_size, root_hash, tx_hash, block_number, block_timestamp)
        self.store.record_checkpoint(checkpoint)
        return checkpoint

    def anchor(self) -> AnchorOutcome | None:
        """Anchor the log's current head and wait for the receipt; None if the log is empty."""
        latest = self.reconcile()
        plan = self.plan(latest)
        if plan is None:
            if self.store.size() == 0:
                return None
            stored = self.store.checkpoint(latest.tree_size)
            assert stored is not None  # reconcile recorded it
            return AnchorOutcome(stored, new=False)
        result = self.contract.anchor(
            self.account,
            plan.tree_size,
            plan.root_hash,
            plan.proof,
            plan.routing_root,
            plan.agencies,
            plan.counts,
        )
        checkpoint = self.record(
            plan.tree_size,
            plan.root_hash,
            result.tx_hash,
            result.block_number,
            result.block_timestamp,
        )
        return AnchorOutcome(checkpoint, new=True, gas_used=result.gas_used)
