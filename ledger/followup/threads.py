"""The service's side of follow-up threads: enrolling a tip, the reporter's view, the desk's.

Formats and the cryptography are ``ledger.followup.secrets``; rows are
``ledger.store.followups``. The methods here block (Argon2, the database, ``reviewOf`` on
chain): the API calls them off the event loop.

Two kinds of reporter: a version 1 secret (``tlf1_``, made here) opens the thread here, as it
always did; a version 2 token (``tlt2_``, from a secret made on the device) gets the reporter's
sealed copies and seals its answers itself. Which one a tip has is its row's; a credential of
the other kind fails like a wrong one. A version 3 tip (the reporter keeps a code,
``ledger.core.reporter_code``) is a version 2 tip found by its code's locator, whose view also
carries the tag that lets the device check the case key it seals answers to.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ledger.core.encoding import to_hex
from ledger.core.reporter_code import (
    CODE_ENROLMENT_VERSION,
    CodeEnrolment,
    code_enrolment_from_json,
    locator_from_text,
)
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
    TOKEN_PREFIX,
    UNAUTHENTICATED,
    DeviceEnrolment,
    FailureLimiter,
    FollowUpSecret,
    SecretHasher,
    check_message,
    enrolment_from_json,
    key_id,
    message_view,
    new_message_id,
    new_secret,
    open_message,
    parse_secret,
    parse_token,
    public_bytes,
    reporter_key,
    seal_message,
    sealed_message_view,
    sender_name,
    token_verifier,
)
from ledger.log.reader import LogReader
from ledger.store.followups import FollowUpStore, StoredMessage
from ledger.store.submissions import Companions

__all__ = ["NO_CODE", "CodeEnrolled", "DeviceEnrolled", "Enrolment", "FollowUps", "Reporter"]

NO_CODE = "no tip has this code"


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
class DeviceEnrolled:
    """A version 2 enrolment a device sent with its tip, checked, ready to be stored."""

    enrolment: DeviceEnrolment

    def rows(self, commitment: bytes) -> Companions:
        """The tip's ``follow_ups`` row: the reporter's public key and the token's verifier."""
        e = self.enrolment
        return FollowUpStore.device_companion_rows(commitment, e.verifier, e.reporter_key)


@dataclass(frozen=True)
class CodeEnrolled:
    """A version 3 enrolment (the reporter keeps a code), checked, ready to be stored."""

    enrolment: CodeEnrolment

    def rows(self, commitment: bytes) -> Companions:
        """Version 2's row with the locator (claimed: unique) and the case key tag."""
        e = self.enrolment
        return FollowUpStore.code_companion_rows(
            commitment, e.device.verifier, e.device.reporter_key, e.locator, e.case_key_tag
        )


@dataclass(frozen=True)
class Reporter:
    """A caller who showed a tip's follow-up credential.

    Version 1 (the secret): they hold its reporter key, for now, and the service with them.
    Version 2 (the token): the service has only the stored public key (``private_key`` None).
    """

    commitment: bytes
    private_key: X25519PrivateKey | None
    public_key: bytes = b""  # raw; for version 1 derived from ``private_key``
    case_key_tag: bytes | None = None  # version 3: the tag the device checks the case key by

    def __post_init__(self) -> None:
        if self.private_key is not None and not self.public_key:
            object.__setattr__(self, "public_key", public_bytes(self.private_key.public_key()))

    @property
    def version(self) -> int:
        if self.private_key is not None:
            return 1
        return 2 if self.case_key_tag is None else CODE_ENROLMENT_VERSION

    def __repr__(self) -> str:
        return f"Reporter({to_hex(self.commitment)}, v{self.version})"


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

    def enrol_from_device(self, enrolment: Mapping[str, Any]) -> DeviceEnrolled | CodeEnrolled:
        """A version 2 or 3 enrolment (the ``follow_up`` field of a sealed tip), checked: its
        version, a 32-byte reporter key and a 32-byte verifier, and for version 3 a locator and
        a 16-byte case key tag (``ProtocolError`` otherwise). Cheap: no hash is computed here,
        the device did that (the tag cannot be checked without the code: its size only)."""
        if isinstance(enrolment, Mapping) and enrolment.get("version") == CODE_ENROLMENT_VERSION:
            return CodeEnrolled(code_enrolment_from_json(enrolment))
        return DeviceEnrolled(enrolment_from_json(enrolment))

    def commitment_of(self, locator_text: str) -> bytes:
        """The commitment of the tip whose code begins with ``locator_text`` (public: it is in
        the log). ``ProtocolError`` for a malformed locator; ``NotFoundError`` for an unknown
        one, counted as a wrong follow-up token is (per locator and over all tips): past those
        bounds an unknown locator gets ``RateLimitedError`` and a known one still its tip."""
        locator = locator_from_text(locator_text)
        commitment = self.store.by_locator(locator)
        if commitment is not None:
            return commitment
        key = b"code:" + locator.encode("ascii")
        wait = self.limiter.over(key)
        if wait is not None:
            raise RateLimitedError(
                f"too many look-ups of unknown codes: try again in {wait} s", wait
            )
        self.limiter.failed(key)
        raise NotFoundError(NO_CODE)

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
        if secret_text is not None and secret_text.strip().startswith(TOKEN_PREFIX):
            return self._token_check(commitment, secret_text)
        secret = parse_secret(secret_text)  # not counted: a malformed secret costs no Argon2
        wait = self.limiter.over(commitment)
        if wait is not None:
            return self._cheap_check(commitment, secret, wait)
        row = self.store.get(commitment)
        if row is not None and row.version != 1:  # a device's tip: the same work, then no
            row = None
        ok = self.hasher.verify(None if row is None else row.secret_hash, secret)
        if row is None or not ok:
            self.limiter.failed(commitment)
            raise AuthenticationError(UNAUTHENTICATED)
        key = reporter_key(secret, commitment)
        if public_bytes(key.public_key()) != row.reporter_key:  # a hash that verified: never
            raise AuthenticationError(UNAUTHENTICATED)
        return Reporter(commitment, key)

    def _token_check(self, commitment: bytes, text: str) -> Reporter:
        """A version 2 token: SHA-256(T) compared in constant time with the stored verifier.

        The same one answer as a secret for a wrong token, an unknown tip or a tip of the other
        version; wrong tokens count in the same limiter, and past its bounds they get 429 while
        the right one still passes. (No Argon2 here: the verifier is cheap by design.)
        """
        token = parse_token(text)
        wait = self.limiter.over(commitment)
        row = self.store.get(commitment)
        expected = None if row is None else row.verifier
        ok = hmac.compare_digest(token_verifier(token), expected or self._no_key)
        if row is not None and expected is not None and ok:
            return Reporter(commitment, None, row.reporter_key, row.case_key_tag)
        if wait is not None:
            raise RateLimitedError(
                f"too many wrong follow-up secrets for this tip: try again in {wait} s", wait
            )
        self.limiter.failed(commitment)
        raise AuthenticationError(UNAUTHENTICATED)

    def _cheap_check(self, commitment: bytes, secret: FollowUpSecret, wait: int) -> Reporter:
        """Past the limit: the secret checked against the stored reporter key (one HKDF and one
        X25519, no Argon2); the right one passes, a wrong one or an unknown tip gets 429."""
        row = self.store.get(commitment)
        if row is not None and row.version != 1:
            row = None
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
        seal_to = self._seal_to(commitment)
        common = {
            "commitment": to_hex(commitment),
            "anchored": self.reader.is_anchored(commitment),
            "review": review_view(self.reviews.review_of(commitment)),
        }
        if reporter.private_key is None:  # version 2: the reporter's copies, opened on the device
            pin = (
                {}
                if reporter.case_key_tag is None
                else {"case_key_tag": to_hex(reporter.case_key_tag)}
            )
            return {
                **common,
                "version": reporter.version,
                "reporter_key_id": key_id(reporter.public_key).hex(),
                "seal_to": seal_to,
                **pin,
                "messages": [
                    sealed_message_view(m.id, m.sender, m.sent_at, m.to_reporter)
                    for m in self.store.messages(commitment)
                ],
            }
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
        # seal_to: so a device can seal a version 1 reporter's answers too, where the
        # service no longer seals answers sent in clear (Settings.server_sealing off)
        return {**common, "seal_to": seal_to, "messages": messages}

    def reporter_reply(self, reporter: Reporter, text: str) -> dict[str, Any]:
        """Seal the reporter's message to the desk and to the reporter; store only those.

        Version 1 only (the service holds the key only while a tlf1 secret is shown); whether
        the deployment allows it at all is for the caller (``Settings.server_sealing``).
        """
        if reporter.private_key is None:
            raise ProtocolError(
                "field 'text': this tip's follow-up secret was made on the device, so its answers "
                "are sealed there: send {id, to_reporter, to_desk}, never the text"
            )
        private_key = reporter.private_key
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
            to_reporter=sealed(private_key.public_key()),
            to_desk=sealed(X25519PublicKey.from_public_bytes(self._desk_raw(reporter.commitment))),
        )
        self.store.add_message(reporter.commitment, message)
        return {"id": to_hex(message.id), "sent_at": message.sent_at}

    def reporter_reply_sealed(
        self, reporter: Reporter, *, message_id: bytes, to_reporter: bytes, to_desk: bytes
    ) -> dict[str, Any]:
        """Store an answer the device sealed to the reporter's key and to the tip's desk key.

        Checked as a desk question is: a 16-byte id, each copy a version 1 message no longer
        than a message of ``MAX_TEXT`` characters, sealed to the stored reporter key and to the
        case key (or the legacy desk key) respectively. Whether it opens only the keys can tell.
        """
        commitment = reporter.commitment
        if len(message_id) != MESSAGE_ID_SIZE:
            raise ProtocolError(f"field 'id': a message id is {MESSAGE_ID_SIZE} bytes")
        check_message(to_reporter, reporter.public_key, "field 'to_reporter'")
        check_message(to_desk, self._desk_raw(commitment), "field 'to_desk'")
        message = StoredMessage(
            id=message_id,
            sender=FROM_REPORTER,
            sent_at=int(self._clock()),
            reviewer=None,
            to_reporter=to_reporter,
            to_desk=to_desk,
        )
        self.store.add_message(commitment, message)
        return {"id": to_hex(message_id), "sent_at": message.sent_at}

    def _seal_to(self, commitment: bytes) -> dict[str, str] | None:
        """The key a device seals the desk's copy of an answer to; None if there is none."""
        try:
            raw = self._desk_raw(commitment)
        except ConfigError:
            return None
        return {"key": to_hex(raw), "key_id": key_id(raw).hex()}

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
