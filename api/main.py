"""The FastAPI application: ``create_app(service)`` wires routes, errors and the body limit.

The app holds one ``LedgerService`` (``app.state.service``) and, by default, starts it when the
server starts and closes it (committing what is queued) when the server stops. Run it with
``tipledger serve``, or ``uvicorn_config(app, settings)`` for the settings that keep requests
anonymous: no access log, no proxy headers, no server header.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp

from api import errors
from api.fast_submit import FastSubmit
from api.middleware import BodySizeLimit, HtmlSecurityHeaders
from api.models import (
    SealedTipMultipart,
    SealedTipRequest,
    TipMultipart,
    TipRequest,
    VerifyRequest,
)
from api.responses import conform_refusals
from api.routes import (
    agencies,
    auth,
    codes,
    follow_up,
    health,
    log,
    review,
    tiles,
    tips,
    vault,
    verify,
)
from api.routes.api_docs import mount_api_docs
from api.routes.pages import content_security_policy, mount_pages, security_headers
from api.server import http_protocol
from ledger.config import Settings
from ledger.ops.metrics import metrics_registry
from ledger.service import LedgerService

DESCRIPTION = """\
Submit whistleblower tips and get receipts that prove, to anyone and forever, that a tip existed
no later than a given time. Tips are sealed to the review desk before storage; nothing about the
sender (address, user agent, arrival order finer than the second) is stored or logged.

Every refusal is `{"detail": "<one readable line>"}`: 4xx for bad input, 5xx only when the
service or the chain failed. The wire format is PROTOCOL.md (receipts: section 6).
"""


class TipLedgerAPI(FastAPI):
    """FastAPI with ``POST /v1/tips`` answered in front of the framework (``api.fast_submit``)."""

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return FastSubmit(stack, self.state.service, self.state.max_body_bytes)


def create_app(
    service: LedgerService,
    *,
    max_body_bytes: int | None = None,
    manage_lifecycle: bool = True,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            service.start()
        try:
            yield
        finally:
            if manage_lifecycle:
                service.close()

    app = TipLedgerAPI(
        title="TipLedger",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's own /docs and /redoc load scripts and fonts from CDNs without a CSP, on the
        # origin where reporters keep secrets: /docs is served from vendored files instead.
        docs_url=None,
        redoc_url=None,
        # No OpenTelemetry: its HTTP spans record client addresses and user agents, which must
        # never be kept for submissions (and it costs time on every request).
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        openapi_tags=[
            {"name": "tips", "description": "Submit tips and fetch their receipts."},
            {"name": "log", "description": "The anchored log, for auditors."},
            {"name": "verify", "description": "Verify a receipt against the chain."},
            {"name": "sign-in", "description": "Sign-In with Ethereum for the desk's roles."},
            {
                "name": "follow-up",
                "description": "The reporter's anonymous follow-up, with the secret from the "
                "receipt.",
            },
            {
                "name": "agencies",
                "description": "The agencies on this channel and their members' keys, from chain.",
            },
            {
                "name": "review desk",
                "description": "Members of an agency holding a case: open, review, refer.",
            },
            {
                "name": "identity vault",
                "description": "Identities under k-of-n custodians; disclosure only with a "
                "quorum recorded on chain.",
            },
            {"name": "operations", "description": "Health and metrics."},
        ],
    )
    app.state.service = service
    app.state.metrics = metrics_registry(service)
    errors.install(app)
    routers = (tips, follow_up, codes, log, tiles, verify, agencies, auth, review, vault, health)
    for module in routers:
        app.include_router(module.router)
    limit = max_body_bytes if max_body_bytes is not None else service.settings.max_body_bytes
    app.state.max_body_bytes = limit
    app.add_middleware(BodySizeLimit, max_bytes=limit)
    app.add_middleware(HtmlSecurityHeaders, headers=security_headers(content_security_policy(None)))
    deadlines = service.settings.deadline_policy  # what the transparency page measures against
    mount_pages(
        app,
        chain_rpc_url=service.settings.rpc_url or service.deployment.rpc_url,
        chain_id=service.chain_id,
        contract=service.contract_address,
        deploy_block=service.deployment.deploy_block,
        identity_available=service.vault.available,  # asked per request: sets can appear
        max_body_bytes=limit,
        deadline_days=(deadlines.ack_days, deadlines.outcome_days),
        log_url=service.settings.log_url or "/log",
    )
    mount_api_docs(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            # Bodies parsed by the routes themselves (for speed), described here.
            for model in (
                SealedTipRequest,
                SealedTipMultipart,
                TipRequest,
                TipMultipart,
                VerifyRequest,
            ):
                model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, sub in model_schema.pop("$defs", {}).items():
                    components.setdefault(name, sub)
                components[model.__name__] = model_schema
            conform_refusals(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


class _NoRequestMetadata(logging.Filter):
    """Drops every access-log record, and uvicorn's TRACE records (which name the client)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != "uvicorn.access" and record.levelno >= logging.DEBUG


_FILTER = _NoRequestMetadata()


def anonymize_server_logs() -> None:
    """Make uvicorn unable to log who sent a request, whatever handlers are added later.

    ``access_log=False`` only works while the access logger has no handler (uvicorn checks
    ``hasHandlers()``); a filter on the logger itself drops the records before any handler.
    """
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def uvicorn_config(app: FastAPI | str, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """Server settings that keep submitters anonymous: no access log (it would record client
    addresses and exact times), no X-Forwarded-For handling, no Server header; and the HTTP
    protocol of ``api.server``, which bounds request heads, their and the body's time, and
    connections."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,
        "proxy_headers": False,
        "server_header": False,
        "log_level": "info",
        "loop": "auto",
        "http": http_protocol(settings),
        "lifespan": "on",
        "timeout_graceful_shutdown": 10,
    }
    options.update(overrides)
    config = uvicorn.Config(app, **options)  # configures uvicorn's logging ...
    anonymize_server_logs()  # ... then this makes sure nothing about a client gets through
    return config
