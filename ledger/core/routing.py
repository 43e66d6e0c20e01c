"""Routing: which agency each tip of an anchored batch went to (PROTOCOL.md section 16.4).

Frozen: the contract checks routing proofs against roots anchored with these leaves; changing
the leaf or the tree makes every routing proof fail.

Each anchor commits to its batch's routing with one Merkle root, so routing adds no transaction
per tip. A route leaf binds a commitment to an agency and a fresh 32-byte salt; the salt keeps
the public, who knows every commitment and every agency, from testing which agency a tip went
to. The tree is the log's own RFC 9162 tree (``ledger.core.merkle``) over the batch's leaves in
log order, so a routing proof is an ordinary inclusion path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.core import merkle
from ledger.core.agency import AGENCY_ID_SIZE
from ledger.core.errors import ProtocolError

__all__ = [
    "COUNT_ENTRY_SIZE",
    "MAX_AGENCIES",
    "ROUTE_LEAF_SIZE",
    "ROUTING_SALT_SIZE",
    "RoutingProof",
    "agency_counts",
    "pack_counts",
    "route_leaf",
    "routing_path",
    "routing_root",
    "unpack_counts",
    "verify_routing",
]

ROUTING_SALT_SIZE = 32
ROUTE_LEAF_SIZE = 32 + AGENCY_ID_SIZE + ROUTING_SALT_SIZE
# The anchor's counts: per agency, its index (its position in the contract's agencyIds(), so
# at most 2^16 agencies) and its count, big-endian, in 6 bytes (PROTOCOL.md 16.4).
COUNT_ENTRY_SIZE = 6
MAX_AGENCIES = 2**16


@dataclass(frozen=True)
class RoutingProof:
    """The on-chain ``RoutingProof``: entry ``index`` of the batch anchored at ``tree_size``."""

    tree_size: int
    index: int
    salt: bytes
    path: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not 0 < self.tree_size < 2**64 or not 0 <= self.index < self.tree_size:
            raise ProtocolError(
                f"a routing proof names entry {self.index} of a batch ending at "
                f"{self.tree_size}: out of range"
            )
        _sized(self.salt, ROUTING_SALT_SIZE, "a routing salt")
        for node in self.path:
            _sized(node, merkle.HASH_SIZE, "a routing path node")


def route_leaf(commitment: bytes, agency: bytes, salt: bytes) -> bytes:
    """``commitment (32) || agency (32) || salt (32)``."""
    return b"".join(
        (
            _sized(commitment, 32, "a commitment"),
            _sized(agency, AGENCY_ID_SIZE, "an agency id"),
            _sized(salt, ROUTING_SALT_SIZE, "a routing salt"),
        )
    )


def routing_root(leaves: Sequence[bytes]) -> bytes:
    """The RFC 9162 tree hash over a non-empty batch's route leaves."""
    if not leaves:
        raise ProtocolError("a routed batch holds at least one entry")
    return merkle.root(leaves)


def routing_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The inclusion path of leaf ``index`` in the batch's routing tree."""
    return merkle.inclusion_proof(leaves, index)


def verify_routing(
    commitment: bytes,
    agency: bytes,
    salt: bytes,
    index: int,
    batch_size: int,
    path: Sequence[bytes],
    root: bytes,
) -> bool:
    """Does ``path`` put ``route_leaf(commitment, agency, salt)`` at ``index`` under ``root``."""
    leaf = merkle.leaf_hash(route_leaf(commitment, agency, salt))
    return merkle.verify_inclusion(leaf, index, batch_size, path, root)


def agency_counts(agencies: Sequence[bytes]) -> tuple[list[bytes], list[int]]:
    """The anchor's ``agencies`` (strictly increasing) and ``counts`` for a batch's agencies."""
    counted = Counter(_sized(a, AGENCY_ID_SIZE, "an agency id") for a in agencies)
    ids = sorted(counted)
    return ids, [counted[a] for a in ids]


def pack_counts(indexes: Sequence[int], counts: Sequence[int]) -> bytes:
    """The anchor's ``counts``: ``uint16 index || uint32 count`` per agency, in the order given.
    Only what cannot be written is refused here; the contract refuses the rest (indexes not
    strictly increasing, a zero count, a sum that is not the batch)."""
    if len(indexes) != len(counts):
        raise ProtocolError(f"{len(indexes)} agency indexes for {len(counts)} counts")
    out = bytearray()
    for index, count in zip(indexes, counts, strict=True):
        if not _is_int(index) or not 0 <= index < MAX_AGENCIES:
            raise ProtocolError(f"an agency index is in 0..{MAX_AGENCIES - 1}, got {index!r}")
        if not _is_int(count) or not 0 <= count < 2**32:
            raise ProtocolError(f"a routing count is in 0..2^32-1, got {count!r}")
        out += index.to_bytes(2, "big") + count.to_bytes(4, "big")
    return bytes(out)


def unpack_counts(packed: bytes) -> list[tuple[int, int]]:
    """``(agency index, count)`` per 6-byte entry of an anchor's or a ``Routed`` event's counts,
    in their order."""
    if not isinstance(packed, bytes | bytearray) or len(packed) % COUNT_ENTRY_SIZE:
        raise ProtocolError(f"routing counts are {COUNT_ENTRY_SIZE}-byte entries")
    return [
        (int.from_bytes(packed[i : i + 2], "big"), int.from_bytes(packed[i + 2 : i + 6], "big"))
        for i in range(0, len(packed), COUNT_ENTRY_SIZE)
    ]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _sized(value: bytes, size: int, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != size:
        raise ProtocolError(f"{what} is {size} bytes")
    return bytes(value)
