"""Anonymous follow-up formats, version 1: the secret, the reporter's key, sealed messages.

Frozen: reporters hold secrets in this text form, their keys are derived from them, and every
stored message is sealed in this layout. A change locks reporters out of their threads and makes
stored messages unreadable, so it is a new version, never an edit.

Formats, version 1 (sizes in bytes)::

    secret        = 32 bytes from the OS CSPRNG; as text "tlf1_" + base64url, no padding
    reporter key  = X25519 private key from HKDF-SHA256(IKM = secret, salt = commitment,
                    info = "tipledger/v1/follow-up/key", L = 32)
    message       = version (1, = 0x01) || key_id (8) || enc (32) || ciphertext (len(text) + 16)
    info          = "tipledger/v1/follow-up" || version || key_id || commitment (32)
                    || message id (16) || sender (1: 1 reviewer, 2 reporter)
    message id    = 16 bytes from the OS CSPRNG
    text          = UTF-8, 1 to 10,000 characters, not only white space

HPKE and ``key_id`` are ``ledger.core.hpke``'s (the review desk's suite; the key id is the first
8 bytes of SHA-256 over the raw X25519 public key). Every message is sealed twice, to the
reporter's key and to the review desk's key, each bound through ``info`` to its tip, its id and
its direction, so a stored message cannot be moved to another thread, relabelled or replayed as
another. How the service stores and checks secrets is ``ledger.followup.secrets``.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.core import hpke
from ledger.core.errors import EnvelopeError, ProtocolError

__all__ = [
    "FROM_REPORTER",
    "FROM_REVIEWER",
    "KEY_INFO",
    "MAX_TEXT",
    "MESSAGE_ID_SIZE",
    "MESSAGE_INFO_TAG",
    "MESSAGE_VERSION",
    "MIN_MESSAGE_SIZE",
    "SECRET_PREFIX",
    "SECRET_SIZE",
    "SENDER_NAMES",
    "FollowUpSecret",
    "check_message",
    "check_text",
    "message_info",
    "new_message_id",
    "new_secret",
    "open_message",
    "reporter_key",
    "seal_message",
    "secret_from_text",
    "sender_name",
]

SECRET_PREFIX = "tlf1_"  # noqa: S105 - a marker that makes a leaked secret easy to spot
SECRET_SIZE = 32
MESSAGE_ID_SIZE = 16
MESSAGE_VERSION = 1
MAX_TEXT = 10_000  # characters in one message
KEY_INFO = b"tipledger/v1/follow-up/key"
MESSAGE_INFO_TAG = b"tipledger/v1/follow-up"
FROM_REVIEWER = 1
FROM_REPORTER = 2
SENDER_NAMES: dict[int, str] = {FROM_REVIEWER: "reviewer", FROM_REPORTER: "reporter"}

_COMMITMENT_SIZE = 32
_HEADER_SIZE = 1 + hpke.KEY_ID_SIZE
# Header, enc and tag: an empty text is refused anyway.
MIN_MESSAGE_SIZE = _HEADER_SIZE + hpke.ENC_SIZE + hpke.TAG_SIZE
_MAX_MESSAGE_SIZE = MIN_MESSAGE_SIZE + 4 * MAX_TEXT  # UTF-8 is at most 4 bytes a character
_SECRET_TEXT = re.compile(re.escape(SECRET_PREFIX) + r"[A-Za-z0-9_-]{43}")


# --- the secret and the reporter's key ------------------------------------------------------


@dataclass(frozen=True)
class FollowUpSecret:
    raw: bytes

    @property
    def text(self) -> str:
        return SECRET_PREFIX + base64.urlsafe_b64encode(self.raw).decode("ascii").rstrip("=")

    def __repr__(self) -> str:  # never in a log by accident
        return "FollowUpSecret(…)"


def new_secret() -> FollowUpSecret:
    return FollowUpSecret(secrets.token_bytes(SECRET_SIZE))


def secret_from_text(text: str | None) -> FollowUpSecret | None:
    """The secret written in ``text`` (white space around it ignored), or None if it is not one."""
    if text is None or _SECRET_TEXT.fullmatch(text.strip()) is None:
        return None
    encoded = text.strip()[len(SECRET_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=")
    except (binascii.Error, ValueError):  # pragma: no cover - the pattern admits only base64url
        return None
    if len(raw) != SECRET_SIZE:  # pragma: no cover - 43 characters are always 32 bytes
        return None
    return FollowUpSecret(raw)


def reporter_key(secret: FollowUpSecret, commitment: bytes) -> X25519PrivateKey:
    """The reporter's X25519 key for this tip, derived from the secret (HKDF-SHA256)."""
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=commitment, info=KEY_INFO).derive(
        secret.raw
    )
    return X25519PrivateKey.from_private_bytes(seed)


def sender_name(sender: int) -> str:
    return SENDER_NAMES.get(sender, "unknown")


# --- messages -------------------------------------------------------------------------------


def new_message_id() -> bytes:
    return secrets.token_bytes(MESSAGE_ID_SIZE)


def check_text(text: object) -> str:
    """``text`` if it may be sent as a message; ``ProtocolError`` naming the field otherwise."""
    if not isinstance(text, str):
        raise ProtocolError("field 'text': expected a string")
    if not text.strip():
        raise ProtocolError("field 'text': the message is empty")
    if len(text) > MAX_TEXT:
        raise ProtocolError(f"field 'text': at most {MAX_TEXT} characters, got {len(text)}")
    return text


def seal_message(
    public_key: X25519PublicKey, *, commitment: bytes, message_id: bytes, sender: int, text: str
) -> bytes:
    """One copy of a message, sealed to ``public_key`` and bound to its tip, id and sender."""
    header = bytes([MESSAGE_VERSION]) + hpke.key_id_bytes(public_key)
    info = message_info(header, commitment, message_id, sender)
    return header + hpke.seal(public_key, check_text(text).encode("utf-8"), info=info)


def open_message(
    private_key: X25519PrivateKey,
    envelope: bytes,
    *,
    commitment: bytes,
    message_id: bytes,
    sender: int,
) -> str:
    """The text of a sealed message; ``EnvelopeError`` if it is not this key's, or altered."""
    envelope = bytes(envelope)
    header = _header(envelope)
    mine = hpke.key_id_bytes(private_key.public_key())
    if header[1:] != mine:
        raise EnvelopeError(
            f"message 0x{message_id.hex()} is sealed to key {header[1:].hex()}, not {mine.hex()}"
        )
    plaintext = hpke.open_sealed(
        private_key,
        memoryview(envelope)[_HEADER_SIZE:],
        info=message_info(header, commitment, message_id, sender),
    )
    if plaintext is None:
        raise EnvelopeError(
            f"message 0x{message_id.hex()} does not open: it was altered, or belongs elsewhere"
        )
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise EnvelopeError(f"message 0x{message_id.hex()} is not UTF-8 text") from None


def check_message(envelope: bytes, expected_key: bytes, what: str) -> None:
    """Refuse (``ProtocolError``) a message copy not sealed to the key it must be sealed to.

    ``expected_key`` is the raw 32-byte public key; ``what`` names the copy in the error.
    """
    try:
        header = _header(envelope)
    except EnvelopeError as exc:
        raise ProtocolError(f"{what}: {exc}") from None
    expected = hpke.key_id_bytes(expected_key)
    if header[1:] != expected:
        raise ProtocolError(f"{what}: sealed to key {header[1:].hex()}, not to {expected.hex()}")
    if len(envelope) > _MAX_MESSAGE_SIZE:
        raise ProtocolError(f"{what}: longer than a message of {MAX_TEXT} characters")


def message_info(header: bytes, commitment: bytes, message_id: bytes, sender: int) -> bytes:
    """HPKE ``info`` of a message: tag || header (version, key id) || commitment || id || sender."""
    if (
        len(commitment) != _COMMITMENT_SIZE
        or len(message_id) != MESSAGE_ID_SIZE
        or sender not in SENDER_NAMES
    ):
        raise ProtocolError("a message is bound to a 32-byte commitment, a 16-byte id, a sender")
    return MESSAGE_INFO_TAG + header + commitment + message_id + bytes([sender])


def _header(envelope: bytes) -> bytes:
    if len(envelope) < MIN_MESSAGE_SIZE:
        raise EnvelopeError(f"a sealed message is at least {MIN_MESSAGE_SIZE} bytes")
    if envelope[0] != MESSAGE_VERSION:
        raise EnvelopeError(f"unknown sealed-message version {envelope[0]}")
    return envelope[:_HEADER_SIZE]
