"""The incremental tree must agree with the RFC 9162 reference functions at every size."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import merkle
from ledger.core.errors import ProofError, ProtocolError
from ledger.core.tree import MerkleTree

ENTRIES = [os.urandom(32) for _ in range(130)]


def grown(entries: list[bytes], one_by_one: bool = True) -> MerkleTree:
    tree = MerkleTree()
    if one_by_one:
        for e in entries:
            tree.append(e)
    else:
        tree.extend(entries)
    return tree


def test_empty_tree_has_the_rfc_empty_root() -> None:
    assert MerkleTree().root() == merkle.EMPTY_ROOT
    assert MerkleTree().size == 0


@pytest.mark.parametrize("one_by_one", [True, False])
def test_every_historical_root_and_proof_matches_the_reference(one_by_one: bool) -> None:
    tree = grown(ENTRIES, one_by_one)
    for n in range(1, len(ENTRIES) + 1):
        prefix = ENTRIES[:n]
        assert tree.root(n) == merkle.root(prefix)
        for i in range(n):
            assert tree.inclusion_proof(i, n) == merkle.inclusion_proof(prefix, i)
        for m in range(1, n + 1):
            assert tree.consistency_proof(m, n) == merkle.consistency_proof(prefix, m)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=12))
def test_batches_of_any_shape_build_the_same_tree(batches: list[int]) -> None:
    entries = [os.urandom(32) for _ in range(sum(batches))]
    batched, pos = MerkleTree(), 0
    for b in batches:
        batched.extend(entries[pos : pos + b])
        pos += b
    single = grown(entries)
    assert batched.size == single.size == len(entries)
    for level in range(max(batched.height, single.height)):
        assert batched.level_bytes(level) == single.level_bytes(level)
    assert batched.root() == merkle.root(entries)


def test_from_levels_round_trips_and_rejects_wrong_counts() -> None:
    tree = grown(ENTRIES[:77])
    levels = [tree.level_bytes(i) for i in range(tree.height)]
    again = MerkleTree.from_levels(levels)
    assert again.root() == tree.root()
    again.append(ENTRIES[77])
    assert again.root() == merkle.root(ENTRIES[:78])
    with pytest.raises(ProtocolError):
        MerkleTree.from_levels([levels[0], levels[1][:-32], *levels[2:]])


def test_verify_levels_finds_a_corrupted_node() -> None:
    tree = grown(ENTRIES[:64])
    assert tree.verify_levels() is None
    levels = [bytearray(tree.level_bytes(i)) for i in range(tree.height)]
    levels[3][5] ^= 1
    assert MerkleTree.from_levels(levels).verify_levels() == 3


def test_refuses_wrong_entry_length_and_out_of_range_proofs() -> None:
    tree = grown(ENTRIES[:10])
    with pytest.raises(ProtocolError):
        tree.append(b"short")
    with pytest.raises(ProtocolError):
        tree.extend([os.urandom(32), b"x" * 33])
    assert tree.root() == merkle.root(ENTRIES[:10]), "a refused batch must change nothing"
    with pytest.raises(ProofError):
        tree.inclusion_proof(10)
    with pytest.raises(ProofError):
        tree.inclusion_proof(0, 11)
    with pytest.raises(ProofError):
        tree.consistency_proof(0, 5)
    with pytest.raises(ProofError):
        tree.consistency_proof(6, 5)
    with pytest.raises(ProofError):
        tree.root(11)
