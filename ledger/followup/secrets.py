"""Anonymous follow-up: a reporter and the review desk talk about a tip; nobody else can read it.

A reporter who asks for a follow-up gets a secret with the receipt; with it (and nothing that
says who they are) they read the review status from the chain, read the desk's questions and
answer them. Formats, version 1 (sizes in bytes)::

    secret        = 32 bytes from the OS CSPRNG; as text "tlf1_" + base64url, no padding
    stored        = Argon2id(secret) in PHC string form (argon2-cffi), never the secret itself
    reporter key  = X25519 private key from HKDF-SHA256(IKM = secret, salt = commitment,
                    info = "tipledger/v1/follow-up/key", L = 32)
    message       = version (1, = 0x01) || key_id (8) || enc (32) || ciphertext (len(text) + 16)
    info          = "tipledger/v1/follow-up" || version || key_id || commitment (32)
                    || message id (16) || sender (1: 1 reviewer, 2 reporter)
    key_id        = the first 8 bytes of SHA-256 over the raw X25519 public key

HPKE is the review desk's suite (``ledger.desk.envelope.SUITE``: RFC 9180 base mode, DHKEM(X25519,
HKDF-SHA256), HKDF-SHA256, AES-256-GCM). Every message is sealed twice, to the reporter's key
and to the review desk's key, each bound through ``info`` to its tip, its id and its direction,
so a stored message cannot be moved to another thread, relabelled or replayed as another. The
service keeps only the public halves: it opens the reporter's copies only while the reporter
presents the secret (the key is derived from it for that request, then dropped), and the desk's
copies never. Reviewers' questions are sealed on the reviewer's own machine (``tipledger review
ask``), so their text never reaches the service; a reporter's answer is sealed by the service as
it arrives (a browser has nothing to seal with) and only the ciphertexts are stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.desk.envelope import SUITE
from ledger.errors import AuthenticationError, EnvelopeError, ProtocolError, RateLimitedError

__all__ = [
    "FROM_REPORTER",
    "FROM_REVIEWER",
    "MAX_TEXT",
    "MESSAGE_ID_SIZE",
    "SECRET_PREFIX",
    "FailureLimiter",
    "FollowUpSecret",
    "SecretHasher",
    "check_message",
    "key_id",
    "new_message_id",
    "new_secret",
    "open_message",
    "parse_secret",
    "public_bytes",
    "reporter_key",
    "seal_message",
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
_SENDERS = {FROM_REVIEWER: "reviewer", FROM_REPORTER: "reporter"}
_KEY_ID_SIZE = 8
_HEADER_SIZE = 1 + _KEY_ID_SIZE
_MIN_MESSAGE = _HEADER_SIZE + 32 + 16  # header, enc, tag (an empty text is refused anyway)
_SECRET_TEXT = re.compile(re.escape(SECRET_PREFIX) + r"[A-Za-z0-9_-]{43}")
# The one answer for a missing or wrong secret and an unknown tip alike: which tips exist, or
# have a follow-up, is not for an anonymous caller to learn.
UNAUTHENTICATED = "no follow-up for this tip with that secret"


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


def parse_secret(text: str | None) -> FollowUpSecret:
    """The secret in ``text``; ``AuthenticationError`` (the one generic answer) otherwise."""
    if text is None or _SECRET_TEXT.fullmatch(text.strip()) is None:
        raise AuthenticationError(UNAUTHENTICATED)
    encoded = text.strip()[len(SECRET_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=")
    except (binascii.Error, ValueError):  # pragma: no cover - the pattern admits only base64url
        raise AuthenticationError(UNAUTHENTICATED) from None
    if len(raw) != SECRET_SIZE:  # pragma: no cover - 43 characters are always 32 bytes
        raise AuthenticationError(UNAUTHENTICATED)
    return FollowUpSecret(raw)


def reporter_key(secret: FollowUpSecret, commitment: bytes) -> X25519PrivateKey:
    """The reporter's X25519 key for this tip, derived from the secret (HKDF-SHA256)."""
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=commitment, info=KEY_INFO).derive(
        secret.raw
    )
    return X25519PrivateKey.from_private_bytes(seed)


def public_bytes(public_key: X25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: X25519PublicKey | bytes) -> bytes:
    raw = public_key if isinstance(public_key, bytes) else public_bytes(public_key)
    return hashlib.sha256(raw).digest()[:_KEY_ID_SIZE]


def sender_name(sender: int) -> str:
    return _SENDERS.get(sender, "unknown")


# --- messages -------------------------------------------------------------------------------


def new_message_id() -> bytes:
    return secrets.token_bytes(MESSAGE_ID_SIZE)


def check_text(text: object) -> str:
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
    header = bytes([MESSAGE_VERSION]) + key_id(public_key)
    info = _info(header, commitment, message_id, sender)
    return header + SUITE.encrypt(check_text(text).encode("utf-8"), public_key, info=info)


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
    mine = key_id(private_key.public_key())
    if header[1:] != mine:
        raise EnvelopeError(
            f"message 0x{message_id.hex()} is sealed to key {header[1:].hex()}, not {mine.hex()}"
        )
    try:
        plaintext = SUITE.decrypt(
            memoryview(envelope)[_HEADER_SIZE:],
            private_key,
            info=_info(header, commitment, message_id, sender),
        )
    except InvalidTag:
        raise EnvelopeError(
            f"message 0x{message_id.hex()} does not open: it was altered, or belongs elsewhere"
        ) from None
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise EnvelopeError(f"message 0x{message_id.hex()} is not UTF-8 text") from None


def check_message(envelope: bytes, expected_key: bytes, what: str) -> None:
    """Refuse (``ProtocolError``) a message copy not sealed to the key it must be sealed to."""
    try:
        header = _header(envelope)
    except EnvelopeError as exc:
        raise ProtocolError(f"{what}: {exc}") from None
    if header[1:] != key_id(expected_key):
        raise ProtocolError(
            f"{what}: sealed to key {header[1:].hex()}, not to {key_id(expected_key).hex()}"
        )
    if len(envelope) > _MIN_MESSAGE + 4 * MAX_TEXT:  # UTF-8 is at most 4 bytes a character
        raise ProtocolError(f"{what}: longer than a message of {MAX_TEXT} characters")


def _header(envelope: bytes) -> bytes:
    if len(envelope) < _MIN_MESSAGE:
        raise EnvelopeError(f"a sealed message is at least {_MIN_MESSAGE} bytes")
    if envelope[0] != MESSAGE_VERSION:
        raise EnvelopeError(f"unknown sealed-message version {envelope[0]}")
    return envelope[:_HEADER_SIZE]


def _info(header: bytes, commitment: bytes, message_id: bytes, sender: int) -> bytes:
    if len(commitment) != 32 or len(message_id) != MESSAGE_ID_SIZE or sender not in _SENDERS:
        raise ProtocolError("a message is bound to a 32-byte commitment, a 16-byte id, a sender")
    return MESSAGE_INFO_TAG + header + commitment + message_id + bytes([sender])


# --- checking secrets -----------------------------------------------------------------------


class SecretHasher:
    """Argon2id over the 32-byte secret, at most ``concurrency`` hashes at a time.

    The secret is 256 random bits, so guessing is hopeless whatever the cost: the parameters
    are OWASP's minimum for Argon2id (19 MiB, 2 passes, 1 lane), a stolen database still costs
    an Argon2 per guess, and the semaphore bounds the memory and CPU a flood of wrong secrets
    can take. Blocking: call it off the event loop.
    """

    def __init__(
        self,
        *,
        time_cost: int = 2,
        memory_cost: int = 19_456,
        parallelism: int = 1,
        concurrency: int = 4,
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._slots = threading.BoundedSemaphore(concurrency)
        # What an unknown tip's secret is checked against, so it costs the same as a known one.
        self._dummy = self.hash(new_secret())

    def hash(self, secret: FollowUpSecret) -> str:
        with self._slots:
            return self._hasher.hash(secret.raw)

    def verify(self, encoded: str | None, secret: FollowUpSecret) -> bool:
        """True if ``secret`` matches ``encoded``; for ``None`` the same work, then False."""
        if encoded is None:
            encoded = self._dummy
            secret = new_secret()  # never matches: the work is done only to take the same time
        with self._slots:
            try:
                return self._hasher.verify(encoded, secret.raw)
            except (VerificationError, InvalidHashError):
                return False


class FailureLimiter:
    """At most ``limit`` wrong secrets per tip in ``window`` seconds, in this process.

    Keyed by the commitment asked about, known or not, so its answer reveals nothing either.
    The secrets cannot be guessed anyway: this only keeps floods of Argon2 work per tip short.
    """

    def __init__(
        self,
        limit: int = 10,
        window: float = 60.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._max_keys = max_keys
        self._clock = clock
        self._failures: dict[bytes, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def check(self, key: bytes) -> None:
        now = self._clock()
        with self._lock:
            started, count = self._failures.get(key, (now, 0))
        if count >= self.limit and now - started < self.window:
            wait = math.ceil(self.window - (now - started))
            raise RateLimitedError(
                f"too many wrong follow-up secrets for this tip: try again in {wait} s"
            )

    def failed(self, key: bytes) -> None:
        now = self._clock()
        with self._lock:
            started, count = self._failures.get(key, (now, 0))
            if now - started >= self.window:
                started, count = now, 0
            self._failures[key] = (started, count + 1)
            if len(self._failures) > self._max_keys:
                self._failures = {
                    k: v for k, v in self._failures.items() if now - v[0] < self.window
                }
                if len(self._failures) > self._max_keys:  # a flood of distinct keys: forget
                    self._failures.clear()


def message_view(message_id: bytes, sender: int, sent_at: int, text: str) -> dict[str, Any]:
    return {
        "id": "0x" + message_id.hex(),
        "from": sender_name(sender),
        "sent_at": sent_at,
        "text": text,
    }
