"""Follow-up threads in the database: the secret's hash, the reporter's key, sealed messages.

``secret_hash`` says what it holds by its form: an Argon2id PHC string (``$argon2id$…``) for a
secret the service made (version 1), ``sha256:`` and 64 hex digits for the verifier of a token a
device made (version 2, ``ledger.core.followup``). Neither form can be taken for the other. A
version 2 row with a ``locator`` is a code's (version 3, ``ledger.core.reporter_code``): the
locator finds the tip, ``case_key_tag`` pins its case key for the device.

The ``follow_ups`` row of a tip is written as a companion of the tip itself (in its own
transaction, only if the tip is new: ``companion_rows``). Messages are appended later, each as
two ciphertexts; nothing here can read them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ledger.errors import ProtocolError, StoreError
from ledger.store.database import connection
from ledger.store.schema import LOCATOR_TAKEN, follow_up_messages, follow_ups
from ledger.store.submissions import Companions

__all__ = ["LOCATOR_TAKEN", "VERIFIER_PREFIX", "FollowUpRow", "FollowUpStore", "StoredMessage"]

_IN_BATCH = 500
VERIFIER_PREFIX = "sha256:"  # a version 2 row: SHA-256 of the device's token, in hex
_POSITION_TRIES = 5  # concurrent appends to one thread (PostgreSQL) retry at the next position


@dataclass(frozen=True)
class FollowUpRow:
    commitment: bytes
    secret_hash: str  # Argon2id, PHC string form; or VERIFIER_PREFIX + hex (version 2)
    reporter_key: bytes  # raw X25519 public key, derived from the secret
    locator: str | None = None  # version 3: the code's first six symbols
    case_key_tag: bytes | None = None  # version 3: pins the case key (16 bytes)

    @property
    def version(self) -> int:
        """1: the service made the secret (Argon2id); 2: the device did (a token verifier);
        3: the device derived it from the reporter's code (a verifier and a locator)."""
        if not self.secret_hash.startswith(VERIFIER_PREFIX):
            return 1
        return 3 if self.locator is not None else 2

    @property
    def verifier(self) -> bytes | None:
        """SHA-256 of the token for a version 2 or 3 row; None for version 1."""
        if self.version == 1:
            return None
        try:
            return bytes.fromhex(self.secret_hash[len(VERIFIER_PREFIX) :])
        except ValueError:  # never written so: such a row authenticates nobody
            return None


@dataclass(frozen=True)
class StoredMessage:
    id: bytes  # 16 bytes, bound into both ciphertexts
    sender: int  # FOLLOW_UP_FROM_REVIEWER or FOLLOW_UP_FROM_REPORTER
    sent_at: int
    reviewer: str | None
    to_reporter: bytes
    to_desk: bytes


class FollowUpStore:
    """Reads through the read-only engine (one snapshot each), writes through the writer."""

    def __init__(self, engine: Engine, read_engine: Engine | None = None) -> None:
        self.engine = engine
        self.read_engine = read_engine or engine

    @staticmethod
    def companion_rows(
        commitment: bytes,
        secret_hash: str,
        reporter_key: bytes,
        locator: str | None = None,
        case_key_tag: bytes | None = None,
    ) -> Companions:
        # Every row names every column: a group commit inserts a batch's rows in one statement.
        return [
            (
                follow_ups,
                {
                    "commitment": commitment,
                    "secret_hash": secret_hash,
                    "reporter_key": reporter_key,
                    "locator": locator,
                    "case_key_tag": case_key_tag,
                },
            )
        ]

    @staticmethod
    def device_companion_rows(
        commitment: bytes, verifier: bytes, reporter_key: bytes
    ) -> Companions:
        """The ``follow_ups`` row of a version 2 enrolment: the token's verifier, marked so."""
        if len(verifier) != 32 or len(reporter_key) != 32:
            raise ProtocolError("a device's enrolment is a 32-byte key and a 32-byte verifier")
        return FollowUpStore.companion_rows(
            commitment, VERIFIER_PREFIX + verifier.hex(), reporter_key
        )

    @staticmethod
    def code_companion_rows(
        commitment: bytes, verifier: bytes, reporter_key: bytes, locator: str, case_key_tag: bytes
    ) -> Companions:
        """The ``follow_ups`` row of a version 3 enrolment (a code's): version 2's, with the
        locator (a claim: a new tip whose locator is taken is refused, ``LOCATOR_TAKEN``) and the
        case key tag."""
        if len(locator) != 6 or len(case_key_tag) != 16:
            raise ProtocolError("a code's enrolment has a 6-symbol locator and a 16-byte tag")
        (row,) = FollowUpStore.device_companion_rows(commitment, verifier, reporter_key)
        return [(row[0], {**row[1], "locator": locator, "case_key_tag": case_key_tag})]

    def get(self, commitment: bytes) -> FollowUpRow | None:
        t = follow_ups.c
        with connection(self.read_engine, "reading the follow-up") as conn:
            row = conn.execute(
                select(t.secret_hash, t.reporter_key, t.locator, t.case_key_tag).where(
                    t.commitment == commitment
                )
            ).first()
        if row is None:
            return None
        return FollowUpRow(
            commitment,
            str(row.secret_hash),
            bytes(row.reporter_key),
            None if row.locator is None else str(row.locator),
            None if row.case_key_tag is None else bytes(row.case_key_tag),
        )

    def by_locator(self, locator: str) -> bytes | None:
        """The commitment of the tip whose code begins with ``locator``, or None."""
        t = follow_ups.c
        with connection(self.read_engine, "reading the follow-up") as conn:
            found = conn.scalar(select(t.commitment).where(t.locator == locator))
        return None if found is None else bytes(found)

    def having(self, commitments: Iterable[bytes]) -> set[bytes]:
        """Those of ``commitments`` that have a follow-up."""
        wanted = list(dict.fromkeys(commitments))
        found: set[bytes] = set()
        with connection(self.read_engine, "reading the follow-ups") as conn:
            for i in range(0, len(wanted), _IN_BATCH):
                rows = conn.execute(
                    select(follow_ups.c.commitment).where(
                        follow_ups.c.commitment.in_(wanted[i : i + _IN_BATCH])
                    )
                ).scalars()
                found.update(bytes(c) for c in rows)
        return found

    def add_message(self, commitment: bytes, message: StoredMessage) -> None:
        """Append ``message`` to the thread of ``commitment`` (at the thread's next position)."""
        t = follow_up_messages.c
        for attempt in range(_POSITION_TRIES):
            try:
                with self.engine.begin() as conn:
                    if conn.scalar(select(t.commitment).where(t.id == message.id)) is not None:
                        raise ProtocolError(
                            f"message id 0x{message.id.hex()} is already used: make a fresh one"
                        )
                    last = conn.scalar(
                        select(func.max(t.position)).where(t.commitment == commitment)
                    )
                    conn.execute(
                        insert(follow_up_messages).values(
                            commitment=commitment,
                            position=0 if last is None else int(last) + 1,
                            id=message.id,
                            sender=message.sender,
                            sent_at=message.sent_at,
                            reviewer=message.reviewer,
                            to_reporter=message.to_reporter,
                            to_desk=message.to_desk,
                        )
                    )
                return
            except IntegrityError:
                # PostgreSQL: another message took this position (or this id) meanwhile
                if attempt == _POSITION_TRIES - 1:
                    raise ProtocolError(
                        f"message id 0x{message.id.hex()} could not be stored: try again"
                    ) from None
            except SQLAlchemyError as exc:
                raise StoreError(f"storing the message failed: {exc.__class__.__name__}") from exc

    def messages(self, commitment: bytes) -> list[StoredMessage]:
        t = follow_up_messages.c
        with connection(self.read_engine, "reading the messages") as conn:
            rows = conn.execute(
                select(t.id, t.sender, t.sent_at, t.reviewer, t.to_reporter, t.to_desk)
                .where(t.commitment == commitment)
                .order_by(t.position)
            ).all()
        return [
            StoredMessage(
                id=bytes(r.id),
                sender=int(r.sender),
                sent_at=int(r.sent_at),
                reviewer=None if r.reviewer is None else str(r.reviewer),
                to_reporter=bytes(r.to_reporter),
                to_desk=bytes(r.to_desk),
            )
            for r in rows
        ]
