"""JSON responses rendered with orjson (bytes straight out, no model round trip)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from api.models import ErrorModel


class JSONBytes(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content)


# The one table of refusals in the OpenAPI document. A group of routes whose refusal means
# something narrower (whose role is missing, what is not found) says so with ``said``.
_SAID = {
    400: "A range that cannot be served (e.g. index not below size).",
    401: "No valid session: sign in (`/v1/auth/session`).",
    403: "The signed-in address lacks the role this needs on chain.",
    404: "Not known, or not anchored yet.",
    409: "Not now: a duplicate, the wrong stage, no custodian set, or no on-chain record yet.",
    413: "The request body is larger than the limit.",
    422: "Malformed input; `detail` says which field and why.",
    429: "Too many attempts just now; retry later.",
    502: "The chain answered with an error.",
    503: "The chain or the database is unavailable; retry later.",
}


def error_responses(
    *codes: int, said: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for refusals, each ``{"detail": "..."}`` (``said`` rewords some codes)."""
    wording = {**_SAID, **(said or {})}
    return {code: {"model": ErrorModel, "description": wording[code]} for code in codes}
