"""Case keys and their grants to agency members (PROTOCOL.md section 16.3).

Frozen: every case opened by a member goes through a grant; changing the layout or the ``info``
makes grants unreadable, so such a change is a new grant version, never an edit.

Each tip gets a fresh X25519 case key. The tip's envelope (``ledger.core.envelope``) and the
desk copies of its follow-up messages are sealed to the case's public key; its private half
exists only granted, HPKE-sealed to each member of an agency holding the case. Referral is then
one small grant per new member, made on the referring member's machine, however large the tip::

    grant = 0x01 || member key_id (8) || enc (32) || ciphertext (32 + 16)           = 89 bytes
    info  = "tipledger/v1/case-key" || 0x01 || member key_id (8) || commitment (32)
            || case key_id (8)                                                      = 70 bytes

``info`` binds the grant to its member, its tip and its case key, so a grant cannot be moved to
another tip or passed off as another member's.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ledger.core import hpke
from ledger.core.encoding import to_hex
from ledger.core.errors import ConfigError, EnvelopeError, ProtocolError, UnusableKeyError
from ledger.core.hpke import KEY_ID_SIZE

__all__ = [
    "GRANT_SIZE",
    "GRANT_VERSION",
    "INFO_TAG",
    "grant_case_key",
    "grant_member_key_id",
    "new_case_key",
    "open_grant",
]

GRANT_VERSION = 1
INFO_TAG = b"tipledger/v1/case-key"
_PRIVATE_SIZE = 32
_HEADER_SIZE = 1 + KEY_ID_SIZE
GRANT_SIZE = _HEADER_SIZE + hpke.ENC_SIZE + _PRIVATE_SIZE + hpke.TAG_SIZE


def new_case_key() -> X25519PrivateKey:
    """A fresh case key (the operating system's CSPRNG, through ``cryptography``)."""
    return X25519PrivateKey.generate()


def grant_case_key(
    member_public: X25519PublicKey, case_private: X25519PrivateKey, commitment: bytes
) -> bytes:
    """The case private key sealed to one member, bound to the tip's commitment."""
    commitment_ = _check_commitment(commitment)
    header = bytes([GRANT_VERSION]) + hpke.key_id_bytes(member_public)
    case_id = hpke.key_id_bytes(case_private.public_key())
    raw = case_private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    try:
        sealed = hpke.seal(member_public, raw, info=_info(header, commitment_, case_id))
    except UnusableKeyError as exc:
        raise ConfigError(
            f"cannot grant a case key to member key {hpke.key_id(member_public)}: {exc}"
        ) from exc
    return header + sealed


def open_grant(
    member_private: X25519PrivateKey, grant: bytes, commitment: bytes, case_key_id: bytes
) -> X25519PrivateKey:
    """The case private key in ``grant``; ``EnvelopeError`` if it is another member's, altered,
    for another tip, or for a case key other than ``case_key_id`` (8 bytes)."""
    commitment_ = _check_commitment(commitment)
    if not isinstance(case_key_id, bytes) or len(case_key_id) != KEY_ID_SIZE:
        raise ProtocolError(f"a case key id is {KEY_ID_SIZE} bytes")
    grant = bytes(grant)
    header = _check_header(grant)
    mine = hpke.key_id_bytes(member_private.public_key())
    if header[1:] != mine:
        raise EnvelopeError(
            f"this case key was granted to member key {header[1:].hex()}, not to this key "
            f"({mine.hex()})"
        )
    raw = hpke.open_sealed(
        member_private, grant[_HEADER_SIZE:], info=_info(header, commitment_, case_key_id)
    )
    if raw is None:
        raise EnvelopeError(
            f"the case key granted for commitment {to_hex(commitment_)} does not open: the grant "
            "was altered, or it belongs to another tip or case key"
        )
    return X25519PrivateKey.from_private_bytes(raw)


def grant_member_key_id(grant: bytes) -> str:
    """The key id of the member a grant was made for (16 hex digits)."""
    return bytes(_check_header(bytes(grant))[1:]).hex()


def _info(header: bytes, commitment_: bytes, case_key_id: bytes) -> bytes:
    return INFO_TAG + header + commitment_ + case_key_id


def _check_header(grant: bytes) -> bytes:
    if len(grant) != GRANT_SIZE:
        raise EnvelopeError(f"a case key grant is {GRANT_SIZE} bytes, this one is {len(grant)}")
    if grant[0] != GRANT_VERSION:
        raise EnvelopeError(
            f"unknown case key grant version {grant[0]} (this TipLedger reads {GRANT_VERSION})"
        )
    return grant[:_HEADER_SIZE]


def _check_commitment(value: bytes) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != 32:
        raise ProtocolError("a commitment is 32 bytes")
    return bytes(value)
