"""Log tiles: the proof built from tiles is RFC 9162's, and paths follow C2SP exactly."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.errors import ProofError
from ledger.core.merkle import HASH_SIZE, leaf_hash
from ledger.core.tiles import (
    TILE_HEIGHT,
    BundleRef,
    TileError,
    TileRef,
    bundle_refs,
    decode_entry_bundle,
    encode_entry_bundle,
    encode_index,
    inclusion_proof_from_tiles,
    leaf_hash_from_tiles,
    parse_tile_path,
    tile_body,
    tile_hashes,
    tile_ref,
    tiles_for_inclusion,
)
from ledger.core.tree import MerkleTree

BIG = 70_000
VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "tile_vectors.json"


def entry(k: int) -> bytes:
    return hashlib.sha256(k.to_bytes(8, "big")).digest()


@pytest.fixture(scope="module")
def tree() -> MerkleTree:
    t = MerkleTree()
    t.extend(entry(k) for k in range(BIG))
    return t


def body(tree: MerkleTree, ref: TileRef) -> bytes:
    data = tree.level_bytes(TILE_HEIGHT * ref.level, ref.index * 256)
    return data[: ref.width * HASH_SIZE]


def fetched(tree: MerkleTree, leaf: int, size: int) -> dict[TileRef, bytes]:
    return {ref: body(tree, ref) for ref in tiles_for_inclusion(leaf, size)}


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_the_proof_from_tiles_is_the_trees_proof(tree: MerkleTree, data: st.DataObject) -> None:
    size = data.draw(st.one_of(st.integers(1, 700), st.integers(1, BIG)))
    leaf = data.draw(st.integers(0, size - 1))
    tiles = fetched(tree, leaf, size)
    assert inclusion_proof_from_tiles(leaf, size, tiles) == tree.inclusion_proof(leaf, size)
    if size > 1:  # a tree of one leaf needs no tile: its root is the leaf hash
        assert leaf_hash_from_tiles(leaf, tiles) == leaf_hash(entry(leaf))


@pytest.mark.parametrize(
    ("leaf", "size"),
    [(0, 1), (255, 256), (0, 257), (256, 257), (65_535, 65_536), (65_536, 65_537), (0, BIG)],
)
def test_powers_of_256_and_their_neighbours(tree: MerkleTree, leaf: int, size: int) -> None:
    tiles = fetched(tree, leaf, size)
    assert inclusion_proof_from_tiles(leaf, size, tiles) == tree.inclusion_proof(leaf, size)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2**40), st.data())
def test_the_tiles_asked_depend_on_the_leaf_only_through_its_tile(
    size: int, data: st.DataObject
) -> None:
    a = data.draw(st.integers(0, size - 1))
    b = data.draw(st.integers((a // 256) * 256, min(size, (a // 256 + 1) * 256) - 1))
    assert tiles_for_inclusion(a, size) == tiles_for_inclusion(b, size)
    # Every ref is a tile that exists in the tree of that size, full or exactly its partial.
    for ref in tiles_for_inclusion(a, size):
        assert tile_ref(ref.level, ref.index, size) == ref


def test_a_missing_tile_or_a_short_body_is_refused(tree: MerkleTree) -> None:
    tiles = fetched(tree, 5, 300)
    edge = TileRef(0, 1, 44)
    with pytest.raises(ProofError):
        inclusion_proof_from_tiles(5, 300, {r: b for r, b in tiles.items() if r != edge})
    with pytest.raises(TileError):
        inclusion_proof_from_tiles(5, 300, {**tiles, edge: tiles[edge][:-1]})
    with pytest.raises(ProofError):
        tiles_for_inclusion(300, 300)


@given(st.integers(0, 10**18))
def test_index_paths_round_trip(n: int) -> None:
    for ref in (TileRef(3, n), TileRef(0, n, 7), BundleRef(n), BundleRef(n, 255)):
        assert parse_tile_path(ref.path) == ref


def test_c2sp_examples() -> None:
    assert encode_index(0) == "000"
    assert encode_index(1234067) == "x001/x234/067"
    assert TileRef(1, 1234067, 8).path == "tile/1/x001/x234/067.p/8"
    assert BundleRef(2, 3).path == "tile/entries/002.p/3"
    assert parse_tile_path("tile/entries/x001/000") == BundleRef(1000)


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/x000/001",  # not canonical: one URL per tile
        "tile/0/1",
        "tile/0/0001",
        "tile/8/000",
        "tile/00/000",
        "tile/0/000.p/256",
        "tile/0/000.p/0",
        "tile/0/000.p/08",
        "tile/0/x01/000",
        "tile/0/000/",
        "tile/x/000",
        "tiles/0/000",
        "tile/0",
    ],
)
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(TileError):
        parse_tile_path(path)


def test_bodies_and_bundles() -> None:
    hashes = [entry(k) for k in range(3)]
    assert tile_hashes(TileRef(0, 0, 3), tile_body(hashes)) == hashes
    with pytest.raises(TileError):
        tile_hashes(TileRef(0, 0, 4), tile_body(hashes))
    bundle = encode_entry_bundle(hashes)
    assert bundle[:2] == b"\x00\x20"
    assert len(bundle) == 3 * 34
    assert decode_entry_bundle(bundle, 3) == hashes
    for broken in (bundle[:-1], bundle + b"\x00", b"\x00\x10" + bytes(16)):
        with pytest.raises(TileError):
            decode_entry_bundle(broken)
    with pytest.raises(TileError):
        decode_entry_bundle(bundle, 2)
    assert bundle_refs(513) == [BundleRef(0), BundleRef(1), BundleRef(2, 1)]
    assert bundle_refs(512) == [BundleRef(0), BundleRef(1)]


def test_the_committed_vectors_still_hold(tree: MerkleTree) -> None:
    doc = json.loads(VECTORS.read_text(encoding="utf-8"))
    for n, path in doc["index_paths"].items():
        assert encode_index(int(n)) == path
    bodies = {k: bytes.fromhex(v) for k, v in doc["tiles"].items()}
    for case in doc["cases"]:
        leaf, size = case["leaf_index"], case["tree_size"]
        refs = tiles_for_inclusion(leaf, size)
        assert [r.path for r in refs] == [t["path"] for t in case["tiles"]]
        tiles = {r: bodies[r.path] for r in refs}
        assert all(tiles[r] == body(tree, r) for r in refs)
        proof = inclusion_proof_from_tiles(leaf, size, tiles)
        assert [p.hex() for p in proof] == case["proof"]
        assert tree.root(size).hex() == case["root"]
    bundle = doc["entry_bundle"]
    assert (
        encode_entry_bundle([bytes.fromhex(e) for e in bundle["entries"]]).hex() == bundle["body"]
    )
