"""A body-size limit enforced while the body streams in (pure ASGI, no buffering of its own).

A declared ``Content-Length`` over the limit is answered 413 at once, before any byte of the body
is read; a chunked body is counted as it arrives and refused with 413 the moment it passes the
limit. Nothing about the request is logged.

A client that goes away before its whole body has arrived makes Starlette raise
``ClientDisconnect`` wherever the body is read; it is caught here and logged as one line (no
traceback: nothing failed on our side, and no answer can be sent anyway). A warning, so that
it shows where the service's own INFO lines do not, and a client cutting requests off is seen.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("tipledger.api")


class BodyTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {limit:,} bytes")


def declared_length_refusal(scope: Scope, limit: int) -> tuple[int, str] | None:
    """(status, detail) if the declared Content-Length is invalid or over ``limit``."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = -1
            if declared < 0:
                return 400, "invalid Content-Length header"
            if declared > limit:
                return 413, BodyTooLargeError(limit).detail
            return None
    return None


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; ``BodyTooLargeError`` the moment it passes ``limit``."""
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise BodyTooLargeError(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        refusal = declared_length_refusal(scope, limit)
        if refusal is not None:
            await answer_error(send, *refusal, close=True)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except ClientDisconnect:
            # The route's template only: never who sent it, nor the path (it may name a tip).
            route = getattr(scope.get("route"), "path", "?")
            log.warning(
                "a client went away after %s bytes of its request body (%s %s): nothing answered",
                f"{received:,}",
                scope.get("method", "?"),
                route,
            )


class HtmlSecurityHeaders:
    """Every HTML answer carries the pages' security headers, whichever route made it.

    The pages and ``/docs`` set their own (a route's CSP is left as it is); any other HTML, now
    or added later, gets ``headers`` (the pages' strict set) instead of going out without a CSP.
    """

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                names = {name.lower() for name, _ in raw}
                html = any(
                    name.lower() == b"content-type" and value.lower().startswith(b"text/html")
                    for name, value in raw
                )
                if html and b"content-security-policy" not in names:
                    raw += [(name, value) for name, value in self.headers if name not in names]
                    message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_secured)


async def answer_json(
    send: Send,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    close: bool = False,
) -> None:
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        raw.append((b"connection", b"close"))
    for name, value in (headers or {}).items():
        raw.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def answer_error(
    send: Send,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    *,
    close: bool = False,
) -> None:
    await answer_json(send, status, orjson.dumps({"detail": detail}), headers, close=close)
