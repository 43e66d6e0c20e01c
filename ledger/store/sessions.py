"""Desk sign-in state: single-use nonces and bearer sessions (the session kept only as its
SHA-256, so a copy of the database gives no usable session).

Outstanding nonces are capped (``max_open``): past it a challenge is refused until one is used
or the oldest expires, so a flood of challenges cannot grow the table without bound. The count
and the insert are one serialised transaction (SQLite's ``BEGIN IMMEDIATE``, a PostgreSQL
advisory lock), so instances sharing the database never overshoot it together.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, insert, select, text

from ledger.core.encoding import checksum_address
from ledger.errors import RateLimitedError
from ledger.store.database import connection, transaction
from ledger.store.schema import auth_nonces, auth_sessions

__all__ = [
    "MAX_OPEN_NONCES",
    "NONCE_SECONDS",
    "TOKEN_PREFIX",
    "Session",
    "SessionStore",
    "token_hash",
]

NONCE_SECONDS = 600
MAX_OPEN_NONCES = 10_000
_NONCE_LOCK = 0x7469706C6E6F6E63  # "tiplnonc": PostgreSQL advisory lock key for issuing nonces
TOKEN_PREFIX = "tls_"  # noqa: S105 - a marker that makes leaked tokens easy to find, not a secret


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True)
class Session:
    address: str
    issued_at: int
    expires_at: int


class SessionStore:
    """Nonces and sessions in the database (shared by every instance of the service)."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], float] = time.time,
        *,
        max_open: int = MAX_OPEN_NONCES,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self.max_open = max_open

    def issue_nonce(self, nonce: str, seconds: int = NONCE_SECONDS) -> tuple[str, int]:
        """Store ``nonce`` for ``seconds``; ``RateLimitedError`` if ``max_open`` are unused."""
        now = int(self._clock())
        with transaction(self.engine, "the session store") as conn:
            if conn.dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE serialises already
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _NONCE_LOCK})
            conn.execute(delete(auth_nonces).where(auth_nonces.c.expires_at <= now))
            open_count, oldest = conn.execute(
                select(func.count(), func.min(auth_nonces.c.expires_at)).select_from(auth_nonces)
            ).one()
            if open_count >= self.max_open:
                wait = max(1, int(oldest) - now)
                raise RateLimitedError(
                    f"too many sign-ins under way ({open_count:,}): try again in {wait} s", wait
                )
            conn.execute(insert(auth_nonces).values(nonce=nonce, expires_at=now + seconds))
        return nonce, now + seconds

    def open_nonces(self) -> int:
        """How many issued nonces are neither used nor expired."""
        now = int(self._clock())
        with connection(self.engine, "reading the session store") as conn:
            count = conn.execute(
                select(func.count()).select_from(auth_nonces).where(auth_nonces.c.expires_at > now)
            ).scalar_one()
        return int(count)

    def consume_nonce(self, nonce: str) -> bool:
        """True exactly once for an issued, unexpired nonce (a DELETE that found its row)."""
        now = int(self._clock())
        with transaction(self.engine, "the session store") as conn:
            deleted = conn.execute(
                delete(auth_nonces).where(
                    auth_nonces.c.nonce == nonce, auth_nonces.c.expires_at > now
                )
            ).rowcount
        return deleted == 1

    def create(self, address: str, seconds: int) -> tuple[str, Session]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = int(self._clock())
        session = Session(checksum_address(address), now, now + seconds)
        with transaction(self.engine, "the session store") as conn:
            conn.execute(delete(auth_sessions).where(auth_sessions.c.expires_at <= now))
            conn.execute(
                insert(auth_sessions).values(
                    token_hash=token_hash(token),
                    address=session.address,
                    issued_at=session.issued_at,
                    expires_at=session.expires_at,
                )
            )
        return token, session

    def get(self, token: str) -> Session | None:
        now = int(self._clock())
        with connection(self.engine, "reading the session") as conn:
            row = conn.execute(
                select(
                    auth_sessions.c.address,
                    auth_sessions.c.issued_at,
                    auth_sessions.c.expires_at,
                ).where(auth_sessions.c.token_hash == token_hash(token))
            ).first()
        if row is None or int(row.expires_at) <= now:
            return None
        return Session(str(row.address), int(row.issued_at), int(row.expires_at))

    def revoke(self, token: str) -> bool:
        with transaction(self.engine, "the session store") as conn:
            deleted = conn.execute(
                delete(auth_sessions).where(auth_sessions.c.token_hash == token_hash(token))
            ).rowcount
        return deleted == 1
