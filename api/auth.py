"""Who is calling: the bearer session of a signed-in reviewer, custodian or administrator.

``require_role(role)`` is a dependency for a privileged route: no or a bad token answers 401,
an address that does not hold ``role`` on chain right now answers 403 (``ledger.auth.sessions``).
Reporters never sign in: their routes take no session and set no cookie.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import ServiceDep
from ledger.auth.sessions import ADMIN_ROLE, CUSTODIAN_ROLE, MEMBER, REVIEWER_ROLE, Session
from ledger.errors import AuthenticationError

__all__ = [
    "AdminDep",
    "CustodianDep",
    "MemberDep",
    "ReviewerDep",
    "SessionDep",
    "bearer_token",
    "require_role",
]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def require_role(role: str) -> Callable[..., Awaitable[Session]]:
    """A dependency: the caller's session, if its address holds ``role`` on chain."""

    async def dependency(request: Request, service: ServiceDep) -> Session:
        token = bearer_token(request)
        # The role check may be an eth_call: off the event loop.
        return await run_in_threadpool(service.sessions.require, token, role)

    dependency.__name__ = f"require_{role.lower()}"
    return dependency


async def _any_session(request: Request, service: ServiceDep) -> Session:
    token = bearer_token(request)
    return await run_in_threadpool(service.sessions.authenticate, token)


SessionDep = Annotated[Session, Depends(_any_session)]
ReviewerDep = Annotated[Session, Depends(require_role(REVIEWER_ROLE))]
MemberDep = Annotated[Session, Depends(require_role(MEMBER))]
CustodianDep = Annotated[Session, Depends(require_role(CUSTODIAN_ROLE))]
AdminDep = Annotated[Session, Depends(require_role(ADMIN_ROLE))]
