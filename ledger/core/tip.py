"""The web tip document, "tipledger-tip/1" (PROTOCOL.md section 1).

Frozen: a tip's commitment is over these exact bytes, and the browser (``protocol.js``
``buildTipDocument``) builds the same bytes on its own. A change to the layout or the escaping
gives a different commitment for the same tip, so it is a new format, never an edit.

A tip's document is any bytes; this is the one the service builds from a multipart form (text
and attachments) and the browser builds before sealing. UTF-8 JSON, keys sorted, no white
space, strings escaped as orjson escapes them (only ``"``, ``\\`` and control characters)::

    {"attachments":[{"name":…,"sha256":"0x…","size":…,"type":…},…],
     "format":"tipledger-tip/1","text":…}

- ``attachments`` in the order given; ``sha256`` is SHA-256 over the attachment's bytes, as
  ``0x`` + 64 lowercase hex digits; ``size`` its length in bytes; ``type`` its media type
  (``application/octet-stream`` when none was given); ``name`` its file name, 1 to 255
  characters.
- A tip has text or at least one attachment.
- The attachments' bytes are not in the document: only their digests are committed to.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ledger.core.encoding import from_hex, to_hex
from ledger.core.errors import ProtocolError

__all__ = [
    "DEFAULT_TYPE",
    "MAX_NAME",
    "TIP_FORMAT",
    "Attachment",
    "TipDocument",
    "build_tip_document",
    "parse_tip_document",
]

TIP_FORMAT = "tipledger-tip/1"
MAX_NAME = 255  # characters in an attachment's file name
DEFAULT_TYPE = "application/octet-stream"

_DOCUMENT_KEYS = frozenset({"attachments", "format", "text"})
_ATTACHMENT_KEYS = frozenset({"name", "sha256", "size", "type"})
_DIGEST_SIZE = 32


@dataclass(frozen=True)
class Attachment:
    """One attachment as the document names it: its file name, digest, size and media type."""

    name: str
    sha256: bytes
    size: int
    type: str = DEFAULT_TYPE

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ProtocolError("an attachment needs a file name")
        if len(self.name) > MAX_NAME:
            raise ProtocolError(f"attachment file name longer than {MAX_NAME} characters")
        if not isinstance(self.sha256, bytes) or len(self.sha256) != _DIGEST_SIZE:
            raise ProtocolError(f"an attachment's sha256 is {_DIGEST_SIZE} bytes")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ProtocolError("an attachment's size is a non-negative integer")
        if not isinstance(self.type, str):
            raise ProtocolError("an attachment's type is a string")

    @classmethod
    def of(cls, name: str, data: bytes, content_type: str | None = None) -> Attachment:
        """The attachment entry for a file's name, bytes and (optional) media type."""
        return cls(name, hashlib.sha256(data).digest(), len(data), content_type or DEFAULT_TYPE)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": to_hex(self.sha256),
            "size": self.size,
            "type": self.type,
        }


@dataclass(frozen=True)
class TipDocument:
    """A tip's text and its attachments; ``to_bytes`` is the document committed to."""

    text: str
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ProtocolError("a tip's text is a string")
        if not isinstance(self.attachments, tuple) or not all(
            isinstance(a, Attachment) for a in self.attachments
        ):
            raise ProtocolError("a tip's attachments are a tuple of Attachment")
        if not self.text and not self.attachments:
            raise ProtocolError("the tip is empty: no text and no attachment")

    def to_bytes(self) -> bytes:
        data = {
            "attachments": [a.to_json() for a in self.attachments],
            "format": TIP_FORMAT,
            "text": self.text,
        }
        try:
            return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError as exc:  # a lone surrogate: not encodable as UTF-8
            raise ProtocolError(f"the tip cannot be written as UTF-8 JSON: {exc}") from None


def build_tip_document(text: str, attachments: Sequence[Attachment] = ()) -> bytes:
    """The "tipledger-tip/1" bytes for ``text`` and ``attachments`` (``ProtocolError`` if bad)."""
    return TipDocument(text, tuple(attachments)).to_bytes()


def parse_tip_document(document: bytes) -> TipDocument | None:
    """The text and attachments if ``document`` is a well-formed "tipledger-tip/1" document.

    None for anything else: any bytes are a valid tip document, this is only one form of it.
    The layout is checked (keys, types), not the byte-exact form ``build_tip_document`` gives.
    """
    try:
        data = orjson.loads(document)
    except orjson.JSONDecodeError:
        return None
    if (
        not isinstance(data, dict)
        or set(data) != _DOCUMENT_KEYS
        or data["format"] != TIP_FORMAT
        or not isinstance(data["attachments"], list)
    ):
        return None
    try:
        attachments = tuple(_attachment(a) for a in data["attachments"])
        return TipDocument(data["text"], attachments)
    except ProtocolError:
        return None


def _attachment(item: object) -> Attachment:
    if not isinstance(item, dict) or set(item) != _ATTACHMENT_KEYS:
        raise ProtocolError("not an attachment entry")
    sha256 = item["sha256"]
    if not isinstance(sha256, str):
        raise ProtocolError("an attachment's sha256 is hex")
    return Attachment(item["name"], from_hex(sha256, _DIGEST_SIZE), item["size"], item["type"])
