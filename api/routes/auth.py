"""Sign-In with Ethereum for reviewers, custodians and administrators (``/v1/auth``)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict
from starlette.responses import Response

from api.auth import SessionDep, bearer_token
from api.deps import ServiceDep
from api.models import EXAMPLE_SIGNER
from api.responses import JSONBytes, error_responses
from ledger.auth.sessions import SIGN_IN_ROLES
from ledger.errors import RateLimitedError

router = APIRouter(tags=["sign-in"])

# Seconds a refused challenge waits before its 429 goes out (a client told to wait loses nothing).
REFUSAL_DELAY = 1.0

_SAID = {
    401: "No valid session, or a sign-in that failed.",
    403: "The address holds none of the needed roles.",
}
_ERRORS = error_responses(401, 403, said=_SAID)

EXAMPLE_CHALLENGE: JsonDict = {
    "scheme": "http",
    "domain": "127.0.0.1:8000",
    "uri": "http://127.0.0.1:8000",
    "chain_id": 31337,
    "nonce": "Kx81uTq0Zb6pPzW3mE2cAa",
    "statement": "Sign in to the TipLedger desk. This request costs nothing and sends no "
    "transaction.",
    "issued_at": "2026-12-01T09:00:00Z",
    "expiration_time": "2026-12-01T09:10:00Z",
}


class ChallengeModel(BaseModel):
    """The fields of the EIP-4361 message to sign; add your address, sign with personal_sign."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_CHALLENGE]})

    scheme: str
    domain: str
    uri: str
    chain_id: int
    nonce: str = Field(description="Single use, valid until expiration_time.")
    statement: str
    issued_at: str
    expiration_time: str
    message_template: str = Field(
        description="The message text with '{address}' where the EIP-55 address goes."
    )


class SignInRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="The EIP-4361 message text, exactly as signed.")
    signature: str = Field(description="The EIP-191 signature, 0x + 130 hex digits.")


class SessionModel(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "tls_3q2+7w…",
                    "address": EXAMPLE_SIGNER,
                    "roles": ["REVIEWER_ROLE"],
                    "issued_at": 1764580800,
                    "expires_at": 1764609600,
                }
            ]
        }
    )

    token: str | None = Field(
        default=None, description="Send as 'Authorization: Bearer <token>' (only at sign-in)."
    )
    address: str
    roles: list[str] = Field(description="The roles the address holds on chain now.")
    issued_at: int
    expires_at: int


@router.post(
    "/v1/auth/challenge",
    response_model=ChallengeModel,
    summary="Start a sign-in",
    description="A fresh single-use nonce and the domain, URI and chain the EIP-4361 message "
    "must name. Only addresses holding " + ", ".join(SIGN_IN_ROLES) + " can complete it. "
    "Challenges are limited per client and in total (429 with `Retry-After`).",
    responses=error_responses(
        429, 503, said={429: "Too many challenges from this client, or sign-ins under way."}
    ),
)
async def challenge(request: Request, service: ServiceDep) -> Response:
    try:
        # The client's address only feeds the in-memory limiter's keyed hash; it is never kept.
        service.sessions.admit(request.client.host if request.client else None)
    except RateLimitedError:
        # Answered late: a client flooding one request after another then costs this service
        # next to nothing (an idle wait), where answering at once would let it spin the CPU.
        await asyncio.sleep(REFUSAL_DELAY)
        raise
    issued = await run_in_threadpool(service.sessions.challenge)
    body = asdict(issued)
    body["message_template"] = (
        issued.message("0x" + "00" * 20)
        .to_text()
        .replace("0x0000000000000000000000000000000000000000", "{address}", 1)
    )
    return JSONBytes(body)


@router.post(
    "/v1/auth/session",
    response_model=SessionModel,
    summary="Sign in",
    description="Checks the signed EIP-4361 message (domain, URI, chain id, single-use nonce, "
    "issued-at and expiry, signature) and the signer's roles on chain; answers a bearer token.",
    responses=error_responses(401, 403, 422, said=_SAID),
)
async def sign_in(body: SignInRequest, service: ServiceDep) -> Response:
    token, session, roles = await run_in_threadpool(
        service.sessions.sign_in, body.message, body.signature
    )
    return JSONBytes({"token": token, **asdict(session), "roles": roles})


@router.get(
    "/v1/auth/session",
    response_model=SessionModel,
    summary="Who am I",
    description="The session's address and the roles it holds on chain right now.",
    responses=_ERRORS,
)
async def whoami(session: SessionDep, service: ServiceDep) -> Response:
    roles = await run_in_threadpool(service.sessions.roles.held, session.address)
    return JSONBytes({"token": None, **asdict(session), "roles": roles})


@router.delete(
    "/v1/auth/session",
    status_code=204,
    summary="Sign out",
    responses=_ERRORS,
)
async def sign_out(request: Request, _session: SessionDep, service: ServiceDep) -> Response:
    token = bearer_token(request)
    assert token is not None  # the session dependency has checked it
    await run_in_threadpool(service.sessions.store.revoke, token)
    return Response(status_code=204)
