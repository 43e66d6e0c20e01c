"""The one HPKE suite and the key id (ledger.core.hpke), with pinned vectors."""

from __future__ import annotations

import hashlib

import pytest
from core_vectors import DESK_KEY_ID, DESK_PRIVATE_KEY, DESK_PUBLIC_KEY
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from ledger.core import hpke
from ledger.core.errors import ProtocolError, UnusableKeyError

DESK = X25519PrivateKey.from_private_bytes(DESK_PRIVATE_KEY)


def test_the_suite_is_x25519_hkdf_sha256_aes_256_gcm() -> None:
    assert (hpke.ENC_SIZE, hpke.TAG_SIZE, hpke.KEY_ID_SIZE, hpke.PUBLIC_KEY_SIZE) == (32, 16, 8, 32)
    sealed = hpke.seal(DESK.public_key(), b"abc", info=b"i")
    assert len(sealed) == 32 + 3 + 16


def test_key_id_known_answer() -> None:
    assert hpke.public_bytes(DESK.public_key()) == DESK_PUBLIC_KEY
    assert hpke.key_id(DESK.public_key()) == DESK_KEY_ID
    assert hpke.key_id(DESK_PUBLIC_KEY) == DESK_KEY_ID
    assert hpke.key_id_bytes(DESK.public_key()) == bytes.fromhex(DESK_KEY_ID)
    assert hpke.key_id_bytes(DESK_PUBLIC_KEY) == hashlib.sha256(DESK_PUBLIC_KEY).digest()[:8]


@given(plaintext=st.binary(max_size=512), info=st.binary(max_size=64))
def test_open_sealed_inverts_seal(plaintext: bytes, info: bytes) -> None:
    sealed = hpke.seal(DESK.public_key(), plaintext, info=info)
    assert hpke.open_sealed(DESK, sealed, info=info) == plaintext


def test_open_sealed_is_none_for_another_info_key_or_a_flipped_bit() -> None:
    sealed = hpke.seal(DESK.public_key(), b"tip", info=b"commitment A")
    assert hpke.open_sealed(DESK, sealed, info=b"commitment B") is None
    assert hpke.open_sealed(X25519PrivateKey.generate(), sealed, info=b"commitment A") is None
    flipped = bytes([sealed[0] ^ 1]) + sealed[1:]
    assert hpke.open_sealed(DESK, flipped, info=b"commitment A") is None
    assert hpke.open_sealed(DESK, memoryview(sealed), info=b"commitment A") == b"tip"


def test_seal_to_a_low_order_key_is_an_unusable_key_error() -> None:
    low_order = X25519PublicKey.from_public_bytes(bytes(32))
    with pytest.raises(UnusableKeyError) as caught:
        hpke.seal(low_order, b"x", info=b"")
    assert isinstance(caught.value, ProtocolError)
