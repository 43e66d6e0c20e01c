"""The reporter web pages: submit a tip, keep the receipt, check its status, verify it.

``mount_pages(app, chain_rpc_url=..., chain_id=..., contract=...)`` serves

- ``/`` (submit), ``/receipt``, ``/status``, ``/verify`` and ``/transparency`` (how fast each
  agency acts, worked out in the browser from the chain's events, against the deployment's
  deadlines), Thai by default, ``?lang=en`` for English (``<html lang>`` follows; the pages also
  switch in place without a reload);
- ``/web/...``: the pages' CSS, JavaScript modules, vendored libraries and i18n texts;
- ``/web-assets.json``: every file under ``/web/`` with its SHA-256 and its integrity, and the
  pages' digest over them (what ``tipledger pages digest --api`` compares with a release);
- ``/web-config.json``: the chain id, contract address, a suggested JSON-RPC URL (the verify
  page reads the chain straight from it) and which optional features the service offers, worked
  out on every request (a custodian set can be registered while the service runs)::

      "features": {"follow_up": true, "identity": {"reporter": true, "witness": false}}

  ``follow_up`` is true when this app routes the reporter follow-up API; ``identity`` says, per
  record kind, whether an identity of that kind can be sealed now (a custodian set exists).

The pages build the tip document, make the salt and compute the commitment in the browser, and
verify receipts in the browser against the chain. Every response from here carries a strict
Content-Security-Policy (scripts only from this origin, no inline code, Trusted Types, no
framing), ``Referrer-Policy: no-referrer``, ``X-Content-Type-Options: nosniff`` and a
Permissions-Policy that turns off every powerful feature; nothing here sets a cookie.

The page code a reporter runs is the code released, as far as a browser can hold a server to it:
every ``<script src>`` and ``<link rel=stylesheet>`` carries Subresource Integrity, and every page
holds one import map (inline, allowed by its hash in ``script-src``, nothing else inline) giving
the integrity of every JavaScript file served, so a module fetched by ``import`` is checked too
and a file altered after the service started, or on the way, is refused by the browser. The
hashes come from the bytes loaded at start, the same bytes served.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from api.assets import StaticAssets, make_asset, send
from api.page_integrity import STATIC_PREFIX, import_map, script_hash, with_integrity

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
STATIC_DIR = WEB_ROOT / "static"
TEMPLATES_DIR = WEB_ROOT / "templates"
I18N_DIR = STATIC_DIR / "i18n"
ASSETS_PATH = "/web-assets.json"  # the files under STATIC_PREFIX, their hashes, the digest

LANGUAGES = ("th", "en")
DEFAULT_LANGUAGE = "th"
LANGUAGE_NAMES = {"th": "ไทย", "en": "English"}

# path -> template
PAGES: dict[str, str] = {
    "/": "submit.html",
    "/receipt": "receipt.html",
    "/status": "status.html",
    "/verify": "verify.html",
    "/transparency": "transparency.html",
}
VERIFY_PATH = "/verify"
# Pages that read the chain from a node the user may choose (any https one, or their own).
ANY_RPC_PATHS = frozenset({VERIFY_PATH, "/transparency"})
# Days an agency has to first respond to a tip and to reach an outcome, unless the deployment
# sets its own (ledger.audit.deadlines: the "th" preset).
DEFAULT_DEADLINE_DAYS = (15.0, 90.0)

# The record kinds an identity can be given as (the submit page's "I am" choice decides it).
IDENTITY_KINDS = ("reporter", "witness")
# The reporter follow-up API: the pages offer follow-up when the app routes a GET of this path
# (any well-formed commitment would do).
_FOLLOW_UP_PROBE = "/v1/tips/0x" + "00" * 32 + "/follow-up"

# The verify and transparency pages let the user pick any node of the chain: an HTTPS endpoint
# anywhere, or a node on their own machine. Every other page may talk to this origin and the
# configured RPC only.
VERIFY_EXTRA_CONNECT = ("https:", "http://127.0.0.1:*", "http://localhost:*")

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "interest-cohort",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)

_PLACEHOLDER = re.compile(r"\{\{\s*([>@]?)\s*([A-Za-z0-9_./:-]+)\s*\}\}")


@dataclass(frozen=True)
class PageConfig:
    """What the pages are told about this deployment (served as ``/web-config.json``)."""

    chain_id: int
    contract: str
    rpc_url: str | None
    max_body_bytes: int | None = None
    deploy_block: int = 0  # where the contract's events begin (the transparency page's start)
    log_url: str = "/log"  # where the log's tiles are (PROTOCOL.md 18); relative: this service

    def as_json(self, *, follow_up: bool, identity: Mapping[str, bool]) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "contract": self.contract,
            "deploy_block": self.deploy_block,
            "rpc_url": self.rpc_url,
            "log_url": self.log_url,
            "features": {
                "follow_up": follow_up,
                "identity": {kind: bool(identity.get(kind)) for kind in IDENTITY_KINDS},
            },
            "max_body_bytes": self.max_body_bytes,
            "languages": list(LANGUAGES),
            "default_language": DEFAULT_LANGUAGE,
        }


def routes_follow_up(app: FastAPI) -> bool:
    """Does ``app`` serve the reporter follow-up API?"""
    scope: Scope = {"type": "http", "method": "GET", "path": _FOLLOW_UP_PROBE, "root_path": ""}
    # Matched as Starlette routes a request, so routers included in any way are seen.
    return any(route.matches(scope)[0] is Match.FULL for route in app.router.routes)


def rpc_origin(url: str | None) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, for the CSP's connect-src; None otherwise."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def public_rpc_url(url: str | None) -> str | None:
    """The RPC URL to suggest to browsers: http(s) only, never one carrying credentials."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password:
        return None
    return url


def content_security_policy(
    rpc_url: str | None,
    *,
    any_rpc: bool = False,
    trusted_types: bool = True,
    script_hashes: tuple[str, ...] = (),
) -> str:
    """The pages' policy; ``script_hashes`` ("'sha256-…'") allow exactly those inline scripts."""
    connect = ["'self'"]
    origin = rpc_origin(rpc_url)
    if origin:
        connect.append(origin)
    if any_rpc:
        connect.extend(VERIFY_EXTRA_CONNECT)
    directives = [
        "default-src 'self'",
        " ".join(["script-src 'self'", *script_hashes]),
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        f"connect-src {' '.join(connect)}",
        "object-src 'none'",
        "media-src 'none'",
        "worker-src 'none'",
        "manifest-src 'none'",
        "frame-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
    if trusted_types:  # the pages never assign HTML strings to the DOM: refuse every sink
        directives += ["require-trusted-types-for 'script'", "trusted-types 'none'"]
    return "; ".join(directives)


def security_headers(csp: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": PERMISSIONS_POLICY,
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
    }


def csp_directives(csp: str) -> dict[str, list[str]]:
    """``{directive: [values]}`` of a Content-Security-Policy header."""
    parts = (d.strip().split() for d in csp.split(";") if d.strip())
    return {p[0].lower(): p[1:] for p in parts}


# --- subresource integrity ---------------------------------------------------------------------


@cache
def released_assets() -> StaticAssets:
    """The files this installation serves, loaded as the service loads them."""
    return StaticAssets(STATIC_DIR)


# --- templates ---------------------------------------------------------------------------------


@cache
def load_texts(language: str) -> dict[str, str]:
    data = orjson.loads((I18N_DIR / f"{language}.json").read_bytes())
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"{language}.json must map keys to strings")
    return data


def _include(text: str, seen: tuple[str, ...] = ()) -> str:
    def partial(match: re.Match[str]) -> str:
        if match[1] != ">":
            return match[0]
        name = match[2]
        if name in seen:
            raise ValueError(f"template partial {name!r} includes itself")
        body = (TEMPLATES_DIR / f"_{name}.html").read_text(encoding="utf-8").rstrip("\n")
        return _include(body, (*seen, name))

    return _PLACEHOLDER.sub(partial, text)


def render_page(
    template: str,
    path: str,
    language: str,
    deadline_days: tuple[float, float] = DEFAULT_DEADLINE_DAYS,
    static: StaticAssets | None = None,
) -> bytes:
    """A page in ``language``: partials included, ``{{key}}`` texts filled in (HTML-escaped),
    ``{{@importmap}}`` and every script's and stylesheet's integrity from ``static`` (the files
    served; None: this installation's).

    Unknown keys raise: a page never goes out with a placeholder showing.
    """
    static = static or released_assets()
    texts = load_texts(language)
    other = next(code for code in LANGUAGES if code != language)
    query = "" if language == DEFAULT_LANGUAGE else f"?lang={language}"
    special = {
        "lang": language,
        "other": other,
        "other_name": LANGUAGE_NAMES[other],
        "switch_href": f"{path}?lang={other}",
        "q": query,
        "deadline_ack_days": f"{deadline_days[0]:g}",
        "deadline_outcome_days": f"{deadline_days[1]:g}",
    }

    def fill(match: re.Match[str]) -> str:
        kind, key = match[1], match[2]
        if kind == "@":
            if key == "importmap":  # JSON, not HTML: it goes in as it is hashed
                return f'<script type="importmap">{import_map(static)}</script>'
            if key.startswith("current:"):
                return ' aria-current="page"' if key[len("current:") :] == path else ""
            if key not in special:
                raise KeyError(f"{template}: unknown page variable {{{{@{key}}}}}")
            return html.escape(special[key], quote=True)
        if key not in texts:
            raise KeyError(f"{template}: no {language} text for {key!r}")
        return html.escape(texts[key], quote=True)

    source = _include((TEMPLATES_DIR / template).read_text(encoding="utf-8"))
    return with_integrity(_PLACEHOLDER.sub(fill, source), static).encode("utf-8")


def render_all(
    deadline_days: tuple[float, float] = DEFAULT_DEADLINE_DAYS,
    static: StaticAssets | None = None,
) -> dict[tuple[str, str], bytes]:
    """Every page in every language, rendered once."""
    return {
        (path, language): render_page(template, path, language, deadline_days, static)
        for path, template in PAGES.items()
        for language in LANGUAGES
    }


# --- serving -----------------------------------------------------------------------------------


def mount_pages(
    app: FastAPI,
    *,
    chain_rpc_url: str | None,
    chain_id: int,
    contract: str,
    deploy_block: int = 0,
    identity_available: Callable[[str], bool] | None = None,
    max_body_bytes: int | None = None,
    deadline_days: tuple[float, float] = DEFAULT_DEADLINE_DAYS,
    log_url: str = "/log",
) -> None:
    """Serve the reporter pages, their static files and ``/web-config.json`` on ``app``.

    ``chain_rpc_url`` is the JSON-RPC URL suggested to browsers (they read ``checkpoint()`` from
    it directly, so it must be reachable from reporters' machines and allow CORS, as Anvil
    does); a URL with credentials in it is never given out. ``identity_available(kind)`` says
    whether an identity record of that kind can be made right now (None: never); it is asked
    on every ``/web-config.json``. The follow-up form appears when ``app`` routes the follow-up
    API. ``max_body_bytes`` lets the submit page refuse an over-large tip before sending it.
    ``deadline_days`` (first response, outcome) are what the transparency page measures
    agencies against: the deployment's ``deadlines`` setting. ``deploy_block`` is where the
    contract's events begin: the transparency page reads the chain from there, not from block 0.
    ``log_url`` is where verifiers fetch the log's tiles (a mirror's, or this service's /log).
    """
    suggested = public_rpc_url(chain_rpc_url)
    config = PageConfig(
        chain_id=chain_id,
        contract=contract,
        rpc_url=suggested,
        max_body_bytes=max_body_bytes,
        deploy_block=deploy_block,
        log_url=log_url,
    )
    static = StaticAssets(STATIC_DIR)
    app.state.web_assets = static  # for other HTML of this app (/docs) to add integrity from
    pages = {
        key: make_asset(page, "text/html; charset=utf-8")
        for key, page in render_all(deadline_days, static).items()
    }
    hashes = (script_hash(import_map(static)),)
    strict = security_headers(content_security_policy(suggested, script_hashes=hashes))
    verify = security_headers(
        content_security_policy(suggested, any_rpc=True, script_hashes=hashes)
    )

    def page_route(path: str) -> Any:
        headers = {**(verify if path in ANY_RPC_PATHS else strict), "Cache-Control": "no-store"}

        async def page(request: Request) -> Response:
            language = request.query_params.get("lang", DEFAULT_LANGUAGE)
            if language not in LANGUAGES:
                language = DEFAULT_LANGUAGE
            return send(request, pages[(path, language)], {**headers, "Content-Language": language})

        return page

    for path in PAGES:
        app.add_api_route(
            path,
            page_route(path),
            methods=["GET", "HEAD"],
            include_in_schema=False,
            name=f"page:{path}",
        )

    # A plain def: FastAPI runs it in its thread pool, so a vault that reads the database to
    # answer does not hold up the event loop.
    def web_config(request: Request) -> Response:
        kinds = {
            kind: identity_available is not None and identity_available(kind)
            for kind in IDENTITY_KINDS
        }
        body = config.as_json(follow_up=routes_follow_up(request.app), identity=kinds)
        return Response(
            orjson.dumps(body),
            media_type="application/json",
            headers={**strict, "Cache-Control": "no-store"},
        )

    app.add_api_route(
        "/web-config.json",
        web_config,
        methods=["GET", "HEAD"],
        include_in_schema=False,
        name="web-config",
    )
    listing = make_asset(
        orjson.dumps(
            {
                "digest": "sha256:" + static.digest(),
                "assets": {
                    name: {"sha256": asset.sha256, "integrity": asset.integrity}
                    for name, asset in static.assets.items()
                },
            }
        ),
        "application/json",
    )

    async def web_assets(request: Request) -> Response:
        return send(request, listing, {**strict, "Cache-Control": "no-cache"})

    app.add_api_route(
        ASSETS_PATH,
        web_assets,
        methods=["GET", "HEAD"],
        include_in_schema=False,
        name="web-assets",
    )
    # nosniff above all, for the JS modules; no-cache: revalidated (a 304) on every use
    asset_headers = {**strict, "Cache-Control": "no-cache"}

    async def web_file(request: Request, name: str) -> Response:
        return static.response(request, name, asset_headers)

    app.add_api_route(
        STATIC_PREFIX + "/{name:path}",
        web_file,
        methods=["GET", "HEAD"],
        include_in_schema=False,
        name="web",
    )
