"""Anonymous follow-up, service side: checking reporters' secrets, and the formats' re-exports.

A reporter who asks for a follow-up gets a secret with the receipt; with it (and nothing that
says who they are) they read the review status from the chain, read the desk's questions and
answer them. The formats (the secret's text form, the reporter key, sealed messages) are
``ledger.core.followup``, frozen, and re-exported here. What the service adds::

    stored (v1)   = Argon2id(secret) in PHC string form (argon2-cffi), never the secret itself
    stored (v2)   = "sha256:" || hex(SHA-256(T)): the verifier the device sent, never T

Version 1 (the service made the secret): the service keeps only the public halves, opens the
reporter's copies only while the reporter presents the secret (the key is derived from it for
that request, then dropped), and the desk's copies never; a reporter's answer in clear is sealed
by the service as it arrives, only where the deployment allows it (``Settings.server_sealing``).

Version 2 (the device made the secret): the service never sees the secret or the reporter key,
only the token ``T`` that proves it. It hands back the reporter's sealed copies as they are, to
open on the device, and stores answers sealed there (checked: version, sizes, key ids). Answers
in clear are refused. Reviewers' questions are sealed on the reviewer's own machine (``tipledger
review ask``) in either version, so their text never reaches the service.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from ledger.core.followup import (
    FROM_REPORTER,
    FROM_REVIEWER,
    MAX_TEXT,
    MESSAGE_ID_SIZE,
    SECRET_PREFIX,
    SECRET_PREFIX_V2,
    TOKEN_PREFIX,
    DeviceEnrolment,
    FollowUpSecret,
    check_message,
    check_text,
    device_enrolment,
    device_secret_from_text,
    enrolment_from_json,
    follow_up_token,
    new_device_secret,
    new_message_id,
    new_secret,
    open_message,
    reporter_key,
    seal_message,
    secret_from_text,
    sender_name,
    token_from_text,
    token_text,
    token_verifier,
)
from ledger.core.hpke import key_id_bytes as key_id  # follow-up code uses the 8 raw bytes
from ledger.core.hpke import public_bytes
from ledger.errors import AuthenticationError, RateLimitedError

__all__ = [
    "FROM_REPORTER",
    "FROM_REVIEWER",
    "MAX_TEXT",
    "MESSAGE_ID_SIZE",
    "SECRET_PREFIX",
    "SECRET_PREFIX_V2",
    "TOKEN_PREFIX",
    "UNAUTHENTICATED",
    "DeviceEnrolment",
    "FailureLimiter",
    "FollowUpSecret",
    "SecretHasher",
    "check_message",
    "check_text",
    "device_enrolment",
    "device_secret_from_text",
    "enrolment_from_json",
    "follow_up_token",
    "key_id",
    "message_view",
    "new_device_secret",
    "new_message_id",
    "new_secret",
    "open_message",
    "parse_secret",
    "parse_token",
    "public_bytes",
    "reporter_key",
    "seal_message",
    "sealed_message_view",
    "sender_name",
    "token_text",
    "token_verifier",
]

# The one answer for a missing or wrong secret and an unknown tip alike: which tips exist, or
# have a follow-up, is not for an anonymous caller to learn.
UNAUTHENTICATED = "no follow-up for this tip with that secret"


def parse_secret(text: str | None) -> FollowUpSecret:
    """The secret in ``text``; ``AuthenticationError`` (the one generic answer) otherwise."""
    secret = secret_from_text(text)
    if secret is None:
        raise AuthenticationError(UNAUTHENTICATED)
    return secret


def parse_token(text: str | None) -> bytes:
    """The version 2 token in ``text``; ``AuthenticationError`` (the one answer) otherwise."""
    token = token_from_text(text)
    if token is None:
        raise AuthenticationError(UNAUTHENTICATED)
    return token


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
    """Wrong secrets counted per tip and over all tips, in this process, in ``window`` seconds.

    Past ``limit`` wrong secrets for a tip, or ``global_limit`` over all tips, ``over`` gives
    the seconds until the window ends: ``FollowUps.authenticate`` then checks secrets the cheap
    way (no Argon2) and refuses the wrong ones with 429, while the right one still passes. So
    the limiter bounds the Argon2 work spent on wrong secrets and never locks a reporter out.
    Keyed by the commitment asked about, known or not, so its answer reveals nothing; no client
    address is looked at.
    """

    def __init__(
        self,
        limit: int = 10,
        window: float = 60.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        global_limit: int = 600,
    ) -> None:
        self.limit = limit
        self.window = window
        self.global_limit = global_limit
        self._max_keys = max_keys
        self._clock = clock
        self._failures: dict[bytes, tuple[float, int]] = {}
        self._global: tuple[float, int] = (clock(), 0)
        self._lock = threading.Lock()

    def over(self, key: bytes) -> int | None:
        """Seconds until ``key`` (or every tip) may cost an Argon2 run again; None if now."""
        now = self._clock()
        with self._lock:
            waits = []
            for started, count, limit in (
                (*self._failures.get(key, (now, 0)), self.limit),
                (*self._global, self.global_limit),
            ):
                if count >= limit and now - started < self.window:
                    waits.append(math.ceil(self.window - (now - started)))
        return max(waits) if waits else None

    def check(self, key: bytes) -> None:
        wait = self.over(key)
        if wait is not None:
            raise RateLimitedError(
                f"too many wrong follow-up secrets for this tip: try again in {wait} s", wait
            )

    def failed(self, key: bytes) -> None:
        now = self._clock()
        with self._lock:
            started, count = self._global
            self._global = (now, 1) if now - started >= self.window else (started, count + 1)
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


def sealed_message_view(
    message_id: bytes, sender: int, sent_at: int, sealed: bytes
) -> dict[str, Any]:
    """A message of a version 2 thread: the reporter's copy as stored, to open on the device."""
    return {
        "id": "0x" + message_id.hex(),
        "from": sender_name(sender),
        "sent_at": sent_at,
        "sealed": base64.b64encode(sealed).decode("ascii"),
    }


def message_view(message_id: bytes, sender: int, sent_at: int, text: str) -> dict[str, Any]:
    return {
        "id": "0x" + message_id.hex(),
        "from": sender_name(sender),
        "sent_at": sent_at,
        "text": text,
    }
