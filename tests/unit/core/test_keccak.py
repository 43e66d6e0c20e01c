"""The fast Keccak-256 is Ethereum's: the same digests as eth-hash, and the known vectors."""

from __future__ import annotations

import importlib.machinery
import sys

import pytest
from eth_hash.auto import keccak as eth_keccak
from hypothesis import given
from hypothesis import strategies as st

from ledger.core import keccak as keccak_module
from ledger.core.keccak import keccak


def test_known_vectors() -> None:
    # Keccak-256, not NIST SHA3-256 (which gives a7ffc6f8... for the empty string).
    assert keccak(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak(b"ANCHORER_ROLE").hex() == eth_keccak(b"ANCHORER_ROLE").hex()


def test_the_c_implementation_is_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    # Equal digests prove nothing here (the eth-hash fallback gives the same bytes): check that
    # safe-pysha3's compiled type was imported, and that ``keccak`` is the function calling it.
    c_type = getattr(keccak_module, "_keccak_256", None)
    assert c_type is not None, "safe-pysha3 did not import: keccak is the eth-hash fallback"
    extension = sys.modules[c_type.__module__]
    assert extension.__name__ == "_pysha3"
    assert str(extension.__file__).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))

    class Marked:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def digest(self) -> bytes:
            return b"through " + self.data

    monkeypatch.setattr(keccak_module, "_keccak_256", Marked)
    assert keccak(b"x") == b"through x"


@given(st.binary(max_size=300))
def test_equal_to_eth_hash(data: bytes) -> None:
    assert keccak(data) == eth_keccak(data)
