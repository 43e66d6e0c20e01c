"""``GET /v1/codes/{locator}``: the tip a reporter's code finds (PROTOCOL.md 17.8).

Public and thin: the locator (the code's first six symbols) is no secret, and what it finds, the
tip's commitment, is in the log anyway. Everything after goes through the follow-up routes by
commitment, with the token the device derives from the whole code.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api.deps import ServiceDep
from api.models import EXAMPLE_COMMITMENT
from api.responses import JSONBytes, error_responses
from ledger.core.encoding import to_hex
from ledger.core.reporter_code import ALPHABET, LOCATOR_SYMBOLS

router = APIRouter(tags=["follow-up"])

EXAMPLE_LOCATOR = "7KQM4T"
LOCATOR_PATTERN = f"^[{ALPHABET}]{{{LOCATOR_SYMBOLS}}}$"


class CodeTip(BaseModel):
    """The tip a code's locator finds."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"commitment": EXAMPLE_COMMITMENT}]})

    commitment: str = Field(description="The tip's commitment (0x + 64 hex digits).")


LocatorPath = Annotated[
    str,
    Path(
        description="The code's first six symbols, in capitals (Crockford base32: 0-9 and A-Z "
        "without I, L, O and U), as the device writes them after reading the code.",
        examples=[EXAMPLE_LOCATOR],
        # in the schema only: the route's own check refuses with one line
        json_schema_extra={"pattern": LOCATOR_PATTERN},
    ),
]


@router.get(
    "/v1/codes/{locator}",
    response_model=CodeTip,
    summary="Find the tip of a reporter's code",
    description=(
        "The commitment of the tip whose reporter's code begins with `locator` (the code's "
        "first six symbols; the rest never leaves the device). It says only that some tip has "
        "this locator, and that tip's commitment, which the log publishes anyway. Then follow "
        "up by commitment with `Authorization: Bearer tlt2_…`, the token derived from the "
        "whole code. Look-ups of unknown locators count like wrong follow-up tokens: past the "
        "same bounds they answer 429 with `Retry-After`, while a known locator still answers."
    ),
    responses=error_responses(
        404,
        422,
        429,
        said={
            404: "No tip has this code.",
            429: "Too many look-ups of unknown codes just now.",
        },
    ),
)
async def code_tip(locator: LocatorPath, service: ServiceDep) -> Response:
    commitment = await run_in_threadpool(service.follow_ups.commitment_of, locator)
    return JSONBytes({"commitment": to_hex(commitment)})
