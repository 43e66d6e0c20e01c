"""Signed-in sessions for reviewers, custodians and administrators (EIP-4361, roles on chain).

The flow: a client asks for a sign-in template (``challenge``: a fresh single-use nonce and the
domain, URI and chain it must sign for), fills in its address, signs the EIP-4361 text with
``personal_sign`` and sends it back (``sign_in``); ``ledger.auth.siwe.verify`` checks it, and the
address must hold at least one of the roles that have privileged work here. The answer is a
bearer token: 32 random bytes, of which the database keeps only the SHA-256, so a copy of the
database gives no usable session.

Roles are never stored. Every privileged request asks the contract (``RoleCheck``, cached for a
few seconds), so a role granted or revoked on chain takes effect without a restart, and a
session whose holder lost every role stops working at once.

Nonces and sessions live in the service's database, so several API instances share them and a
restart forgets none.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from ledger.auth import siwe
from ledger.chain.contract import TipLedgerContract, role_id
from ledger.core.encoding import checksum_address
from ledger.errors import AuthenticationError, PermissionDeniedError, StoreError
from ledger.store.schema import auth_nonces, auth_sessions

__all__ = [
    "ADMIN_ROLE",
    "CUSTODIAN_ROLE",
    "REVIEWER_ROLE",
    "SIGN_IN_ROLES",
    "Challenge",
    "RoleCheck",
    "Session",
    "SessionStore",
    "SignIn",
]

REVIEWER_ROLE = "REVIEWER_ROLE"
CUSTODIAN_ROLE = "CUSTODIAN_ROLE"
ADMIN_ROLE = "DEFAULT_ADMIN_ROLE"
# An address may sign in if it holds any of these: each has privileged work in the service.
SIGN_IN_ROLES = (REVIEWER_ROLE, CUSTODIAN_ROLE, ADMIN_ROLE)

STATEMENT = "Sign in to the TipLedger desk. This request costs nothing and sends no transaction."
NONCE_SECONDS = 600
TOKEN_PREFIX = "tls_"  # noqa: S105 - a marker that makes leaked tokens easy to find, not a secret


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True)
class Challenge:
    """What a client needs to write the EIP-4361 message it will sign."""

    scheme: str
    domain: str
    uri: str
    chain_id: int
    nonce: str
    statement: str
    issued_at: str
    expiration_time: str

    def message(self, address: str) -> siwe.SiweMessage:
        """The message for ``address`` with exactly these fields (what the CLI signs)."""
        return siwe.SiweMessage(
            scheme=self.scheme,
            domain=self.domain,
            address=checksum_address(address),
            statement=self.statement,
            uri=self.uri,
            chain_id=self.chain_id,
            nonce=self.nonce,
            issued_at=self.issued_at,
            expiration_time=self.expiration_time,
        )


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

    def issue_nonce(self, seconds: int = NONCE_SECONDS) -> tuple[str, int]:
        nonce = siwe.new_nonce()
        now = int(self._clock())
        with self._write() as conn:
            conn.execute(delete(auth_nonces).where(auth_nonces.c.expires_at <= now))
            conn.execute(insert(auth_nonces).values(nonce=nonce, expires_at=now + seconds))
        return nonce, now + seconds

    def consume_nonce(self, nonce: str) -> bool:
        """True exactly once for an issued, unexpired nonce (a DELETE that found its row)."""
        now = int(self._clock())
        with self._write() as conn:
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
        with self._write() as conn:
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
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(
                        auth_sessions.c.address,
                        auth_sessions.c.issued_at,
                        auth_sessions.c.expires_at,
                    ).where(auth_sessions.c.token_hash == token_hash(token))
                ).first()
        except SQLAlchemyError as exc:
            raise StoreError(f"reading the session failed: {exc.__class__.__name__}") from exc
        if row is None or int(row.expires_at) <= now:
            return None
        return Session(str(row.address), int(row.issued_at), int(row.expires_at))

    def revoke(self, token: str) -> bool:
        with self._write() as conn:
            deleted = conn.execute(
                delete(auth_sessions).where(auth_sessions.c.token_hash == token_hash(token))
            ).rowcount
        return deleted == 1

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"the session store failed: {exc.__class__.__name__}") from exc


class RoleCheck:
    """``hasRole`` on the contract, each answer kept for ``ttl`` seconds.

    Short enough that a revocation takes effect within seconds, long enough that a reviewer
    paging through tips does not cost one ``eth_call`` per request.
    """

    def __init__(
        self,
        contract: Callable[[], TipLedgerContract],
        ttl: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._contract = contract
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def has(self, role: str, address: str) -> bool:
        key = (role, address)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        held = self._contract().has_role(role_id(role), address)
        with self._lock:
            self._cache[key] = (now, held)
        return held

    def held(self, address: str, roles: Iterable[str] = SIGN_IN_ROLES) -> list[str]:
        return [role for role in roles if self.has(role, address)]


class SignIn:
    """The relying party: challenges, sign-in, and the role check of every privileged request."""

    def __init__(
        self,
        store: SessionStore,
        roles: RoleCheck,
        *,
        public_url: str,
        chain_id: int,
        session_seconds: int = 8 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"public_url must be an http(s) URL, got {public_url!r}")
        self.store = store
        self.roles = roles
        self.scheme = parts.scheme
        self.domain = parts.netloc
        self.uri = f"{parts.scheme}://{parts.netloc}"
        self.chain_id = chain_id
        self.session_seconds = session_seconds
        self._clock = clock

    def challenge(self) -> Challenge:
        nonce, expires = self.store.issue_nonce()
        now = self._clock()
        return Challenge(
            scheme=self.scheme,
            domain=self.domain,
            uri=self.uri,
            chain_id=self.chain_id,
            nonce=nonce,
            statement=STATEMENT,
            issued_at=siwe.format_timestamp(datetime.fromtimestamp(int(now), UTC)),
            expiration_time=siwe.format_timestamp(datetime.fromtimestamp(expires, UTC)),
        )

    def sign_in(self, message: str, signature: str) -> tuple[str, Session, list[str]]:
        """Check the signed message and the signer's roles; a new session's token.

        ``SignInError`` (401) for a message or signature that fails any EIP-4361 check,
        ``PermissionDeniedError`` (403) for a signer holding none of ``SIGN_IN_ROLES``.
        """
        checked = siwe.verify(
            message,
            signature,
            domain=self.domain,
            scheme=self.scheme,
            uri_prefix=self.uri,
            chain_id=self.chain_id,
            nonce_consumer=self.store.consume_nonce,
            now=datetime.fromtimestamp(self._clock(), UTC),
            max_age=timedelta(seconds=NONCE_SECONDS),
        )
        held = self.roles.held(checked.address)
        if not held:
            raise PermissionDeniedError(
                f"{checked.address} holds none of {', '.join(SIGN_IN_ROLES)} on chain "
                f"{self.chain_id}: nothing here for it to sign in to"
            )
        seconds = self.session_seconds
        expires = checked.expiration_time_value
        if expires is not None:
            seconds = max(1, min(seconds, int(expires.timestamp() - self._clock())))
        token, session = self.store.create(checked.address, seconds)
        return token, session, held

    def authenticate(self, token: str | None) -> Session:
        if not token:
            raise AuthenticationError("sign in first: send 'Authorization: Bearer <token>'")
        session = self.store.get(token)
        if session is None:
            raise AuthenticationError("the session is unknown or has expired: sign in again")
        return session

    def require(self, token: str | None, role: str) -> Session:
        """The session behind ``token`` if its address holds ``role`` on chain right now."""
        session = self.authenticate(token)
        if not self.roles.has(role, session.address):
            raise PermissionDeniedError(f"{session.address} does not hold {role} on chain")
        return session
