"""Anonymous follow-up formats: the secret (versions 1 and 2), the reporter's key, the token
that proves the secret (version 2), and sealed messages (version 1).

Frozen: reporters hold secrets in these text forms, their keys and tokens are derived from them,
and every stored message is sealed in this layout. A change locks reporters out of their threads
and makes stored messages unreadable, so it is a new version, never an edit.

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

Version 2: the secret is made on the reporter's device and never leaves it. Version 1's secret
is made by the service, which therefore knows every reporter key; a version 2 secret, token and
enrolment never let the service derive one::

    secret        = 32 bytes from the device's CSPRNG; as text "tlf2_" + base64url, no padding
    reporter key  = as version 1 (same HKDF, same info), from the version 2 secret
    token T       = HKDF-SHA256(IKM = secret, salt = commitment,
                    info = "tipledger/v2/follow-up/token", L = 32); as text "tlt2_" + base64url
    verifier      = SHA-256(T) (32)
    enrolment     = {"version": 2, "reporter_key": "0x" + hex (32), "verifier": "0x" + hex (32)}
                    (the "follow_up" field of a tip sealed on the device, PROTOCOL.md 17.1)

The device sends only the enrolment with the tip, and later only ``T`` (``Authorization: Bearer
tlt2_…``), never the secret. Different HKDF infos make ``T`` and the reporter key independent:
``T`` (what the service sees) gives nothing towards the key. The verifier is a plain SHA-256, not
Argon2: ``T`` is 256 uniformly random bits, so a stolen verifier is as hard to invert as any
256-bit preimage, and a slow hash would buy nothing but CPU the service spends per lookup. The
service compares ``SHA-256(T)`` with the stored verifier in constant time.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.core import hpke
from ledger.core.errors import EnvelopeError, ProtocolError

__all__ = [
    "ENROLMENT_VERSION",
    "FROM_REPORTER",
    "FROM_REVIEWER",
    "KEY_INFO",
    "MAX_TEXT",
    "MESSAGE_ID_SIZE",
    "MESSAGE_INFO_TAG",
    "MESSAGE_VERSION",
    "MIN_MESSAGE_SIZE",
    "SECRET_PREFIX",
    "SECRET_PREFIX_V2",
    "SECRET_SIZE",
    "SENDER_NAMES",
    "TOKEN_INFO",
    "TOKEN_PREFIX",
    "TOKEN_SIZE",
    "DeviceEnrolment",
    "FollowUpSecret",
    "check_message",
    "check_text",
    "device_enrolment",
    "device_secret_from_text",
    "enrolment_from_json",
    "follow_up_token",
    "message_info",
    "message_key_id",
    "new_device_secret",
    "new_message_id",
    "new_secret",
    "open_message",
    "reporter_key",
    "seal_message",
    "secret_from_text",
    "sender_name",
    "token_from_text",
    "token_text",
    "token_verifier",
]

SECRET_PREFIX = "tlf1_"  # noqa: S105 - a marker that makes a leaked secret easy to spot
SECRET_PREFIX_V2 = "tlf2_"  # noqa: S105 - made on the device, never sent
TOKEN_PREFIX = "tlt2_"  # noqa: S105 - what a version 2 device sends instead of the secret
TOKEN_SIZE = 32
TOKEN_INFO = b"tipledger/v2/follow-up/token"
ENROLMENT_VERSION = 2
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
_SECRET_TEXT_V2 = re.compile(re.escape(SECRET_PREFIX_V2) + r"[A-Za-z0-9_-]{43}")
_TOKEN_TEXT = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")
_ENROLMENT_FIELDS = frozenset({"version", "reporter_key", "verifier"})
_PREFIXES = {1: SECRET_PREFIX, 2: SECRET_PREFIX_V2}


# --- the secret and the reporter's key ------------------------------------------------------


@dataclass(frozen=True)
class FollowUpSecret:
    raw: bytes
    version: int = 1  # 1: made by the service; 2: made on the device

    @property
    def text(self) -> str:
        return _PREFIXES[self.version] + _b64url(self.raw)

    def __repr__(self) -> str:  # never in a log by accident
        return "FollowUpSecret(…)"


def new_secret() -> FollowUpSecret:
    return FollowUpSecret(secrets.token_bytes(SECRET_SIZE))


def new_device_secret() -> FollowUpSecret:
    """A version 2 secret: made here, on the reporter's device, and kept here."""
    return FollowUpSecret(secrets.token_bytes(SECRET_SIZE), 2)


def secret_from_text(text: str | None) -> FollowUpSecret | None:
    """The version 1 secret written in ``text`` (white space around it ignored), or None."""
    raw = _text_bytes(text, _SECRET_TEXT)
    return None if raw is None else FollowUpSecret(raw)


def device_secret_from_text(text: str | None) -> FollowUpSecret | None:
    """The version 2 secret written in ``text`` (white space around it ignored), or None."""
    raw = _text_bytes(text, _SECRET_TEXT_V2)
    return None if raw is None else FollowUpSecret(raw, 2)


def _text_bytes(text: str | None, pattern: re.Pattern[str]) -> bytes | None:
    """The 32 bytes after the 5-character prefix of a text that matches ``pattern``."""
    if text is None or pattern.fullmatch(text.strip()) is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(text.strip()[5:] + "=")
    except (binascii.Error, ValueError):  # pragma: no cover - the pattern admits only base64url
        return None
    if len(raw) != SECRET_SIZE:  # pragma: no cover - 43 characters are always 32 bytes
        return None
    return raw


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def reporter_key(secret: FollowUpSecret, commitment: bytes) -> X25519PrivateKey:
    """The reporter's X25519 key for this tip, derived from the secret (HKDF-SHA256)."""
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=commitment, info=KEY_INFO).derive(
        secret.raw
    )
    return X25519PrivateKey.from_private_bytes(seed)


# --- version 2: the token and the enrolment ---------------------------------------------------


def follow_up_token(secret: FollowUpSecret, commitment: bytes) -> bytes:
    """The 32-byte token ``T`` a version 2 device shows instead of its secret (HKDF-SHA256)."""
    if secret.version != 2:
        raise ProtocolError("only a version 2 (tlf2_) secret has a token: tlf1_ is sent as it is")
    if len(commitment) != _COMMITMENT_SIZE:
        raise ProtocolError("a token is bound to a 32-byte commitment")
    return HKDF(
        algorithm=hashes.SHA256(), length=TOKEN_SIZE, salt=commitment, info=TOKEN_INFO
    ).derive(secret.raw)


def token_text(token: bytes) -> str:
    return TOKEN_PREFIX + _b64url(token)


def token_from_text(text: str | None) -> bytes | None:
    """The token written in ``text`` ("tlt2_" + 43 base64url characters), or None."""
    return _text_bytes(text, _TOKEN_TEXT)


def token_verifier(token: bytes) -> bytes:
    """SHA-256(T): what the service stores and compares (see the module docstring for why)."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(token)
    return digest.finalize()


@dataclass(frozen=True)
class DeviceEnrolment:
    """What a version 2 device sends with its tip: the reporter's public key and a verifier."""

    reporter_key: bytes  # raw X25519 public key (32)
    verifier: bytes  # SHA-256 of the token (32)

    def to_json(self) -> dict[str, object]:
        return {
            "version": ENROLMENT_VERSION,
            "reporter_key": "0x" + self.reporter_key.hex(),
            "verifier": "0x" + self.verifier.hex(),
        }


def device_enrolment(secret: FollowUpSecret, commitment: bytes) -> DeviceEnrolment:
    """The enrolment of a version 2 secret for the tip ``commitment``."""
    public = hpke.public_bytes(reporter_key(secret, commitment).public_key())
    return DeviceEnrolment(public, token_verifier(follow_up_token(secret, commitment)))


def enrolment_from_json(data: object) -> DeviceEnrolment:
    """An enrolment as a device sends it; ``ProtocolError`` naming the first field that is wrong."""
    if not isinstance(data, Mapping):
        raise ProtocolError(f"field 'follow_up': expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - _ENROLMENT_FIELDS)
    if unknown:
        raise ProtocolError(
            f"field 'follow_up': unknown field {unknown[0]!r} (fields: reporter_key, verifier, "
            "version)"
        )
    version = data.get("version")
    if version != ENROLMENT_VERSION or isinstance(version, bool):
        raise ProtocolError(
            f"field 'follow_up.version': expected {ENROLMENT_VERSION}, got {str(version)[:20]!r}"
        )
    return DeviceEnrolment(
        _hex32("follow_up.reporter_key", data.get("reporter_key")),
        _hex32("follow_up.verifier", data.get("verifier")),
    )


def _hex32(name: str, value: object) -> bytes:
    if not isinstance(value, str) or re.fullmatch(r"0x[0-9a-fA-F]{64}", value) is None:
        raise ProtocolError(f"field {name!r}: expected 0x and 64 hex digits (32 bytes)")
    return bytes.fromhex(value[2:])


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


def message_key_id(envelope: bytes) -> bytes:
    """The 8-byte key id a sealed message names; ``EnvelopeError`` if it is not a message."""
    return _header(bytes(envelope))[1:]


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
