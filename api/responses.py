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
# What the HTTP edge (api.server) may answer to any request, before the app sees it.
_EDGE = {
    408: "The request head or body came too slowly (api.server).",
    431: "The request head is too large or has too many headers (api.server).",
    503: "The server is at its connection limit, or the chain or the database is unavailable.",
}


def error_responses(
    *codes: int, said: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for refusals, each ``{"detail": "..."}`` (``said`` rewords some codes)."""
    wording = {**_SAID, **(said or {})}
    return {code: {"model": ErrorModel, "description": wording[code]} for code in codes}


def conform_refusals(schema: dict[str, Any]) -> None:
    """Every 422 in the document as the API sends it: ``{"detail": "..."}``, not FastAPI's
    list of errors (``api.errors`` turns validation errors into one line); and on every
    operation the refusals of the HTTP edge, which any request may get."""
    error = {"$ref": "#/components/schemas/ErrorModel"}
    content = {"application/json": {"schema": error}}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            answer = responses.get("422")
            if answer is not None:
                answer["description"] = _SAID[422]
                answer["content"] = content
            for code, said in _EDGE.items():
                answer = responses.setdefault(str(code), {"description": said, "content": content})
                media = answer.get("content", {}).get("application/json", {})
                if media.get("schema", error) != error:  # e.g. /healthz's own 503
                    media["schema"] = {"anyOf": [media["schema"], error]}
    components = schema.get("components", {}).get("schemas", {})
    components.setdefault("ErrorModel", ErrorModel.model_json_schema())
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
