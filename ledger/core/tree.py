"""An incremental RFC 9162 tree that never recomputes what it already hashed.

The tree keeps, for every level ``l``, the hashes of all *complete* subtrees of ``2**l`` leaves,
aligned at multiples of ``2**l``, packed into one ``bytearray`` (32 bytes a hash). A complete
subtree never changes once its last leaf is in, so these hashes serve proofs for every size the
log has ever had: any ``MTH(D[a:b])`` the RFC recursion asks for is either one stored hash or a
right-edge fold of ``O(log n)`` stored hashes. Appending ``k`` entries hashes ``k`` leaves and at
most ``k + log n`` nodes: amortised O(1) hashes, O(log n) worst case per entry.

Pure: persistence is the caller's (``ledger.store``), which reads the new hashes with
``level_bytes`` after each append and hands them back through ``from_levels`` on load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from ledger.core.errors import ProofError, ProtocolError
from ledger.core.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    consistency_path,
    inclusion_path,
    node_hash,
)

_sha256 = hashlib.sha256


class MerkleTree:
    """An append-only Merkle log of 32-byte commitments (PROTOCOL.md section 3)."""

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]

    @classmethod
    def from_levels(cls, levels: Sequence[bytes | bytearray]) -> MerkleTree:
        """Rebuild from stored level hashes; checks counts, not hashes (see ``verify_levels``)."""
        tree = cls()
        if not levels:
            return tree
        tree._levels = [bytearray(lv) for lv in levels]
        size = len(tree._levels[0]) // HASH_SIZE
        for level, data in enumerate(tree._levels):
            if len(data) % HASH_SIZE or len(data) // HASH_SIZE != size >> level:
                raise ProtocolError(
                    f"stored level {level} holds {len(data)} bytes; a tree of size {size} needs "
                    f"{(size >> level) * HASH_SIZE}"
                )
        while len(tree._levels) > 1 and not tree._levels[-1]:
            tree._levels.pop()
        return tree

    @property
    def size(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def __len__(self) -> int:
        return self.size

    @property
    def height(self) -> int:
        return len(self._levels)

    def level_bytes(self, level: int, start: int = 0) -> bytes:
        """Packed hashes of level ``level`` from node index ``start`` on (for persistence)."""
        if level >= len(self._levels):
            return b""
        return bytes(self._levels[level][start * HASH_SIZE :])

    def leaf_hash_at(self, index: int) -> bytes:
        if not 0 <= index < self.size:
            raise ProofError(f"no leaf {index} in a tree of size {self.size}")
        return bytes(self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    # -- appending -------------------------------------------------------------------------

    def append(self, entry: bytes) -> int:
        """Append one commitment; returns its leaf index."""
        if len(entry) != HASH_SIZE:
            raise ProtocolError(f"log entries are 32-byte commitments, got {len(entry)} bytes")
        levels = self._levels
        index = len(levels[0]) // HASH_SIZE
        h = _sha256(b"\x00" + entry).digest()
        levels[0] += h
        # Carry up while the new node completes a pair: exactly the trailing one bits of index.
        n, level = index, 0
        while n & 1:
            data = levels[level]
            h = _sha256(b"\x01" + data[-2 * HASH_SIZE :]).digest()
            level += 1
            if level == len(levels):
                levels.append(bytearray())
            levels[level] += h
            n >>= 1
        return index

    def extend(self, entries: Iterable[bytes]) -> int:
        """Append many commitments in one pass, level by level; returns the first new index."""
        levels = self._levels
        old = len(levels[0]) // HASH_SIZE
        batch = list(entries)
        # Check the whole batch first: a bad entry must leave the tree untouched.
        for i, e in enumerate(batch):
            if len(e) != HASH_SIZE:
                raise ProtocolError(
                    f"log entries are 32-byte commitments, got {len(e)} bytes at index {old + i}"
                )
        leaves = levels[0]
        for e in batch:
            leaves += _sha256(b"\x00" + e).digest()
        new = len(leaves) // HASH_SIZE
        level = 0
        while (new >> (level + 1)) > (old >> (level + 1)):
            data = levels[level]
            if level + 1 == len(levels):
                levels.append(bytearray())
            parent = levels[level + 1]
            two = 2 * HASH_SIZE
            for i in range(old >> (level + 1), new >> (level + 1)):
                parent += _sha256(b"\x01" + data[i * two : (i + 1) * two]).digest()
            level += 1
        return old

    # -- reading ---------------------------------------------------------------------------

    def _node(self, level: int, index: int) -> bytes:
        return bytes(self._levels[level][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def subtree_hash(self, start: int, end: int) -> bytes:
        """``MTH(D[start:end])`` for the ranges RFC 9162's recursion produces.

        Those start at a multiple of a power of two at least their length, so the range splits
        greedily into stored complete subtrees of falling sizes, folded right to left.
        """
        if not 0 <= start < end <= self.size:
            raise ProofError(f"range [{start}, {end}) is outside a tree of size {self.size}")
        parts: list[bytes] = []
        pos = start
        while pos < end:
            level = (end - pos).bit_length() - 1
            # Largest aligned complete subtree starting at pos that fits before end.
            while pos & ((1 << level) - 1):
                level -= 1
            parts.append(self._node(level, pos >> level))
            pos += 1 << level
        h = parts[-1]
        for p in reversed(parts[:-1]):
            h = node_hash(p, h)
        return h

    def root(self, size: int | None = None) -> bytes:
        """The tree head at ``size`` (default: now); any size the log has had."""
        n = self.size if size is None else size
        if not 0 <= n <= self.size:
            raise ProofError(f"no tree head for size {n}: the log has {self.size} entries")
        return EMPTY_ROOT if n == 0 else self.subtree_hash(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 ``PATH(index, D[size])`` from stored hashes."""
        n = self.size if size is None else size
        if n > self.size:
            raise ProofError(f"tree size {n} is beyond the log's {self.size} entries")
        return inclusion_path(index, n, self.subtree_hash)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """RFC 9162 ``PROOF(first, D[second])`` from stored hashes."""
        n = self.size if second is None else second
        if n > self.size:
            raise ProofError(f"tree size {n} is beyond the log's {self.size} entries")
        return consistency_path(first, n, self.subtree_hash)

    def verify_levels(self) -> int | None:
        """Recompute every stored parent from its children; the first bad level, or None."""
        for level in range(1, len(self._levels)):
            below, here = self._levels[level - 1], self._levels[level]
            two = 2 * HASH_SIZE
            for i in range(len(here) // HASH_SIZE):
                expected = _sha256(b"\x01" + below[i * two : (i + 1) * two]).digest()
                if here[i * HASH_SIZE : (i + 1) * HASH_SIZE] != expected:
                    return level
        return None
