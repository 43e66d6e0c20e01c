"""RFC 9162 section 2.1 Merkle log maths (PROTOCOL.md section 3).

Hashing, tree heads, inclusion paths (``PATH``) and consistency proofs (``PROOF``), their
generation and their verification, to the letter of the RFC. Generation is written once, over a
``subtree_hash(start, end)`` callback giving ``MTH(D[start:end])``: the reference functions here
pass one that hashes a list, the incremental tree (``ledger.core.tree``) one that reads stored
subtree hashes, so both produce proofs through the same code.

Frozen: changing what any function here computes breaks every receipt already issued.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from ledger.core.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

SubtreeHash = Callable[[int, int], bytes]


def leaf_hash(entry: bytes) -> bytes:
    """``H(0x00 || entry)``."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``H(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """``MTH`` of a list of already-hashed leaves, bottom-up in O(n)."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        # Pair left to right; an odd last node is carried up unchanged, which gives exactly the
        # RFC's split at the largest power of two.
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root(entries: Sequence[bytes]) -> bytes:
    """``MTH(D[n])`` over raw entries."""
    return root_from_leaf_hashes([leaf_hash(e) for e in entries])


def _list_subtree_hash(entries: Sequence[bytes]) -> SubtreeHash:
    leaves = [leaf_hash(e) for e in entries]
    return lambda start, end: root_from_leaf_hashes(leaves[start:end])


def inclusion_path(index: int, size: int, subtree_hash: SubtreeHash) -> list[bytes]:
    """RFC 9162 2.1.3.1 ``PATH(index, D[size])``, leaf-to-root order."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    lo, hi, m = 0, size, index
    # Walk root-to-leaf, collecting siblings, then reverse: the RFC's recursion appends the
    # sibling after the deeper part of the path.
    while hi - lo > 1:
        k = split_point(hi - lo)
        if m < k:
            path.append(subtree_hash(lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree_hash(lo, lo + k))
            lo, m = lo + k, m - k
    path.reverse()
    return path


def consistency_path(first: int, second: int, subtree_hash: SubtreeHash) -> list[bytes]:
    """RFC 9162 2.1.4.1 ``PROOF(first, D[second])``; empty when ``first == second``."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")
    proof: list[bytes] = []
    lo, hi, m, complete = 0, second, first, True
    while m != hi - lo:
        k = split_point(hi - lo)
        if m <= k:
            proof.append(subtree_hash(lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree_hash(lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        proof.append(subtree_hash(lo, hi))
    proof.reverse()
    return proof


def inclusion_proof(entries: Sequence[bytes], index: int) -> list[bytes]:
    """Reference ``PATH`` straight from a list of entries (O(n); for tests and small logs)."""
    return inclusion_path(index, len(entries), _list_subtree_hash(entries))


def consistency_proof(entries: Sequence[bytes], first: int) -> list[bytes]:
    """Reference ``PROOF(first, D[len(entries)])`` straight from a list of entries."""
    return consistency_path(first, len(entries), _list_subtree_hash(entries))


def _well_formed(hashes: Sequence[bytes]) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """RFC 9162 2.1.3.2 steps 1-4: the root an inclusion proof implies, or None if malformed."""
    if not 0 <= index < size or not _well_formed([leaf, *proof]):
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does ``proof`` put leaf hash ``leaf`` at ``index`` under ``root_hash``."""
    computed = root_from_inclusion(leaf, index, size, proof)
    return computed is not None and computed == root_hash


def verify_consistency(
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """RFC 9162 2.1.4.2: is the tree of size ``second`` an append-only extension of ``first``.

    ``first == second`` is consistent exactly when the proof is empty and the roots are equal
    (the RFC's ``PROOF(n, D[n])`` is empty); sizes below 1 have no proof.
    """
    if not 0 < first <= second or not _well_formed([first_root, second_root, *proof]):
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
