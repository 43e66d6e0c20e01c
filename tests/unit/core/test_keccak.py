"""The fast Keccak-256 is Ethereum's: the same digests as eth-hash, and the known vectors."""

from __future__ import annotations

from eth_hash.auto import keccak as eth_keccak
from hypothesis import given
from hypothesis import strategies as st

from ledger.core.keccak import keccak


def test_known_vectors() -> None:
    # Keccak-256, not NIST SHA3-256 (which gives a7ffc6f8... for the empty string).
    assert keccak(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak(b"ANCHORER_ROLE").hex() == eth_keccak(b"ANCHORER_ROLE").hex()


def test_the_c_implementation_is_in_use() -> None:
    import sha3  # safe-pysha3: a dependency, for speed

    assert keccak(b"x") == sha3.keccak_256(b"x").digest()


@given(st.binary(max_size=300))
def test_equal_to_eth_hash(data: bytes) -> None:
    assert keccak(data) == eth_keccak(data)
