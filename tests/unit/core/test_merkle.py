"""RFC 9162 Merkle maths: PROTOCOL.md section 8 vectors, a recursive reference, properties.

The reference below is a literal transcription of RFC 9162 section 2.1 (MTH, PATH, SUBPROOF),
recursive and slow, written over index ranges so that it names which subtree each proof element
stands for. From it comes a *semantic* reference verifier: a proof for ``(index, size)`` or
``(first, second)`` verifies exactly when its hashes, put at the subtrees that the RFC's proof for
those sizes consists of, rebuild the root(s). ``merkle.verify_*`` must agree with it on every
input, honest or mutated.

Note on "wrong size": RFC 9162 verification does not bind the tree size into the hash, so a
proof for size n also verifies for a size n' whose proof has the same shape (e.g. leaf 0 of 5 and
of 6). That is the RFC, not a bug: a receipt's size is bound to its root by the contract's
``checkpoint(tree_size)`` (PROTOCOL.md section 7 step 4). The tests pin this down exactly.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import merkle
from ledger.core.errors import ProofError

VECTOR_ENTRIES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
VECTOR_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

# The certificate-transparency reference proofs over the same eight entries.
KNOWN_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
KNOWN_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (4, 8, ["6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
]

Range = tuple[int, int]


# --- the reference: RFC 9162 section 2.1, transcribed recursively ------------------------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return sha256(b"\x00" + d[0])
    k = largest_power_of_two_below(n)
    return sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, lo: int, hi: int) -> list[Range]:
    """PATH(m, D[lo:hi]) as the ranges of the subtrees whose MTH it lists."""
    n = hi - lo
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return [*ref_path(m, lo, lo + k), (lo + k, hi)]
    return [*ref_path(m - k, lo + k, hi), (lo, lo + k)]


def ref_subproof(m: int, lo: int, hi: int, b: bool) -> list[Range]:
    """SUBPROOF(m, D[lo:hi], b) as ranges."""
    n = hi - lo
    if m == n:
        return [] if b else [(lo, hi)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return [*ref_subproof(m, lo, lo + k, b), (lo + k, hi)]
    return [*ref_subproof(m - k, lo + k, hi, False), (lo, lo + k)]


def ref_inclusion_proof(d: list[bytes], m: int) -> list[bytes]:
    return [ref_mth(d[a:b]) for a, b in ref_path(m, 0, len(d))]


def ref_consistency_proof(d: list[bytes], m: int) -> list[bytes]:
    return [ref_mth(d[a:b]) for a, b in ref_subproof(m, 0, len(d), True)]


def rebuild(lo: int, hi: int, known: dict[Range, bytes]) -> bytes | None:
    """MTH(D[lo:hi]) from the known subtree hashes only, or None if they do not suffice."""
    if (lo, hi) in known:
        return known[(lo, hi)]
    if hi - lo <= 1:
        return None
    k = largest_power_of_two_below(hi - lo)
    left, right = rebuild(lo, lo + k, known), rebuild(lo + k, hi, known)
    if left is None or right is None:
        return None
    return sha256(b"\x01" + left + right)


def ref_verify_inclusion(
    leaf: bytes, index: int, size: int, proof: list[bytes], root_hash: bytes
) -> bool:
    if not 0 <= index < size:
        return False
    ranges = ref_path(index, 0, size)
    if len(ranges) != len(proof):
        return False
    known = dict(zip(ranges, proof, strict=True))
    known[(index, index + 1)] = leaf
    return rebuild(0, size, known) == root_hash


def ref_verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    ranges = ref_subproof(first, 0, second, True)
    if len(ranges) != len(proof):
        return False
    known = dict(zip(ranges, proof, strict=True))
    if first & (first - 1) == 0:
        # D[0:first] is itself a subtree of D[0:second]: the verifier knows its hash.
        known[(0, first)] = first_root
    return rebuild(0, first, known) == first_root and rebuild(0, second, known) == second_root


def entries_from(seed: bytes, size: int) -> list[bytes]:
    return [hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(size)]


def flip(proof: list[bytes], position: int, byte: int, bit: int) -> list[bytes]:
    out = list(proof)
    h = bytearray(out[position])
    h[byte] ^= 1 << bit
    out[position] = bytes(h)
    return out


# --- section 8 vectors ---------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "expected"), sorted(VECTOR_ROOTS.items()))
def test_vector_roots(n: int, expected: str) -> None:
    assert merkle.root(VECTOR_ENTRIES[:n]).hex() == expected
    assert ref_mth(VECTOR_ENTRIES[:n]).hex() == expected


def test_empty_root() -> None:
    assert merkle.root([]) == merkle.EMPTY_ROOT == sha256(b"")
    assert ref_mth([]) == merkle.EMPTY_ROOT


def test_leaf_and_node_hash() -> None:
    assert merkle.leaf_hash(b"abc") == sha256(b"\x00abc")
    a, b = b"\x11" * 32, b"\x22" * 32
    assert merkle.node_hash(a, b) == sha256(b"\x01" + a + b)


@pytest.mark.parametrize(("index", "size", "expected"), KNOWN_INCLUSION)
def test_known_inclusion_proofs(index: int, size: int, expected: list[str]) -> None:
    d = VECTOR_ENTRIES[:size]
    proof = merkle.inclusion_proof(d, index)
    assert [h.hex() for h in proof] == expected
    leaf = merkle.leaf_hash(d[index])
    assert merkle.verify_inclusion(leaf, index, size, proof, bytes.fromhex(VECTOR_ROOTS[size]))


@pytest.mark.parametrize(("first", "second", "expected"), KNOWN_CONSISTENCY)
def test_known_consistency_proofs(first: int, second: int, expected: list[str]) -> None:
    proof = merkle.consistency_proof(VECTOR_ENTRIES[:second], first)
    assert [h.hex() for h in proof] == expected
    r1, r2 = (bytes.fromhex(VECTOR_ROOTS[n]) for n in (first, second))
    assert merkle.verify_consistency(first, second, r1, r2, proof)


def test_every_vector_inclusion_proof_verifies() -> None:
    for size in range(1, 9):
        root_hash = bytes.fromhex(VECTOR_ROOTS[size])
        for index in range(size):
            proof = merkle.inclusion_proof(VECTOR_ENTRIES[:size], index)
            leaf = merkle.leaf_hash(VECTOR_ENTRIES[index])
            assert merkle.verify_inclusion(leaf, index, size, proof, root_hash), (index, size)


def test_every_vector_consistency_proof_verifies() -> None:
    for second in range(1, 9):
        for first in range(1, second + 1):
            proof = merkle.consistency_proof(VECTOR_ENTRIES[:second], first)
            r1 = bytes.fromhex(VECTOR_ROOTS[first])
            r2 = bytes.fromhex(VECTOR_ROOTS[second])
            assert merkle.verify_consistency(first, second, r1, r2, proof), (first, second)


# --- generation against the recursive reference, exhaustively for small trees ------------------


def test_generation_matches_reference_exhaustively() -> None:
    for size in range(1, 50):
        d = entries_from(b"exhaustive", size)
        assert merkle.root(d) == ref_mth(d)
        for index in range(size):
            assert merkle.inclusion_proof(d, index) == ref_inclusion_proof(d, index)
        for first in range(1, size + 1):
            assert merkle.consistency_proof(d, first) == ref_consistency_proof(d, first)


def test_verifiers_match_reference_for_all_sizes_exhaustively() -> None:
    """Every proof of a 20-leaf-or-smaller tree, checked against every other (index, size)."""
    for size in range(1, 21):
        d = entries_from(b"sizes", size)
        root_hash = merkle.root(d)
        for index in range(size):
            proof = merkle.inclusion_proof(d, index)
            leaf = merkle.leaf_hash(d[index])
            for other_index in range(-1, 23):
                for other_size in range(0, 23):
                    args = (leaf, other_index, other_size, proof, root_hash)
                    assert merkle.verify_inclusion(*args) == ref_verify_inclusion(*args), args


def test_wrong_size_with_same_shape_verifies_as_the_rfc_says() -> None:
    d5 = VECTOR_ENTRIES[:5]
    proof = merkle.inclusion_proof(d5, 0)
    leaf, root5 = merkle.leaf_hash(d5[0]), merkle.root(d5)
    assert merkle.verify_inclusion(leaf, 0, 5, proof, root5)
    # PATH(0, D[6]) has the same shape as PATH(0, D[5]): the size is not in the hash.
    assert merkle.verify_inclusion(leaf, 0, 6, proof, root5)
    # PATH(0, D[4]) and PATH(0, D[9]) have other lengths.
    assert not merkle.verify_inclusion(leaf, 0, 4, proof, root5)
    assert not merkle.verify_inclusion(leaf, 0, 9, proof, root5)


def test_proof_generation_out_of_range_raises() -> None:
    d = VECTOR_ENTRIES[:4]
    for bad in (-1, 4, 5):
        with pytest.raises(ProofError):
            merkle.inclusion_proof(d, bad)
    for bad in (0, -1, 5):
        with pytest.raises(ProofError):
            merkle.consistency_proof(d, bad)


def test_malformed_hashes_never_verify() -> None:
    d = VECTOR_ENTRIES[:4]
    root_hash = merkle.root(d)
    proof = merkle.inclusion_proof(d, 1)
    leaf = merkle.leaf_hash(d[1])
    assert merkle.verify_inclusion(leaf, 1, 4, proof, root_hash)
    assert not merkle.verify_inclusion(leaf[:31], 1, 4, proof, root_hash)
    assert not merkle.verify_inclusion(leaf, 1, 4, [proof[0][:31], proof[1]], root_hash)
    assert not merkle.verify_inclusion(leaf, 1, 4, [*proof, b""], root_hash)
    cproof = merkle.consistency_proof(d, 3)
    r3 = merkle.root(d[:3])
    assert merkle.verify_consistency(3, 4, r3, root_hash, cproof)
    assert not merkle.verify_consistency(3, 4, r3[:31], root_hash, cproof)
    assert not merkle.verify_consistency(3, 4, r3, root_hash, [cproof[0] + b"\x00", *cproof[1:]])


def test_consistency_first_equals_second() -> None:
    for n in (1, 2, 3, 4, 7, 8, 16):
        d = entries_from(b"eq", n)
        r = merkle.root(d)
        assert merkle.consistency_proof(d, n) == []
        assert merkle.verify_consistency(n, n, r, r, [])
        assert not merkle.verify_consistency(n, n, r, merkle.root(d[:-1]) if n > 1 else r[::-1], [])
        assert not merkle.verify_consistency(n, n, r, r, [r])


def test_consistency_powers_of_two() -> None:
    d = entries_from(b"pow2", 64)
    roots = {n: merkle.root(d[:n]) for n in range(1, 65)}
    for first in (1, 2, 4, 8, 16, 32):
        for second in (first, first + 1, 2 * first, 64):
            proof = merkle.consistency_proof(d[:second], first)
            assert proof == ref_consistency_proof(d[:second], first)
            assert merkle.verify_consistency(first, second, roots[first], roots[second], proof)
            wrong = roots[first + 1] if first < 64 else roots[1]
            assert not merkle.verify_consistency(first, second, wrong, roots[second], proof)


def test_consistency_sizes_below_one_fail() -> None:
    r = merkle.root(VECTOR_ENTRIES[:2])
    assert not merkle.verify_consistency(0, 2, merkle.EMPTY_ROOT, r, [])
    assert not merkle.verify_consistency(3, 2, r, r, [r])


# --- properties ----------------------------------------------------------------------------------

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


@PROPERTY_SETTINGS
@given(size=st.integers(1, 300), seed=st.binary(max_size=8), data=st.data())
def test_inclusion_property(size: int, seed: bytes, data: st.DataObject) -> None:
    d = entries_from(seed, size)
    root_hash = merkle.root(d)
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = merkle.inclusion_proof(d, index)
    assert proof == ref_inclusion_proof(d, index)
    leaf = merkle.leaf_hash(d[index])
    assert merkle.verify_inclusion(leaf, index, size, proof, root_hash)

    # A flipped bit anywhere in the proof.
    if proof:
        pos = data.draw(st.integers(0, len(proof) - 1), label="position")
        byte, bit = data.draw(st.integers(0, 31), label="byte"), data.draw(st.integers(0, 7))
        assert not merkle.verify_inclusion(
            leaf, index, size, flip(proof, pos, byte, bit), root_hash
        )
    # A wrong index (in or out of range).
    other = data.draw(st.integers(-2, size + 2).filter(lambda i: i != index), label="wrong index")
    assert not merkle.verify_inclusion(leaf, other, size, proof, root_hash)
    # A wrong size: fails unless the RFC's proof for that size has this exact shape.
    other_size = data.draw(st.integers(0, 2 * size + 2).filter(lambda n: n != size))
    got = merkle.verify_inclusion(leaf, index, other_size, proof, root_hash)
    assert got == ref_verify_inclusion(leaf, index, other_size, proof, root_hash)
    if got:
        assert len(ref_path(index, 0, other_size)) == len(proof)
    # Truncated and extended proofs.
    if proof:
        assert not merkle.verify_inclusion(leaf, index, size, proof[:-1], root_hash)
        assert not merkle.verify_inclusion(leaf, index, size, proof[1:], root_hash)
    extra = data.draw(st.binary(min_size=32, max_size=32), label="extra")
    assert not merkle.verify_inclusion(leaf, index, size, [*proof, extra], root_hash)
    assert not merkle.verify_inclusion(leaf, index, size, [extra, *proof], root_hash)
    # A wrong root, and a wrong leaf.
    assert not merkle.verify_inclusion(leaf, index, size, proof, sha256(root_hash))
    assert not merkle.verify_inclusion(sha256(leaf), index, size, proof, root_hash)


@PROPERTY_SETTINGS
@given(second=st.integers(1, 300), seed=st.binary(max_size=8), data=st.data())
def test_consistency_property(second: int, seed: bytes, data: st.DataObject) -> None:
    d = entries_from(seed, second)
    first = data.draw(
        st.one_of(
            st.integers(1, second),
            st.sampled_from([p for p in (1, 2, 4, 8, 16, 32, 64, 128, 256) if p <= second]),
            st.just(second),
        ),
        label="first",
    )
    r1, r2 = merkle.root(d[:first]), merkle.root(d)
    proof = merkle.consistency_proof(d, first)
    assert proof == ref_consistency_proof(d, first)
    assert merkle.verify_consistency(first, second, r1, r2, proof)
    assert ref_verify_consistency(first, second, r1, r2, proof)

    if proof:
        pos = data.draw(st.integers(0, len(proof) - 1), label="position")
        byte, bit = data.draw(st.integers(0, 31), label="byte"), data.draw(st.integers(0, 7))
        assert not merkle.verify_consistency(first, second, r1, r2, flip(proof, pos, byte, bit))
        assert not merkle.verify_consistency(first, second, r1, r2, proof[:-1])
        assert not merkle.verify_consistency(first, second, r1, r2, proof[1:])
    extra = data.draw(st.binary(min_size=32, max_size=32), label="extra")
    assert not merkle.verify_consistency(first, second, r1, r2, [*proof, extra])
    assert not merkle.verify_consistency(first, second, r1, r2, [extra, *proof])
    # Wrong roots.
    assert not merkle.verify_consistency(first, second, sha256(r1), r2, proof)
    assert not merkle.verify_consistency(first, second, r1, sha256(r2), proof)
    if first != second:
        assert not merkle.verify_consistency(first, second, r2, r1, proof)
    # Wrong sizes: exactly as the RFC's semantics say (the sizes are not in the hashes).
    other_first = data.draw(st.integers(-1, second + 2), label="other first")
    other_second = data.draw(st.integers(-1, 2 * second + 2), label="other second")
    for f, s in ((other_first, second), (first, other_second), (other_first, other_second)):
        got = merkle.verify_consistency(f, s, r1, r2, proof)
        assert got == ref_verify_consistency(f, s, r1, r2, proof), (f, s)
        if (f, s) != (first, second) and got:
            assert len(ref_subproof(f, 0, s, True)) == len(proof)


def test_consistency_verifier_matches_reference_for_all_sizes_exhaustively() -> None:
    d = entries_from(b"cons", 24)
    roots = {n: merkle.root(d[:n]) for n in range(1, 25)}
    for second in range(1, 17):
        for first in range(1, second + 1):
            proof = merkle.consistency_proof(d[:second], first)
            r1, r2 = roots[first], roots[second]
            for f in range(0, 20):
                for s in range(0, 20):
                    got = merkle.verify_consistency(f, s, r1, r2, proof)
                    assert got == ref_verify_consistency(f, s, r1, r2, proof), (first, second, f, s)
