"""Subresource Integrity for the reporter pages: the import map, the script hash the CSP allows,
integrity on every script and stylesheet, and the tags a release's pages must keep.

The page code a reporter runs is the code released, as far as a browser can hold a server to it:
every ``<script src>`` and ``<link rel=stylesheet>`` carries Subresource Integrity, and every page
holds one import map (inline, allowed by its hash in ``script-src``, nothing else inline) giving
the integrity of every JavaScript file served, so a module fetched by ``import`` is checked too.
The hashes come from the bytes loaded at start (``api.assets``), the same bytes served.
"""

from __future__ import annotations

import base64
import hashlib
import re

import orjson

from api.assets import StaticAssets

__all__ = ["STATIC_PREFIX", "code_surface", "import_map", "script_hash", "with_integrity"]

STATIC_PREFIX = "/web"

# The tags through which a page loads code or styles, or could be sent elsewhere.
_LOADING_TAG = re.compile(
    r"<script\b[^>]*>.*?</script\s*>|<(?:link|base|iframe|object|embed)\b[^>]*>"
    r"|<meta\b[^>]*http-equiv[^>]*>",
    re.IGNORECASE | re.DOTALL,
)
_SUBRESOURCE = re.compile(r"<(script|link)\b([^>]*?)(\s*/?)>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r'([A-Za-z-]+)\s*=\s*"([^"]*)"')


def import_map(static: StaticAssets) -> str:
    """The import map's text: the integrity of every module a page can import, by its URL.

    Its keys are the exact URLs the pages import (no query string: a page never adds one), as
    the browser resolves them; ``<`` is escaped so the text can never close its element.
    Indented: a reader sees one file a line, and no ``}}`` that would look like a placeholder.
    """
    urls = {f"{STATIC_PREFIX}/{name}": value for name, value in sorted(static.modules().items())}
    text = orjson.dumps({"integrity": urls}, option=orjson.OPT_INDENT_2).decode("utf-8")
    return "\n" + text.replace("<", "\\u003c") + "\n"  # one file a line, for view-source


def script_hash(text: str) -> str:
    """The CSP source allowing the inline script whose text is ``text``."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def with_integrity(page: str, static: StaticAssets) -> str:
    """``page`` with ``integrity`` on every ``<script src>`` and ``<link rel=stylesheet>``.

    A page that loads anything but one of ``static``'s files raises: it would load something
    no digest covers (another origin, a query string, a file that is not there).
    """

    def add(match: re.Match[str]) -> str:
        attrs = {k.lower(): v for k, v in _ATTRIBUTE.findall(match[2])}
        if match[1].lower() == "script":
            url = attrs.get("src")
        elif attrs.get("rel", "").lower() in ("stylesheet", "modulepreload", "preload"):
            url = attrs.get("href")
        else:
            url = None
        if url is None or "integrity" in attrs:
            return match[0]
        asset = static.assets.get(url.removeprefix(STATIC_PREFIX + "/"))
        if not url.startswith(STATIC_PREFIX + "/") or asset is None:
            raise ValueError(f"a page loads {url!r}, which is not one of the files served")
        return f'<{match[1]}{match[2]} integrity="{asset.integrity}"{match[3]}>'

    return _SUBRESOURCE.sub(add, page)


def code_surface(page: str) -> list[str]:
    """Every tag of ``page`` that loads code or styles (scripts in full, with the import map),
    or could send it elsewhere: what must equal the release's for the release's code to run."""
    return [" ".join(tag.split()) for tag in _LOADING_TAG.findall(page)]
