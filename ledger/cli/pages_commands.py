"""``tipledger pages digest [--api URL]``: is the page code a server sends the code released?

Without ``--api`` it prints the digest of the files this installation would serve under
``/web/`` (every script, module, stylesheet and text of the pages); with ``--api`` it fetches
the server's list of those files (``/web-assets.json``) and every file in it, hashes the bytes
it got (the list's own hashes are not believed) and prints the server's digest, then compares:
exit 1 with one line naming the first file that differs, or a page whose script and link tags,
import map or Content-Security-Policy are not this release's (the HTML itself carries
deployment settings, so it is compared by those tags, not hashed whole).

The digest is SHA-256 over ``sha256sum``'s lines for the files, sorted by name, so anyone can
recompute it from a release: ``cd api/web/static && find . -type f -printf '%P\\0' |
LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from rich.markup import escape

from api.assets import StaticAssets, digest_of
from api.page_integrity import STATIC_PREFIX, code_surface, import_map, script_hash
from api.routes.pages import (
    ANY_RPC_PATHS,
    ASSETS_PATH,
    LANGUAGES,
    PAGES,
    content_security_policy,
    csp_directives,
    released_assets,
    render_page,
)
from ledger.cli.api_client import ServiceError
from ledger.cli.common import EXIT_INVALID, err, fail, one_line_errors, out

MAX_ASSETS = 10_000  # a listing longer than this is not a page's files

Api = Annotated[
    str | None,
    typer.Option(
        "--api",
        help="A running service's URL: fetch every page file it serves and compare with this "
        "release.",
        show_default=False,
    ),
]


def digest_line(hashes: Mapping[str, str]) -> str:
    return f"pages sha256:{digest_of(hashes)} ({len(hashes)} assets)"


def first_difference(release: Mapping[str, str], served: Mapping[str, str]) -> str | None:
    """The first file, by name, that differs between the two, and how; None if none does."""
    for name in sorted({*release, *served}):
        if name not in served:
            return f"{name} (not served)"
        if name not in release:
            return f"{name} (not in this release)"
        if release[name] != served[name]:
            return f"{name} (different bytes)"
    return None


def _get(client: httpx.Client, path: str) -> httpx.Response:
    try:
        response = client.get(path)
    except httpx.HTTPError as exc:
        raise ServiceError(f"cannot reach the service at {client.base_url}: {exc}") from exc
    if response.status_code != 200:
        raise ServiceError(f"the service answered {response.status_code} for {path}")
    return response


def _asset_names(listing: Any) -> list[str]:
    assets = listing.get("assets") if isinstance(listing, dict) else None
    if not isinstance(assets, dict) or len(assets) > MAX_ASSETS:
        raise ServiceError(f"the service's {ASSETS_PATH} is not a list of page files")
    for name in assets:
        if (
            not name
            or name.startswith("/")
            or ".." in name.split("/")
            or any(c in name for c in "\n\\?#")
        ):
            raise ServiceError(f"the service's {ASSETS_PATH} names an odd file: {name!r}")
    return sorted(assets)


def served_hashes(client: httpx.Client) -> dict[str, str]:
    """``{name: sha256 hex}`` of the bytes the server sends for every file it lists."""
    try:
        listing = _get(client, ASSETS_PATH).json()
    except ValueError as exc:
        raise ServiceError(f"the service's {ASSETS_PATH} is not JSON: {exc}") from exc
    return {
        name: hashlib.sha256(_get(client, f"{STATIC_PREFIX}/{quote(name)}").content).hexdigest()
        for name in _asset_names(listing)
    }


def page_difference(client: httpx.Client, release: StaticAssets) -> str | None:
    """The first page whose code-loading tags or script policy differ from this release's."""
    allowed = (script_hash(import_map(release)),)
    for path, template in PAGES.items():
        for language in LANGUAGES:
            url = f"{path}?lang={language}"
            response = _get(client, url)
            ours = code_surface(render_page(template, path, language, static=release).decode())
            theirs = code_surface(response.text)
            for mine, served in zip([*ours, None], [*theirs, None], strict=False):
                if mine != served:
                    shown = (served or "nothing")[:160]
                    return f"page {url}: it has {shown!r} where this release has {mine!r}"[:400]
            policy = response.headers.get("content-security-policy", "")
            expected = content_security_policy(
                None, any_rpc=path in ANY_RPC_PATHS, script_hashes=allowed
            )
            got, want = csp_directives(policy), csp_directives(expected)
            for directive in sorted({*got, *want} - {"connect-src"}):
                if got.get(directive) != want.get(directive):
                    value = " ".join(got.get(directive, ["(none)"]))
                    return f"page {url}: its Content-Security-Policy has {directive} {value}"
    return None


def register(app: typer.Typer) -> None:
    pages = typer.Typer(
        help="The reporter pages' code: what a server sends, against this release.",
        no_args_is_help=True,
    )
    app.add_typer(pages, name="pages")

    @pages.command("digest")
    @one_line_errors
    def digest(api: Api = None, timeout: float = 30.0) -> None:
        """One digest over every page file (sha256sum lines, sorted by name, hashed again)."""
        release = released_assets()
        ours = release.hashes()
        if api is None:
            out.print(digest_line(ours), markup=False)
            return
        if not api.startswith(("http://", "https://")):
            fail(f"--api must be an http(s):// URL, got {api!r}")
        with httpx.Client(base_url=api.rstrip("/"), timeout=timeout) as client:
            theirs = served_hashes(client)
            out.print(digest_line(theirs), markup=False)
            different = first_difference(ours, theirs)
            if different is not None:
                fail(
                    f"the server serves different page code: sha256:{digest_of(theirs)} "
                    f"({len(theirs)} assets), this release is sha256:{digest_of(ours)} "
                    f"({len(ours)} assets); first differing asset: {escape(different)}",
                    EXIT_INVALID,
                )
            page = page_difference(client, release)
            if page is not None:
                # the server's own text: never read as markup
                fail(f"the server's pages load different code: {escape(page)}", EXIT_INVALID)
        err.print("the server serves this release's page code", markup=False)
