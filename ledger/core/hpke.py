"""The one HPKE suite and the X25519 key id (PROTOCOL.md, version 1).

Frozen: the desk envelope, the follow-up messages and the identity shares are all sealed with
this suite and name their keys by this key id. A change to either makes every stored envelope,
message and share unreadable, so it is a new protocol version, never an edit.

- HPKE (RFC 9180) base mode, single shot, suite DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
  AES-256-GCM (ids 0x0020, 0x0001, 0x0002), from ``cryptography.hazmat.primitives.hpke``.
  A sealed message is ``enc (32) || ciphertext (len(plaintext) + 16)``.
- The library's single-shot API takes no AAD; whatever a ciphertext is bound to goes into
  ``info``, which enters the key schedule (RFC 9180 section 8.1), so opening under any other
  ``info`` fails authentication.
- ``key_id`` is the first 8 bytes of SHA-256 over the raw 32-byte X25519 public key; as text,
  those bytes as 16 lowercase hex digits.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from ledger.core.errors import UnusableKeyError

__all__ = [
    "ENC_SIZE",
    "KEY_ID_SIZE",
    "PUBLIC_KEY_SIZE",
    "SUITE",
    "TAG_SIZE",
    "key_id",
    "key_id_bytes",
    "open_sealed",
    "public_bytes",
    "seal",
]

SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
ENC_SIZE = 32  # KEM.X25519.enc_length()
TAG_SIZE = 16  # AES-256-GCM
PUBLIC_KEY_SIZE = 32
KEY_ID_SIZE = 8


def public_bytes(public_key: X25519PublicKey) -> bytes:
    """The raw 32-byte X25519 public key."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_bytes(public_key: X25519PublicKey | bytes) -> bytes:
    """The first 8 bytes of SHA-256 over the raw public key (given as a key or its 32 bytes)."""
    raw = public_key if isinstance(public_key, bytes) else public_bytes(public_key)
    return hashlib.sha256(raw).digest()[:KEY_ID_SIZE]


def key_id(public_key: X25519PublicKey | bytes) -> str:
    """``key_id_bytes`` as 16 lowercase hex digits, the form in JSON, the API and messages."""
    return key_id_bytes(public_key).hex()


def seal(public_key: X25519PublicKey, plaintext: bytes, *, info: bytes) -> bytes:
    """``enc || ciphertext``: ``plaintext`` sealed to ``public_key``, bound to ``info``.

    ``UnusableKeyError`` for a key nothing can be sealed to (a low-order point).
    """
    try:
        return SUITE.encrypt(plaintext, public_key, info=info)
    except ValueError as exc:  # the library's answer when the DH shared secret is all zero
        raise UnusableKeyError(str(exc)) from exc


def open_sealed(
    private_key: X25519PrivateKey, sealed: bytes | memoryview, *, info: bytes
) -> bytes | None:
    """The plaintext of ``seal``'s output, or None if it does not authenticate.

    None means: sealed to another key, altered, or bound to another ``info``; callers say which
    of their objects failed, in their own error.
    """
    try:
        return SUITE.decrypt(sealed, private_key, info=info)
    except InvalidTag:
        return None
