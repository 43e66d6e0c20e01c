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
restart forgets none. Challenges are bounded twice: per source (``SourceLimiter``: in memory, under
a keyed hash of the client address, which is never stored) and in total (the store's cap on
outstanding nonces), so a flood neither fills the database nor slows the tips beside it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from ledger.auth import siwe
from ledger.auth.limits import SourceLimiter
from ledger.chain.contract import TipLedgerContract, role_id
from ledger.core.encoding import checksum_address
from ledger.core.names import CUSTODIAN_ROLE, REVIEWER_ROLE
from ledger.core.names import DEFAULT_ADMIN_ROLE as ADMIN_ROLE
from ledger.errors import AuthenticationError, PermissionDeniedError, RateLimitedError
from ledger.store.sessions import NONCE_SECONDS, Session, SessionStore

__all__ = [
    "ADMIN_ROLE",
    "CUSTODIAN_ROLE",
    "MEMBER",
    "REVIEWER_ROLE",
    "SIGN_IN_ROLES",
    "Challenge",
    "RoleCheck",
    "Session",
    "SignIn",
]

# Not a contract role: a current member of some agency (``membershipsOf``, PROTOCOL.md 16.2).
MEMBER = "AGENCY_MEMBER"
# An address may sign in if it holds any of these: each has privileged work in the service.
SIGN_IN_ROLES = (MEMBER, REVIEWER_ROLE, CUSTODIAN_ROLE, ADMIN_ROLE)

# While the store is full of outstanding nonces, ask it again at most this often.
FULL_RECHECK_SECONDS = 2.0

STATEMENT = "Sign in to the TipLedger desk. This request costs nothing and sends no transaction."


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
        contract = self._contract()
        if role == MEMBER:
            held = bool(contract.memberships_of(address))
        else:
            held = contract.has_role(role_id(role), address)
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
        challenges_per_source: int = 30,
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
        self.limiter = SourceLimiter(challenges_per_source)
        self._clock = clock
        # The store said it was full: (monotonic time to ask it again, when its oldest expires).
        self._full: tuple[float, float] = (0.0, 0.0)

    def admit(self, source: str | None) -> None:
        """May a client at ``source`` (its address: hashed, never kept) ask for a challenge?

        ``RateLimitedError`` past the per-source rate, or while the store has just said it holds
        its cap of outstanding nonces. Memory only, no I/O: the API asks on its event loop, so a
        flood of refusals costs neither a thread nor the database.
        """
        self.limiter.take(source, "sign-in challenges")
        now = time.monotonic()
        ask_again, free_at = self._full
        if now < ask_again:
            wait = math.ceil(free_at - now)
            raise RateLimitedError(f"too many sign-ins under way: try again in {wait} s", wait)

    def challenge(self) -> Challenge:
        """A fresh challenge (``admit`` first); ``RateLimitedError`` if the store is full."""
        now = time.monotonic()
        try:
            nonce, expires = self.store.issue_nonce(siwe.new_nonce())
        except RateLimitedError as exc:
            # A sign-in may free a slot before the oldest nonce expires: ask again soon.
            self._full = (now + min(exc.retry_after, FULL_RECHECK_SECONDS), now + exc.retry_after)
            raise
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
            roles = ", ".join(r for r in SIGN_IN_ROLES if r != MEMBER)
            raise PermissionDeniedError(
                f"{checked.address} is a member of no agency and holds none of {roles} on "
                f"chain {self.chain_id}: nothing here for it to sign in to"
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
            if role == MEMBER:
                raise PermissionDeniedError(
                    f"{session.address} is not a member of any agency on chain"
                )
            raise PermissionDeniedError(f"{session.address} does not hold {role} on chain")
        return session
