"""Agency ids and routing trees (PROTOCOL.md 16.1, 16.4): vectors and properties."""

from __future__ import annotations

import hashlib

import core_vectors as v
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.core import merkle
from ledger.core.agency import INTAKE, agency_id, agency_slug
from ledger.core.errors import AgencyError, ProtocolError
from ledger.core.routing import (
    RoutingProof,
    agency_counts,
    pack_counts,
    route_leaf,
    routing_path,
    routing_root,
    unpack_counts,
    verify_routing,
)


def _h(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def _batch() -> tuple[list[bytes], list[bytes], list[bytes], list[bytes]]:
    commitments = [_h(f"commitment {i}") for i in range(5)]
    agencies = [agency_id(a) for a in v.ROUTING_AGENCIES]
    salts = [_h(f"routing salt {i}") for i in range(5)]
    leaves = [route_leaf(c, a, s) for c, a, s in zip(commitments, agencies, salts, strict=True)]
    return commitments, agencies, salts, leaves


def test_the_intake_desk_id_is_its_ascii_left_aligned() -> None:
    assert agency_id(INTAKE) == v.INTAKE_ID
    assert agency_slug(v.INTAKE_ID) == INTAKE


@pytest.mark.parametrize(
    "slug", ["", "a", "Intake", "1abc", "a" * 32, "in take", "ศูนย์", "a_b", "-ab"]
)
def test_bad_slugs_are_refused(slug: str) -> None:
    with pytest.raises(AgencyError, match="an agency id is 2 to 31"):
        agency_id(slug)


def test_raw_ids_must_be_exactly_a_padded_slug() -> None:
    with pytest.raises(AgencyError, match="32 bytes"):
        agency_slug(b"intake")
    with pytest.raises(AgencyError, match="not a padded slug"):
        agency_slug(b"in\x00take".ljust(32, b"\x00"))
    with pytest.raises(AgencyError, match="not ASCII"):
        agency_slug(b"\xff" * 32)
    with pytest.raises(AgencyError):
        agency_slug(bytes(32))


@given(st.from_regex(r"[a-z][a-z0-9-]{1,30}", fullmatch=True))
def test_slugs_round_trip(slug: str) -> None:
    assert agency_slug(agency_id(slug)) == slug


def test_the_routing_vector() -> None:
    commitments, agencies, salts, leaves = _batch()
    assert routing_root(leaves) == v.ROUTING_ROOT
    assert tuple(routing_path(leaves, 3)) == v.ROUTING_PATH_3
    assert verify_routing(
        commitments[3], agencies[3], salts[3], 3, 5, v.ROUTING_PATH_3, v.ROUTING_ROOT
    )


def test_a_routing_proof_fails_for_another_agency_salt_or_index() -> None:
    commitments, agencies, salts, _ = _batch()
    path = v.ROUTING_PATH_3
    root = v.ROUTING_ROOT
    assert not verify_routing(commitments[3], agency_id("nacc"), salts[3], 3, 5, path, root)
    assert not verify_routing(commitments[3], agencies[3], salts[2], 3, 5, path, root)
    assert not verify_routing(commitments[3], agencies[3], salts[3], 2, 5, path, root)
    assert not verify_routing(commitments[3], agencies[3], salts[3], 4, 5, path, root)


@given(
    st.lists(st.sampled_from(["intake", "nacc", "oag", "dsi"]), min_size=1, max_size=40), st.data()
)
def test_every_leaf_of_a_batch_proves_its_own_agency_only(
    agencies: list[str], data: st.DataObject
) -> None:
    ids = [agency_id(a) for a in agencies]
    commitments = [_h(f"c{i}") for i in range(len(ids))]
    salts = [_h(f"s{i}") for i in range(len(ids))]
    leaves = [route_leaf(c, a, s) for c, a, s in zip(commitments, ids, salts, strict=True)]
    root = routing_root(leaves)
    i = data.draw(st.integers(0, len(ids) - 1))
    path = routing_path(leaves, i)
    assert verify_routing(commitments[i], ids[i], salts[i], i, len(ids), path, root)
    other = agency_id("other")
    assert not verify_routing(commitments[i], other, salts[i], i, len(ids), path, root)


def test_counts_are_sorted_and_sum_to_the_batch() -> None:
    _, agencies, _, _ = _batch()
    ids, counts = agency_counts(agencies)
    assert ids == sorted(set(agencies))
    assert [agency_slug(a) for a in ids] == ["intake", "nacc", "oag"]
    assert counts == [2, 2, 1]


def test_malformed_inputs_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError, match="a commitment is 32 bytes"):
        route_leaf(b"x", v.INTAKE_ID, bytes(32))
    with pytest.raises(ProtocolError, match="at least one entry"):
        routing_root([])
    with pytest.raises(ProtocolError, match="out of range"):
        RoutingProof(tree_size=3, index=3, salt=bytes(32), path=())
    with pytest.raises(ProtocolError, match="a routing salt is 32 bytes"):
        RoutingProof(tree_size=3, index=0, salt=b"", path=())
    with pytest.raises(ProtocolError, match="a routing path node"):
        RoutingProof(tree_size=3, index=0, salt=bytes(32), path=(b"short",))
    assert merkle.HASH_SIZE == 32


def test_counts_pack_as_index_and_count_big_endian() -> None:
    packed = pack_counts([0, 1, 65_535], [3, 2**32 - 1, 1])
    assert packed == bytes.fromhex("000000000003" + "0001ffffffff" + "ffff00000001")
    assert unpack_counts(packed) == [(0, 3), (1, 2**32 - 1), (65_535, 1)]
    assert pack_counts([], []) == b""
    assert unpack_counts(b"") == []
    # Written in the order given: ordering and zero counts are the contract's to refuse.
    assert unpack_counts(pack_counts([2, 2, 0], [0, 1, 5])) == [(2, 0), (2, 1), (0, 5)]


@given(st.lists(st.tuples(st.integers(0, 2**16 - 1), st.integers(0, 2**32 - 1)), max_size=60))
def test_counts_round_trip(entries: list[tuple[int, int]]) -> None:
    packed = pack_counts([i for i, _ in entries], [n for _, n in entries])
    assert len(packed) == 6 * len(entries)
    assert unpack_counts(packed) == entries


@pytest.mark.parametrize(
    ("indexes", "counts", "message"),
    [
        ([0], [1, 2], "1 agency indexes for 2 counts"),
        ([-1], [1], "an agency index is in 0..65535"),
        ([65_536], [1], "an agency index is in 0..65535"),
        ([True], [1], "an agency index"),
        ([0], [2**32], r"a routing count is in 0..2\^32-1"),
        ([0], [-1], "a routing count"),
        ([0], [1.0], "a routing count"),
    ],
)
def test_counts_that_cannot_be_written_are_refused(
    indexes: list[int], counts: list[int], message: str
) -> None:
    with pytest.raises(ProtocolError, match=message):
        pack_counts(indexes, counts)


@pytest.mark.parametrize("packed", [b"\x00", bytes(5), bytes(7), bytes(13)])
def test_counts_not_in_whole_entries_are_refused(packed: bytes) -> None:
    with pytest.raises(ProtocolError, match="6-byte entries"):
        unpack_counts(packed)
