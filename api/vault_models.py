"""The identity vault's request and response models (``/v1/vault``), each with an example.

Routes answer the service's dicts directly; these describe them in the OpenAPI document and the
tests hold the answers to them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.models import ADDRESS, EXAMPLE_CONTRACT, EXAMPLE_SIGNER, EXAMPLE_TX, HEX32, HEX65

Kind = Literal["reporter", "witness"]
KEY_ID = "^[0-9a-f]{16}$"
HEX_BYTES = "^0x(?:[0-9a-fA-F]{2})+$"  # at least one byte
_SIGNATURE: dict[str, Any] = {"pattern": HEX65}
_TEXT: dict[str, Any] = {"pattern": "\\S"}  # not blank: a character other than white space
EXAMPLE_RECORD_ID = "0x7d1f0c5e2b9a4c3d8e6f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"
EXAMPLE_KEY = "0x8f40c5adb68f25624ae5b214ea767a6ec94d829d3d7b5e1ad1ba6f3e2138285f"
EXAMPLE_DIGEST = "0x4b227777d4dd1fc61c6f884f48641d02b4d121d3fd328cb08b5531fcacdabf8a"
EXAMPLE_SIGNATURE = "0x" + "1b" * 64 + "1c"
EXAMPLE_KEY_ID = "eedd883da0a94515"  # EXAMPLE_KEY's (ledger.vault.records.key_id)
EXAMPLE_CUSTODIAN = {
    "key_id": EXAMPLE_KEY_ID,
    "x25519_public": EXAMPLE_KEY,
    "address": EXAMPLE_SIGNER,
    "name": "Office of the Inspector General",
    "registered_at": 1764580800,
    "active": True,
    "registration_signature": EXAMPLE_SIGNATURE,
}
_MEMBER = {"index": 1, "key_id": "3f9a0c1d2e4b5a69", "address": EXAMPLE_SIGNER, "name": "OIG"}


def _config(example: dict[str, Any], *, forbid: bool = False) -> ConfigDict:
    if forbid:
        return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})
    return ConfigDict(json_schema_extra={"examples": [example]})


# --- requests ----------------------------------------------------------------------------------


class RegistrationBody(BaseModel):
    model_config = _config(
        {
            "registration": {
                "format": "tipledger-custodian-public/1",
                "key_id": EXAMPLE_KEY_ID,
                "x25519_public": EXAMPLE_KEY,
                "address": EXAMPLE_SIGNER,
            },
            "signature": EXAMPLE_SIGNATURE,
            "name": "Office of the Inspector General",
        },
        forbid=True,
    )

    registration: dict[str, Any] = Field(
        description="The custodian's public keys (`tipledger custodian keygen` writes them); "
        "`key_id` is derived from `x25519_public` (ledger.vault.records.key_id).",
        json_schema_extra={
            "required": ["format", "key_id", "x25519_public", "address"],
            "properties": {
                "format": {"const": "tipledger-custodian-public/1"},
                "key_id": {"type": "string", "pattern": KEY_ID},
                "x25519_public": {"type": "string", "pattern": HEX32},
                "address": {"type": "string", "pattern": ADDRESS},
            },
        },
    )
    signature: str = Field(
        description="EIP-191 personal_sign by the custodian's address over the registration "
        "statement (ledger/vault/digests.py), proving it holds both keys.",
        json_schema_extra=_SIGNATURE,
    )
    name: str = Field(default="", max_length=200, description="Who this custodian is.")


class ActiveBody(BaseModel):
    model_config = _config({"active": False}, forbid=True)

    active: bool


class SetBody(BaseModel):
    model_config = _config(
        {"kind": "reporter", "threshold": 2, "custodians": [EXAMPLE_KEY_ID, "3f9a0c1d2e4b5a69"]},
        forbid=True,
    )

    kind: Kind
    threshold: int = Field(ge=2, le=255, description="Shares needed to open a record (k).")
    custodians: list[str] = Field(
        min_length=2,
        max_length=255,
        description="Registered custodians' key ids, share order.",
        json_schema_extra={"items": {"type": "string", "pattern": KEY_ID}},
    )


class RequestBody(BaseModel):
    model_config = _config(
        {
            "record_id": EXAMPLE_RECORD_ID,
            "purpose": "Witness protection order 12/2026: the reporter must be contacted.",
            "investigator_key": EXAMPLE_KEY,
        },
        forbid=True,
    )

    record_id: str = Field(pattern=HEX32)
    purpose: str = Field(
        min_length=1, max_length=4000, description="Why, for the record.", json_schema_extra=_TEXT
    )
    investigator_key: str = Field(
        pattern=HEX32, description="The investigator's X25519 public key (raw, hex)."
    )


class ApprovalBody(BaseModel):
    model_config = _config({"signature": EXAMPLE_SIGNATURE}, forbid=True)

    signature: str = Field(
        description="EIP-712 Disclosure(recordId, requestDigest, requester) by the custodian.",
        json_schema_extra=_SIGNATURE,
    )


class DeclineBody(BaseModel):
    model_config = _config({"reason": "The purpose does not justify it."}, forbid=True)

    reason: str = Field(min_length=1, max_length=2000, json_schema_extra=_TEXT)


class ResealedBody(BaseModel):
    model_config = _config({"resealed": "0x01" + "02" + "00000000" + "ab" * 64}, forbid=True)

    resealed: str = Field(
        description="The share re-sealed to the investigator, hex: 70 bytes for a version 1 "
        "record, 71 for version 2.",
        json_schema_extra={"pattern": HEX_BYTES},
    )


class RotationBody(BaseModel):
    model_config = _config({"kind": "reporter"}, forbid=True)

    kind: Kind


class ContributedShare(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record_id: str = Field(pattern=HEX32)
    resealed: str = Field(
        description="The share re-sealed to the coordinator, hex.",
        json_schema_extra={"pattern": HEX_BYTES},
    )


class ContributionBody(BaseModel):
    model_config = _config(
        {"shares": [{"record_id": EXAMPLE_RECORD_ID, "resealed": "0x0102" + "ab" * 68}]},
        forbid=True,
    )

    shares: list[ContributedShare] = Field(min_length=1)


class FinishBody(BaseModel):
    model_config = _config({"records": [{"format": "tipledger-identity-record/1"}]}, forbid=True)

    records: list[dict[str, Any]] = Field(
        description="The re-shared identity records, one for each record the rotation lists, "
        "each in its own version (tipledger-identity-record/1 or /2)."
    )


# --- responses ---------------------------------------------------------------------------------


class KindInfo(BaseModel):
    available: bool
    version: int | None
    threshold: int | None
    custodians: int


class VaultInfo(BaseModel):
    model_config = _config(
        {
            "chain_id": 31337,
            "contract": EXAMPLE_CONTRACT,
            "rpc_url": "http://127.0.0.1:8545",
            "disclosure_threshold": 3,
            "kinds": {
                "reporter": {"available": True, "version": 1, "threshold": 3, "custodians": 5},
                "witness": {
                    "available": False,
                    "version": None,
                    "threshold": None,
                    "custodians": 0,
                },
            },
        }
    )

    chain_id: int
    contract: str
    rpc_url: str | None
    disclosure_threshold: int = Field(description="The contract's disclosureThreshold().")
    kinds: dict[str, KindInfo]


class CustodianModel(BaseModel):
    model_config = _config(EXAMPLE_CUSTODIAN)

    key_id: str
    x25519_public: str
    address: str
    name: str
    registered_at: int
    active: bool
    registration_signature: str


class SetCustodianModel(BaseModel):
    index: int = Field(description="The share index this custodian receives (1..n).")
    key_id: str
    x25519_public: str = Field(description="The X25519 key its share is sealed to (raw, hex).")
    address: str = Field(description="Its Ethereum address: it must hold CUSTODIAN_ROLE.")
    name: str
    registration_signature: str = Field(
        description="EIP-191 signature by `address` over the registration statement "
        "(ledger/vault/digests.py) for this chain and contract."
    )


class SealingSetModel(BaseModel):
    model_config = _config(
        {
            "kind": "reporter",
            "set_id": 1,
            "version": 1,
            "threshold": 2,
            "chain_id": 31337,
            "contract": EXAMPLE_CONTRACT,
            "record_format": "tipledger-identity-record/2",
            "custodians": [
                {
                    "index": 1,
                    "key_id": EXAMPLE_KEY_ID,
                    "x25519_public": EXAMPLE_KEY,
                    "address": EXAMPLE_SIGNER,
                    "name": "Office of the Inspector General",
                    "registration_signature": EXAMPLE_SIGNATURE,
                }
            ],
        }
    )

    kind: Kind
    set_id: int
    version: int
    threshold: int = Field(description="Shares needed to open a record (k).")
    chain_id: int
    contract: str
    record_format: str = Field(description="The record format a device seals.")
    custodians: list[SetCustodianModel] = Field(description="In share order.")


class MemberModel(BaseModel):
    index: int
    key_id: str
    address: str
    name: str


class CustodianSetModel(BaseModel):
    model_config = _config(
        {
            "id": 1,
            "kind": "reporter",
            "version": 1,
            "threshold": 3,
            "created_at": 1764580800,
            "created_by": EXAMPLE_SIGNER,
            "custodians": [_MEMBER],
            "current": True,
            "records": 12,
        }
    )

    id: int
    kind: Kind
    version: int
    threshold: int
    created_at: int
    created_by: str
    custodians: list[MemberModel]
    current: bool
    records: int | None = None


class RecordInfo(BaseModel):
    model_config = _config(
        {
            "record_id": EXAMPLE_RECORD_ID,
            "kind": "reporter",
            "epoch": 0,
            "threshold": 3,
            "set_id": 1,
            "commitment": EXAMPLE_DIGEST,
            "custodian_key_ids": ["3f9a0c1d2e4b5a69"],
        }
    )

    record_id: str
    kind: Kind
    epoch: int
    threshold: int
    set_id: int
    commitment: str | None
    custodian_key_ids: list[str]


class DecisionModel(BaseModel):
    custodian_key_id: str
    address: str
    decided_at: int
    signature: str | None = None
    reason: str | None = None


class Recorded(BaseModel):
    tx_hash: str | None
    block_number: int | None
    timestamp: int | None


_REQUEST = {
    "id": 7,
    "record_id": EXAMPLE_RECORD_ID,
    "kind": "reporter",
    "epoch": 0,
    "threshold": 3,
    "purpose": "Witness protection order 12/2026: the reporter must be contacted.",
    "purpose_digest": EXAMPLE_DIGEST,
    "investigator_key": EXAMPLE_KEY,
    "investigator_key_id": "a1b2c3d4e5f60718",
    "requester": EXAMPLE_SIGNER,
    "filed_at": 1764580900,
    "request_digest": EXAMPLE_DIGEST,
    "eip712_digest": EXAMPLE_DIGEST,
    "state": "approved",
    "need": 3,
    "custodians": [_MEMBER],
    "approvals": [
        {
            "custodian_key_id": "3f9a0c1d2e4b5a69",
            "address": EXAMPLE_SIGNER,
            "decided_at": 1764581000,
            "signature": EXAMPLE_SIGNATURE,
        }
    ],
    "declines": [],
    "resealed": 0,
    "recorded": None,
}


class RequestModel(BaseModel):
    """A disclosure request with every decision on it (what oversight reads)."""

    model_config = _config(_REQUEST)

    id: int
    record_id: str
    kind: Kind
    epoch: int
    threshold: int
    purpose: str
    purpose_digest: str
    investigator_key: str
    investigator_key_id: str
    requester: str
    filed_at: int
    request_digest: str = Field(description="What custodians sign over (ledger/vault/digests.py).")
    eip712_digest: str = Field(description="The EIP-712 Disclosure digest a custodian signs.")
    state: Literal["pending", "approved", "declined", "recorded", "superseded"]
    need: int = Field(description="Approvals needed: max(record threshold, contract threshold).")
    custodians: list[MemberModel]
    approvals: list[DecisionModel]
    declines: list[DecisionModel]
    resealed: int = Field(description="Shares re-sealed to the investigator so far.")
    recorded: Recorded | None


class ChainEvent(BaseModel):
    record_id: str
    request_digest: str
    requester: str | None
    tx_hash: str | None
    block_number: int | None
    timestamp: int | None


class ChainState(BaseModel):
    model_config = _config(
        {
            "recorded": True,
            "event": {
                "record_id": EXAMPLE_RECORD_ID,
                "request_digest": EXAMPLE_DIGEST,
                "requester": EXAMPLE_SIGNER,
                "tx_hash": EXAMPLE_TX,
                "block_number": 42,
                "timestamp": 1764581200,
            },
            "request": _REQUEST,
        }
    )

    recorded: bool = Field(description="isDisclosed(recordId, requestDigest) on chain.")
    event: ChainEvent | None = Field(description="The DisclosureApproved event.")
    request: RequestModel


class SealedShareModel(BaseModel):
    model_config = _config(
        {
            "request": _REQUEST,
            "share": {
                "index": 2,
                "custodian_key_id": "3f9a0c1d2e4b5a69",
                "epoch": 0,
                "sealed": "0x…",
            },
        }
    )

    request: RequestModel
    share: dict[str, Any] = Field(description="The custodian's HPKE-sealed share of K.")


class ResealedEntry(BaseModel):
    index: int
    custodian_key_id: str
    resealed: str


class ResealedSharesModel(BaseModel):
    model_config = _config(
        {
            "request": _REQUEST,
            "record": {"format": "tipledger-identity-record/1", "record_id": EXAMPLE_RECORD_ID},
            "resealed": [{"index": 2, "custodian_key_id": "3f9a0c1d2e4b5a69", "resealed": "0x…"}],
        }
    )

    request: RequestModel
    record: dict[str, Any] = Field(description="The identity record (ciphertext, sealed shares).")
    resealed: list[ResealedEntry]


class RotationModel(BaseModel):
    model_config = _config(
        {
            "id": 1,
            "kind": "reporter",
            "state": "open",
            "created_at": 1764590000,
            "finished_at": None,
            "digest": EXAMPLE_DIGEST,
            "coordinator": EXAMPLE_CUSTODIAN,
            "to_set": {"id": 2, "kind": "reporter", "version": 2, "threshold": 3},
            "records": [
                {
                    "record_id": EXAMPLE_RECORD_ID,
                    "epoch": 0,
                    "threshold": 3,
                    "holders": ["3f9a0c1d2e4b5a69"],
                    "contributed": [],
                }
            ],
            "ready": False,
        }
    )

    id: int
    kind: Kind
    state: Literal["open", "done", "cancelled"]
    created_at: int
    finished_at: int | None
    digest: str = Field(description="The rotation digest (ledger/vault/digests.py).")
    coordinator: CustodianModel
    to_set: dict[str, Any] = Field(description="The target set, with its members' X25519 keys.")
    records: list[dict[str, Any]]
    ready: bool = Field(description="Every record has threshold contributions.")
    superseded_requests: int | None = None


class RotationShares(BaseModel):
    model_config = _config({"rotation": {"id": 1}, "shares": []})

    rotation: RotationModel
    shares: list[dict[str, Any]] = Field(description="The caller's sealed shares to contribute.")


class RotationContributions(BaseModel):
    model_config = _config({"rotation": {"id": 1}, "records": []})

    rotation: RotationModel
    records: list[dict[str, Any]] = Field(description="Each record with its contributions.")
