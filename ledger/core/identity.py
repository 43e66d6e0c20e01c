"""The identity record format, version 1: an identity encrypted under K, K split k-of-n.

Frozen: every stored identity record, sealed share and resealed share is in this format, and
custodians open shares on their own machines with it. A change to the layout, a size, an
``info`` or the key derivation makes every record already sealed unreadable, so it is a new
version, never an edit. Sealing, opening and combining are ``ledger.vault.records``.

Wire format, version 1. Sizes in bytes, integers unsigned big-endian, ``||`` concatenation::

    K             = 16 bytes from the OS CSPRNG, fresh for every record and every rotation
    data key      = HKDF-SHA256(IKM = K, salt = none, info = "tipledger/v1/identity", L = 32)
    nonce         = 12 random bytes, stored in the record
    ciphertext    = AES-256-GCM(data key, nonce, identity JSON, aad = record_id)   (len + 16)
    shares        = Shamir.split(threshold, n, K): PyCryptodome, GF(2^128), ssss=False;
                    share i is (index i, 16-byte value), indices 1..n in the custodians' order
    sealed share  = enc (32) || ct (32)                                            = 64 bytes
                    HPKE seal of the 16-byte share value to custodian i's X25519 key, with
    share info    = "tipledger/v1/share" (18) || record_id (32) || epoch (4) || index (1)
                    || custodian key_id (8)                                        = 63 bytes

    resealed share = version 0x01 (1) || index (1) || epoch (4) || enc (32) || ct (32)  = 70 bytes
                    HPKE seal of the same 16-byte share value to the investigator's X25519 key,
    reseal info   = "tipledger/v1/reseal" (19) || record_id (32) || epoch (4) || index (1)
                    || request_digest (32) || investigator key_id (8)               = 96 bytes

    record (JSON) = {"format": "tipledger-identity-record/1", "record_id": "0x…", "kind":
                    "reporter" | "witness", "epoch", "threshold", "nonce": "0x…", "ciphertext":
                    "0x…", "sealed_shares": [{"index", "custodian_key_id", "epoch",
                    "sealed": "0x…"}, …]}  (bytes as 0x hex, integers as JSON numbers)

- HPKE and ``key_id`` are ``ledger.core.hpke``'s, the review desk's suite (RFC 9180 base mode,
  DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM). What a share is bound to goes into
  ``info``, which enters the key schedule, so a sealed share opened under any other record id,
  epoch, index or key id fails authentication.
- HKDF "salt = none" is RFC 5869's default, HashLen zero bytes; HMAC pads its key with zeros, so
  this equals an empty salt. ``cryptography``'s ``HKDF(salt=None)``.
- ``record_id`` is 32 bytes from the CSPRNG, derived from nothing: it is published on chain by
  ``recordDisclosure`` and must not link to the tip, the identity or the kind.
- ``key_id`` is the first 8 bytes of SHA-256 over a raw 32-byte X25519 public key; in JSON and
  in the API it is those 8 bytes as 16 lowercase hex digits (as the review desk's key id).
- ``epoch`` counts rotations: 0 when sealed, +1 on each ``reshare``. A rotation keeps the record
  id (the tip and the on-chain disclosures keep pointing at one record) and re-encrypts under a
  fresh K, so shares of an earlier epoch are refused by name, and if relabelled fail the tag.
- The identity JSON is the caller's bytes as given, or for a dict its compact, key-sorted UTF-8
  JSON. It must be a JSON object of at most 64 KiB (``MAX_IDENTITY_SIZE``, the one limit: the
  API refuses larger identities with it too).
- ``kind`` and ``threshold`` are stored in clear and not authenticated. Neither can leak
  anything: the shares are sealed to the record's own custodian keys whatever the label says, and
  a false threshold only makes ``combine`` refuse (too few shares fail the GCM tag).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.core import hpke
from ledger.core.encoding import from_hex, to_hex
from ledger.core.errors import ProtocolError, RecordError, ShareError

__all__ = [
    "DATA_KEY_INFO",
    "DATA_KEY_SIZE",
    "EPOCH_SIZE",
    "KEY_ID_SIZE",
    "MAX_CUSTODIANS",
    "MAX_EPOCH",
    "MAX_IDENTITY_SIZE",
    "NONCE_SIZE",
    "RECORD_FIELDS",
    "RECORD_FORMAT",
    "RECORD_ID_SIZE",
    "REQUEST_DIGEST_SIZE",
    "RESEALED_SHARE_SIZE",
    "RESEAL_HEADER_SIZE",
    "RESEAL_INFO_TAG",
    "RESEAL_VERSION",
    "SEALED_SHARE_FIELDS",
    "SEALED_SHARE_SIZE",
    "SECRET_SIZE",
    "SHARE_INFO_TAG",
    "IdentityRecord",
    "RecordKind",
    "SealedShare",
    "Share",
    "check_epoch",
    "check_index",
    "check_record_id",
    "check_threshold",
    "data_key",
    "identity_bytes",
    "no_duplicates",
    "record_kind",
    "reseal_header",
    "reseal_info",
    "resealed_share_header",
    "resealed_share_index",
    "share_info",
    "size_of",
]

DATA_KEY_INFO = b"tipledger/v1/identity"
SHARE_INFO_TAG = b"tipledger/v1/share"
RESEAL_INFO_TAG = b"tipledger/v1/reseal"
RECORD_FORMAT = "tipledger-identity-record/1"
RESEAL_VERSION = 1

SECRET_SIZE = 16  # K, and each Shamir share value
DATA_KEY_SIZE = 32
NONCE_SIZE = 12
RECORD_ID_SIZE = 32
REQUEST_DIGEST_SIZE = 32
KEY_ID_SIZE = hpke.KEY_ID_SIZE
EPOCH_SIZE = 4
MAX_EPOCH = 2 ** (8 * EPOCH_SIZE) - 1
MAX_CUSTODIANS = 255  # share indices are one byte, 1..255
MAX_IDENTITY_SIZE = 64 * 1024  # bytes of identity JSON

SEALED_SHARE_SIZE = hpke.ENC_SIZE + SECRET_SIZE + hpke.TAG_SIZE
RESEAL_HEADER_SIZE = 1 + 1 + EPOCH_SIZE
RESEALED_SHARE_SIZE = RESEAL_HEADER_SIZE + SEALED_SHARE_SIZE
_MIN_CIPHERTEXT = len(b"{}") + hpke.TAG_SIZE
_MAX_CIPHERTEXT = MAX_IDENTITY_SIZE + hpke.TAG_SIZE
_KEY_ID_HEX = re.compile(f"[0-9a-f]{{{2 * KEY_ID_SIZE}}}")

# The JSON field names, in the order ``to_dict`` writes them.
SEALED_SHARE_FIELDS = ("index", "custodian_key_id", "epoch", "sealed")
RECORD_FIELDS = (
    "format",
    "record_id",
    "kind",
    "epoch",
    "threshold",
    "nonce",
    "ciphertext",
    "sealed_shares",
)


class RecordKind(enum.StrEnum):
    """Reporter and witness identities are separate kinds, each with its own custodian set."""

    REPORTER = "reporter"
    WITNESS = "witness"


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealedShare:
    """One custodian's share of K, HPKE-sealed to that custodian's X25519 key (module doc)."""

    index: int
    custodian_key_id: str
    epoch: int
    sealed: bytes  # enc (32) || ct (32)

    def __post_init__(self) -> None:
        check_index(self.index, RecordError)
        _check_key_id(self.custodian_key_id, "custodian_key_id")
        check_epoch(self.epoch, RecordError)
        if not isinstance(self.sealed, bytes) or len(self.sealed) != SEALED_SHARE_SIZE:
            raise RecordError(
                f"a sealed share is {SEALED_SHARE_SIZE} bytes, got {size_of(self.sealed)}"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: ``{"index", "custodian_key_id", "epoch", "sealed": "0x…"}``."""
        return {
            "index": self.index,
            "custodian_key_id": self.custodian_key_id,
            "epoch": self.epoch,
            "sealed": to_hex(self.sealed),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SealedShare:
        """Parse ``to_dict``'s form; ``RecordError`` names what is wrong."""
        fields = _fields(data, "a sealed share", SEALED_SHARE_FIELDS)
        return cls(
            index=_json_int(fields["index"], "index"),
            custodian_key_id=fields["custodian_key_id"],
            epoch=_json_int(fields["epoch"], "epoch"),
            sealed=_json_hex(fields["sealed"], "sealed", SEALED_SHARE_SIZE),
        )


@dataclass(frozen=True)
class IdentityRecord:
    """What the server stores for one identity: ciphertext and sealed shares, nothing else."""

    record_id: bytes
    kind: RecordKind
    epoch: int
    threshold: int
    nonce: bytes
    ciphertext: bytes
    sealed_shares: tuple[SealedShare, ...]

    def __post_init__(self) -> None:
        check_record_id(self.record_id, RecordError)
        if not isinstance(self.kind, RecordKind):
            raise RecordError(f"kind must be a RecordKind, got {type(self.kind).__name__}")
        check_epoch(self.epoch, RecordError)
        if not isinstance(self.nonce, bytes) or len(self.nonce) != NONCE_SIZE:
            raise RecordError(f"a record nonce is {NONCE_SIZE} bytes, got {size_of(self.nonce)}")
        if (
            not isinstance(self.ciphertext, bytes)
            or not _MIN_CIPHERTEXT <= len(self.ciphertext) <= _MAX_CIPHERTEXT
        ):
            raise RecordError(
                f"a record ciphertext is {_MIN_CIPHERTEXT} to {_MAX_CIPHERTEXT} bytes, "
                f"got {size_of(self.ciphertext)}"
            )
        if not isinstance(self.sealed_shares, tuple) or not all(
            isinstance(s, SealedShare) for s in self.sealed_shares
        ):
            raise RecordError("sealed_shares must be a tuple of SealedShare")
        n = len(self.sealed_shares)
        check_threshold(self.threshold, n)
        no_duplicates([s.index for s in self.sealed_shares], "share index", RecordError)
        no_duplicates(
            [s.custodian_key_id for s in self.sealed_shares], "custodian key id", RecordError
        )
        for s in self.sealed_shares:
            if s.epoch != self.epoch:
                raise RecordError(
                    f"sealed share {s.index} is of epoch {s.epoch}, the record is at {self.epoch}"
                )

    @property
    def custodian_key_ids(self) -> tuple[str, ...]:
        """The key ids of the custodians holding a share, in share order."""
        return tuple(s.custodian_key_id for s in self.sealed_shares)

    def sealed_share_for(self, custodian_key_id: str) -> SealedShare:
        """The share sealed to ``custodian_key_id``; ``ShareError`` if it holds none."""
        for s in self.sealed_shares:
            if s.custodian_key_id == custodian_key_id:
                return s
        raise ShareError(
            f"custodian key {custodian_key_id} holds no share of record {to_hex(self.record_id)} "
            f"(epoch {self.epoch})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: bytes as ``0x`` hex, integers as JSON numbers."""
        return {
            "format": RECORD_FORMAT,
            "record_id": to_hex(self.record_id),
            "kind": self.kind.value,
            "epoch": self.epoch,
            "threshold": self.threshold,
            "nonce": to_hex(self.nonce),
            "ciphertext": to_hex(self.ciphertext),
            "sealed_shares": [s.to_dict() for s in self.sealed_shares],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IdentityRecord:
        """Parse ``to_dict``'s form; ``RecordError`` names what is wrong."""
        fields = _fields(data, "an identity record", RECORD_FIELDS)
        if fields["format"] != RECORD_FORMAT:
            raise RecordError(
                f"not an identity record: format {fields['format']!r}, expected {RECORD_FORMAT!r}"
            )
        shares = fields["sealed_shares"]
        if not isinstance(shares, list):
            raise RecordError("sealed_shares must be a list")
        return cls(
            record_id=_json_hex(fields["record_id"], "record_id", RECORD_ID_SIZE),
            kind=record_kind(fields["kind"]),
            epoch=_json_int(fields["epoch"], "epoch"),
            threshold=_json_int(fields["threshold"], "threshold"),
            nonce=_json_hex(fields["nonce"], "nonce", NONCE_SIZE),
            ciphertext=_json_hex(fields["ciphertext"], "ciphertext"),
            sealed_shares=tuple(SealedShare.from_dict(s) for s in shares),
        )


@dataclass(frozen=True)
class Share:
    """An opened share of K: secret. ``record_id`` and ``epoch`` say what it was opened for."""

    record_id: bytes
    epoch: int
    index: int
    value: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_record_id(self.record_id, ShareError)
        check_epoch(self.epoch, ShareError)
        check_index(self.index, ShareError)
        if not isinstance(self.value, bytes) or len(self.value) != SECRET_SIZE:
            raise ShareError(f"a share value is {SECRET_SIZE} bytes, got {size_of(self.value)}")


# --- binding and headers ----------------------------------------------------------------


def share_info(record_id: bytes, epoch: int, index: int, custodian_key_id: bytes) -> bytes:
    """HPKE ``info`` of a sealed share (63 bytes, module doc)."""
    return b"".join(
        (
            SHARE_INFO_TAG,
            check_record_id(record_id, RecordError),
            check_epoch(epoch, RecordError).to_bytes(EPOCH_SIZE, "big"),
            bytes((check_index(index, RecordError),)),
            _check_raw_key_id(custodian_key_id),
        )
    )


def reseal_info(
    record_id: bytes, epoch: int, index: int, request_digest: bytes, investigator_key_id: bytes
) -> bytes:
    """HPKE ``info`` of a share re-sealed to an investigator (96 bytes, module doc)."""
    return b"".join(
        (
            RESEAL_INFO_TAG,
            check_record_id(record_id, ShareError),
            check_epoch(epoch, ShareError).to_bytes(EPOCH_SIZE, "big"),
            bytes((check_index(index, ShareError),)),
            _check_request_digest(request_digest),
            _check_raw_key_id(investigator_key_id),
        )
    )


def reseal_header(index: int, epoch: int) -> bytes:
    """The 6-byte header of a resealed share: version, index, epoch."""
    return bytes((RESEAL_VERSION, check_index(index, ShareError))) + check_epoch(
        epoch, ShareError
    ).to_bytes(EPOCH_SIZE, "big")


def resealed_share_index(resealed: bytes) -> int:
    """The share index a resealed share claims (unauthenticated until opened)."""
    return resealed_share_header(resealed)[0]


def resealed_share_header(resealed: object) -> tuple[int, int]:
    """``(index, epoch)`` of a resealed share; ``ShareError`` if its size or version is wrong."""
    if not isinstance(resealed, bytes | bytearray) or len(resealed) != RESEALED_SHARE_SIZE:
        raise ShareError(
            f"a resealed share is {RESEALED_SHARE_SIZE} bytes, got {size_of(resealed)}"
        )
    if resealed[0] != RESEAL_VERSION:
        raise ShareError(
            f"unknown resealed-share version {resealed[0]} (this TipLedger reads {RESEAL_VERSION})"
        )
    index = check_index(resealed[1], ShareError)
    epoch = int.from_bytes(resealed[2:RESEAL_HEADER_SIZE], "big")
    return index, epoch


def data_key(secret: bytes) -> bytes:
    """A record's AES-256-GCM key: HKDF-SHA256 over K, no salt, info "tipledger/v1/identity"."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=DATA_KEY_SIZE, salt=None, info=DATA_KEY_INFO)
    return hkdf.derive(secret)


# --- the identity JSON, and checks shared with ledger.vault.records -------------------------


def identity_bytes(identity: Mapping[str, Any] | bytes) -> bytes:
    """The identity JSON that gets encrypted: bytes as given, a mapping as compact sorted JSON.

    ``RecordError`` unless it is a UTF-8 JSON object of at most 64 KiB.
    """
    if isinstance(identity, bytes | bytearray):
        data = bytes(identity)
        try:
            parsed = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RecordError(f"the identity is not UTF-8 JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise RecordError(f"the identity must be a JSON object, got {type(parsed).__name__}")
    elif isinstance(identity, Mapping):
        try:
            data = json.dumps(
                dict(identity), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise RecordError(f"the identity cannot be written as JSON: {exc}") from None
    else:
        raise RecordError(
            f"the identity is a JSON object or its bytes, got {type(identity).__name__}"
        )
    if len(data) > MAX_IDENTITY_SIZE:
        raise RecordError(
            f"the identity is {len(data)} bytes of JSON, at most {MAX_IDENTITY_SIZE} are allowed"
        )
    return data


def check_threshold(threshold: int, n: int) -> None:
    """``RecordError`` unless ``1 <= threshold <= n <= MAX_CUSTODIANS``."""
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        raise RecordError(f"the threshold is an integer, got {type(threshold).__name__}")
    if not 1 <= n <= MAX_CUSTODIANS:
        raise RecordError(f"a record has 1 to {MAX_CUSTODIANS} custodians, got {n}")
    if not 1 <= threshold <= n:
        raise RecordError(
            f"the threshold must be between 1 and {n} (the custodians), got {threshold}"
        )


def record_kind(value: object) -> RecordKind:
    """``value`` as a ``RecordKind`` (a kind or its name); ``RecordError`` naming the choices."""
    if isinstance(value, RecordKind):
        return value
    choices = ", ".join(repr(k.value) for k in RecordKind)
    if not isinstance(value, str):
        raise RecordError(f"a record kind is one of {choices}, got a {type(value).__name__}")
    try:
        return RecordKind(value)
    except ValueError:
        raise RecordError(f"unknown record kind {value!r}: expected one of {choices}") from None


def check_record_id(value: object, error: type[Exception]) -> bytes:
    """``value`` as 32 bytes; ``error`` (``RecordError`` or ``ShareError``) otherwise."""
    if not isinstance(value, bytes | bytearray) or len(value) != RECORD_ID_SIZE:
        raise error(f"a record id is {RECORD_ID_SIZE} bytes, got {size_of(value)}")
    return bytes(value)


def _check_request_digest(value: object) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != REQUEST_DIGEST_SIZE:
        raise ShareError(
            f"a disclosure request digest is {REQUEST_DIGEST_SIZE} bytes, got {size_of(value)}"
        )
    return bytes(value)


def _check_raw_key_id(value: object) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != KEY_ID_SIZE:
        raise RecordError(f"a raw key id is {KEY_ID_SIZE} bytes, got {size_of(value)}")
    return bytes(value)


def _check_key_id(value: object, name: str) -> str:
    if not isinstance(value, str) or _KEY_ID_HEX.fullmatch(value) is None:
        raise RecordError(f"{name} is {2 * KEY_ID_SIZE} lowercase hex digits, got {value!r}")
    return value


def check_index(value: object, error: type[Exception]) -> int:
    """A share index, 1 to 255; ``error`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CUSTODIANS:
        raise error(f"a share index is an integer from 1 to {MAX_CUSTODIANS}, got {value!r}")
    return value


def check_epoch(value: object, error: type[Exception]) -> int:
    """An epoch, 0 to 2**32 - 1; ``error`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_EPOCH:
        raise error(f"an epoch is an integer from 0 to {MAX_EPOCH}, got {value!r}")
    return value


def no_duplicates(values: Sequence[object], what: str, error: type[Exception]) -> None:
    """``error`` naming the first value that appears twice."""
    seen: set[object] = set()
    for v in values:
        if v in seen:
            raise error(f"duplicate {what} {v}: each may appear once")
        seen.add(v)


def _fields(data: object, what: str, names: Sequence[str]) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise RecordError(f"{what} is a JSON object, got {type(data).__name__}")
    missing = [n for n in names if n not in data]
    if missing:
        raise RecordError(f"{what} lacks {', '.join(missing)}")
    return {n: data[n] for n in names}


def _json_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{name} must be an integer, got {value!r}")
    return value


def _json_hex(value: object, name: str, length: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise RecordError(f"{name} must be 0x-prefixed hex, got {type(value).__name__}")
    try:
        return from_hex(value, length)
    except ProtocolError as exc:
        raise RecordError(f"{name}: {exc}") from None


def size_of(value: object) -> str:
    """A value's length for an error message, or its type if it is not bytes."""
    if isinstance(value, bytes | bytearray):
        return str(len(value))
    return f"a {type(value).__name__}"
