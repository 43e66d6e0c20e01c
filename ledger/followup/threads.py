"""The service's side of follow-up threads: enrolling a tip, the reporter's view, the desk's.

Formats and the cryptography are ``ledger.followup.secrets``; rows are
``ledger.store.followups``. The methods here block (Argon2, the database, ``reviewOf`` on
chain): the API calls them off the event loop.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ledger.core.encoding import to_hex
from ledger.desk.reviews import ReviewSource, review_view
from ledger.errors import (
    AuthenticationError,
    ConfigError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
)
from ledger.followup.secrets import (
    FROM_REPORTER,
    FROM_REVIEWER,
    MESSAGE_ID_SIZE,
    UNAUTHENTICATED,
    FailureLimiter,
    FollowUpSecret,
    SecretHasher,
    check_message,
    key_id,
    message_view,
    new_message_id,
    new_secret,
    open_message,
    parse_secret,
    public_bytes,
    reporter_key,
    seal_message,
    sender_name,
)
from ledger.log.reader import LogReader
from ledger.store.followups import FollowUpStore, StoredMessage
from ledger.store.submissions import Companions

__all__ = ["Enrolment", "FollowUps", "Reporter"]


@dataclass(frozen=True)
class Enrolment:
    """A fresh secret and its hash, ready to be stored with a new tip."""

    secret: FollowUpSecret
    secret_hash: str

    def rows(self, commitment: bytes) -> Companions:
        """The tip's ``follow_ups`` row (cheap: one HKDF and one X25519 public key)."""
        public = public_bytes(reporter_key(self.secret, commitment).public_key())
        return FollowUpStore.companion_rows(commitment, self.secret_hash, public)


@dataclass(frozen=True)
class Reporter:
    """A caller who showed a tip's follow-up secret: they hold its reporter key, for now."""

    commitment: bytes
    private_key: X25519PrivateKey

    def __repr__(self) -> str:
        return f"Reporter({to_hex(self.commitment)})"


class FollowUps:
    def __init__(
        self,
        store: FollowUpStore,
        desk_key: X25519PublicKey | None,
        *,
        case_keys: Callable[[bytes], bytes | None] | None = None,
        reader: LogReader,
        reviews: ReviewSource,
        hasher: SecretHasher | None = None,
        limiter: FailureLimiter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        # Desk copies are sealed to the tip's case key (PROTOCOL.md 16.3), which every member
        # of an agency holding the case can open; ``desk_key`` only for tips from before
        # agencies, whose envelopes were sealed straight to the old desk key.
        self._legacy_desk = None if desk_key is None else public_bytes(desk_key)
        self._case_keys = case_keys or (lambda _commitment: None)
        self.reader = reader
        self.reviews = reviews
        self.hasher = hasher or SecretHasher()
        self.limiter = limiter or FailureLimiter()
        self._clock = clock
        self._no_key = bytes(32)  # what an unknown tip's key is compared with, past the limit

    def enrol(self) -> Enrolment:
        secret = new_secret()
        return Enrolment(secret, self.hasher.hash(secret))

    def having(self, commitments: Iterable[bytes]) -> set[bytes]:
        return self.store.having(commitments)

    # -- the reporter ----------------------------------------------------------------------

    def authenticate(self, commitment: bytes, secret_text: str | None) -> Reporter:
        """The reporter of ``commitment`` if ``secret_text`` is its secret.

        A missing, malformed or wrong secret and an unknown tip all raise the same
        ``AuthenticationError`` (a well-formed secret after the same Argon2 work, known tip or
        not). Past the limiter's bounds (per tip, or over all tips) the secret is checked the
        cheap way instead: the right one still passes, a wrong one raises ``RateLimitedError``
        (whether the tip exists or not), so nobody can lock a reporter out. Malformed secrets
        are not counted: they cost no Argon2.
        """
        secret = parse_secret(secret_text)  # not counted: a malformed secret costs no Argon2
        wait = self.limiter.over(commitment)
        if wait is not None:
            return self._cheap_check(commitment, secret, wait)
        row = self.store.get(commitment)
        ok = self.hasher.verify(None if row is None else row.secret_hash, secret)
        if row is None or not ok:
            self.limiter.failed(commitment)
            raise AuthenticationError(UNAUTHENTICATED)
        key = reporter_key(secret, commitment)
        if public_bytes(key.public_key()) != row.reporter_key:  # a hash that verified: never
            raise AuthenticationError(UNAUTHENTICATED)
        return Reporter(commitment, key)

    def _cheap_check(self, commitment: bytes, secret: FollowUpSecret, wait: int) -> Reporter:
        """Past the limit: the secret checked against the stored reporter key (one HKDF and one
        X25519, no Argon2); the right one passes, a wrong one or an unknown tip gets 429."""
        row = self.store.get(commitment)
        key = reporter_key(secret, commitment)
        expected = row.reporter_key if row is not None else self._no_key
        if hmac.compare_digest(public_bytes(key.public_key()), expected) and row is not None:
            return Reporter(commitment, key)
        raise RateLimitedError(
            f"too many wrong follow-up secrets for this tip: try again in {wait} s", wait
        )

    def reporter_view(self, reporter: Reporter) -> dict[str, Any]:
        """What the reporter sees: anchored or not, the review from chain, the thread."""
        commitment = reporter.commitment
        messages = []
        for m in self.store.messages(commitment):
            text = open_message(
                reporter.private_key,
                m.to_reporter,
                commitment=commitment,
                message_id=m.id,
                sender=m.sender,
            )
            messages.append(message_view(m.id, m.sender, m.sent_at, text))
        return {
            "commitment": to_hex(commitment),
            "anchored": self.reader.is_anchored(commitment),
            "review": review_view(self.reviews.review_of(commitment)),
            "messages": messages,
        }

    def reporter_reply(self, reporter: Reporter, text: str) -> dict[str, Any]:
        """Seal the reporter's message to the desk and to the reporter; store only those."""
        message_id = new_message_id()

        def sealed(public_key: X25519PublicKey) -> bytes:
            return seal_message(
                public_key,
                commitment=reporter.commitment,
                message_id=message_id,
                sender=FROM_REPORTER,
                text=text,
            )

        message = StoredMessage(
            id=message_id,
            sender=FROM_REPORTER,
            sent_at=int(self._clock()),
            reviewer=None,
            to_reporter=sealed(reporter.private_key.public_key()),
            to_desk=sealed(X25519PublicKey.from_public_bytes(self._desk_raw(reporter.commitment))),
        )
        self.store.add_message(reporter.commitment, message)
        return {"id": to_hex(message.id), "sent_at": message.sent_at}

    def _desk_raw(self, commitment: bytes) -> bytes:
        """The key the desk copies of this tip's messages are sealed to."""
        case_key = self._case_keys(commitment)
        if case_key is not None:
            return case_key
        if self._legacy_desk is None:
            raise ConfigError(
                f"tip {to_hex(commitment)} is from before agencies and this service has no "
                "desk key to seal its messages to (TIPLEDGER_DESK_PUBLIC_KEY)"
            )
        return self._legacy_desk

    # -- the review desk -------------------------------------------------------------------

    def desk_thread(self, commitment: bytes) -> dict[str, Any]:
        """The thread as the desk gets it: the desk's sealed copies, to open at the desk."""
        row = self.store.get(commitment)
        if row is None:
            raise NotFoundError(f"tip {to_hex(commitment)} has no follow-up: none was asked for")
        return {
            "commitment": to_hex(commitment),
            "reporter_key": to_hex(row.reporter_key),
            "desk_key_id": key_id(self._desk_raw(commitment)).hex(),
            "messages": [
                {
                    "id": to_hex(m.id),
                    "from": sender_name(m.sender),
                    "sent_at": m.sent_at,
                    "reviewer": m.reviewer,
                    "sealed": m.to_desk,
                }
                for m in self.store.messages(commitment)
            ],
        }

    def desk_ask(
        self,
        commitment: bytes,
        *,
        reviewer: str,
        message_id: bytes,
        to_reporter: bytes,
        to_desk: bytes,
    ) -> dict[str, Any]:
        """Store a reviewer's question, sealed at the desk to the reporter and to the desk."""
        row = self.store.get(commitment)
        if row is None:
            raise NotFoundError(f"tip {to_hex(commitment)} has no follow-up: none was asked for")
        if len(message_id) != MESSAGE_ID_SIZE:
            raise ProtocolError(f"field 'id': a message id is {MESSAGE_ID_SIZE} bytes")
        check_message(to_reporter, row.reporter_key, "field 'to_reporter'")
        check_message(to_desk, self._desk_raw(commitment), "field 'to_desk'")
        message = StoredMessage(
            id=message_id,
            sender=FROM_REVIEWER,
            sent_at=int(self._clock()),
            reviewer=reviewer,
            to_reporter=to_reporter,
            to_desk=to_desk,
        )
        self.store.add_message(commitment, message)
        return {"id": to_hex(message_id), "sent_at": message.sent_at}
