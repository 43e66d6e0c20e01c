"""The log, for auditors: latest checkpoint, inclusion and consistency proofs, entries.

``/v1/log/arrivals`` is the one route here that is not public: each tip's arrival time, with the
service's signed promise over it, for oversight (a session whose address holds REVIEWER_ROLE,
CUSTODIAN_ROLE or DEFAULT_ADMIN_ROLE on chain). Published to everyone, the arrival times would
let a network observer link a reporter's connection time to their entry.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from api.auth import SessionDep
from api.deps import ServiceDep
from api.models import (
    EXAMPLE_SIGNATURE,
    EXAMPLE_SIGNER,
    CheckpointModel,
    EntriesModel,
    ProofModel,
)
from api.responses import JSONBytes, error_responses
from ledger.auth.sessions import ADMIN_ROLE, CUSTODIAN_ROLE, REVIEWER_ROLE
from ledger.core.encoding import checksum_address, to_hex
from ledger.errors import NotAnchoredError, PermissionDeniedError
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


# --- oversight: arrival times -------------------------------------------------------------------

OVERSIGHT_ROLES = (REVIEWER_ROLE, CUSTODIAN_ROLE, ADMIN_ROLE)
ARRIVALS_PAGE_LIMIT = 10_000


class ArrivalModel(BaseModel):
    leaf_index: int
    received_at: int
    signer: str
    signature: str


class ArrivalsModel(BaseModel):
    """Arrivals of the entries from ``start`` up to ``next`` (continue from ``next``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "arrivals": [
                        {
                            "leaf_index": 41,
                            "received_at": 1764200000,
                            "signer": EXAMPLE_SIGNER,
                            "signature": EXAMPLE_SIGNATURE,
                        }
                    ],
                    "next": 64,
                }
            ]
        }
    )

    arrivals: list[ArrivalModel]
    next: int


@router.get(
    "/arrivals",
    response_model=ArrivalsModel,
    summary="Arrival times with their signed promises (oversight)",
    description=(
        "For each anchored entry from `start` up to, not including, `end` that came through "
        "the API: its `received_at` and the service's EIP-712 `Promise` signature over "
        "(commitment, receivedAt), so the audit measures each tip's time to anchor and checks "
        "the signature before using it. Direct commitments have none. At most "
        f"{ARRIVALS_PAGE_LIMIT:,} per response: `next` is where to continue (`end` when done). "
        "Signed-in oversight only: REVIEWER_ROLE, CUSTODIAN_ROLE or DEFAULT_ADMIN_ROLE on chain."
    ),
    responses=error_responses(401, 403, 422),
)
def arrivals(
    session: SessionDep,
    service: ServiceDep,
    start: Annotated[int, _int("First leaf index.", 0)],
    end: Annotated[int, _int("One past the last leaf index.", 64)],
) -> Response:
    if not service.sessions.roles.held(session.address, OVERSIGHT_ROLES):
        raise PermissionDeniedError(
            f"{session.address} holds none of {', '.join(OVERSIGHT_ROLES)} on chain now"
        )
    cp = service.checkpoint()
    stop = min(end, cp.tree_size if cp is not None else 0)
    rows = service.submissions.promises(start, stop, ARRIVALS_PAGE_LIMIT) if start < stop else []
    # A full page may stop short of ``stop``: continue after its last entry.
    following = rows[-1][0] + 1 if len(rows) == ARRIVALS_PAGE_LIMIT else max(start, stop)
    return JSONBytes(
        {
            "arrivals": [
                {
                    "leaf_index": i,
                    "received_at": r,
                    "signer": checksum_address(signer),
                    "signature": to_hex(signature),
                }
                for i, r, signer, signature in rows
            ],
            "next": following,
        }
    )
