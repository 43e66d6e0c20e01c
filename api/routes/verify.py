"""``POST /v1/verify``: a receipt's verdict, computed by the same code as ``tipledger verify``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.deps import ServiceDep
from api.models import VerdictModel
from api.parsing import b64_field, json_object, reject_unknown
from api.responses import JSONBytes, error_responses
from ledger.core.receipt import Receipt
from ledger.errors import ProtocolError

router = APIRouter(tags=["verify"])

VERIFY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/VerifyRequest"}}},
    }
}


@router.post(
    "/v1/verify",
    response_model=VerdictModel,
    summary="Verify a receipt",
    description=(
        "Checks a receipt (and, if given, the document) against the chain, as PROTOCOL.md 7 "
        "says: 200 with the verdict whatever it is (`valid` false for an invalid or pending "
        "receipt); 422 only for a receipt that cannot be read, or that names a contract this "
        "chain does not have as a TipLedger (there is nothing here to check it against)."
    ),
    responses=error_responses(413, 422, 502, 503),
    openapi_extra=VERIFY_BODY,
)
async def verify(request: Request, service: ServiceDep) -> Response:
    data = json_object(await request.body())
    reject_unknown(data, ("receipt", "document"), "verify request")
    if "receipt" not in data:
        raise ProtocolError("field 'receipt' is required (the receipt as a JSON object)")
    raw = data["receipt"]
    receipt = Receipt.from_json(raw) if isinstance(raw, str) else Receipt.from_dict(raw)
    document = data.get("document")
    doc = None if document is None else b64_field("document", document, allow_empty=True)
    verdict = await run_in_threadpool(service.verify, receipt, doc)
    return JSONBytes(
        {
            "valid": verdict.ok,
            "pending": verdict.pending,
            "proven_time": verdict.proven_time,
            "summary": verdict.summary(),
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in verdict.checks],
            "warnings": list(verdict.warnings),
            "unchecked": list(verdict.unchecked),
        }
    )
