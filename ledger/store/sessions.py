"""Desk sign-in state: single-use nonces and bearer sessions (the session kept only as its
SHA-256, so a copy of the database gives no usable session)."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select

from ledger.core.encoding import checksum_address
from ledger.store.database import connection, transaction
from ledger.store.schema import auth_nonces, auth_sessions

__all__ = ["NONCE_SECONDS", "TOKEN_PREFIX", "Session", "SessionStore", "token_hash"]

NONCE_SECONDS = 600
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

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock

    def issue_nonce(self, nonce: str, seconds: int = NONCE_SECONDS) -> tuple[str, int]:
        now = int(self._clock())
        with transaction(self.engine, "the session store") as conn:
            conn.execute(delete(auth_nonces).where(auth_nonces.c.expires_at <= now))
            conn.execute(insert(auth_nonces).values(nonce=nonce, expires_at=now + seconds))
        return nonce, now + seconds

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
