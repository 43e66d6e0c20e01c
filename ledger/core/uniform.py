"""Uniform verification, the pure part (PROTOCOL.md section 18).

A verifier asks the chain ``latest()`` and one ``eth_getLogs`` over the aligned block window of
its receipt's anchor, and asks the log for the tiles on its leaf's path to the latest tree:
questions that are the same for every receipt anchored in that window and whose leaf is in the
same 256-entry tile. This module computes the window and judges the answers; the caller
(``ledger.verify``) asks the questions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ledger.core.encoding import to_hex
from ledger.core.errors import ProtocolError
from ledger.core.merkle import leaf_hash, verify_inclusion
from ledger.core.tiles import TileRef, inclusion_proof_from_tiles
from ledger.core.verify import Check

BLOCK_WINDOW = 1 << 16  # blocks per window: about 9.1 days of 12-second blocks
LATEST_INCLUSION = "latest_inclusion"


def block_window(block: int, head: int) -> tuple[int, int]:
    """The aligned window holding ``block``: ``[⌊block/2^16⌋·2^16, that + 2^16 − 1]``, its end
    clamped to the chain's head (a window still being filled)."""
    start = block - block % BLOCK_WINDOW
    return start, min(start + BLOCK_WINDOW - 1, head)


@dataclass(frozen=True, slots=True)
class WindowAnchor:
    """An Anchored event as read from the window: tree size, root, timestamp, block."""

    tree_size: int
    root_hash: bytes
    timestamp: int
    block_number: int


def anchor_of(events: Sequence[WindowAnchor], tree_size: int) -> WindowAnchor | None:
    """The window's Anchored event for ``tree_size`` (the contract anchors a size once)."""
    return next((e for e in events if e.tree_size == tree_size), None)


@dataclass(frozen=True, slots=True)
class RoleChange:
    block_number: int
    log_index: int
    granted: bool


def held_at(block: int, held_at_end: bool, changes: Sequence[RoleChange]) -> bool:
    """Whether a role was held after ``block``, from whether it was held at the window's end
    and the window's grants and revocations of it: the first change after ``block`` says what
    it was before (a revocation: held; a grant: not), none leaves the end's answer."""
    later = sorted((c for c in changes if c.block_number > block), key=_order)
    return (not later[0].granted) if later else held_at_end


def _order(change: RoleChange) -> tuple[int, int]:
    return change.block_number, change.log_index


def latest_inclusion_check(
    commitment: bytes,
    leaf_index: int,
    latest_size: int,
    latest_root: bytes,
    receipt_size: int,
    tiles: Mapping[TileRef, bytes],
) -> Check:
    """Is ``commitment`` entry ``leaf_index`` of the latest anchored tree, by the tiles' hashes?"""
    entry = f"entry {leaf_index + 1}"
    if latest_size < receipt_size:
        return Check(
            LATEST_INCLUSION,
            False,
            f"the chain's latest checkpoint ({latest_size} entries) is older than this "
            f"receipt's ({receipt_size}): the node is behind, or not the chain the receipt names",
        )
    if not 0 <= leaf_index < latest_size:
        return Check(LATEST_INCLUSION, False, f"{entry} is outside the latest tree")
    try:
        proof = inclusion_proof_from_tiles(leaf_index, latest_size, tiles)
    except ProtocolError as exc:  # a missing hash, or a body of the wrong length
        return Check(LATEST_INCLUSION, False, f"the tiles do not give a path: {exc}")
    if not verify_inclusion(leaf_hash(commitment), leaf_index, latest_size, proof, latest_root):
        return Check(
            LATEST_INCLUSION,
            False,
            f"the tiles do not lead {entry} to latest() root {to_hex(latest_root)[:10]}...",
        )
    return Check(
        LATEST_INCLUSION,
        True,
        f"{entry} of {latest_size} (the latest checkpoint) leads to its root, from "
        f"{len(tiles)} tile{'s' if len(tiles) != 1 else ''}",
    )
