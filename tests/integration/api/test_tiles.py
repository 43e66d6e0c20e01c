"""``/log/tile/...`` over real HTTP, on SQLite and PostgreSQL: the bytes are the tree's hashes
and entries, immutable and cacheable; what is not anchored yet is a 404 nobody caches."""

from __future__ import annotations

import hashlib
import os
import time

import httpx
import pytest

from ledger.core.merkle import HASH_SIZE
from ledger.core.tiles import (
    TILE_HEIGHT,
    BundleRef,
    TileRef,
    bundle_refs,
    decode_entry_bundle,
    inclusion_proof_from_tiles,
    tile_ref,
    tiles_for_inclusion,
)
from ledger.store.submissions import NewSubmission

from .conftest import Server

SIZE = 600  # three level-0 tiles (the last partial) and a partial level-1 tile


@pytest.fixture(scope="module")
def logged(server: Server) -> int:
    """The module's log filled to at least SIZE anchored entries; the anchored size."""
    now = int(time.time())
    have = server.service.reader.anchored_size()
    if have < SIZE:
        server.service.submissions.accept(
            [NewSubmission(os.urandom(32), now) for _ in range(SIZE - have)]
        )
    deadline = time.monotonic() + 60
    while server.service.reader.anchored_size() < SIZE:
        assert time.monotonic() < deadline, "the sequencer did not anchor the entries"
        time.sleep(0.1)
    return server.service.reader.anchored_size()


def get(server: Server, path: str, **headers: str) -> httpx.Response:
    with server.client() as client:
        return client.get("/log/" + path, headers=headers)


def test_hash_tiles_are_the_trees_hashes(server: Server, logged: int) -> None:
    tree = server.service.reader.tree()
    for level in (0, 1):
        for index in range(3):
            ref = tile_ref(level, index, logged)
            if ref is None:
                continue
            response = get(server, ref.path)
            assert response.status_code == 200, response.text
            expected = tree.level_bytes(TILE_HEIGHT * level, index * 256)[: ref.width * HASH_SIZE]
            assert response.content == expected
            assert response.headers["content-type"] == "application/octet-stream"


def test_partial_tiles_are_prefixes_and_any_width_within_the_tree(
    server: Server, logged: int
) -> None:
    full = get(server, "tile/0/000").content
    for width in (1, 7, 255):
        response = get(server, TileRef(0, 0, width).path)
        assert response.status_code == 200
        assert response.content == full[: width * HASH_SIZE]


def test_entry_bundles_hold_the_entries(server: Server, logged: int) -> None:
    tree = server.service.reader.tree()
    entries = []
    for ref in bundle_refs(logged):
        response = get(server, ref.path)
        assert response.status_code == 200, response.text
        entries += decode_entry_bundle(response.content, ref.width)
    assert len(entries) == logged
    assert entries == server.service.reader.log.entries(0, logged)
    assert [hashlib.sha256(b"\x00" + e).digest() for e in entries[:3]] == [
        tree.leaf_hash_at(i) for i in range(3)
    ]


def test_a_proof_from_served_tiles_reaches_the_anchored_root(server: Server, logged: int) -> None:
    cp = server.service.reader.checkpoint()
    assert cp is not None
    for leaf in (0, 300, cp.tree_size - 1):
        refs = tiles_for_inclusion(leaf, cp.tree_size)
        tiles = {ref: get(server, ref.path).content for ref in refs}
        proof = inclusion_proof_from_tiles(leaf, cp.tree_size, tiles)
        assert proof == server.service.reader.tree().inclusion_proof(leaf, cp.tree_size)


def test_tiles_are_immutable_with_a_strong_etag(server: Server, logged: int) -> None:
    response = get(server, "tile/0/001")
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    etag = response.headers["etag"]
    assert etag == f'"{hashlib.sha256(response.content).hexdigest()}"'
    assert response.headers["access-control-allow-origin"] == "*"
    again = get(server, "tile/0/001", **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert get(server, "tile/0/001", **{"If-None-Match": '"00"'}).status_code == 200
    assert get(server, "tile/0/001", **{"If-None-Match": f"W/{etag}"}).status_code == 304
    with server.client() as client:
        head = client.head("/log/tile/0/001")
    assert head.status_code == 200
    assert head.headers["etag"] == etag


def test_beyond_the_anchored_tree_is_404_and_not_cached(server: Server, logged: int) -> None:
    beyond = [
        TileRef(0, (logged + 255) // 256 + 1).path,
        TileRef(0, logged // 256, 255).path if logged % 256 < 255 else TileRef(0, 99).path,
        TileRef(1, 0).path,  # 256 full level-0 tiles: far more than SIZE entries
        BundleRef(logged // 256 + 5).path,
        TileRef(7, 0, 1).path,
    ]
    for path in beyond:
        response = get(server, path)
        assert response.status_code == 404, path
        assert response.headers["cache-control"] == "no-store"
        assert "anchored" in response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    ["tile/0/x000/001", "tile/0/1", "tile/9/000", "tile/0/000.p/256", "tile/0/000.p/0", "tile/a/b"],
)
def test_bad_paths_are_404_with_a_message(server: Server, logged: int, path: str) -> None:
    response = get(server, path)
    assert response.status_code == 404
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["detail"].startswith("not a tile path")


def test_web_config_says_where_the_tiles_are(server: Server) -> None:
    with server.client() as client:
        assert client.get("/web-config.json").json()["log_url"] == "/log"
