"""The receipt (PROTOCOL.md section 6): what a reporter keeps to prove a tip.

Frozen pydantic models, fields in PROTOCOL order, which is also the order ``to_json`` writes.

Parsing (``Receipt.from_json``) is strict about meaning and liberal only where it cannot matter:

- integers must be JSON integers (not strings, floats or booleans), in range (uint64 for sizes,
  indices, times and block numbers; a positive chain id);
- bytes must be ``0x`` + exactly the right number of hex digits. Upper-case hex digits are
  accepted and normalised to lower case (the bytes are the same); ``to_json`` always writes lower
  case, so re-serialising gives the canonical form;
- addresses may be all lower case, all upper case or EIP-55; a mixed-case address with a wrong
  checksum is rejected; they are normalised to EIP-55;
- ``format`` is required; unknown fields are ignored, at every level, so the format can grow;
  ``promise`` and ``inclusion`` may be ``null`` or absent;
- a JSON object with a duplicate key is rejected: two parsers could pick different values.

Every problem surfaces as one ``ReceiptError`` with one readable line, e.g.
``receipt field 'salt': expected 0x + 64 hex digits, got 63 hex digits``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from ledger.core.encoding import address_bytes, checksum_address, from_hex, to_hex
from ledger.core.errors import ProtocolError, ReceiptError

FORMAT: Literal["tipledger-receipt/1"] = "tipledger-receipt/1"
MAX_PROOF_LENGTH = 64  # a tree of fewer than 2^64 leaves has paths of at most 64 hashes
MAX_RECEIPT_SIZE = 1 << 20  # characters; a full receipt is under 6 KB, the rest is headroom
MAX_NESTING = 32  # JSON depth; the receipt itself needs 3
_UINT64_LIMIT = 1 << 64
_UINT256_LIMIT = 1 << 256


def _hex_field(length: int) -> BeforeValidator:
    def validate(value: object) -> str:
        if isinstance(value, bytes | bytearray):
            if len(value) != length:
                raise ValueError(f"expected {length} bytes, got {len(value)}")
            return to_hex(bytes(value))
        if not isinstance(value, str):
            raise ValueError(f"expected 0x + {2 * length} hex digits, got {_kind(value)}")
        try:
            return to_hex(from_hex(value, length))
        except ProtocolError as exc:
            raise ValueError(str(exc)) from None

    return BeforeValidator(validate)


def _address_field(value: object) -> str:
    if not isinstance(value, bytes | bytearray | str):
        raise ValueError(f"expected a 0x address of 40 hex digits, got {_kind(value)}")
    try:
        return checksum_address(value if isinstance(value, str) else bytes(value))
    except ProtocolError as exc:
        raise ValueError(str(exc)) from None


Hex32 = Annotated[str, _hex_field(32)]
Hex65 = Annotated[str, _hex_field(65)]
Address = Annotated[str, BeforeValidator(_address_field)]
Uint64 = Annotated[int, Field(ge=0, lt=_UINT64_LIMIT)]

_CONFIG = ConfigDict(strict=True, frozen=True, extra="ignore")


class PromiseInfo(BaseModel):
    """The service's signed promise (EIP-712 ``Promise``) to include the commitment."""

    model_config = _CONFIG

    received_at: Uint64
    signer: Address
    signature: Hex65

    @classmethod
    def create(cls, *, received_at: int, signer: bytes | str, signature: bytes) -> Self:
        """Build from raw values (bytes in, canonical hex stored); ``ReceiptError`` if invalid."""
        return _build(cls, received_at=received_at, signer=signer, signature=signature)

    @property
    def signer_bytes(self) -> bytes:
        return address_bytes(self.signer)

    @property
    def signature_bytes(self) -> bytes:
        return bytes.fromhex(self.signature[2:])


class Inclusion(BaseModel):
    """Where the commitment sits in an anchored checkpoint, and the RFC 9162 proof of it."""

    model_config = _CONFIG

    leaf_index: Uint64
    tree_size: Annotated[int, Field(ge=1, lt=_UINT64_LIMIT)]
    root_hash: Hex32
    proof: tuple[Hex32, ...] = Field(strict=False, max_length=MAX_PROOF_LENGTH)
    anchor_tx: Hex32
    block_number: Uint64
    block_timestamp: Uint64

    @classmethod
    def create(
        cls,
        *,
        leaf_index: int,
        tree_size: int,
        root_hash: bytes,
        proof: Sequence[bytes],
        anchor_tx: bytes,
        block_number: int,
        block_timestamp: int,
    ) -> Self:
        """Build from raw values (bytes in, canonical hex stored); ``ReceiptError`` if invalid."""
        return _build(
            cls,
            leaf_index=leaf_index,
            tree_size=tree_size,
            root_hash=root_hash,
            proof=tuple(proof),
            anchor_tx=anchor_tx,
            block_number=block_number,
            block_timestamp=block_timestamp,
        )

    @property
    def root_hash_bytes(self) -> bytes:
        return bytes.fromhex(self.root_hash[2:])

    @property
    def proof_bytes(self) -> list[bytes]:
        return [bytes.fromhex(h[2:]) for h in self.proof]

    @property
    def anchor_tx_bytes(self) -> bytes:
        return bytes.fromhex(self.anchor_tx[2:])


class Receipt(BaseModel):
    """A TipLedger receipt, format ``tipledger-receipt/1``."""

    model_config = _CONFIG

    format: Literal["tipledger-receipt/1"]
    chain_id: Annotated[int, Field(gt=0, lt=_UINT256_LIMIT)]
    contract: Address
    commitment: Hex32
    salt: Hex32
    content_digest: Hex32
    author: Address
    promise: PromiseInfo | None = None
    inclusion: Inclusion | None = None

    @classmethod
    def create(
        cls,
        *,
        chain_id: int,
        contract: bytes | str,
        commitment: bytes,
        salt: bytes,
        content_digest: bytes,
        author: bytes | str,
        promise: PromiseInfo | None = None,
        inclusion: Inclusion | None = None,
    ) -> Self:
        """Build from raw values (bytes in, canonical hex stored); ``ReceiptError`` if invalid.

        Only checks the fields, like ``from_json``: it does not recompute the commitment.
        """
        return _build(
            cls,
            format=FORMAT,
            chain_id=chain_id,
            contract=contract,
            commitment=commitment,
            salt=salt,
            content_digest=content_digest,
            author=author,
            promise=promise,
            inclusion=inclusion,
        )

    def with_inclusion(self, inclusion: Inclusion) -> Self:
        """This receipt, now anchored (or re-anchored against a later checkpoint)."""
        return self.model_copy(update={"inclusion": inclusion})

    # --- bytes views -----------------------------------------------------------------------

    @property
    def contract_bytes(self) -> bytes:
        return address_bytes(self.contract)

    @property
    def commitment_bytes(self) -> bytes:
        return bytes.fromhex(self.commitment[2:])

    @property
    def salt_bytes(self) -> bytes:
        return bytes.fromhex(self.salt[2:])

    @property
    def content_digest_bytes(self) -> bytes:
        return bytes.fromhex(self.content_digest[2:])

    @property
    def author_bytes(self) -> bytes:
        return address_bytes(self.author)

    @property
    def anchored(self) -> bool:
        return self.inclusion is not None

    # --- (de)serialisation -----------------------------------------------------------------

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """Parse a receipt; raises ``ReceiptError`` with one readable line on any problem."""
        if isinstance(text, bytes | bytearray):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError:
                raise ReceiptError("receipt is not valid UTF-8 text") from None
        if not isinstance(text, str):
            raise ReceiptError(f"receipt must be JSON text, got {type(text).__name__}")
        if len(text) > MAX_RECEIPT_SIZE:
            raise ReceiptError(f"receipt is larger than {MAX_RECEIPT_SIZE} characters")
        if _nesting(text) > MAX_NESTING:
            raise ReceiptError(f"receipt nests JSON deeper than {MAX_NESTING} levels")
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
        except _DuplicateKey as exc:
            raise ReceiptError(f"receipt has a duplicate key {exc.args[0]!r}") from None
        except ValueError as exc:
            raise ReceiptError(f"receipt is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Validate already-decoded JSON; raises ``ReceiptError`` like ``from_json``."""
        if not isinstance(data, Mapping):
            raise ReceiptError(f"receipt must be a JSON object, got {_kind(data)}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ReceiptError(_describe(exc)) from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict (lowercase hex, EIP-55 addresses, PROTOCOL key order)."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        """Deterministic JSON: PROTOCOL key order, indent 2, no trailing newline."""
        return self.model_dump_json(indent=2)


# --- helpers -----------------------------------------------------------------------------------

_M = TypeVar("_M", bound=BaseModel)


def _build(cls: type[_M], **fields: object) -> _M:
    try:
        return cls.model_validate(fields)
    except ValidationError as exc:
        raise ReceiptError(_describe(exc)) from None


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def _nesting(text: str) -> int:
    """Deepest bracket nesting outside strings, checked before parsing: the C JSON parser
    recurses per level and can overflow the C stack long before any Python limit applies."""
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:20] + '...' if len(value) > 20 else value!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _problem(err: ErrorDetails) -> str:
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    if kind == "missing":
        return "missing"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {_kind(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected an integer, got {_kind(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected an object or null, got {_kind(value)}"
    if kind in ("tuple_type", "list_type"):
        return f"expected a list, got {_kind(value)}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = {
            "greater_than": f"greater than {ctx.get('gt')}",
            "greater_than_equal": f"at least {ctx.get('ge')}",
            "less_than": f"less than {_num(ctx.get('lt'))}",
            "less_than_equal": f"at most {ctx.get('le')}",
        }[kind]
        return f"must be {bound}, got {value!r}"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} items, got {ctx.get('actual_length')}"
    if kind == "string_type":
        return f"expected a string, got {_kind(value)}"
    return str(err["msg"])


def _num(value: object) -> str:
    if value == _UINT64_LIMIT:
        return "2^64"
    if value == _UINT256_LIMIT:
        return "2^256"
    return str(value)


def _describe(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = _where(first["loc"])
    line = f"receipt field {where!r}: " if where else "receipt: "
    line += _problem(first)
    if len(errors) > 1:
        more = len(errors) - 1
        line += f" (and {more} more problem{'s' if more > 1 else ''})"
    return line


__all__ = ["FORMAT", "Inclusion", "PromiseInfo", "Receipt"]
