"""``/docs``: the API's Swagger UI, from this origin only, under the reporter pages' headers.

The reporter pages keep a tip and its follow-up secret in this origin's sessionStorage, so no
page here may run a script from anywhere else. FastAPI's default ``/docs`` and ``/redoc`` load
Swagger UI, ReDoc and a web font from third-party CDNs and send no CSP; they are turned off
(``create_app``) and this page takes their place: the Swagger UI bundle vendored from npm by
``scripts/vendor_web.py`` (``/web/vendor/swagger-ui/``), started by a static script
(``/web/js/api-docs.js``: no inline code), under the pages' Content-Security-Policy. ReDoc is not
offered.

Swagger UI renders the operations' Markdown descriptions through React's ``innerHTML`` (after
DOMPurify), which Trusted Types would refuse: this page's policy is the pages' one without the
Trusted Types directives, and with ``connect-src 'self'`` only (it fetches ``/openapi.json`` and,
for "Try it out", this API).
"""

from __future__ import annotations

import html

from fastapi import FastAPI, Request
from starlette.responses import Response

from api.page_integrity import STATIC_PREFIX, with_integrity
from api.routes.pages import content_security_policy, security_headers

DOCS_PATH = "/docs"
SWAGGER = f"{STATIC_PREFIX}/vendor/swagger-ui"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<link rel="icon" type="image/png" href="{swagger}/favicon-32x32.png">
<link rel="stylesheet" href="{swagger}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi="{openapi}"></div>
<script src="{swagger}/swagger-ui-bundle.js"></script>
<script src="{static}/js/api-docs.js"></script>
</body>
</html>
"""


def docs_headers() -> dict[str, str]:
    return {
        **security_headers(content_security_policy(None, trusted_types=False)),
        "Cache-Control": "no-store",
    }


def mount_api_docs(app: FastAPI) -> None:
    """Serve ``/docs`` on ``app`` (its ``openapi_url`` must be set; the pages must be mounted
    for ``/web/...``)."""
    if app.openapi_url is None:
        raise ValueError("the API documentation page needs app.openapi_url")
    page = _PAGE.format(
        title=html.escape(f"{app.title} API", quote=True),
        swagger=SWAGGER,
        static=STATIC_PREFIX,
        openapi=html.escape(app.openapi_url, quote=True),
    )
    # The page's script and stylesheet carry Subresource Integrity, as every page's do.
    body = with_integrity(page, app.state.web_assets).encode("utf-8")
    headers = docs_headers()

    async def docs(_request: Request) -> Response:
        return Response(body, media_type="text/html; charset=utf-8", headers=headers)

    app.add_api_route(
        DOCS_PATH, docs, methods=["GET", "HEAD"], include_in_schema=False, name="api-docs"
    )
