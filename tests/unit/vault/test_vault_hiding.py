"""k-1 shares reveal nothing about K: the information-theoretic hiding of the Shamir split.

A k-of-n split over GF(2^128) is a random polynomial p of degree k-1 with p(0) = K, share i being
(i, p(i)). Through k-1 shares and ANY candidate secret S, i.e. the point (0, S), passes exactly
one polynomial of degree k-1, so for any further index t exactly one k-th share value p_S(t)
makes the k shares interpolate to S. The k-1 shares are consistent with every 16-byte S alike:
they do not determine K, and since the k-th value and S are in one-to-one correspondence, a
uniformly random k-th share leaves S uniform.

The k-th value is computed with PyCryptodome's own ``Shamir.combine``, which evaluates the
interpolating polynomial at 0, so no field arithmetic is written here. The field has
characteristic 2 and its addition is XOR of the 128-bit encodings (share indices are small field
elements), so q(x) = p(x XOR t) has the same degree and q(0) = p(t); q passes through
(x_i XOR t, y_i) for every point (x_i, y_i) of p, and through (t, S) for p's point (0, S).
"""

from __future__ import annotations

import itertools

import pytest
from Crypto.Protocol.SecretSharing import Shamir
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.vault.errors import ShareError
from ledger.vault.records import Share, combine, open_share, seal_identity

secrets16 = st.binary(min_size=16, max_size=16)


def kth_value(points: list[tuple[int, bytes]], candidate: bytes, index: int) -> bytes:
    """The share value at ``index`` that makes ``points`` interpolate to ``candidate`` at 0."""
    assert index not in {x for x, _ in points}
    shifted = [(index, candidate)] + [(x ^ index, y) for x, y in points]
    return Shamir.combine(shifted, ssss=False)


@st.composite
def sharings(draw: st.DrawFn) -> tuple[bytes, int, list[tuple[int, bytes]], list[int]]:
    """A secret, its threshold k, k-1 of its shares, and the indices 1..255 not among them."""
    k = draw(st.integers(min_value=2, max_value=6))
    n = draw(st.integers(min_value=k, max_value=8))
    secret = draw(secrets16)
    shares = Shamir.split(k, n, secret, ssss=False)
    chosen = draw(st.permutations(shares))[: k - 1]
    taken = {x for x, _ in chosen}
    return secret, k, list(chosen), [i for i in range(1, 256) if i not in taken]


@settings(max_examples=60, deadline=None)
@given(sharing=sharings(), candidate=secrets16, data=st.data())
def test_k_minus_1_shares_are_consistent_with_any_secret(sharing, candidate, data) -> None:
    secret, _k, points, free = sharing
    index = data.draw(st.sampled_from(free))
    value = kth_value(points, candidate, index)
    assert Shamir.combine([*points, (index, value)], ssss=False) == candidate
    # and with the true secret too, at the same index: the shares cannot tell them apart
    genuine = kth_value(points, secret, index)
    assert Shamir.combine([*points, (index, genuine)], ssss=False) == secret
    assert (genuine == value) == (secret == candidate)


@settings(max_examples=60, deadline=None)
@given(sharing=sharings(), values=st.lists(secrets16, min_size=2, max_size=4, unique=True))
def test_every_kth_value_interpolates_to_a_distinct_secret(sharing, values) -> None:
    """Any 16-byte value completes k-1 shares to a valid sharing, each of a different secret."""
    _, _, points, free = sharing
    index = free[0]
    results = [Shamir.combine([*points, (index, v)], ssss=False) for v in values]
    assert all(len(r) == 16 for r in results)
    assert len(set(results)) == len(values)
    # the correspondence runs both ways: each result's k-th value is the one we started from
    assert [kth_value(points, r, index) for r in results] == values


def test_two_of_a_three_of_five_split_fit_every_candidate() -> None:
    secret = bytes(range(16))
    shares = Shamir.split(3, 5, secret, ssss=False)
    for pair in itertools.combinations(shares, 2):
        missing = next(i for i in range(1, 6) if i not in {x for x, _ in pair})
        candidates = [bytes([b]) * 16 for b in range(256)]
        values = [kth_value(list(pair), c, missing) for c in candidates]
        assert len(set(values)) == 256  # 256 candidates, 256 different completions
        real = dict(shares)[missing]
        assert kth_value(list(pair), secret, missing) == real


def test_the_vault_refuses_a_forged_completion(five) -> None:
    """k-1 genuine shares plus a k-th share forged for some other secret: the tag refuses it."""
    keys, custodians = five
    record = seal_identity({"n": 1}, kind="reporter", custodians=custodians, threshold=3, version=1)
    genuine = [
        open_share(s, record.record_id, k) for s, k in zip(record.sealed_shares, keys, strict=True)
    ]
    points = [(s.index, s.value) for s in genuine[:2]]
    for candidate in (bytes(16), b"\xff" * 16, bytes(range(16))):
        forged = Share(record.record_id, 0, 3, kth_value(points, candidate, 3))
        with pytest.raises(ShareError, match="do not decrypt"):
            combine([*genuine[:2], forged], record)
    # while the genuine third share is, of course, the completion to the real K
    assert combine(genuine[:3], record) == b'{"n":1}'
    with pytest.raises(ShareError, match="needs 3 shares, got 2"):
        combine(genuine[:2], record)
