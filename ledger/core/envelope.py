"""The review desk's envelope, version 1: each tip sealed to the desk's X25519 key (HPKE).

Frozen: every stored tip is one of these envelopes. Changing the layout, the ``info`` or the
suite makes them unreadable, so such a change is a new envelope version, never an edit.

The service seals every tip's document, salt and author to the review desk's public key before
storing it, and holds only that public half, so it can never read a stored tip. Reviewers hold the
private half in a passphrase-protected PKCS#8 file and open tips on their own machines.

Envelope, version 1 (all sizes in bytes)::

    envelope  = version (1, = 0x01) || key_id (8) || enc (32) || ciphertext (len(plaintext) + 16)
    plaintext = salt (32) || author (20) || document (the rest)
    info      = "tipledger/v1/desk" || version || key_id || commitment (32)

- HPKE and ``key_id`` are ``ledger.core.hpke``'s: base mode, single shot, DHKEM(X25519,
  HKDF-SHA256), HKDF-SHA256, AES-256-GCM; the key id is the first 8 bytes of SHA-256 over the
  desk's raw public key. It says which desk key an envelope was sealed to, so a reviewer holding
  another key gets a clear refusal.
- The commitment is bound through HPKE's ``info``, which enters the key schedule: an envelope
  opened under any other commitment (or with its header altered) fails authentication. The
  library's public single-shot API takes no separate AAD; RFC 9180 section 8.1 recommends ``info``
  for this. So an envelope cannot be moved to another tip's commitment.
- After opening, the commitment is recomputed from salt, ``H(document)`` and author, and the tip
  is refused unless it matches: the opened tip is exactly the tip the log committed to.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ledger.core import hpke
from ledger.core.commitment import SALT_SIZE, commitment, content_digest
from ledger.core.encoding import ADDRESS_SIZE, address_bytes, to_hex
from ledger.core.errors import ConfigError, EnvelopeError, ProtocolError, UnusableKeyError
from ledger.core.hpke import KEY_ID_SIZE, SUITE, key_id

__all__ = [
    "ENVELOPE_VERSION",
    "INFO_TAG",
    "KEY_ID_SIZE",
    "MIN_ENVELOPE_SIZE",
    "SUITE",
    "OpenedTip",
    "envelope_key_id",
    "key_id",
    "open_tip",
    "seal_tip",
]

ENVELOPE_VERSION = 1
INFO_TAG = b"tipledger/v1/desk"

_COMMITMENT_SIZE = 32
_HEADER_SIZE = 1 + KEY_ID_SIZE
MIN_ENVELOPE_SIZE = _HEADER_SIZE + hpke.ENC_SIZE + hpke.TAG_SIZE + SALT_SIZE + ADDRESS_SIZE


@dataclass(frozen=True)
class OpenedTip:
    """A tip as the review desk reads it, already checked against its commitment."""

    document: bytes
    salt: bytes
    author: bytes  # 20 bytes; all zero when the reporter made no one-time key


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
    this salt, document and author (such an envelope could never be opened), ``ConfigError`` if
    the desk key is one nothing can be sealed to.
    """
    commitment_ = _check_commitment(commitment)
    author_raw = address_bytes(author)
    expected = _commit(salt, document, author_raw)  # checks the salt's size too
    if expected != commitment_:
        raise ProtocolError(
            f"refusing to seal: salt, document and author commit to {to_hex(expected)}, "
            f"not to {to_hex(commitment_)}"
        )
    header = bytes([ENVELOPE_VERSION]) + hpke.key_id_bytes(public_key)
    plaintext = b"".join((salt, author_raw, document))
    try:
        sealed = hpke.seal(public_key, plaintext, info=_info(header, commitment_))
    except UnusableKeyError as exc:
        raise ConfigError(
            f"cannot seal to the review desk key {key_id(public_key)}: {exc}"
        ) from exc
    return header + sealed


def open_tip(private_key: X25519PrivateKey, envelope: bytes, commitment: bytes) -> OpenedTip:
    """Open an envelope with the review desk's private key and check it against ``commitment``.

    Raises ``EnvelopeError`` if the envelope was sealed to another desk key (naming it), was
    altered, belongs to another commitment, or holds a tip whose commitment differs.
    """
    commitment_ = _check_commitment(commitment)
    envelope = bytes(envelope)
    header = _check_header(envelope)
    mine = hpke.key_id_bytes(private_key.public_key())
    if header[1:] != mine:
        raise EnvelopeError(
            f"this tip was sealed to the review desk key {header[1:].hex()}, "
            f"not to this key ({mine.hex()})"
        )
    plaintext = hpke.open_sealed(
        private_key, memoryview(envelope)[_HEADER_SIZE:], info=_info(header, commitment_)
    )
    if plaintext is None:
        raise EnvelopeError(
            f"the sealed tip does not open for commitment {to_hex(commitment_)}: it was altered, "
            "or it belongs to another commitment"
        )
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


def _info(header: bytes, commitment_: bytes) -> bytes:
    return INFO_TAG + header + commitment_


def _check_header(envelope: bytes) -> bytes:
    if len(envelope) < MIN_ENVELOPE_SIZE:
        raise EnvelopeError(
            f"a sealed tip is at least {MIN_ENVELOPE_SIZE} bytes, this one is {len(envelope)}"
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
