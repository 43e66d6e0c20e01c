"""The log's read side: the latest anchored checkpoint, where a tip stands, proofs and entries.

Reads use their own store objects on a read-only engine (one snapshot per transaction), so a
proof is never computed from a tree that a concurrent append is changing, and on SQLite a reader
never waits for the write lock. Nothing here writes; what it answers is built into receipts by
``ledger.log.receipts``.
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from ledger.core.commitment import DIGEST_SIZE
from ledger.core.tree import MerkleTree
from ledger.errors import NotAnchoredError, ProofError
from ledger.log.receipts import TipStatus, inclusion, promise_of
from ledger.store import LogStore, StoredCheckpoint
from ledger.store.submissions import SubmissionStore

__all__ = ["ENTRIES_PAGE_LIMIT", "LogReader"]

ENTRIES_PAGE_LIMIT = 10_000


class LogReader:
    """Reads of one deployment's log (its own tree cache on ``read_engine``)."""

    def __init__(self, read_engine: Engine) -> None:
        self.engine = read_engine
        self.log = LogStore(read_engine)
        self.submissions = SubmissionStore(self.log)
        self._lock = threading.Lock()

    def tree(self) -> MerkleTree:
        # Serialised: concurrent catch-ups of one cache would otherwise restart each other. The
        # tree returned is never changed afterwards (a newer one replaces it), so it is safe to
        # read outside the lock.
        with self._lock:
            return self.log.tree()

    def checkpoint(self) -> StoredCheckpoint | None:
        """The latest checkpoint anchored on chain (as the sequencer recorded it), within what
        the chain was last seen to hold: every receipt, proof and entry is answered against
        it, so none claims an anchor a reset chain no longer has."""
        return self.log.backed_checkpoint()

    def anchored_size(self) -> int:
        cp = self.checkpoint()
        return cp.tree_size if cp is not None else 0

    def leaf_index(self, commitment: bytes) -> tuple[bool, int | None]:
        """(known, leaf index): a submission, or a log entry without one (committed directly)."""
        row = self.submissions.standing(commitment)
        if row is not None:
            return True, row.leaf_index
        index = self.log.index_of(commitment)
        return index is not None, index

    def is_anchored(self, commitment: bytes) -> bool:
        """Whether a checkpoint on chain covers ``commitment`` (no proof is built)."""
        _known, index = self.leaf_index(commitment)
        return index is not None and index < self.anchored_size()

    def tip_status(self, commitment: bytes) -> TipStatus:
        """Where ``commitment`` stands, with an inclusion proof against the latest checkpoint."""
        if len(commitment) != DIGEST_SIZE:
            raise ProofError(f"a commitment is {DIGEST_SIZE} bytes, got {len(commitment)}")
        row = self.submissions.standing(commitment)
        promise = None
        if row is not None:
            leaf_index = row.leaf_index
            promise = promise_of(row.received_at, row.promise_signer, row.promise_signature)
        else:
            leaf_index = self.log.index_of(commitment)
            if leaf_index is None:
                return TipStatus("unknown", commitment)
        cp = self.checkpoint()
        if leaf_index is None or cp is None or leaf_index >= cp.tree_size:
            return TipStatus("pending", commitment, leaf_index, promise)
        proof = self.tree().inclusion_proof(leaf_index, cp.tree_size)
        return TipStatus(
            "anchored", commitment, leaf_index, promise, inclusion(cp, leaf_index, proof)
        )

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 ``PATH(index, D[size])``; ``size`` at most the latest anchored size."""
        if size < 1:
            raise ProofError(f"size must be at least 1, got {size}")
        if not 0 <= index < size:
            raise ProofError(f"index must be at least 0 and below size {size}, got {index}")
        self._within_anchored(size)
        return self.tree().inclusion_proof(index, size)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 ``PROOF(first, D[second])``, ``0 < first <= second <= anchored size``."""
        if first < 1:
            raise ProofError(f"first must be at least 1, got {first}")
        if second < first:
            raise ProofError(f"second must be at least first ({first}), got {second}")
        self._within_anchored(second)
        return self.tree().consistency_proof(first, second)

    def _within_anchored(self, size: int) -> None:
        cp = self.checkpoint()
        if cp is None:
            raise NotAnchoredError("no checkpoint has been anchored yet")
        if size > cp.tree_size:
            raise NotAnchoredError(
                f"size {size} is beyond the latest anchored checkpoint ({cp.tree_size} entries)"
            )

    def entries(self, start: int, end: int, limit: int = ENTRIES_PAGE_LIMIT) -> list[bytes]:
        """Anchored entries ``start`` up to ``end`` (exclusive), at most ``limit`` of them."""
        if start < 0:
            raise ProofError(f"start must be at least 0, got {start}")
        if end < start:
            raise ProofError(f"end must be at least start ({start}), got {end}")
        stop = min(end, self.anchored_size(), start + max(1, limit))
        if stop <= start:
            return []
        return self.log.entries(start, stop)

    def pending_count(self) -> int:
        """Accepted submissions not yet in the log."""
        return self.submissions.pending_count()
