"""JSON responses rendered with orjson (bytes straight out, no model round trip)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONBytes(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return orjson.dumps(content)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for refusals, each ``{"detail": "..."}``."""
    from api.models import ErrorModel

    text = {
        400: "A range that cannot be served (e.g. index not below size).",
        404: "Not known, or not anchored yet.",
        413: "The request body is larger than the limit.",
        422: "Malformed input; `detail` says which field and why.",
        502: "The chain answered with an error.",
        503: "The chain or the database is unavailable; retry later.",
    }
    return {code: {"model": ErrorModel, "description": text[code]} for code in codes}
