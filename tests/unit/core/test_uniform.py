"""The pure half of uniform verification: windows, roles at a block, the latest-tree check."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from ledger.core.merkle import HASH_SIZE
from ledger.core.tiles import TILE_HEIGHT, tiles_for_inclusion
from ledger.core.tree import MerkleTree
from ledger.core.uniform import (
    BLOCK_WINDOW,
    RoleChange,
    WindowAnchor,
    anchor_of,
    block_window,
    held_at,
    latest_inclusion_check,
)


@given(st.integers(0, 2**40), st.integers(0, 2**41))
def test_every_block_of_a_window_asks_the_same_window(block: int, extra: int) -> None:
    head = block + extra
    start, end = block_window(block, head)
    assert start % BLOCK_WINDOW == 0
    assert start <= block <= end <= head
    assert end == min(start + BLOCK_WINDOW - 1, head)
    for other in (start, min(start + BLOCK_WINDOW - 1, head)):
        assert block_window(other, head) == (start, end)


def test_the_role_at_a_block_comes_from_the_first_change_after_it() -> None:
    grant, revoke = RoleChange(10, 0, True), RoleChange(20, 3, False)
    assert held_at(15, False, [grant, revoke]) is True  # revoked later: held at 15
    assert held_at(5, False, [grant, revoke]) is False  # granted later: not yet
    assert held_at(25, False, [grant, revoke]) is False  # no change after: the end's answer
    assert held_at(25, True, []) is True
    assert held_at(10, False, [grant, revoke]) is True  # the block's own changes count


def test_anchor_of_picks_the_size() -> None:
    events = [WindowAnchor(10, b"a" * 32, 1, 5), WindowAnchor(20, b"b" * 32, 2, 6)]
    assert anchor_of(events, 20) == events[1]
    assert anchor_of(events, 15) is None


def test_the_latest_inclusion_check() -> None:
    entries = [hashlib.sha256(bytes([k])).digest() for k in range(200)]
    tree = MerkleTree()
    tree.extend(entries)
    size = tree.size

    def fetched(leaf: int) -> dict:  # type: ignore[type-arg]
        return {
            r: tree.level_bytes(TILE_HEIGHT * r.level, r.index * 256)[: r.width * HASH_SIZE]
            for r in tiles_for_inclusion(leaf, size)
        }

    ok = latest_inclusion_check(entries[7], 7, size, tree.root(), 50, fetched(7))
    assert ok.ok, ok.detail
    assert not latest_inclusion_check(entries[8], 7, size, tree.root(), 50, fetched(7)).ok
    assert not latest_inclusion_check(entries[7], 7, size, b"\0" * 32, 50, fetched(7)).ok
    older = latest_inclusion_check(entries[7], 7, size, tree.root(), size + 1, fetched(7))
    assert not older.ok
    assert "older than this receipt" in older.detail
    short = {r: b[:-1] for r, b in fetched(7).items()}
    assert not latest_inclusion_check(entries[7], 7, size, tree.root(), 50, short).ok
    assert not latest_inclusion_check(entries[7], 7, size, tree.root(), 50, {}).ok
