"""The pages' static files, read once at start and served from memory, gzip-compressed ahead.

A reporter on a slow phone connection pays for every byte of the submit page, so each file is
compressed once when the service starts (gzip level 9, no timestamp: the same bytes on every
start) and sent compressed to any client that accepts gzip. Each answer carries a strong ETag
(the SHA-256 of the file as stored), so a revalidation costs a 304 and no body. Nothing is
read from disk after start: the files served are exactly the ones loaded, whatever later
happens to the directory.

The same loading gives each file its Subresource Integrity (``sha384-…``, the form browsers check)
and the pages' digest: SHA-256 over the lines ``"<sha256 hex>  <name>\n"`` of every file, sorted by
name (``name`` is its path under ``/web/``), exactly what ``sha256sum`` prints, so anyone can
recompute it from a release with coreutils (``docs/PROTOCOL.md``, "Page code digest").
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["Asset", "StaticAssets", "accepts_gzip", "digest_of", "integrity_of"]

# Worth compressing: text formats. Images and fonts are compressed already.
_COMPRESSIBLE = {
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "image/svg+xml",
    "text/plain",
    "text/html",
    "text/markdown",
}
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".map": "application/json"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str
    gzipped: bytes | None  # None when compression would not make it smaller
    sha256: str  # hex, as sha256sum prints it: the pages' digest is made of these
    integrity: str  # "sha384-<base64>", for integrity="" and the import map


def _media_type(path: Path) -> str:
    guessed = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    media = guessed or "application/octet-stream"
    return f"{media}; charset=utf-8" if media.startswith("text/") else media


def compress(body: bytes) -> bytes | None:
    """``body`` gzip-compressed (deterministic), or None if that saves nothing."""
    packed = gzip.compress(body, compresslevel=9, mtime=0)
    return packed if len(packed) < len(body) else None


def accepts_gzip(request: Request) -> bool:
    """Whether the client takes gzip (``Accept-Encoding``, honouring ``q=0``)."""
    for item in request.headers.get("accept-encoding", "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = params.strip()
            return not (q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"))
    return False


def integrity_of(body: bytes) -> str:
    """The Subresource Integrity metadata of ``body``: ``sha384-`` and the base64 digest."""
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode("ascii")


def digest_of(hashes: Mapping[str, str]) -> str:
    """The pages' digest (hex) of ``{name: sha256 hex}``: SHA-256 of sha256sum's lines, by name.

    A name holding a newline or a backslash would make sha256sum escape its line; no served
    file may have one (``StaticAssets`` refuses them), so the lines are always these.
    """
    lines = "".join(f"{hashes[name]}  {name}\n" for name in sorted(hashes))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def make_asset(body: bytes, media_type: str) -> Asset:
    digest = hashlib.sha256(body).hexdigest()
    kind = media_type.split(";")[0]
    packed = compress(body) if kind in _COMPRESSIBLE else None
    return Asset(body, media_type, f'"{digest}"', packed, digest, integrity_of(body))


class StaticAssets:
    """Every regular file under ``directory`` (symlinks are not followed), by URL path."""

    def __init__(self, directory: Path) -> None:
        self.assets: dict[str, Asset] = {}
        root = directory.resolve()
        for path in sorted(root.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            name = path.relative_to(root).as_posix()
            if any(c in name for c in "\n\\?#"):  # unservable as a URL, or unlisted by sha256sum
                raise ValueError(f"a page file may not be named {name!r}")
            self.assets[name] = make_asset(path.read_bytes(), _media_type(path))

    def hashes(self) -> dict[str, str]:
        """``{name: sha256 hex}`` of every file served, as the pages' digest is made."""
        return {name: asset.sha256 for name, asset in self.assets.items()}

    def digest(self) -> str:
        return digest_of(self.hashes())

    def modules(self) -> dict[str, str]:
        """``{name: integrity}`` of every JavaScript file served: whatever a page can import."""
        return {
            name: asset.integrity
            for name, asset in self.assets.items()
            if name.endswith((".js", ".mjs"))
        }

    def response(self, request: Request, name: str, headers: Mapping[str, str]) -> Response:
        asset = self.assets.get(name)
        if asset is None:
            return Response(b"Not Found", 404, media_type="text/plain", headers=dict(headers))
        return send(request, asset, headers)


def send(request: Request, asset: Asset, headers: Mapping[str, str]) -> Response:
    """``asset`` as ``request`` may take it: 304 if its ETag matches, gzip if accepted."""
    common = {**headers, "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if asset.etag in (t.strip() for t in request.headers.get("if-none-match", "").split(",")):
        return Response(status_code=304, headers=common)
    if asset.gzipped is not None and accepts_gzip(request):
        return Response(
            asset.gzipped,
            media_type=asset.media_type,
            headers={**common, "Content-Encoding": "gzip"},
        )
    return Response(asset.body, media_type=asset.media_type, headers=common)
