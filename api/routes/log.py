"""The log, for auditors: latest checkpoint, inclusion and consistency proofs, entries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from api.deps import ServiceDep
from api.models import CheckpointModel, EntriesModel, ProofModel
from api.responses import JSONBytes, error_responses
from ledger.core.encoding import to_hex
from ledger.errors import NotAnchoredError
from ledger.log.reader import ENTRIES_PAGE_LIMIT

router = APIRouter(prefix="/v1/log", tags=["log"])

MAX_INDEX = (1 << 64) - 1


def _int(description: str, example: int, least: int = 0) -> object:
    # A size below 1 is the reader's 400 (a range that cannot be served): the schema says so.
    extra = {"minimum": least} if least else None
    return Query(
        ge=0, le=MAX_INDEX, description=description, examples=[example], json_schema_extra=extra
    )


@router.get(
    "/checkpoint",
    response_model=CheckpointModel,
    summary="Latest anchored checkpoint",
    responses=error_responses(404),
)
def checkpoint(service: ServiceDep) -> Response:
    cp = service.checkpoint()
    if cp is None:
        raise NotAnchoredError("no checkpoint has been anchored yet")
    return JSONBytes(
        {
            "tree_size": cp.tree_size,
            "root_hash": to_hex(cp.root_hash),
            "anchor_tx": to_hex(cp.anchor_tx),
            "block_number": cp.block_number,
            "block_timestamp": cp.block_timestamp,
        }
    )


@router.get(
    "/proof/inclusion",
    response_model=ProofModel,
    summary="RFC 9162 inclusion proof",
    description="`PATH(index, D[size])`, for `0 <= index < size <= ` the latest anchored size.",
    responses=error_responses(400, 404, 422),
)
def inclusion_proof(
    service: ServiceDep,
    index: Annotated[int, _int("Leaf index.", 41)],
    size: Annotated[int, _int("Tree size (an anchored checkpoint's, or any smaller).", 64, 1)],
) -> Response:
    return JSONBytes({"proof": [to_hex(h) for h in service.reader.inclusion_proof(index, size)]})


@router.get(
    "/proof/consistency",
    response_model=ProofModel,
    summary="RFC 9162 consistency proof",
    description="`PROOF(first, D[second])`, for `0 < first <= second <= ` the latest anchored "
    "size.",
    responses=error_responses(400, 404, 422),
)
def consistency_proof(
    service: ServiceDep,
    first: Annotated[int, _int("The older tree size.", 32, 1)],
    second: Annotated[int, _int("The newer tree size.", 64)],
) -> Response:
    return JSONBytes(
        {"proof": [to_hex(h) for h in service.reader.consistency_proof(first, second)]}
    )


@router.get(
    "/entries",
    response_model=EntriesModel,
    summary="Log entries",
    description=(
        f"The anchored commitments from `start` up to, not including, `end`; at most "
        f"{ENTRIES_PAGE_LIMIT:,} per response: continue from `start` plus the number received."
    ),
    responses=error_responses(400, 422),
)
def entries(
    service: ServiceDep,
    start: Annotated[int, _int("First leaf index.", 0)],
    end: Annotated[int, _int("One past the last leaf index.", 64)],
) -> Response:
    return JSONBytes({"entries": [to_hex(c) for c in service.reader.entries(start, end)]})
