"""The review desk's envelope: each tip sealed to the desk's X25519 key with HPKE (RFC 9180).

The service seals every tip's document, salt and author to the review desk's public key before
storing it, and holds only that public half, so it can never read a stored tip. Reviewers hold the
private half in a passphrase-protected PKCS#8 file and open tips on their own machines.

Envelope, version 1 (all sizes in bytes)::

    envelope  = version (1, = 0x01) || key_id (8) || enc (32) || ciphertext (len(plaintext) + 16)
    plaintext = salt (32) || author (20) || document (the rest)
    info      = "tipledger/v1/desk" || version || key_id || commitment (32)

- HPKE base mode, single shot, suite DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM
  (RFC 9180 ids 0x0020, 0x0001, 0x0002), from ``cryptography.hazmat.primitives.hpke``.
- ``key_id`` is the first 8 bytes of SHA-256 over the desk's raw 32-byte public key; it says which
  desk key an envelope was sealed to, so a reviewer holding another key gets a clear refusal.
- The commitment is bound through HPKE's ``info``, which enters the key schedule: an envelope
  opened under any other commitment (or with its header altered) fails authentication. The
  library's public single-shot API takes no separate AAD; RFC 9180 section 8.1 recommends ``info``
  for this. So an envelope cannot be moved to another tip's commitment.
- After opening, the commitment is recomputed from salt, ``H(document)`` and author, and the tip
  is refused unless it matches: the opened tip is exactly the tip the log committed to.

The public key travels as one line, ``tipledger-desk-x25519:<base64url raw key, no padding>``, in
``TIPLEDGER_DESK_PUBLIC_KEY`` or in ``<home>/desk-public.txt``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from ledger.core.commitment import SALT_SIZE, commitment, content_digest
from ledger.core.encoding import ADDRESS_SIZE, address_bytes, to_hex
from ledger.errors import ConfigError, EnvelopeError, ProtocolError

__all__ = [
    "ENVELOPE_VERSION",
    "INFO_TAG",
    "KEY_ID_SIZE",
    "SUITE",
    "OpenedTip",
    "envelope_key_id",
    "key_id",
    "open_tip",
    "seal_tip",
]

ENVELOPE_VERSION = 1
INFO_TAG = b"tipledger/v1/desk"
KEY_ID_SIZE = 8
SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)

_COMMITMENT_SIZE = 32
_ENC_SIZE = 32  # KEM.X25519.enc_length()
_TAG_SIZE = 16
_HEADER_SIZE = 1 + KEY_ID_SIZE
_MIN_ENVELOPE = _HEADER_SIZE + _ENC_SIZE + _TAG_SIZE + SALT_SIZE + ADDRESS_SIZE
_RAW_KEY_SIZE = 32


@dataclass(frozen=True)
class OpenedTip:
    """A tip as the review desk reads it, already checked against its commitment."""

    document: bytes
    salt: bytes
    author: bytes  # 20 bytes; all zero when the reporter made no one-time key


# --- sealing and opening ---------------------------------------------------------------------


def key_id(public_key: X25519PublicKey) -> str:
    """16 hex digits: the first 8 bytes of SHA-256 over the raw public key."""
    return _key_id_bytes(public_key).hex()


def seal_tip(
    public_key: X25519PublicKey,
    *,
    commitment: bytes,
    document: bytes,
    salt: bytes,
    author: bytes | str,
) -> bytes:
    """Seal a tip's document, salt and author to the review desk, bound to its commitment.

    Raises ``ProtocolError`` if the sizes are wrong or if ``commitment`` is not the commitment of
    this salt, document and author (such an envelope could never be opened).
    """
    commitment_ = _check_commitment(commitment)
    author_raw = address_bytes(author)
    expected = _commit(salt, document, author_raw)  # checks the salt's size too
    if expected != commitment_:
        raise ProtocolError(
            f"refusing to seal: salt, document and author commit to {to_hex(expected)}, "
            f"not to {to_hex(commitment_)}"
        )
    return _seal(public_key, commitment_, b"".join((salt, author_raw, document)))


def open_tip(private_key: X25519PrivateKey, envelope: bytes, commitment: bytes) -> OpenedTip:
    """Open an envelope with the review desk's private key and check it against ``commitment``.

    Raises ``EnvelopeError`` if the envelope was sealed to another desk key (naming it), was
    altered, belongs to another commitment, or holds a tip whose commitment differs.
    """
    commitment_ = _check_commitment(commitment)
    envelope = bytes(envelope)
    header = _check_header(envelope)
    mine = _key_id_bytes(private_key.public_key())
    if header[1:] != mine:
        raise EnvelopeError(
            f"this tip was sealed to the review desk key {header[1:].hex()}, "
            f"not to this key ({mine.hex()})"
        )
    try:
        plaintext = SUITE.decrypt(
            memoryview(envelope)[_HEADER_SIZE:], private_key, info=_info(header, commitment_)
        )
    except InvalidTag:
        raise EnvelopeError(
            f"the sealed tip does not open for commitment {to_hex(commitment_)}: it was altered, "
            "or it belongs to another commitment"
        ) from None
    salt = plaintext[:SALT_SIZE]
    author = plaintext[SALT_SIZE : SALT_SIZE + ADDRESS_SIZE]
    document = plaintext[SALT_SIZE + ADDRESS_SIZE :]
    actual = _commit(salt, document, author)
    if actual != commitment_:
        raise EnvelopeError(
            f"the opened tip does not match commitment {to_hex(commitment_)}: its salt, document "
            f"and author commit to {to_hex(actual)}"
        )
    return OpenedTip(document=document, salt=salt, author=author)


def envelope_key_id(envelope: bytes) -> str:
    """The key id of the desk key an envelope was sealed to (to pick the key after a rotation)."""
    return bytes(_check_header(bytes(envelope))[1:]).hex()


def _seal(public_key: X25519PublicKey, commitment_: bytes, plaintext: bytes) -> bytes:
    header = bytes([ENVELOPE_VERSION]) + _key_id_bytes(public_key)
    try:
        sealed = SUITE.encrypt(plaintext, public_key, info=_info(header, commitment_))
    except ValueError as exc:  # a low-order public key: no shared secret
        raise ConfigError(
            f"cannot seal to the review desk key {key_id(public_key)}: {exc}"
        ) from exc
    return header + sealed


def _info(header: bytes, commitment_: bytes) -> bytes:
    return INFO_TAG + header + commitment_


def _check_header(envelope: bytes) -> bytes:
    if len(envelope) < _MIN_ENVELOPE:
        raise EnvelopeError(
            f"a sealed tip is at least {_MIN_ENVELOPE} bytes, this one is {len(envelope)}"
        )
    if envelope[0] != ENVELOPE_VERSION:
        raise EnvelopeError(
            f"unknown sealed-tip version {envelope[0]} (this TipLedger reads {ENVELOPE_VERSION})"
        )
    return envelope[:_HEADER_SIZE]


def _check_commitment(value: bytes) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != _COMMITMENT_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise ProtocolError(f"a commitment is {_COMMITMENT_SIZE} bytes, got {size}")
    return bytes(value)


def _commit(salt: bytes, document: bytes, author: bytes) -> bytes:
    return commitment(salt, content_digest(document), author)


def _key_id_bytes(public_key: X25519PublicKey) -> bytes:
    return hashlib.sha256(_raw(public_key)).digest()[:KEY_ID_SIZE]


def _raw(public_key: X25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
