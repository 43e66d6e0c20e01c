"""``POST /v1/tips`` as a bare ASGI handler in front of the whole framework, for throughput.

Submissions are the hot path (thousands a second, each a few hundred microseconds of real
work): the framework's middleware, routing and request objects would cost as much again. The
app's outermost layer sends a ``POST /v1/tips`` straight here and everything else on to the
framework. The handler does what the stack would: the body-size limit (413), the same
``accept_tip`` as the documented route, ``LedgerError`` mapped by ``api.errors`` alone, and no
5xx for bad input; it reads nothing about the client and logs nothing about the request.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import ledger_error_answer, log_unexpected
from api.middleware import BodyTooLargeError, answer_error, answer_json, declared_length_refusal
from api.middleware import read_body as read_limited_body
from api.routes.tips import accept_tip
from ledger.errors import LedgerError
from ledger.service import LedgerService

__all__ = ["SUBMIT_PATH", "FastSubmit"]

SUBMIT_PATH = "/v1/tips"


class FastSubmit:
    """Dispatches ``POST /v1/tips`` to ``accept_tip``; every other request to ``app``."""

    def __init__(self, app: ASGIApp, service: LedgerService, max_bytes: int) -> None:
        self.app = app
        self.service = service
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != SUBMIT_PATH
            or scope["method"] != "POST"
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        refusal = declared_length_refusal(scope, self.max_bytes)
        if refusal is not None:
            await answer_error(send, *refusal, close=True)
            return
        try:
            body = await read_limited_body(receive, self.max_bytes)
            answer = await accept_tip(_content_type(scope), body, self.service)
        except BodyTooLargeError as exc:
            await answer_error(send, 413, str(exc.detail), close=True)
        except LedgerError as exc:
            await answer_error(send, *ledger_error_answer(exc))
        except Exception as exc:  # never a traceback to the client, never a lost connection
            log_unexpected(exc)
            await answer_error(send, 500, "internal error")
        else:
            await answer_json(send, 202, orjson.dumps(answer))


def _content_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return str(value.decode("latin-1"))
    return ""
