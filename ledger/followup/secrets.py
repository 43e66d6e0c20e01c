"""Anonymous follow-up, service side: checking reporters' secrets, and the formats' re-exports.

A reporter who asks for a follow-up gets a secret with the receipt; with it (and nothing that
says who they are) they read the review status from the chain, read the desk's questions and
answer them. The formats (the secret's text form, the reporter key, sealed messages) are
``ledger.core.followup``, frozen, and re-exported here. What the service adds::

    stored        = Argon2id(secret) in PHC string form (argon2-cffi), never the secret itself

The service keeps only the public halves: it opens the reporter's copies only while the reporter
presents the secret (the key is derived from it for that request, then dropped), and the desk's
copies never. Reviewers' questions are sealed on the reviewer's own machine (``tipledger review
ask``), so their text never reaches the service; a reporter's answer is sealed by the service as
it arrives (a browser has nothing to seal with) and only the ciphertexts are stored.
"""

from __future__ import annotations

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
    FollowUpSecret,
    check_message,
    check_text,
    new_message_id,
    new_secret,
    open_message,
    reporter_key,
    seal_message,
    secret_from_text,
    sender_name,
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
    "UNAUTHENTICATED",
    "FailureLimiter",
    "FollowUpSecret",
    "SecretHasher",
    "check_message",
    "check_text",
    "key_id",
    "message_view",
    "new_message_id",
    "new_secret",
    "open_message",
    "parse_secret",
    "public_bytes",
    "reporter_key",
    "seal_message",
    "sender_name",
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


def message_view(message_id: bytes, sender: int, sent_at: int, text: str) -> dict[str, Any]:
    return {
        "id": "0x" + message_id.hex(),
        "from": sender_name(sender),
        "sent_at": sent_at,
        "text": text,
    }
