"""Write tests/fixtures/tile_vectors.json: known answers for log tiles (PROTOCOL.md section 18).

The tree is synthetic: entry ``k`` is ``SHA-256(k as 8 bytes big-endian)``. Each case gives a
leaf and a tree size, the tiles a verifier fetches (``tiles_for_inclusion``, in order), the
inclusion proof built from them and the tree's root; ``tiles`` holds every body those cases
name, keyed by path (a tile's body is the same in every tree that holds it). Run:

    .venv/bin/python scripts/make_tile_vectors.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ledger.core.merkle import HASH_SIZE
from ledger.core.tiles import (
    TILE_HEIGHT,
    BundleRef,
    TileRef,
    encode_entry_bundle,
    encode_index,
    inclusion_proof_from_tiles,
    tiles_for_inclusion,
)
from ledger.core.tree import MerkleTree

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tile_vectors.json"
SIZE = 70_000
CASES = [
    (0, 1),
    (0, 2),
    (1, 2),
    (5, 7),
    (255, 256),
    (0, 257),
    (256, 257),
    (100, 300),
    (299, 300),
    (511, 512),
    (300, 600),
    (513, 600),
    (599, 600),
    (5, 65_600),
    (65_599, 65_600),
    (65_536, 65_537),
    (69_000, 70_000),
]
INDEX_EXAMPLES = [0, 1, 999, 1000, 1234, 1_234_067, 1_000_000]


def entry(k: int) -> bytes:
    return hashlib.sha256(k.to_bytes(8, "big")).digest()


def tile_body(tree: MerkleTree, ref: TileRef) -> bytes:
    start = ref.index * 256
    data = tree.level_bytes(TILE_HEIGHT * ref.level, start)
    return data[: ref.width * HASH_SIZE]


def main() -> None:
    tree = MerkleTree()
    tree.extend(entry(k) for k in range(SIZE))
    bodies: dict[str, str] = {}
    cases = []
    for leaf, size in CASES:
        refs = tiles_for_inclusion(leaf, size)
        tiles = {ref: tile_body(tree, ref) for ref in refs}
        proof = inclusion_proof_from_tiles(leaf, size, tiles)
        assert proof == tree.inclusion_proof(leaf, size)
        bodies.update((ref.path, body.hex()) for ref, body in tiles.items())
        cases.append(
            {
                "leaf_index": leaf,
                "tree_size": size,
                "entry": entry(leaf).hex(),
                "leaf_hash": tree.leaf_hash_at(leaf).hex(),
                "root": tree.root(size).hex(),
                "tiles": [
                    {"level": r.level, "index": r.index, "width": r.width, "path": r.path}
                    for r in refs
                ],
                "proof": [p.hex() for p in proof],
            }
        )
    bundle = [entry(k) for k in range(3)]
    doc = {
        "description": (
            "Known answers for TipLedger log tiles (C2SP tlog-tiles over RFC 9162). Entry k is "
            "SHA-256(k as 8-byte big-endian). cases[].tiles lists, in order, the tiles a verifier "
            "fetches for leaf_index in tree_size (duplicates removed); tiles maps each path to its "
            "body (hex); cases[].proof is the RFC 9162 inclusion path built from those bodies."
        ),
        "entry_rule": "sha256(uint64_be(k))",
        "index_paths": {str(n): encode_index(n) for n in INDEX_EXAMPLES},
        "entry_bundle": {
            "path": BundleRef(0, 3).path,
            "entries": [e.hex() for e in bundle],
            "body": encode_entry_bundle(bundle).hex(),
        },
        "cases": cases,
        "tiles": dict(sorted(bodies.items())),
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(cases)} cases, {len(bodies)} tiles, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
