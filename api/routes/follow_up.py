"""The reporter's follow-up: review status, the desk's questions and answers, adding an identity.

No session and no cookie: a version 1 secret from the receipt goes in ``Authorization: Bearer
tlf1_…``; for a secret made on the device (``tlf2_``) the device sends only the token derived
from it (``Bearer tlt2_…``), never the secret, and then gets its messages sealed, opens them
itself and seals its answers itself. Never in a URL (proxies and histories keep those). A
missing or wrong credential and an unknown tip answer the same 401, so nobody learns which tips
exist.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api.auth import bearer_token
from api.deps import ServiceDep
from api.models import BASE64, EXAMPLE_COMMITMENT, IDENTITY_SCHEMA
from api.parsing import b64_field, commitment_param, identity_field, identity_kind
from api.responses import JSONBytes, error_responses
from api.routes.tips import CommitmentPath
from ledger.core.encoding import from_hex
from ledger.core.followup import MAX_TEXT, MESSAGE_ID_SIZE
from ledger.errors import ProtocolError
from ledger.followup.secrets import check_text
from ledger.followup.threads import Reporter
from ledger.service import LedgerService

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
EXAMPLE_SEALED = "AQ3xKzE0ZmYyMWE="  # a version 1 sealed message, base64 (shortened)
EXAMPLE_SEAL_TO = {"key": "0x" + "3b" * 32, "key_id": "9c1f0e2d4b6a8c7e"}


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
    text: str | None = Field(
        default=None, description="The message (version 1 secrets: opened by the service)."
    )
    sealed: str | None = Field(
        default=None,
        description="Version 2 (tlt2_ tokens): the reporter's sealed copy, base64, to open on "
        "the device with the reporter key (PROTOCOL.md, follow-up messages).",
    )


class SealToModel(BaseModel):
    key: str = Field(description="The raw X25519 public key (0x hex) to seal the desk's copy to.")
    key_id: str = Field(description="Its key id: 8 bytes, hex.")


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
    version: int | None = Field(
        default=None,
        description="2 for a secret made on the device (messages sealed), 3 for a reporter's "
        "code (the same, with `case_key_tag`).",
    )
    reporter_key_id: str | None = Field(
        default=None, description="Version 2: the key id the sealed copies are sealed to."
    )
    seal_to: SealToModel | None = Field(
        default=None,
        description="The tip's key (its case key, or the old desk key) an answer sealed on the "
        "device is sealed to for the desk; null if the service has none.",
    )
    case_key_tag: str | None = Field(
        default=None,
        description="Version 3: the 16-byte tag (0x hex) the device made from the code over the "
        "case key it sealed the tip to; it refuses a `seal_to` the tag does not check.",
    )
    messages: list[MessageModel]


def _one_of(*groups: tuple[str, ...], examples: list[dict[str, Any]]) -> Any:
    """A request schema that says which fields go together (each group, and nothing of the
    others), with its optional fields not nullable: what the route parses, said in the schema."""
    names = {name for group in groups for name in group}

    def edit(schema: dict[str, Any]) -> None:
        for prop in schema.get("properties", {}).values():
            options = prop.pop("anyOf", None)
            if options:
                prop.update(next(o for o in options if o.get("type") != "null"))
            prop.pop("default", None)
        schema["oneOf"] = [
            {
                "required": list(group),
                "not": {"anyOf": [{"required": [n]} for n in sorted(names - set(group))]},
            }
            for group in groups
        ]
        schema["examples"] = examples

    return edit


class MessageRequest(BaseModel):
    """An answer sealed on the device (``id``, ``to_reporter``, ``to_desk``), or in clear
    (``text``, version 1 secrets only, where the deployment still seals answers itself)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_one_of(
            ("id", "to_reporter", "to_desk"),
            ("text",),
            examples=[
                {
                    "id": EXAMPLE_MESSAGE["id"],
                    "to_reporter": EXAMPLE_SEALED,
                    "to_desk": EXAMPLE_SEALED,
                },
                {"text": "The office in Khon Kaen."},
            ],
        ),
    )

    # check_text: not blank (a character other than white space), at most MAX_TEXT.
    text: str | None = Field(
        default=None, max_length=MAX_TEXT, json_schema_extra={"pattern": "\\S"}
    )
    id: str | None = Field(
        default=None,
        description="A fresh message id, 16 bytes, 0x hex; bound into both copies.",
        json_schema_extra={"pattern": "^0x[0-9a-fA-F]{32}$"},
    )
    to_reporter: str | None = Field(
        default=None,
        description="Sealed to the reporter key (base64).",
        max_length=60_000,
        json_schema_extra={"pattern": BASE64},
    )
    to_desk: str | None = Field(
        default=None,
        description="Sealed to the view's seal_to key (base64).",
        max_length=60_000,
        json_schema_extra={"pattern": BASE64},
    )


class MessageSent(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": EXAMPLE_MESSAGE["id"], "sent_at": 1764300100}]}
    )

    id: str
    sent_at: int


class IdentityRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_one_of(
            ("record",),
            ("identity",),
            examples=[{"identity": {"name": "Somchai", "phone": "+66 …"}}],
        ),
    )

    identity: dict[str, Any] | None = Field(
        default=None,
        description="Who you are, as a JSON object, sealed by the service for the custodians "
        "(version 1 secrets only, where the deployment still seals identities itself).",
        json_schema_extra=IDENTITY_SCHEMA,
    )
    record: dict[str, Any] | None = Field(
        default=None,
        description="An identity record version 2 sealed on the device to the kind's current "
        "custodian set ('tipledger-identity-record/2'); the service never sees the identity.",
    )


# --- routes -----------------------------------------------------------------------------------


def _secret(request: Request) -> str | None:
    return bearer_token(request)


def _server_sealing(service: LedgerService) -> bool:
    return bool(getattr(service.settings, "server_sealing", False))


def _in_clear(service: LedgerService, reporter: Reporter, what: str, sealed: str) -> None:
    """Refuse (422) what arrives in clear unless a version 1 secret and the deployment allow it."""
    if reporter.version != 1:
        raise ProtocolError(
            f"this tip's follow-up secret was made on the device: {what} is sealed there and "
            f"sent as {sealed}, never in clear"
        )
    if not _server_sealing(service):
        raise ProtocolError(
            f"this service does not seal {what} sent in clear (TIPLEDGER_SERVER_SEALING is off): "
            f"the device must seal it and send {sealed}"
        )


@router.get(
    "/v1/tips/{commitment}/follow-up",
    response_model=FollowUpView,
    summary="Follow up on a tip",
    description="With the follow-up credential (`Authorization: Bearer tlf1_…` for a secret "
    "the service made, `tlt2_…` for the token of one made on the device): whether the tip is "
    "anchored, its review status read from the chain, and the thread with the review desk "
    "(version 2: each message sealed to the reporter key, to open on the device).",
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
    description="Sealed on the device to the reporter key and to the view's `seal_to` key, "
    "with a fresh id: `{id, to_reporter, to_desk}`; the service checks the version, sizes and "
    "key ids and stores both copies. `{text}` (sealed by the service) only for version 1 "
    "secrets where the deployment allows it.",
    responses=_ERRORS,
)
async def reply(
    commitment: CommitmentPath, body: MessageRequest, request: Request, service: ServiceDep
) -> Response:
    entry = commitment_param(commitment)
    secret = _secret(request)
    sealed_fields = (body.id, body.to_reporter, body.to_desk)
    if body.text is not None:
        if any(f is not None for f in sealed_fields):
            raise ProtocolError("send either the sealed answer (id, to_reporter, to_desk) or text")
        text = check_text(body.text)
    elif any(f is None for f in sealed_fields):
        raise ProtocolError("fields 'id', 'to_reporter' and 'to_desk' are required (base64)")
    else:
        try:
            message_id = from_hex(str(body.id), MESSAGE_ID_SIZE)
        except ProtocolError as exc:
            raise ProtocolError(f"field 'id': {exc}") from None
        to_reporter = b64_field("to_reporter", body.to_reporter)
        to_desk = b64_field("to_desk", body.to_desk)

    def send() -> dict[str, Any]:
        reporter = service.follow_ups.authenticate(entry, secret)
        if body.text is None:
            return service.follow_ups.reporter_reply_sealed(
                reporter, message_id=message_id, to_reporter=to_reporter, to_desk=to_desk
            )
        _in_clear(service, reporter, "an answer", "{id, to_reporter, to_desk}")
        return service.follow_ups.reporter_reply(reporter, text)

    return JSONBytes(await run_in_threadpool(send), status_code=201)


@router.post(
    "/v1/tips/{commitment}/identity",
    status_code=201,
    summary="Add your identity to a tip",
    description="For protection or as a witness: the identity is sealed on the device (an "
    "identity record version 2 in `record`): encrypted, its key split k-of-n among the "
    "custodians; neither the server nor any one custodian can read it. `identity` in clear "
    "(sealed by the service) only for version 1 secrets where the deployment allows it.",
    responses=_ERRORS,
)
async def add_identity(
    commitment: CommitmentPath, body: IdentityRequest, request: Request, service: ServiceDep
) -> Response:
    entry = commitment_param(commitment)
    secret = _secret(request)
    if (body.identity is None) == (body.record is None):
        raise ProtocolError("send either 'record' (sealed on the device) or 'identity'")
    record = body.record
    identity = identity_field(body.identity)
    kind = identity_kind(body.identity) if body.identity is not None else "reporter"
    if record is not None:
        kind = str(record.get("kind", "reporter"))

    def add() -> dict[str, Any]:
        reporter = service.follow_ups.authenticate(entry, secret)
        if record is not None:
            return service.vault.add_sealed_identity(entry, record, kind)
        _in_clear(service, reporter, "an identity", "'record' (an identity record version 2)")
        assert identity is not None
        return service.vault.add_identity(entry, identity, kind=kind)

    return JSONBytes(await run_in_threadpool(add), status_code=201)
