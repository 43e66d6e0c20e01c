"""``LedgerError`` and request-validation failures as HTTP answers: the only place that maps them.

Every refusal is JSON ``{"detail": "<one readable line>"}``. Bad input is always a 4xx: 400 for
a range that cannot be served, 404 for what does not exist (yet), 405 for a method the path lacks
(``Allow`` lists its methods; ``OPTIONS`` answers 204 with them), 413 for a body over the limit,
422 for anything malformed (a body that is not UTF-8 JSON too). A 5xx means the service or the
chain failed, never the request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Match

from ledger.auth.siwe import SignInError
from ledger.errors import (
    AuthenticationError,
    ChainError,
    ChainMismatchError,
    ChainUnavailableError,
    ConfigError,
    ConflictError,
    EnvelopeError,
    LedgerError,
    NotAnchoredError,
    NotFoundError,
    PermissionDeniedError,
    ProofError,
    ProtocolError,
    RateLimitedError,
    ReceiptError,
    StoreError,
)
from ledger.vault.errors import (
    NotEntitledError,
    UnknownVaultItemError,
    VaultConflictError,
    VaultError,
)

log = logging.getLogger("tipledger.api")


# Most specific class first: the first row whose classes match gives the status. The identity
# vault: not your record/request (403), no such item (404), not now (409: a duplicate, no
# custodian set, a disclosure not recorded on chain), malformed input (422).
_STATUSES: tuple[tuple[tuple[type[LedgerError], ...], int], ...] = (
    ((AuthenticationError, SignInError), 401),
    ((PermissionDeniedError, NotEntitledError), 403),
    ((UnknownVaultItemError,), 404),
    ((VaultConflictError, ConflictError), 409),
    ((VaultError,), 422),
    ((NotAnchoredError, NotFoundError), 404),
    ((RateLimitedError,), 429),
    ((ProofError,), 400),
    ((ReceiptError, ProtocolError, EnvelopeError), 422),
    ((ChainUnavailableError, ChainMismatchError, StoreError), 503),
    ((ChainError,), 502),
    ((ConfigError,), 500),
)


def status_for(exc: LedgerError) -> int:
    """The HTTP status for a ledger error (500 for one the table does not name)."""
    for classes, status in _STATUSES:
        if isinstance(exc, classes):
            return status
    return 500


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps({"detail": detail}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def ledger_error_answer(exc: LedgerError) -> tuple[int, str, dict[str, str] | None]:
    """Status, one-line detail and extra headers for a ledger error (logged if it is ours)."""
    status = status_for(exc)
    if status >= 500:
        # The service's own failure: say what failed (never anything about the request).
        log.warning("%s: %s", type(exc).__name__, exc)
        detail = str(exc) if status != 500 else "internal error: " + type(exc).__name__
    else:
        detail = str(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 429:  # every 429 says when to come back
        headers = {"Retry-After": str(getattr(exc, "retry_after", 1))}
    return status, detail.replace("\n", " "), headers


def _routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, inside included routers too (FastAPI keeps those as one route each)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from _routes(included.routes) if included is not None else (route,)


def log_unexpected(exc: BaseException) -> None:
    log.error("unexpected %s: %s", type(exc).__name__, exc, exc_info=exc)


async def _ledger_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LedgerError)
    return error_response(*ledger_error_answer(exc))


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, describe_validation(exc.errors()))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        return _method_answer(request, str(exc.detail))
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
        # FastAPI's "There was an error parsing the body" (a JSON body that is not UTF-8, say):
        # malformed input, so 422 like every other malformed body.
        why = "it is not UTF-8 text" if isinstance(exc.__cause__, UnicodeError) else "unreadable"
        return error_response(422, f"the request body is not valid JSON: {why}")
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return error_response(exc.status_code, detail, getattr(exc, "headers", None))


def _method_answer(request: Request, detail: str) -> Response:
    """OPTIONS: 204 with the path's methods; any other method the path lacks: 405 with them.

    Starlette's 405 names only the methods of the first route that matched the path, and each
    method of a path is a route of its own: ``Allow`` must list them all (RFC 9110 10.2.1).
    """
    methods: set[str] = set()
    for route in _routes(request.app.router.routes):
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= set(route_methods)
    allow = ", ".join(sorted(methods | {"OPTIONS"}))
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": allow})
    return error_response(405, f"{detail}: the path allows {allow}", {"Allow": allow})


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log_unexpected(exc)
    return error_response(500, "internal error")


def describe_validation(errors: Sequence[Any]) -> str:
    """FastAPI's validation errors as one line: ``query parameter 'size': ...``."""
    if not errors:
        return "invalid request"
    parts = []
    for err in list(errors)[:3]:
        loc = [str(p) for p in err.get("loc", ())]
        where = ""
        if loc and loc[0] in ("query", "path", "header", "cookie"):
            where = f"{loc[0]} parameter {'.'.join(loc[1:])!r}"
        elif loc and loc[0] == "body":
            where = f"body field {'.'.join(loc[1:])!r}" if len(loc) > 1 else "body"
        elif loc:
            where = ".".join(loc)
        message = str(err.get("msg", "invalid"))
        if "input" in err and err.get("type") != "missing":
            shown = repr(err["input"])
            message += f" (got {shown if len(shown) <= 40 else shown[:37] + '...'})"
        parts.append(f"{where}: {message}" if where else message)
    line = "; ".join(parts)
    if len(errors) > 3:
        line += f" (and {len(errors) - 3} more)"
    return line


def install(app: FastAPI) -> None:
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
