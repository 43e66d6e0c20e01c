"""``POST /v1/tips`` and ``GET /v1/tips/{commitment}/receipt``."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from api.deps import ServiceDep
from api.models import EXAMPLE_COMMITMENT, EXAMPLE_SEALED_TIP, HEX32, ReceiptStatus, TipAccepted
from api.parsing import (
    NO_OPTIONS,
    TipOptions,
    author_field,
    b64_field,
    commitment_param,
    is_sealed_multipart,
    json_object,
    parse_multipart,
    reject_unknown,
    salt_field,
    sealed_from_parts,
    tip_from_parts,
    tip_options,
    tip_options_from_parts,
)
from api.responses import JSONBytes, error_responses
from ledger.core.attachment import check_stream_header
from ledger.core.encoding import to_hex
from ledger.core.sealed import SEALED_FORMAT, SealedTip
from ledger.errors import EnvelopeError, NotFoundError, ProtocolError
from ledger.log.intake import CompanionBuilder
from ledger.service import LedgerService
from ledger.store.attachments import AttachmentStore
from ledger.store.submissions import Companions

router = APIRouter(tags=["tips"])

_TIP_FIELDS = ("document", "salt", "author", "follow_up", "identity", "agency")

SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/SealedTipRequest"},
                        {"$ref": "#/components/schemas/TipRequest"},
                    ]
                },
                "examples": {
                    "sealed": {
                        "summary": "Sealed on the device (the default; PROTOCOL.md 17.1)",
                        "value": EXAMPLE_SEALED_TIP,
                    },
                    "text": {
                        "summary": "In clear, only with server sealing on: the service makes "
                        "the salt",
                        "value": {
                            "document": base64.b64encode(
                                b"Procurement fraud at office X, invoice 4711"
                            ).decode()
                        },
                    },
                    "client_salt": {
                        "summary": "In clear with the client's own salt and one-time author key",
                        "value": {
                            "document": base64.b64encode(
                                b"Procurement fraud at office X, invoice 4711"
                            ).decode(),
                            "salt": "0x" + "9c" * 32,
                            "author": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                        },
                    },
                },
            },
            "multipart/form-data": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/SealedTipMultipart"},
                        {"$ref": "#/components/schemas/TipMultipart"},
                    ]
                },
                "encoding": {
                    "files": {"contentType": "application/octet-stream"},
                    "attachment": {"contentType": "application/octet-stream"},
                    "tip": {"contentType": "application/json"},
                },
                "example": {"document": "Invoice 4711 was paid twice; orders attached."},
            },
        },
    }
}


@router.post(
    "/v1/tips",
    status_code=202,
    response_model=TipAccepted,
    summary="Submit a tip",
    description=(
        "Stores a tip sealed on the reporter's device (PROTOCOL.md 17: the envelope sealed to a "
        "fresh case key, granted to each member key the chain lists for the agency, and its "
        "sealed attachments as multipart parts) durably, nothing about the sender kept, and "
        "answers 202 with the commitment, the signed promise and the receipt's public part, "
        "whose `inclusion` is null until the entry is anchored (fetch it later from "
        "`GET /v1/tips/{commitment}/receipt`): the device adds its own salt, content digest "
        "and author. Grants that are not exactly one per member key the chain lists, or an "
        "envelope not sealed to the case key, are refused (422). A tip in clear is taken only "
        "where the deployment turned on `TIPLEDGER_SERVER_SEALING` (then the service seals it "
        "and its receipt is whole); otherwise 422. A commitment already known answers with its "
        "existing entry and promise."
    ),
    responses={
        202: {"description": "Accepted: stored durably and promised."},
        **error_responses(
            409,
            413,
            422,
            503,
            said={
                409: "An identity, and no custodian set for its role yet; or a code whose first "
                "six symbols another tip has (make a new code on the device and send again)."
            },
        ),
    },
    openapi_extra=SUBMIT_BODY,
)
async def submit_tip(request: Request, service: ServiceDep) -> Response:
    # What the app runs is api.fast_submit (the same accept_tip, without the framework's
    # layers); this route documents it and serves a request that reaches the router anyway.
    answer = await accept_tip(
        request.headers.get("content-type", ""), await request.body(), service
    )
    return JSONBytes(answer, status_code=202)


async def accept_tip(content_type: str, body: bytes, service: LedgerService) -> dict[str, Any]:
    """A tip from its request body: stored durably and promised; the 202 answer's JSON.

    A tip sealed on the device (PROTOCOL.md 17) is the default; a tip in clear only where the
    deployment turned ``server_sealing`` on.
    """
    built: bytes | None = None
    options = NO_OPTIONS
    if content_type.startswith("multipart/form-data"):
        parts = parse_multipart(body, content_type)
        if is_sealed_multipart(parts):
            return await accept_sealed(service, *sealed_from_parts(parts))
        _plaintext_allowed(service)
        parts, options = tip_options_from_parts(parts)
        document, salt, author = tip_from_parts(parts)
        built = document
    elif content_type and not _is_json(content_type):
        raise ProtocolError(
            f"unsupported Content-Type {content_type.split(';')[0]!r}: send application/json "
            "or multipart/form-data"
        )
    else:
        data = json_object(body)
        if "format" in data or "envelope" in data:
            return await accept_sealed(service, SealedTip.from_json(data), [])
        _plaintext_allowed(service)
        reject_unknown(data, _TIP_FIELDS, "tip")
        if "document" not in data:
            raise ProtocolError("field 'document' is required (the tip, base64)")
        document = b64_field("document", data["document"])
        salt = salt_field(data.get("salt"))
        author = author_field(data.get("author"))
        options = tip_options(data)
    if options.any:
        answer = await _accept_with_options(service, document, salt, author, options)
    else:  # the common case, kept as cheap as it ever was
        accepted = await service.submit(document, salt, author, agency=options.agency)
        answer = service.receipts.accepted_answer(accepted)
    if built is not None:
        answer["document"] = base64.b64encode(built).decode("ascii")
    return answer


async def accept_sealed(
    service: LedgerService, tip: SealedTip, streams: Sequence[bytes]
) -> dict[str, Any]:
    """A tip sealed on the device with its sealed attachments: checked, stored, promised.

    What rides with it (the follow-up enrolment, the identity record, the attachments) is
    checked before the tip is submitted and stored in its transaction only if it is new.
    """
    for i, stream in enumerate(streams):
        try:
            check_stream_header(stream, tip.case_key_id)
        except EnvelopeError as exc:
            raise EnvelopeError(f"attachment {i}: {exc}") from None
    enrolment = None
    if tip.follow_up is not None:
        # A code's locator taken by another tip is refused (409) in the tip's own transaction.
        enrolment = service.follow_ups.enrol_from_device(tip.follow_up)
    identity = None
    if tip.identity is not None:
        record = tip.identity
        identity = await run_in_threadpool(
            service.vault.accept_sealed_identity, record, record.get("kind", "reporter")
        )

    companions = _with_tip(
        None if enrolment is None else enrolment.rows,
        None if identity is None else identity.rows,
        lambda commitment: AttachmentStore.companion_rows(commitment, streams),
    )
    accepted = await service.submit_sealed(tip, companions)
    return service.receipts.accepted_answer(
        accepted, identity=identity.summary() if identity is not None and accepted.new else None
    )


def _with_tip(*makers: Callable[[bytes], Companions] | None) -> CompanionBuilder:
    """The rows stored with a new tip, in its transaction: each maker's, for its commitment."""
    chosen = [make for make in makers if make is not None]

    def companions(commitment: bytes) -> Companions:
        return [row for make in chosen for row in make(commitment)]

    return companions


def _plaintext_allowed(service: LedgerService) -> None:
    if not service.settings.server_sealing:
        raise ProtocolError(
            "this service takes only tips sealed on the sender's device (a JSON object with "
            f'"format": "{SEALED_FORMAT}", PROTOCOL.md 17); sealing tips sent in clear is '
            "off here (TIPLEDGER_SERVER_SEALING)"
        )


async def _accept_with_options(
    service: LedgerService,
    document: bytes,
    salt: bytes | None,
    author: bytes | None,
    options: TipOptions,
) -> dict[str, Any]:
    """A tip with a follow-up secret and/or a sealed identity, stored in the tip's transaction.

    Argon2 and the identity's sealing run off the event loop, before the tip is submitted; what
    they make is stored only if the tip is new (a commitment already known gets nulls).
    """
    enrolment = await run_in_threadpool(service.follow_ups.enrol) if options.follow_up else None
    identity = None
    if options.identity is not None:
        identity = await run_in_threadpool(
            service.vault.prepare_identity, options.identity, options.identity_kind
        )

    companions = _with_tip(
        None if enrolment is None else enrolment.rows,
        None if identity is None else identity.rows,
    )
    accepted = await service.submit(document, salt, author, companions, options.agency)
    return service.receipts.accepted_answer(
        accepted,
        follow_up_secret=enrolment.secret.text if enrolment is not None and accepted.new else None,
        identity=identity.summary() if identity is not None and accepted.new else None,
    )


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


CommitmentPath = Annotated[
    str,
    Path(
        description="The tip's commitment, 0x + 64 hex digits.",
        examples=[EXAMPLE_COMMITMENT],
        json_schema_extra={"pattern": HEX32},  # in the schema only: commitment_param refuses
    ),
]


@router.get(
    "/v1/tips/{commitment}/receipt",
    response_model=ReceiptStatus,
    summary="Fetch a tip's inclusion",
    description=(
        "200 with the inclusion proof once the entry is anchored (against the latest "
        "checkpoint), 202 while it is pending, 404 if the commitment is unknown. The salt, "
        "content digest and author are not here (the service cannot read them): merge this "
        "into the receipt from `POST /v1/tips`."
    ),
    responses={
        202: {"model": ReceiptStatus, "description": "Accepted but not anchored yet."},
        **error_responses(404, 422),
    },
)
def tip_receipt(commitment: CommitmentPath, service: ServiceDep) -> Response:
    status = service.reader.tip_status(commitment_param(commitment))
    if status.status == "unknown":
        raise NotFoundError(f"no tip with commitment {to_hex(status.commitment)}")
    return JSONBytes(
        service.receipts.status_view(status),
        status_code=200 if status.status == "anchored" else 202,
    )
