"""The review desk (``/v1/review``): signed-in holders of REVIEWER_ROLE only.

The service cannot read a tip: it serves the envelope sealed to the desk's key, the inclusion
proof and the review status from chain; the reviewer's machine opens and checks it. Questions
to a reporter are sealed on the reviewer's machine too (to the reporter's follow-up key and to
the desk's key): their text never reaches the service. Decisions are not sent here at all: the
reviewer's own key records them on chain with ``recordReview``.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict
from starlette.responses import Response

from api.auth import ReviewerDep
from api.deps import ServiceDep
from api.models import (
    BASE64,
    EXAMPLE_COMMITMENT,
    EXAMPLE_INCLUSION,
    EXAMPLE_PROMISE,
    EXAMPLE_SIGNER,
    InclusionModel,
    PromiseModel,
)
from api.parsing import b64_field, commitment_param
from api.responses import JSONBytes, error_responses
from api.routes.tips import CommitmentPath
from ledger.core.encoding import from_hex
from ledger.desk.queries import MAX_PAGE
from ledger.errors import ProtocolError
from ledger.followup.secrets import MESSAGE_ID_SIZE

router = APIRouter(tags=["review desk"])

_ERRORS = error_responses(
    401,
    403,
    404,
    422,
    said={
        403: "The signed-in address lacks REVIEWER_ROLE.",
        404: "No such tip, or no follow-up for it.",
    },
)
_BASE64: JsonDict = {"pattern": BASE64}
EXAMPLE_CURSOR = "1764200000-" + EXAMPLE_COMMITMENT[2:]


class AwaitingTip(BaseModel):
    commitment: str
    received_at: int
    leaf_index: int | None
    anchored: bool
    status: str = Field(description="unreviewed, or under_review when asked for.")
    follow_up: bool = Field(description="Whether the reporter can be asked questions.")


class AwaitingPage(BaseModel):
    """Tips nobody has reviewed on chain yet, oldest first; continue from ``next``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tips": [
                        {
                            "commitment": EXAMPLE_COMMITMENT,
                            "received_at": 1764200000,
                            "leaf_index": 41,
                            "anchored": True,
                            "status": "unreviewed",
                            "follow_up": True,
                        }
                    ],
                    "next": None,
                }
            ]
        }
    )

    tips: list[AwaitingTip]
    next: str | None


class DeskReview(BaseModel):
    status: int
    status_name: str
    recorded_at: int
    reviewer: str


class DeskTip(BaseModel):
    """One tip for the desk: open ``envelope`` with the desk key, check it against the chain."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "commitment": EXAMPLE_COMMITMENT,
                    "received_at": 1764200000,
                    "envelope": "AQ3x…",
                    "status": "anchored",
                    "leaf_index": 41,
                    "promise": EXAMPLE_PROMISE,
                    "inclusion": EXAMPLE_INCLUSION,
                    "review": None,
                    "follow_up": True,
                }
            ]
        }
    )

    commitment: str
    received_at: int
    envelope: str = Field(
        description="The tip sealed to the review desk (base64, ledger.desk.envelope)."
    )
    status: str = Field(description="anchored or pending")
    leaf_index: int | None
    promise: PromiseModel | None
    inclusion: InclusionModel | None = Field(
        description="Against the latest anchored checkpoint; null while pending."
    )
    review: DeskReview | None
    follow_up: bool


class DeskMessage(BaseModel):
    id: str
    from_: str = Field(alias="from")
    sent_at: int
    reviewer: str | None
    sealed: str = Field(description="The desk's copy (base64): open it with the desk key.")


class DeskThread(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "commitment": EXAMPLE_COMMITMENT,
                    "reporter_key": "0x" + "4f" * 32,
                    "desk_key_id": "0b1c2d3e4f5a6b7c",
                    "messages": [
                        {
                            "id": "0x5f0e3c1a9b7d2e4f6a8c0b1d3e5f7a9c",
                            "from": "reviewer",
                            "sent_at": 1764300000,
                            "reviewer": EXAMPLE_SIGNER,
                            "sealed": "AQ3x…",
                        }
                    ],
                }
            ]
        }
    )

    commitment: str
    reporter_key: str = Field(description="The reporter's X25519 follow-up key (raw, 0x hex).")
    desk_key_id: str
    messages: list[DeskMessage]


class AskRequest(BaseModel):
    """A question sealed at the desk (``ledger.followup.secrets.seal_message``), both copies."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "0x5f0e3c1a9b7d2e4f6a8c0b1d3e5f7a9c",
                    "to_reporter": "AQ3xKzE0ZmYyMWE=",
                    "to_desk": "AQ9aMWZjYjc4MTA=",
                }
            ]
        },
    )

    # The patterns are what the route parses; that each copy opens is checked by the service.
    id: str = Field(
        description="16 random bytes, 0x hex, bound into both copies.",
        json_schema_extra={"pattern": "^0x[0-9a-fA-F]{32}$"},
    )
    to_reporter: str = Field(
        description="Sealed to the reporter's key (base64).", json_schema_extra=_BASE64
    )
    to_desk: str = Field(
        description="Sealed to the review desk's key (base64).", json_schema_extra=_BASE64
    )


class MessageSent(BaseModel):
    id: str
    sent_at: int


@router.get(
    "/v1/review/tips",
    response_model=AwaitingPage,
    summary="Tips awaiting review",
    description="Tips sealed to the desk that have no review recorded on chain (anchored or "
    "still pending), oldest first.",
    responses=_ERRORS,
)
async def awaiting(
    _reviewer: ReviewerDep,
    service: ServiceDep,
    after: Annotated[
        str | None,
        Query(
            description="`next` of the previous page.",
            examples=[EXAMPLE_CURSOR],
            json_schema_extra={"pattern": "^(?:[0-9]{1,19}-[0-9a-f]{64})?$"},  # _parse_cursor
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, examples=[100])] = 100,
    under_review: Annotated[
        bool,
        Query(description="Include tips whose status is still 'under review'.", examples=[True]),
    ] = False,
) -> Response:
    page = await run_in_threadpool(
        service.review_desk.awaiting, after=after, limit=limit, under_review=under_review
    )
    return JSONBytes(page)


@router.get(
    "/v1/review/tips/{commitment}",
    response_model=DeskTip,
    summary="One tip, sealed",
    description="The envelope to open with the desk key, the inclusion proof against the latest "
    "anchored checkpoint (check it against the chain), and the review recorded on chain.",
    responses=_ERRORS,
)
async def desk_tip(commitment: CommitmentPath, _reviewer: ReviewerDep, service: ServiceDep) -> Any:
    entry = commitment_param(commitment)
    return JSONBytes(await run_in_threadpool(service.review_desk.tip, entry))


@router.get(
    "/v1/review/tips/{commitment}/messages",
    response_model=DeskThread,
    summary="The follow-up thread",
    description="Every message, as the desk's sealed copy, and the reporter's key to seal "
    "questions to.",
    responses=_ERRORS,
)
async def thread(commitment: CommitmentPath, _reviewer: ReviewerDep, service: ServiceDep) -> Any:
    entry = commitment_param(commitment)
    data = await run_in_threadpool(service.follow_ups.desk_thread, entry)
    for message in data["messages"]:
        message["sealed"] = base64.b64encode(message["sealed"]).decode("ascii")
    return JSONBytes(data)


@router.post(
    "/v1/review/tips/{commitment}/messages",
    status_code=201,
    response_model=MessageSent,
    summary="Ask the reporter",
    description="A question sealed on the reviewer's machine to the reporter's follow-up key "
    "and to the desk key (the service checks which keys, and stores both copies).",
    responses=_ERRORS,
)
async def ask(
    commitment: CommitmentPath, body: AskRequest, reviewer: ReviewerDep, service: ServiceDep
) -> Any:
    entry = commitment_param(commitment)
    try:
        message_id = from_hex(body.id, MESSAGE_ID_SIZE)
    except ProtocolError as exc:
        raise ProtocolError(f"field 'id': {exc}") from None
    sent = await run_in_threadpool(
        lambda: service.follow_ups.desk_ask(
            entry,
            reviewer=reviewer.address,
            message_id=message_id,
            to_reporter=b64_field("to_reporter", body.to_reporter),
            to_desk=b64_field("to_desk", body.to_desk),
        )
    )
    return JSONBytes(sent, status_code=201)
