"""Log tiles: the C2SP tlog-tiles layout over our RFC 9162 tree (PROTOCOL.md section 18).

A tile at level ``L`` and index ``N`` holds the hashes of the complete subtrees of ``2**(8L)``
leaves numbered ``256N .. 256N+255`` (level 0: leaf hashes); a partial tile ``.p/W`` holds the
first ``W`` of them. Every node of the tree at height ``h`` is either one of those hashes
(``h`` a multiple of 8) or the root of ``2**(h % 8)`` adjacent hashes inside one tile of level
``h // 8``, so a verifier holding the right tiles can build any inclusion path itself.

Which tiles a verifier asks for (``tiles_for_inclusion``) depends on the leaf only through
``leaf // 256`` and otherwise on the tree size alone: that is what makes verification uniform.

Pure: no I/O. The service serves tile bodies (``ledger.store``, ``api.routes.tiles``), the CLI and
the page fetch them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ledger.core.errors import ProofError, ProtocolError
from ledger.core.merkle import HASH_SIZE, inclusion_path, node_hash, root_from_leaf_hashes

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes (or entries) in a full tile
ENTRY_SIZE = HASH_SIZE  # every log entry is a 32-byte commitment
MAX_LEVEL = 7  # 8 levels of 8 heights cover every tree of up to 2**64 leaves


class TileError(ProtocolError):
    """A tile path that is not canonical, or a tile body of the wrong shape."""


@dataclass(frozen=True, order=True)
class TileRef:
    """One hash tile: ``level`` (0 = leaf hashes), ``index`` and how many hashes it holds."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_LEVEL:
            raise TileError(f"tile level {self.level} is outside 0..{MAX_LEVEL}")
        if self.index < 0:
            raise TileError(f"tile index {self.index} is negative")
        if not 1 <= self.width <= TILE_WIDTH:
            raise TileError(f"tile width {self.width} is outside 1..{TILE_WIDTH}")

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """The path under the log URL, e.g. ``tile/0/x001/234.p/7``."""
        return f"tile/{self.level}/{encode_index(self.index)}{_width_suffix(self.width)}"


@dataclass(frozen=True, order=True)
class BundleRef:
    """One entry bundle: entries ``256·index ..`` (``width`` of them)."""

    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if self.index < 0:
            raise TileError(f"entry bundle index {self.index} is negative")
        if not 1 <= self.width <= TILE_WIDTH:
            raise TileError(f"entry bundle width {self.width} is outside 1..{TILE_WIDTH}")

    @property
    def path(self) -> str:
        return f"tile/entries/{encode_index(self.index)}{_width_suffix(self.width)}"


def _width_suffix(width: int) -> str:
    return "" if width == TILE_WIDTH else f".p/{width}"


# -- path codec ------------------------------------------------------------------------------

_GROUP = re.compile(r"x\d{3}")
_LAST = re.compile(r"(\d{3})(?:\.p/([1-9]\d{0,2}))?")


def encode_index(n: int) -> str:
    """C2SP index: groups of 3 digits, all but the last prefixed with ``x`` (1234067 →
    ``x001/x234/067``)."""
    if n < 0:
        raise TileError(f"tile index {n} is negative")
    digits = str(n)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[k : k + 3] for k in range(0, len(digits), 3)]
    return "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])


def _decode_index(parts: Sequence[str]) -> tuple[int, int]:
    """(index, width) from the path segments after the level; canonical forms only, so every
    tile has exactly one URL (what an immutable cache needs)."""
    if not parts:
        raise TileError("the tile path has no index")
    *head, last = parts
    if any(not _GROUP.fullmatch(g) for g in head):
        raise TileError("every index group but the last is 'x' and 3 digits")
    if head and head[0] == "x000":
        raise TileError("the tile index has a leading zero group")
    match = _LAST.fullmatch(last)
    if match is None:
        raise TileError("the last index group is 3 digits, optionally '.p/<width>'")
    width = TILE_WIDTH if match.group(2) is None else int(match.group(2))
    if match.group(2) is not None and width >= TILE_WIDTH:
        raise TileError(f"a partial tile holds 1..{TILE_WIDTH - 1} hashes, not {width}")
    index = int("".join([*(g[1:] for g in head), match.group(1)]))
    return index, width


def parse_tile_path(path: str) -> TileRef | BundleRef:
    """``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` (no leading slash)."""
    # ".p/W" is itself a segment boundary: split it off before splitting the index groups.
    segments = path.split("/")
    if len(segments) < 3 or segments[0] != "tile":
        raise TileError("a tile path is tile/<level>/<index> or tile/entries/<index>")
    rest = segments[2:]
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        rest = [*rest[:-2], f"{rest[-2]}/{rest[-1]}"]
    index, width = _decode_index(rest)
    if segments[1] == "entries":
        return BundleRef(index, width)
    if not re.fullmatch(r"\d", segments[1]):
        raise TileError(f"the tile level is one digit 0..{MAX_LEVEL}")
    return TileRef(int(segments[1]), index, width)


# -- bodies ----------------------------------------------------------------------------------


def tile_body(hashes: Sequence[bytes]) -> bytes:
    """The served bytes of a tile: its hashes concatenated."""
    if not 1 <= len(hashes) <= TILE_WIDTH or any(len(h) != HASH_SIZE for h in hashes):
        raise TileError(f"a tile holds 1..{TILE_WIDTH} hashes of {HASH_SIZE} bytes")
    return b"".join(hashes)


def tile_hashes(ref: TileRef, body: bytes) -> list[bytes]:
    """The hashes of a fetched tile body; TileError unless it has exactly ``ref.width``."""
    if len(body) != ref.width * HASH_SIZE:
        raise TileError(f"tile {ref.path} should be {ref.width * HASH_SIZE} bytes, got {len(body)}")
    return [body[k : k + HASH_SIZE] for k in range(0, len(body), HASH_SIZE)]


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Each entry as a 2-byte big-endian length and the entry (here always 0x0020 || 32 bytes)."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise TileError(f"an entry bundle holds 1..{TILE_WIDTH} entries")
    out = bytearray()
    for e in entries:
        if len(e) > 0xFFFF:
            raise TileError("an entry is at most 65535 bytes")
        out += len(e).to_bytes(2, "big") + e
    return bytes(out)


def decode_entry_bundle(body: bytes, width: int | None = None) -> list[bytes]:
    """The entries of a bundle; TileError if truncated, not 32-byte commitments, or (given
    ``width``) not exactly that many."""
    entries: list[bytes] = []
    pos = 0
    while pos < len(body):
        if pos + 2 > len(body):
            raise TileError("the entry bundle ends inside a length prefix")
        size = int.from_bytes(body[pos : pos + 2], "big")
        if size != ENTRY_SIZE:
            raise TileError(f"log entries are {ENTRY_SIZE}-byte commitments, got {size} bytes")
        if pos + 2 + size > len(body):
            raise TileError("the entry bundle ends inside an entry")
        entries.append(body[pos + 2 : pos + 2 + size])
        pos += 2 + size
    if width is not None and len(entries) != width:
        raise TileError(f"the entry bundle should hold {width} entries, got {len(entries)}")
    return entries


# -- which tiles exist and which a verifier needs ---------------------------------------------


def tile_ref(level: int, index: int, tree_size: int) -> TileRef | None:
    """Tile ``level``/``index`` as it is in a tree of ``tree_size`` leaves (full or partial), or
    None if that tree holds none of its hashes yet."""
    nodes = tree_size >> (TILE_HEIGHT * level)
    first = index * TILE_WIDTH
    if nodes <= first:
        return None
    return TileRef(level, index, min(TILE_WIDTH, nodes - first))


def bundle_refs(tree_size: int) -> list[BundleRef]:
    """Every entry bundle of a tree of ``tree_size`` entries, in order (what an auditor reads)."""
    full, rest = divmod(tree_size, TILE_WIDTH)
    refs = [BundleRef(n) for n in range(full)]
    return refs + ([BundleRef(full, rest)] if rest else [])


def tiles_for_inclusion(leaf_index: int, tree_size: int) -> list[TileRef]:
    """The tiles a verifier fetches to prove leaf ``leaf_index`` in the tree of ``tree_size``.

    For each level ``k`` with ``256**k < tree_size``: the tile on the leaf's path (index
    ``leaf_index // 256**(k+1)``) and, if the tree's hashes at that level do not fill whole
    tiles, its rightmost partial tile (the right edge). The first depends on the leaf only
    through ``leaf_index // 256``; the second on the size alone.
    """
    if not 0 <= leaf_index < tree_size:
        raise ProofError(f"leaf index {leaf_index} is outside a tree of size {tree_size}")
    refs: list[TileRef] = []
    level = 0
    while level <= MAX_LEVEL and (1 << (TILE_HEIGHT * level)) < tree_size:
        shift = TILE_HEIGHT * (level + 1)
        for index in (leaf_index >> shift, tree_size >> shift):
            ref = tile_ref(level, index, tree_size)
            if ref is not None and ref not in refs:
                refs.append(ref)
        level += 1
    return refs


# -- proofs from tiles -----------------------------------------------------------------------


class _TileNodes:
    """Tree nodes read from fetched tiles (the hashes a verifier holds)."""

    def __init__(self, tiles: Mapping[TileRef, bytes]) -> None:
        self._hashes: dict[tuple[int, int], list[bytes]] = {}
        for ref, body in tiles.items():
            hashes = tile_hashes(ref, body)
            have = self._hashes.get((ref.level, ref.index))
            if have is None or len(have) < len(hashes):
                self._hashes[(ref.level, ref.index)] = hashes

    def node(self, height: int, index: int) -> bytes:
        level, rise = divmod(height, TILE_HEIGHT)
        first = index << rise  # its first descendant at the tile level's height
        tile, offset = divmod(first, TILE_WIDTH)
        hashes = self._hashes.get((level, tile), [])
        count = 1 << rise
        if len(hashes) < offset + count:
            raise ProofError(
                f"the tiles fetched do not hold node {index} at height {height} "
                f"(tile {level}/{tile}, hashes {offset}..{offset + count - 1})"
            )
        return root_from_leaf_hashes(hashes[offset : offset + count])

    def subtree_hash(self, start: int, end: int) -> bytes:
        """``MTH(D[start:end])`` for an RFC 9162 recursion range, as ``MerkleTree`` folds it."""
        parts: list[bytes] = []
        pos = start
        while pos < end:
            height = (end - pos).bit_length() - 1
            while pos & ((1 << height) - 1):
                height -= 1
            parts.append(self.node(height, pos >> height))
            pos += 1 << height
        h = parts[-1]
        for p in reversed(parts[:-1]):
            h = node_hash(p, h)
        return h


def inclusion_proof_from_tiles(
    leaf_index: int, tree_size: int, tiles: Mapping[TileRef, bytes]
) -> list[bytes]:
    """RFC 9162 ``PATH(leaf_index, D[tree_size])`` from tile bodies (``tiles_for_inclusion``).

    Raises ProofError if a hash the path needs is in none of the tiles, TileError if a body
    has the wrong length. The caller verifies the path against the checkpoint's root.
    """
    return inclusion_path(leaf_index, tree_size, _TileNodes(tiles).subtree_hash)


def leaf_hash_from_tiles(leaf_index: int, tiles: Mapping[TileRef, bytes]) -> bytes:
    """The leaf hash the tiles hold at ``leaf_index`` (to compare with the receipt's)."""
    return _TileNodes(tiles).node(0, leaf_index)
