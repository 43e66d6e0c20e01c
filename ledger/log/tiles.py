"""The log as tiles (PROTOCOL.md section 18): bodies of hash tiles and entry bundles.

Served only within the latest anchored checkpoint, like every other read of the log: a tile
there never changes (complete subtrees and sequenced entries are final), so its body can be
cached for ever by anyone. Hash tiles are read straight from the stored node chunks (one row
each: the store keeps level ``8L`` in chunks of 256, exactly tile level ``L``).
"""

from __future__ import annotations

from ledger.core.merkle import HASH_SIZE
from ledger.core.tiles import TILE_HEIGHT, TILE_WIDTH, BundleRef, TileRef, encode_entry_bundle
from ledger.errors import LogStateError, NotAnchoredError
from ledger.log.reader import LogReader
from ledger.store.log_store import NODES_PER_CHUNK

# The store's chunks and the tiles must be the same size for a tile to be one row.
assert NODES_PER_CHUNK == TILE_WIDTH


class LogTiles:
    """Tile bodies of one log, read through its ``LogReader``."""

    def __init__(self, reader: LogReader) -> None:
        self.reader = reader

    def _require(self, what: str, needed: int) -> None:
        """NotAnchoredError unless the anchored tree holds ``needed`` leaves."""
        anchored = self.reader.anchored_size()
        if needed > anchored:
            raise NotAnchoredError(
                f"{what} is beyond the latest anchored checkpoint ({anchored} entries)"
            )

    def tile(self, ref: TileRef) -> bytes:
        """The body of hash tile ``ref`` (its ``width`` hashes, concatenated)."""
        # The tile's last hash covers leaves up to (256·index + width) · 2^(8·level).
        self._require(
            f"tile {ref.path}", (ref.index * TILE_WIDTH + ref.width) << (TILE_HEIGHT * ref.level)
        )
        body = self.reader.log.node_chunk(TILE_HEIGHT * ref.level, ref.index, ref.width)
        if body is None:
            raise LogStateError(f"the store lacks the hashes of tile {ref.path}")
        return body

    def bundle(self, ref: BundleRef) -> bytes:
        """The body of entry bundle ``ref``."""
        start = ref.index * TILE_WIDTH
        self._require(f"entry bundle {ref.path}", start + ref.width)
        entries = self.reader.log.entries(start, start + ref.width)
        if len(entries) != ref.width or any(len(e) != HASH_SIZE for e in entries):
            raise LogStateError(f"the store lacks the entries of bundle {ref.path}")
        return encode_entry_bundle(entries)
