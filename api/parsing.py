"""Turning request fields into bytes, with one readable line for anything malformed.

Everything here raises ``ProtocolError`` (the API answers 422) naming the field.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from python_multipart.multipart import MultipartParser, parse_options_header

from ledger.core.agency import INTAKE, agency_id
from ledger.core.commitment import SALT_SIZE
from ledger.core.encoding import address_bytes, from_hex
from ledger.core.identity import MAX_IDENTITY_SIZE, RecordKind
from ledger.core.sealed import SealedTip
from ledger.core.tip import Attachment, build_tip_document
from ledger.errors import AgencyError, ProtocolError

MAX_PARTS = 256


def b64_field(name: str, value: object, *, allow_empty: bool = False) -> bytes:
    if not isinstance(value, str):
        raise ProtocolError(f"field {name!r}: expected a base64 string, got {_kind(value)}")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"field {name!r}: not valid base64 ({exc})") from None
    if not data and not allow_empty:
        raise ProtocolError(f"field {name!r}: the document is empty")
    return data


def salt_field(value: object) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"field 'salt': expected 0x + 64 hex digits, got {_kind(value)}")
    try:
        return from_hex(value, SALT_SIZE)
    except ProtocolError as exc:
        raise ProtocolError(f"field 'salt': {exc}") from None


def author_field(value: object) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"field 'author': expected an address, got {_kind(value)}")
    try:
        return address_bytes(value)
    except ProtocolError as exc:
        raise ProtocolError(f"field 'author': {exc}") from None


def commitment_param(value: str) -> bytes:
    try:
        return from_hex(value, 32)
    except ProtocolError as exc:
        raise ProtocolError(f"commitment: {exc}") from None


def json_object(body: bytes, what: str = "request body") -> dict[str, Any]:
    if not body:
        raise ProtocolError(f"the {what} is empty: expected a JSON object")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"the {what} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"the {what} must be a JSON object, got {_kind(data)}")
    return data


def reject_unknown(data: Mapping[str, Any], allowed: Sequence[str], what: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ProtocolError(
            f"{what}: unknown field {unknown[0]!r} (expected {', '.join(map(repr, allowed))})"
        )


# --- multipart -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """All parts of a ``multipart/form-data`` body, in memory (never spooled to disk: a tip's
    attachments must not land in a temporary file in clear). The body is already size-limited."""
    _ctype, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise ProtocolError("multipart body without a boundary in its Content-Type")
    parts: list[Part] = []
    state: dict[str, Any] = {"headers": {}, "field": b"", "value": b"", "data": []}

    def on_part_begin() -> None:
        state["headers"] = {}
        state["data"] = []

    def on_part_data(data: bytes, start: int, end: int) -> None:
        state["data"].append(data[start:end])

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_part_end() -> None:
        if len(parts) >= MAX_PARTS:
            raise ProtocolError(f"a multipart tip has at most {MAX_PARTS} parts")
        disposition, options = parse_options_header(state["headers"].get(b"content-disposition"))
        if disposition != b"form-data" or b"name" not in options:
            raise ProtocolError("a multipart part without Content-Disposition: form-data; name")
        filename = options.get(b"filename")
        ctype = state["headers"].get(b"content-type")
        parts.append(
            Part(
                name=_text(options[b"name"], "part name"),
                filename=None if filename is None else _text(filename, "file name"),
                content_type=None if ctype is None else _text(ctype, "content type"),
                data=b"".join(state["data"]),
            )
        )

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except ProtocolError:
        raise
    except Exception as exc:  # python-multipart's parse errors, whatever their class
        raise ProtocolError(f"malformed multipart body: {exc}") from None
    return parts


def tip_from_parts(parts: Sequence[Part]) -> tuple[bytes, bytes | None, bytes | None]:
    """The tip document built from a multipart form, and the optional salt and author.

    Parts: ``document`` (the tip's text, UTF-8; once), ``files`` (attachments, any number, each
    with a file name), ``salt`` and ``author`` (optional, as in the JSON form). The document is
    "tipledger-tip/1" (``ledger.core.tip``), so the same parts always give the same bytes.
    """
    text: str | None = None
    salt: bytes | None = None
    author: bytes | None = None
    attachments: list[Attachment] = []
    for part in parts:
        if part.name == "document":
            if text is not None:
                raise ProtocolError("multipart field 'document' given more than once")
            try:
                text = part.data.decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolError(
                    "multipart field 'document': the tip's text must be UTF-8 (send binary "
                    "material as an attachment in 'files')"
                ) from None
        elif part.name == "files":
            if not part.filename:
                raise ProtocolError("multipart field 'files': every attachment needs a file name")
            attachments.append(Attachment.of(part.filename, part.data, part.content_type))
        elif part.name == "salt":
            salt = salt_field(_part_text(part))
        elif part.name == "author":
            author = author_field(_part_text(part))
        else:
            raise ProtocolError(
                f"unknown multipart field {part.name!r} (expected 'document', 'files', 'salt', "
                "'author', 'follow_up', 'identity', 'agency')"
            )
    if text is None:
        raise ProtocolError("multipart field 'document' (the tip's text) is required")
    return build_tip_document(text, attachments), salt, author


def sealed_from_parts(parts: Sequence[Part]) -> tuple[SealedTip, list[bytes]]:
    """A tip sealed on the device, as multipart: the ``tip`` part (the JSON of PROTOCOL.md
    17.1) once, then one ``attachment`` part per sealed stream, in the document's order."""
    tip: SealedTip | None = None
    streams: list[bytes] = []
    for part in parts:
        if part.name == "tip":
            if tip is not None:
                raise ProtocolError("multipart field 'tip' given more than once")
            tip = SealedTip.from_json(json_object(part.data, "multipart field 'tip'"))
        elif part.name == "attachment":
            streams.append(part.data)
        else:
            raise ProtocolError(
                f"unknown multipart field {part.name!r} in a sealed tip (expected 'tip', then "
                "'attachment' for each sealed attachment)"
            )
    if tip is None:
        raise ProtocolError("multipart field 'tip' (the sealed tip, JSON) is required")
    if len(streams) != tip.attachments:
        raise ProtocolError(
            f"the sealed tip lists {tip.attachments} attachment(s) but {len(streams)} "
            "'attachment' part(s) came with it"
        )
    return tip, streams


def is_sealed_multipart(parts: Sequence[Part]) -> bool:
    return any(part.name == "tip" for part in parts)


# --- what a reporter may ask for beside the tip -----------------------------------------------

INTAKE_ID = agency_id(INTAKE)
_TRUE = ("true", "1", "on", "yes")
_FALSE = ("false", "0", "off", "no", "")


@dataclass(frozen=True)
class TipOptions:
    """``follow_up``: make a follow-up secret; ``identity``: compact, key-sorted JSON bytes."""

    follow_up: bool = False
    identity: bytes | None = None
    identity_kind: str = "reporter"
    agency: bytes = INTAKE_ID  # where the tip goes (PROTOCOL.md 16.1); not a companion

    @property
    def any(self) -> bool:
        """Whether rows are stored beside the tip (the agency is a column of its own)."""
        return self.follow_up or self.identity is not None


NO_OPTIONS = TipOptions()


def follow_up_field(value: object) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ProtocolError(f"field 'follow_up': expected true or false, got {_kind(value)}")
    return value


def identity_field(value: object) -> bytes | None:
    """An identity object as the vault takes it: compact UTF-8 JSON with sorted keys."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProtocolError(f"field 'identity': expected a JSON object, got {_kind(value)}")
    if not value:
        raise ProtocolError("field 'identity': the object is empty")
    try:
        data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # e.g. an integer beyond 64 bits: any JSON object is an identity
        try:
            text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            data = text.encode("utf-8")
        except (ValueError, RecursionError) as exc:  # e.g. a lone surrogate
            raise ProtocolError(f"field 'identity': {exc}"[:200]) from None
    if len(data) > MAX_IDENTITY_SIZE:
        raise ProtocolError(f"field 'identity': larger than {MAX_IDENTITY_SIZE} bytes")
    return data


IDENTITY_KINDS = tuple(kind.value for kind in RecordKind)


def identity_kind(value: object) -> str:
    """The record kind an identity object asks for: its ``role``, ``reporter`` by default.

    Reporter and witness identities go to different custodian sets, so the role is read, never
    guessed: anything but the two kinds is refused.
    """
    role = value.get("role", "reporter") if isinstance(value, dict) else "reporter"
    if role not in IDENTITY_KINDS:
        raise ProtocolError(
            f"field 'identity.role': expected 'reporter' or 'witness', got {role!r}"[:200]
        )
    return str(role)


def agency_field(value: object, where: str = "field 'agency'") -> bytes:
    """The agency a tip is for: an agency id (PROTOCOL.md 16.1); null or absent: the intake."""
    if value is None:
        return INTAKE_ID
    if not isinstance(value, str):
        raise ProtocolError(f"{where}: expected an agency id (a string), got {_kind(value)}")
    try:
        return agency_id(value)
    except AgencyError as exc:
        raise AgencyError(f"{where}: {exc}") from None


def tip_options(data: Mapping[str, Any]) -> TipOptions:
    """The ``follow_up``, ``identity`` and ``agency`` fields of a JSON tip."""
    if "follow_up" not in data and "identity" not in data and "agency" not in data:
        return NO_OPTIONS
    raw = data.get("identity")
    return TipOptions(
        follow_up_field(data.get("follow_up")),
        identity_field(raw),
        identity_kind(raw),
        agency_field(data.get("agency")),
    )


def tip_options_from_parts(parts: Sequence[Part]) -> tuple[list[Part], TipOptions]:
    """Takes the ``follow_up`` ("true"/"false"), ``identity`` (JSON text) and ``agency`` (an
    agency id) parts out."""
    rest: list[Part] = []
    follow_up = False
    identity: bytes | None = None
    kind = "reporter"
    agency = INTAKE_ID
    seen: set[str] = set()
    for part in parts:
        if part.name not in ("follow_up", "identity", "agency"):
            rest.append(part)
            continue
        if part.name in seen:
            raise ProtocolError(f"multipart field {part.name!r} given more than once")
        seen.add(part.name)
        if part.name == "follow_up":
            flag = _part_text(part).lower()
            if flag not in _TRUE + _FALSE:
                raise ProtocolError("multipart field 'follow_up': expected 'true' or 'false'")
            follow_up = flag in _TRUE
        elif part.name == "agency":
            agency = agency_field(_part_text(part) or None, "multipart field 'agency'")
        else:
            raw = json_object(part.data, "multipart field 'identity'")
            identity, kind = identity_field(raw), identity_kind(raw)
    if not seen:
        return rest, NO_OPTIONS
    return rest, TipOptions(follow_up, identity, kind, agency)


def _part_text(part: Part) -> str:
    try:
        return part.data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ProtocolError(f"multipart field {part.name!r} is not ASCII text") from None


def _text(value: bytes, what: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(f"multipart {what} is not UTF-8") from None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
