"""``/log/tile/...``: the anchored log as static C2SP tiles (PROTOCOL.md section 18).

Hash tiles ``/log/tile/<L>/<N>[.p/<W>]`` and entry bundles ``/log/tile/entries/<N>[.p/<W>]``.
A tile never changes once it exists, so it is served as immutable with a strong ETag: any
mirror, CDN or browser cache can answer for the service, and verifiers ask it only which
256-entry tile holds their leaf. A tile not there yet (beyond the latest anchored checkpoint)
is a 404 that must not be cached, and so is a path that names no tile.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as FastApiPath
from starlette.responses import Response

from api.deps import ServiceDep
from api.errors import error_response, ledger_error_answer
from ledger.core.tiles import TileError, TileRef, parse_tile_path
from ledger.errors import LedgerError
from ledger.log.tiles import LogTiles

router = APIRouter(tags=["log"])

LOG_PREFIX = "/log"
IMMUTABLE = "public, max-age=31536000, immutable"
# Tiles are public and the same for everyone: any page (a mirror's too) may read them.
_COMMON = {"Access-Control-Allow-Origin": "*", "X-Content-Type-Options": "nosniff"}


@router.get(
    LOG_PREFIX + "/tile/{path:path}",
    summary="A log tile or entry bundle (C2SP tlog-tiles)",
    description=(
        "`tile/<L>/<N>[.p/<W>]`: 256 (or W) hashes of 32 bytes, level 0 the leaf hashes; "
        "`tile/entries/<N>[.p/<W>]`: each entry as a 2-byte length and the 32-byte commitment. "
        "N in groups of three digits, all but the last prefixed with `x`. Immutable; 404 "
        "beyond the latest anchored checkpoint."
    ),
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The tile body."},
        304: {"description": "Not modified (If-None-Match)."},
        404: {"description": "Not anchored yet, or not a canonical tile path."},
    },
)
def tile(
    path: Annotated[
        str,
        FastApiPath(
            description="The tile's path below `tile/`: `<L>/<N>[.p/<W>]` or "
            "`entries/<N>[.p/<W>]`, N in groups of three digits (`x001/x234/067`).",
            examples=["0/000", "1/x001/234.p/17", "entries/000.p/5"],
        ),
    ],
    request: Request,
    service: ServiceDep,
) -> Response:
    no_store = {**_COMMON, "Cache-Control": "no-store"}
    try:
        ref = parse_tile_path("tile/" + path)
    except TileError as exc:
        # 404, not 400: any path string is a valid request for a file that may not exist (a
        # static mirror answers the same), and only canonical paths name tiles.
        return error_response(404, f"not a tile path: {exc}", no_store)
    tiles = LogTiles(service.reader)
    try:
        body = tiles.tile(ref) if isinstance(ref, TileRef) else tiles.bundle(ref)
    except LedgerError as exc:
        status, detail, headers = ledger_error_answer(exc)
        return error_response(status, detail, {**(headers or {}), **no_store})
    etag = f'"{hashlib.sha256(body).hexdigest()}"'
    headers = {**_COMMON, "Cache-Control": IMMUTABLE, "ETag": etag}
    wanted = _etags(request.headers.get("if-none-match", ""))
    if etag in wanted or "*" in wanted:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/octet-stream", headers=headers)


# HEAD too (a mirror checks what it has), kept out of the schema: one operation per path.
router.add_api_route(
    LOG_PREFIX + "/tile/{path:path}", tile, methods=["HEAD"], include_in_schema=False
)


def _etags(header: str) -> set[str]:
    """The entity tags an If-None-Match lists (weak ones compare equal, RFC 9110 13.1.2)."""
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return tags
