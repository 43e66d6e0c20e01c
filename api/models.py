"""The HTTP API's request and response models: the OpenAPI document, with an example on each.

Hot routes parse and answer without these (``orjson`` straight to and from dicts, see
``api.routes.tips``); the models describe the same shapes for clients and are held equal to what
the routes send by the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

EXAMPLE_CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
EXAMPLE_SIGNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
EXAMPLE_COMMITMENT = "0x3f1e0f7a8f2c6d0a4b9e5c1d2e3f405162738495a6b7c8d9eafb0c1d2e3f4a5b"
EXAMPLE_SALT = "0x9c2d4b6f8a0c1e3f5a7b9d1f3e5c7a9b0d2f4e6a8c0b1d3f5e7a9c0b2d4f6e8a"
EXAMPLE_DIGEST = "0x2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
EXAMPLE_ROOT = "0x5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
EXAMPLE_TX = "0x8b1f4a4d0c6e2f7a9b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a"
EXAMPLE_SIGNATURE = (
    "0x6e1d2c3b4a5968778695a4b3c2d1e0f1e2d3c4b5a69788796a5b4c3d2e1f0a1b"
    "2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b1c"
)
EXAMPLE_PROOF = [
    "0x96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0x5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
]

EXAMPLE_PROMISE: dict[str, Any] = {
    "received_at": 1764200000,
    "signer": EXAMPLE_SIGNER,
    "signature": EXAMPLE_SIGNATURE,
}
EXAMPLE_INCLUSION: dict[str, Any] = {
    "leaf_index": 41,
    "tree_size": 64,
    "root_hash": EXAMPLE_ROOT,
    "proof": EXAMPLE_PROOF,
    "anchor_tx": EXAMPLE_TX,
    "block_number": 12,
    "block_timestamp": 1764200001,
}
EXAMPLE_RECEIPT: dict[str, Any] = {
    "format": "tipledger-receipt/1",
    "chain_id": 31337,
    "contract": EXAMPLE_CONTRACT,
    "commitment": EXAMPLE_COMMITMENT,
    "salt": EXAMPLE_SALT,
    "content_digest": EXAMPLE_DIGEST,
    "author": "0x0000000000000000000000000000000000000000",
    "promise": EXAMPLE_PROMISE,
    "inclusion": None,
}

# What the API's parsers (api.parsing, ledger.core) accept, stated in the schema. In the schema
# only: the parsers keep their own one-line refusals. An address given in mixed case must be
# EIP-55, which no pattern can say: the pattern admits the all-lower and all-upper forms.
HEX32 = "^0x[0-9a-fA-F]{64}$"
HEX65 = "^0x[0-9a-fA-F]{130}$"
ADDRESS = "^0x(?:[0-9a-f]{40}|[0-9A-F]{40})$"
BASE64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$"
BASE64_OR_EMPTY = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)?$"
UINT64_MAX = (1 << 64) - 1
_HEX32: JsonDict = {"pattern": HEX32}
_ADDRESS: JsonDict = {"pattern": ADDRESS}
AGENCY = "^[a-z][a-z0-9-]{1,30}$"  # ledger.core.agency
IDENTITY_SCHEMA: JsonDict = {  # api.parsing.identity_field and identity_kind
    "type": "object",
    "minProperties": 1,
    "properties": {"role": {"enum": ["reporter", "witness"]}},
}
_IDENTITY_SAID = (
    "Who you are, as a JSON object (at most 64 KiB as compact JSON), sealed on arrival for the "
    "custodians (k-of-n) and stored only sealed: no one at the service can read it. Its `role`, "
    "'reporter' (the default) or 'witness', chooses the custodian set."
)


def schema_of(replacement: JsonDict) -> Callable[[JsonDict], None]:
    """A field's whole JSON schema replaced (for a field the route parses itself)."""

    def replace(schema: JsonDict) -> None:
        schema.clear()
        schema.update(replacement)

    return replace


def _config(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


EXAMPLE_SEALED_TIP: dict[str, Any] = {
    "format": "tipledger-sealed-tip/1",
    "commitment": EXAMPLE_COMMITMENT,
    "agency": "intake",
    "case_key": "0x" + "5a" * 32,
    "envelope": "AQ3x" + "A" * 120,
    "grants": ["AQtLXw" + "A" * 112],
    "attachments": 0,
}


class SealedTipRequest(BaseModel):
    """A tip sealed on the reporter's device, "tipledger-sealed-tip/1" (PROTOCOL.md 17.1): what
    the service takes by default. It holds nothing readable without a member's key."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [EXAMPLE_SEALED_TIP]},
    )

    format: Literal["tipledger-sealed-tip/1"]
    commitment: str = Field(
        description="The commitment the device computed (0x + 64 hex digits).",
        json_schema_extra=_HEX32,
    )
    agency: str | None = Field(
        default="intake",
        description="The agency the tip is for; refused (422) when unknown, inactive or with "
        "no members.",
        json_schema_extra={"pattern": AGENCY},
    )
    case_key: str = Field(
        description="The fresh case public key (raw X25519, 0x hex) the envelope and the "
        "attachments are sealed to.",
        json_schema_extra=_HEX32,
    )
    envelope: str = Field(
        description="The tip's document, salt and author sealed to the case key (PROTOCOL.md "
        "9, base64); refused (422) unless its header names the case key.",
        json_schema_extra={"pattern": BASE64},
    )
    grants: list[str] = Field(
        description="The case private key granted to each member key the chain lists for the "
        "agency, exactly one each (PROTOCOL.md 16.3, 89 bytes, base64); anything else is "
        "refused (422, naming the key).",
        json_schema_extra={"items": {"type": "string", "pattern": BASE64}, "maxItems": 1024},
    )
    attachments: int = Field(
        default=0,
        ge=0,
        le=100,
        description="How many sealed attachments follow as 'attachment' parts (multipart only; "
        "the JSON form carries none).",
    )
    follow_up: dict[str, Any] | None = Field(
        default=None,
        description="The follow-up enrolment made on the device: version 2 (PROTOCOL.md 17.4) "
        '`{"version": 2, "reporter_key", "verifier"}`, or version 3 for a reporter\'s code '
        '(17.8) `{"version": 3, "locator", "reporter_key", "verifier", "case_key_tag"}`; a '
        "locator another tip has is refused (409).",
    )
    identity: dict[str, Any] | None = Field(
        default=None,
        description="An identity record, version 2, split and sealed on the device (PROTOCOL.md "
        "17.3).",
    )


class SealedTipMultipart(BaseModel):
    """A sealed tip with its sealed attachments, as ``multipart/form-data``: the part ``tip``
    (the JSON of ``SealedTipRequest``, whose ``attachments`` counts the rest), then one
    ``attachment`` part per sealed stream, in the tip document's order (PROTOCOL.md 17.2)."""

    model_config = ConfigDict(extra="forbid")

    tip: str = Field(description="The sealed tip's JSON (application/json).")
    attachment: list[bytes] = Field(
        default_factory=list,
        json_schema_extra={"items": {"type": "string", "format": "binary"}},
    )


class TipRequest(BaseModel):
    """A tip in clear, as JSON, for the service to seal (only ``document`` is required): taken
    only where the deployment turned on ``TIPLEDGER_SERVER_SEALING`` (422 otherwise). Prefer
    ``SealedTipRequest``."""

    model_config = ConfigDict(
        extra="forbid",  # api.parsing.reject_unknown
        json_schema_extra={
            "examples": [
                {
                    "document": "UHJvY3VyZW1lbnQgZnJhdWQgYXQgb2ZmaWNlIFgsIGludm9pY2UgNDcxMQ==",
                    "salt": EXAMPLE_SALT,
                    "author": "0x0000000000000000000000000000000000000000",
                }
            ]
        },
    )

    document: str = Field(
        description="The tip document: its exact bytes (at least one), standard base64 "
        "(RFC 4648). For a structured tip, UTF-8 JSON listing attachments by SHA-256 digest "
        "(PROTOCOL.md 1).",
        json_schema_extra={"pattern": BASE64},
        examples=["UHJvY3VyZW1lbnQgZnJhdWQgYXQgb2ZmaWNlIFgsIGludm9pY2UgNDcxMQ=="],
    )
    salt: str | None = Field(
        default=None,
        description="32 random bytes as 0x + 64 hex digits, made by the client. Omitted: the "
        "service makes one and returns it only in the receipt.",
        json_schema_extra=_HEX32,
        examples=[EXAMPLE_SALT],
    )
    author: str | None = Field(
        default=None,
        description="Address of a one-time key made for this tip (0x + 40 hex digits), or "
        "omitted for none (20 zero bytes).",
        json_schema_extra=_ADDRESS,
        examples=["0x0000000000000000000000000000000000000000"],
    )
    follow_up: bool | None = Field(
        default=False,
        description="true: make a follow-up secret (answered once, in `follow_up` and in the "
        "receipt) to read the review status and talk with the desk anonymously (null: false).",
    )
    identity: dict[str, Any] | None = Field(
        default=None,
        json_schema_extra=schema_of(
            {"anyOf": [IDENTITY_SCHEMA, {"type": "null"}], "description": _IDENTITY_SAID}
        ),
    )
    agency: str | None = Field(
        default=None,
        description="The agency the tip is for (its id, GET /v1/agencies); omitted or null: "
        "the national intake desk. An unknown or inactive agency, or one with no members, is "
        "refused (422).",
        json_schema_extra={"pattern": AGENCY},
        examples=["intake"],
    )


class TipMultipart(BaseModel):
    """A tip with attachments, as ``multipart/form-data``.

    The service builds the tip document from the parts, deterministically: UTF-8 JSON with
    sorted keys and no whitespace, ``{"attachments": [{"name", "sha256", "size", "type"}, ...],
    "text": ...}``, attachments in the order sent. It commits to that document (so to every
    attachment through its SHA-256 digest) and returns it in ``document``: keep it with the
    receipt, it is what ``verify`` needs.
    """

    model_config = ConfigDict(
        extra="forbid",  # unknown parts are refused
        json_schema_extra={
            "examples": [
                {"document": "Invoice 4711 was paid twice; both payment orders attached."}
            ],
            # A tip has text or at least one attachment (ledger.core.tip).
            "anyOf": [
                {"properties": {"document": {"minLength": 1}}},
                {"properties": {"files": {"minItems": 1}}, "required": ["files"]},
            ],
        },
    )

    # The part is named ``document`` (what ``api.parsing.tip_from_parts`` reads); its text goes
    # into the tip document's ``text`` field.
    document: str = Field(
        description="The tip's text (UTF-8); the service builds the tip document around it.",
        examples=["Invoice 4711 paid twice"],
    )
    files: list[bytes] = Field(
        default_factory=list,
        description="Attachments (zero or more parts named 'files', each with a filename).",
        json_schema_extra={"items": {"type": "string", "format": "binary"}},
    )
    # Parts are text: a part is sent or not, never null.
    salt: str | None = Field(
        default=None,
        json_schema_extra=schema_of(
            {"type": "string", "pattern": HEX32, "description": "As in the JSON form."}
        ),
    )
    author: str | None = Field(
        default=None,
        json_schema_extra=schema_of(
            {"type": "string", "pattern": ADDRESS, "description": "As in the JSON form."}
        ),
    )
    follow_up: str | None = Field(
        default=None,
        json_schema_extra=schema_of(
            {
                "type": "string",
                "enum": ["true", "false", "yes", "no", "on", "off", "1", "0", ""],
                "description": "'true' for a follow-up secret.",
            }
        ),
    )
    identity: str | None = Field(
        default=None,
        json_schema_extra=schema_of(
            {**IDENTITY_SCHEMA, "description": "The part's text: a JSON object, as in JSON."}
        ),
    )
    agency: str | None = Field(
        default=None,
        json_schema_extra=schema_of(
            {"type": "string", "pattern": AGENCY, "description": "As in the JSON form."}
        ),
    )


class PromiseModel(BaseModel):
    """The service's EIP-712 ``Promise(commitment, receivedAt)`` (PROTOCOL.md 5)."""

    model_config = _config(EXAMPLE_PROMISE)

    received_at: int = Field(description="Unix seconds the tip was accepted.")
    signer: str = Field(description="The anchorer address that signed (EIP-55).")
    signature: str = Field(description="65-byte r || s || v signature, 0x hex.")


class InclusionModel(BaseModel):
    """Where the commitment sits in an anchored checkpoint, with its RFC 9162 proof."""

    model_config = _config(EXAMPLE_INCLUSION)

    leaf_index: int
    tree_size: int
    root_hash: str
    proof: list[str]
    anchor_tx: str
    block_number: int
    block_timestamp: int


class ReceiptModel(BaseModel):
    """A TipLedger receipt, format ``tipledger-receipt/1`` (PROTOCOL.md 6)."""

    model_config = _config(EXAMPLE_RECEIPT)

    format: Literal["tipledger-receipt/1"]
    chain_id: int
    contract: str
    commitment: str
    salt: str
    content_digest: str
    author: str
    promise: PromiseModel | None = None
    inclusion: InclusionModel | None = None
    follow_up: dict[str, str] | None = Field(
        default=None,
        description='`{"secret": "tlf1_…"}` in the receipt of a tip submitted with a follow-up '
        'secret, `{"code": "XXXX-XXXX-XXXX-XXXX"}` with a reporter\'s code; absent otherwise. '
        "Verifiers ignore it.",
    )


class TipAccepted(BaseModel):
    """202: the tip is stored durably; the receipt has ``inclusion: null`` until anchored."""

    model_config = _config(
        {"commitment": EXAMPLE_COMMITMENT, "promise": EXAMPLE_PROMISE, "receipt": EXAMPLE_RECEIPT}
    )

    commitment: str
    promise: PromiseModel | None
    receipt: ReceiptModel
    document: str | None = Field(
        default=None,
        description="Multipart only: the tip document the service built (base64). Keep it: "
        "the receipt proves exactly these bytes.",
    )
    follow_up: dict[str, str] | None = Field(
        default=None,
        description='`{"secret": "tlf1_…"}` when asked for and stored (also in the '
        "receipt); null otherwise, e.g. for a commitment already known.",
    )
    identity: dict[str, Any] | None = Field(
        default=None, description="The sealed identity record's summary, when one was stored."
    )


class ReceiptStatus(BaseModel):
    """What the service holds of a tip's receipt, in the receipt's own keys.

    The salt, content digest and author are never stored readably (they are sealed to the
    review desk), so they are absent here: merge this into the receipt you got from
    ``POST /v1/tips`` (``inclusion`` is what changes; ``status`` and ``leaf_index`` are extra
    keys that verifiers ignore).
    """

    model_config = _config(
        {
            "status": "anchored",
            "format": "tipledger-receipt/1",
            "chain_id": 31337,
            "contract": EXAMPLE_CONTRACT,
            "commitment": EXAMPLE_COMMITMENT,
            "leaf_index": 41,
            "promise": EXAMPLE_PROMISE,
            "inclusion": EXAMPLE_INCLUSION,
        }
    )

    status: Literal["anchored", "pending"]
    format: Literal["tipledger-receipt/1"]
    chain_id: int
    contract: str
    commitment: str
    leaf_index: int | None
    promise: PromiseModel | None
    inclusion: InclusionModel | None


class CheckpointModel(BaseModel):
    """The latest checkpoint anchored on chain."""

    model_config = _config(
        {
            "tree_size": 64,
            "root_hash": EXAMPLE_ROOT,
            "anchor_tx": EXAMPLE_TX,
            "block_number": 12,
            "block_timestamp": 1764200001,
        }
    )

    tree_size: int
    root_hash: str
    anchor_tx: str
    block_number: int
    block_timestamp: int


class ProofModel(BaseModel):
    """An RFC 9162 inclusion or consistency proof, node hashes in order."""

    model_config = _config({"proof": EXAMPLE_PROOF})

    proof: list[str]


class EntriesModel(BaseModel):
    """Commitments from ``start``; possibly fewer than asked (continue from start + count)."""

    model_config = _config({"entries": [EXAMPLE_COMMITMENT]})

    entries: list[str]


# A receipt as ``POST /v1/verify`` reads it (ledger.core.receipt): the same keys as
# ``ReceiptModel``, with the rules the parser holds them to. Unknown keys are ignored.
_UINT64 = Field(ge=0, le=UINT64_MAX)


class PromiseInput(BaseModel):
    received_at: int = _UINT64
    signer: str = Field(json_schema_extra=_ADDRESS, description="Or its EIP-55 form.")
    signature: str = Field(json_schema_extra={"pattern": HEX65})


class InclusionInput(BaseModel):
    leaf_index: int = _UINT64
    tree_size: int = Field(ge=1, le=UINT64_MAX)
    root_hash: str = Field(json_schema_extra=_HEX32)
    proof: list[str] = Field(
        max_length=64, json_schema_extra={"items": {"type": "string", "pattern": HEX32}}
    )
    anchor_tx: str = Field(json_schema_extra=_HEX32)
    block_number: int = _UINT64
    block_timestamp: int = _UINT64


class ReceiptInput(BaseModel):
    """A receipt (PROTOCOL.md 6) to verify; keys it does not know are ignored."""

    format: Literal["tipledger-receipt/1"]
    chain_id: int = Field(ge=1, le=(1 << 256) - 1)
    contract: str = Field(json_schema_extra=_ADDRESS, description="Or its EIP-55 form.")
    commitment: str = Field(json_schema_extra=_HEX32)
    salt: str = Field(json_schema_extra=_HEX32)
    content_digest: str = Field(json_schema_extra=_HEX32)
    author: str = Field(json_schema_extra=_ADDRESS, description="Or its EIP-55 form.")
    promise: PromiseInput | None = None
    inclusion: InclusionInput | None = None
    follow_up: Any = Field(default=None, description="Ignored by verifiers, whatever it holds.")


class VerifyRequest(BaseModel):
    """A receipt to verify, and optionally the document it is for."""

    model_config = ConfigDict(
        extra="forbid",  # api.parsing.reject_unknown
        json_schema_extra={
            "examples": [
                {
                    "receipt": EXAMPLE_RECEIPT,
                    "document": "UHJvY3VyZW1lbnQgZnJhdWQgYXQgb2ZmaWNlIFgsIGludm9pY2UgNDcxMQ==",
                }
            ]
        },
    )

    receipt: ReceiptInput = Field(description="The receipt (PROTOCOL.md 6) as a JSON object.")
    document: str | None = Field(
        default=None,
        description="The tip document's bytes, standard base64 (optional).",
        json_schema_extra=schema_of(
            {"anyOf": [{"type": "string", "pattern": BASE64_OR_EMPTY}, {"type": "null"}]}
        ),
    )


class CheckModel(BaseModel):
    model_config = _config({"name": "inclusion", "ok": True, "detail": "leaf 41 of 64"})

    name: str
    ok: bool
    detail: str


class VerdictModel(BaseModel):
    """The verdict of ``ledger.verify.verify_receipt``, the same code as the CLI's."""

    model_config = _config(
        {
            "valid": True,
            "pending": False,
            "proven_time": 1764200001,
            "summary": "VALID: the document existed no later than 2025-11-26T23:33:21Z "
            "(commitment 0x3f1e…4a5b, leaf 41 of 64, block 12, chain 31337)",
            "checks": [{"name": "content_digest", "ok": True, "detail": "matches the document"}],
            "warnings": [],
            "unchecked": [],
        }
    )

    valid: bool
    pending: bool
    proven_time: int | None
    summary: str
    checks: list[CheckModel]
    warnings: list[str]
    unchecked: list[str]


class SequencerModel(BaseModel):
    model_config = _config(
        {
            "running": True,
            "is_leader": True,
            "last_anchor": None,
            "pending": 0,
            "last_error": None,
            "halted": False,
            "chain_available": True,
        }
    )

    running: bool
    is_leader: bool | None = None
    last_anchor: Any = None
    pending: int | None = None
    last_error: str | None = None
    halted: bool | None = None
    chain_available: bool | None = None


class HealthModel(BaseModel):
    """Liveness and the sequencer's state (``ok`` false, and ``reason`` set, while tips are not
    accepted or cannot be anchored)."""

    model_config = _config(
        {
            "ok": True,
            "chain_id": 31337,
            "contract": EXAMPLE_CONTRACT,
            "accepting": True,
            "log_size": 64,
            "anchored_size": 64,
            "last_anchor_at": 1764200001,
            "pending": 0,
            "sequencer": SequencerModel.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
            "reason": None,
        }
    )

    ok: bool
    chain_id: int
    contract: str
    accepting: bool
    log_size: int
    anchored_size: int
    last_anchor_at: int | None
    pending: int | None
    sequencer: SequencerModel
    reason: str | None = Field(
        default=None, description="Why tips cannot be anchored now (null while they can)."
    )


class ErrorModel(BaseModel):
    """Every refusal: one readable line in ``detail``."""

    model_config = _config({"detail": "field 'salt': expected 0x + 64 hex digits, got 62"})

    detail: str
