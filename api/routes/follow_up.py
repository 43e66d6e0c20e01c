"""The reporter's follow-up: review status, the desk's questions and answers, adding an identity.

No session and no cookie: the follow-up secret from the receipt goes in
``Authorization: Bearer tlf1_…`` (never in a URL, which proxies and histories keep). A missing or
wrong secret and an unknown tip answer the same 401, so nobody learns which tips exist.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api.auth import bearer_token
from api.deps import ServiceDep
from api.models import EXAMPLE_COMMITMENT, IDENTITY_SCHEMA
from api.parsing import commitment_param, identity_field, identity_kind
from api.responses import JSONBytes, error_responses
from api.routes.tips import CommitmentPath
from ledger.core.followup import MAX_TEXT
from ledger.followup.secrets import check_text

router = APIRouter(tags=["follow-up"])

_ERRORS = error_responses(
    401,
    422,
    429,
    said={
        401: "No secret, a wrong one, or no such tip (one answer for all three).",
        429: "Too many wrong secrets for this tip just now.",
    },
)
EXAMPLE_MESSAGE: dict[str, Any] = {
    "id": "0x5f0e3c1a9b7d2e4f6a8c0b1d3e5f7a9c",
    "from": "reviewer",
    "sent_at": 1764300000,
    "text": "Which office issued invoice 4711?",
}


class ReviewModel(BaseModel):
    status: int = Field(description="1 under review ... 5 closed (PROTOCOL.md 4).")
    status_name: str = Field(
        description="under_review, substantiated, unsubstantiated, referred or closed."
    )
    recorded_at: int = Field(description="Block timestamp of the decision.")


class MessageModel(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_MESSAGE]})

    id: str
    from_: str = Field(alias="from", description="reviewer or reporter")
    sent_at: int
    text: str


class FollowUpView(BaseModel):
    """What the holder of a tip's follow-up secret sees."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "commitment": EXAMPLE_COMMITMENT,
                    "anchored": True,
                    "review": {
                        "status": 1,
                        "status_name": "under_review",
                        "recorded_at": 1764250000,
                    },
                    "messages": [EXAMPLE_MESSAGE],
                }
            ]
        }
    )

    commitment: str
    anchored: bool
    review: ReviewModel | None = Field(description="From reviewOf on chain; null if none yet.")
    messages: list[MessageModel]


class MessageRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"text": "The office in Khon Kaen."}]}
    )

    # check_text: not blank (a character other than white space), at most MAX_TEXT.
    text: str = Field(max_length=MAX_TEXT, json_schema_extra={"pattern": "\\S"})


class MessageSent(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": EXAMPLE_MESSAGE["id"], "sent_at": 1764300100}]}
    )

    id: str
    sent_at: int


class IdentityRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"identity": {"name": "Somchai", "phone": "+66 …"}}]},
    )

    identity: dict[str, Any] = Field(
        description="Who you are, as a JSON object: sealed at once for the custodians (k-of-n).",
        json_schema_extra=IDENTITY_SCHEMA,
    )


# --- routes -----------------------------------------------------------------------------------


def _secret(request: Request) -> str | None:
    return bearer_token(request)


@router.get(
    "/v1/tips/{commitment}/follow-up",
    response_model=FollowUpView,
    summary="Follow up on a tip",
    description="With the follow-up secret from the receipt (`Authorization: Bearer tlf1_…`): "
    "whether the tip is anchored, its review status read from the chain, and the thread with "
    "the review desk.",
    responses=_ERRORS,
)
async def follow_up(commitment: CommitmentPath, request: Request, service: ServiceDep) -> Response:
    entry = commitment_param(commitment)
    secret = _secret(request)

    def view() -> dict[str, Any]:
        reporter = service.follow_ups.authenticate(entry, secret)
        return service.follow_ups.reporter_view(reporter)

    return JSONBytes(await run_in_threadpool(view))


@router.post(
    "/v1/tips/{commitment}/follow-up/messages",
    status_code=201,
    response_model=MessageSent,
    summary="Answer the review desk",
    description="Sealed at once to the review desk's key (and to yours, so you can read it "
    "back); only the ciphertexts are stored.",
    responses=_ERRORS,
)
async def reply(
    commitment: CommitmentPath, body: MessageRequest, request: Request, service: ServiceDep
) -> Response:
    entry = commitment_param(commitment)
    secret = _secret(request)
    text = check_text(body.text)

    def send() -> dict[str, Any]:
        reporter = service.follow_ups.authenticate(entry, secret)
        return service.follow_ups.reporter_reply(reporter, text)

    return JSONBytes(await run_in_threadpool(send), status_code=201)


@router.post(
    "/v1/tips/{commitment}/identity",
    status_code=201,
    summary="Add your identity to a tip",
    description="For protection or as a witness: the identity is encrypted and its key split "
    "k-of-n among the custodians; neither the server nor any one custodian can read it.",
    responses=_ERRORS,
)
async def add_identity(
    commitment: CommitmentPath, body: IdentityRequest, request: Request, service: ServiceDep
) -> Response:
    entry = commitment_param(commitment)
    secret = _secret(request)
    identity = identity_field(body.identity)
    assert identity is not None
    kind = identity_kind(body.identity)

    def add() -> dict[str, Any]:
        service.follow_ups.authenticate(entry, secret)
        return service.vault.add_identity(entry, identity, kind=kind)

    return JSONBytes(await run_in_threadpool(add), status_code=201)
