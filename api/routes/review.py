"""The review desk (``/v1/review``): signed-in members of an agency holding the case.

The service cannot read a tip: it serves the envelope sealed to the tip's case key, the
member's own grant of that key, the routing proof, the inclusion proof and the reviews from
chain; the member's machine opens and checks it. Questions to a reporter are sealed on the
member's machine too (to the reporter's follow-up key and to the case key): their text never
reaches the service. Decisions and referrals are not sent here: the member's own key records
them on chain (``recordReview``, ``refer``); a referral's grants for the receiving agency's
members follow here once the chain shows it.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict
from starlette.responses import Response

from api.auth import MemberDep
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
from ledger.core.agency import agency_slug
from ledger.core.encoding import from_hex, to_hex
from ledger.core.sealed import MAX_ATTACHMENTS
from ledger.desk.queries import MAX_PAGE
from ledger.errors import NotFoundError, ProtocolError
from ledger.followup.secrets import MESSAGE_ID_SIZE
from ledger.service import LedgerService
from ledger.store.submissions import Submission

router = APIRouter(tags=["review desk"])

AgencyQuery = Annotated[
    str | None,
    Query(
        description="The agency to act for (its id); needed only by a member of several.",
        examples=["intake"],
        json_schema_extra={"pattern": "^[a-z][a-z0-9-]{1,30}$"},
    ),
]

_ERRORS = error_responses(
    401,
    403,
    404,
    422,
    said={
        403: "The signed-in address is not a member of that agency, or the agency does not "
        "hold the case.",
        404: "No such tip, or no follow-up for it.",
    },
)
# The routes that take a body: one schema-valid body (up to 1000 grants) may exceed the limit.
_BODY_ERRORS = {**_ERRORS, **error_responses(413)}
_BASE64: JsonDict = {"pattern": BASE64}
# A case key grant (PROTOCOL.md 16.3): 89 bytes, version 0x01 first, so 120 base64 characters.
_GRANT: JsonDict = {"pattern": "^A[Q-Za-f][A-Za-z0-9+/]{117}=$"}
EXAMPLE_GRANT = base64.b64encode(b"\x01" + bytes.fromhex("0b1c2d3e4f5a6b7c") + bytes(80)).decode()
Grant = Annotated[str, Field(json_schema_extra=_GRANT)]
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


class RoutingModel(BaseModel):
    tree_size: int = Field(description="The anchor whose batch holds the tip.")
    index: int = Field(description="The tip's place in that batch.")
    salt: str = Field(description="The routing salt (0x hex, 32 bytes).")
    path: list[str] = Field(description="The inclusion path in the batch's routing tree.")


class DeskTip(BaseModel):
    """One tip for the desk: open ``envelope`` with the desk key, check it against the chain."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "commitment": EXAMPLE_COMMITMENT,
                    "received_at": 1764200000,
                    "envelope": "AQ3x…",
                    "agency": "intake",
                    "holders": ["intake"],
                    "case_key": "0x" + "5a" * 32,
                    "grant": EXAMPLE_GRANT,
                    "routing": {
                        "tree_size": 42,
                        "index": 0,
                        "salt": "0x" + "7c" * 32,
                        "path": ["0x" + "1d" * 32],
                    },
                    "status": "anchored",
                    "leaf_index": 41,
                    "promise": EXAMPLE_PROMISE,
                    "inclusion": EXAMPLE_INCLUSION,
                    "review": None,
                    "latest_review": None,
                    "follow_up": True,
                }
            ]
        }
    )

    commitment: str
    received_at: int
    envelope: str = Field(
        description="The tip sealed to its case key (base64, PROTOCOL.md 9 and 16.3)."
    )
    agency: str = Field(description="The agency the tip was routed to.")
    holders: list[str] = Field(description="The agencies holding the case now.")
    case_key: str | None = Field(
        description="The case public key (0x hex); null for a tip from before agencies, "
        "sealed straight to the old desk key."
    )
    grant: str | None = Field(
        description="This member's grant of the case private key (base64, 89 bytes); null "
        "if none was made for this member's key (ask a fellow member to re-grant)."
    )
    routing: RoutingModel | None = Field(
        description="The routing proof recordReview and refer take; null while pending."
    )
    status: str = Field(description="anchored or pending")
    leaf_index: int | None
    promise: PromiseModel | None
    inclusion: InclusionModel | None = Field(
        description="Against the latest anchored checkpoint; null while pending."
    )
    review: DeskReview | None = Field(description="The latest review by this agency.")
    latest_review: DeskReview | None = Field(description="The latest review by any agency.")
    follow_up: bool
    attachments: list[int] = Field(
        default_factory=list,
        description="The sealed size of each attachment sealed on the reporter's device, in "
        "the tip document's order: fetch each from `.../attachments/{position}` and open it "
        "with the case key (PROTOCOL.md 17.2).",
    )


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
    member: MemberDep,
    service: ServiceDep,
    agency: AgencyQuery = None,
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
    def read() -> dict[str, Any]:
        who = service.case_desk.member(member.address, agency)
        return service.review_desk.awaiting(
            who, after=after, limit=limit, under_review=under_review
        )

    page = await run_in_threadpool(read)
    return JSONBytes(page)


@router.get(
    "/v1/review/tips/{commitment}",
    response_model=DeskTip,
    summary="One tip, sealed",
    description="The envelope to open with the desk key, the inclusion proof against the latest "
    "anchored checkpoint (check it against the chain), and the review recorded on chain.",
    responses=_ERRORS,
)
async def desk_tip(
    commitment: CommitmentPath, member: MemberDep, service: ServiceDep, agency: AgencyQuery = None
) -> Any:
    entry = commitment_param(commitment)

    def read() -> dict[str, Any]:
        return service.review_desk.tip(entry, service.case_desk.member(member.address, agency))

    return JSONBytes(await run_in_threadpool(read))


@router.get(
    "/v1/review/tips/{commitment}/attachments/{position}",
    summary="One sealed attachment",
    description="The attachment at `position` in the tip document's list, as the reporter's "
    "device sealed it to the case key (PROTOCOL.md 17.2): open it with the case key, then check "
    "its SHA-256 and size against the document.",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "description": "The sealed stream.",
        },
        **_ERRORS,
    },
)
async def desk_attachment(
    commitment: CommitmentPath,
    position: Annotated[int, Path(ge=0, le=MAX_ATTACHMENTS - 1, examples=[0])],
    member: MemberDep,
    service: ServiceDep,
    agency: AgencyQuery = None,
) -> Response:
    entry = commitment_param(commitment)

    def read() -> bytes:
        who = service.case_desk.member(member.address, agency)
        return service.review_desk.attachment(entry, position, who)

    return Response(await run_in_threadpool(read), media_type="application/octet-stream")


@router.get(
    "/v1/review/tips/{commitment}/messages",
    response_model=DeskThread,
    summary="The follow-up thread",
    description="Every message, as the desk's sealed copy, and the reporter's key to seal "
    "questions to.",
    responses=_ERRORS,
)
async def thread(
    commitment: CommitmentPath, member: MemberDep, service: ServiceDep, agency: AgencyQuery = None
) -> Any:
    entry = commitment_param(commitment)

    def read() -> dict[str, Any]:
        _holding(service, entry, member.address, agency)
        return service.follow_ups.desk_thread(entry)

    data = await run_in_threadpool(read)
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
    responses=_BODY_ERRORS,
)
async def ask(
    commitment: CommitmentPath,
    body: AskRequest,
    member: MemberDep,
    service: ServiceDep,
    agency: AgencyQuery = None,
) -> Any:
    entry = commitment_param(commitment)
    try:
        message_id = from_hex(body.id, MESSAGE_ID_SIZE)
    except ProtocolError as exc:
        raise ProtocolError(f"field 'id': {exc}") from None

    def write() -> dict[str, Any]:
        _holding(service, entry, member.address, agency)
        return service.follow_ups.desk_ask(
            entry,
            reviewer=member.address,
            message_id=message_id,
            to_reporter=b64_field("to_reporter", body.to_reporter),
            to_desk=b64_field("to_desk", body.to_desk),
        )

    return JSONBytes(await run_in_threadpool(write), status_code=201)


class ReferralRequest(BaseModel):
    """A referral the chain already shows, and the case key granted to the receiving agency's
    members on the referring member's machine."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "tx_hash": "0x" + "ab" * 32,
                    "block_number": 57,
                    "grants": [EXAMPLE_GRANT],
                }
            ]
        },
    )

    tx_hash: str = Field(
        description="The refer() transaction (0x hex).",
        json_schema_extra={"pattern": "^0x[0-9a-fA-F]{64}$"},
    )
    block_number: int = Field(ge=0, description="The block that holds it.")
    grants: list[Grant] = Field(
        max_length=1000,
        description="One grant (base64, 89 bytes) per member of the receiving agency.",
    )


class GrantsRequest(BaseModel):
    """Grants a member made for fellow members of their agency (added after the tip came)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"grants": [EXAMPLE_GRANT]}]},
    )

    grants: list[Grant] = Field(min_length=1, max_length=1000)


class ReferralStored(BaseModel):
    commitment: str
    from_agency: str
    to_agency: str
    keep_access: bool
    grants: int


class GrantsStored(BaseModel):
    commitment: str
    agency: str
    grants: int


@router.post(
    "/v1/review/tips/{commitment}/referrals",
    status_code=201,
    response_model=ReferralStored,
    summary="Hand a referred case to its new agency",
    description="After refer() is mined: the service checks the Referred event in that "
    "transaction (this member, this agency), that every grant is for a member the chain lists "
    "for the receiving agency, and stores them; the receiving agency's members can then open "
    "the case and its thread.",
    responses=_BODY_ERRORS,
)
async def referral(
    commitment: CommitmentPath,
    body: ReferralRequest,
    member: MemberDep,
    service: ServiceDep,
    agency: AgencyQuery = None,
) -> Any:
    entry = commitment_param(commitment)
    tx_hash = from_hex(body.tx_hash, 32)
    grants = [b64_field(f"grants[{i}]", g) for i, g in enumerate(body.grants)]

    def write() -> dict[str, Any]:
        who = service.case_desk.member(member.address, agency)
        row = _case(service, entry)
        stored = service.case_desk.accept_referral(
            row, who, tx_hash=tx_hash, block_number=body.block_number, grants=grants
        )
        return {
            "commitment": to_hex(entry),
            "from_agency": agency_slug(stored.from_agency),
            "to_agency": agency_slug(stored.to_agency),
            "keep_access": stored.keep_access,
            "grants": len(grants),
        }

    return JSONBytes(await run_in_threadpool(write), status_code=201)


@router.post(
    "/v1/review/tips/{commitment}/grants",
    status_code=201,
    response_model=GrantsStored,
    summary="Grant a case to fellow members",
    description="Grants of the case key, made on a member's machine, for members of the same "
    "agency the chain lists now (for example one added after the tip came).",
    responses=_BODY_ERRORS,
)
async def grants(
    commitment: CommitmentPath,
    body: GrantsRequest,
    member: MemberDep,
    service: ServiceDep,
    agency: AgencyQuery = None,
) -> Any:
    entry = commitment_param(commitment)
    raw = [b64_field(f"grants[{i}]", g) for i, g in enumerate(body.grants)]

    def write() -> dict[str, Any]:
        who = service.case_desk.member(member.address, agency)
        count = service.case_desk.add_grants(_case(service, entry), who, raw)
        return {"commitment": to_hex(entry), "agency": agency_slug(who.agency), "grants": count}

    return JSONBytes(await run_in_threadpool(write), status_code=201)


def _case(service: LedgerService, commitment: bytes) -> Submission:
    row = service.reader.submissions.get(commitment)
    if row is None:
        raise NotFoundError(f"no tip with commitment {to_hex(commitment)}")
    return row


def _holding(service: LedgerService, commitment: bytes, address: str, agency: str | None) -> None:
    who = service.case_desk.member(address, agency)
    service.case_desk.require_holding(_case(service, commitment), who)
