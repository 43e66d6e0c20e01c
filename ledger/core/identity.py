"""The identity record format, version 1: an identity encrypted under K, K split k-of-n.

Frozen: every identity record, sealed share and resealed share of version 1 is in this format,
and custodians open shares on their own machines with it. A change to the layout, a size, an
``info`` or the key derivation makes every record already sealed unreadable, so it is a new
version, never an edit. Sealing, opening and combining are ``ledger.vault.records``.

Version 2 (made on the reporter's device, K split over GF(2^8)) is ``ledger.core.identity_v2``.
The classes here hold either version; a record's version is its sealed shares' size (64 or 65
bytes), which its JSON ``format`` must agree with, and every ``info`` tag differs between them.

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
from ledger.core.identity_v2 import (
    DATA_KEY_INFO_V2,
    MIN_THRESHOLD_V2,
    RECORD_FORMAT_V2,
    RECORD_VERSION_V2,
    RESEAL_INFO_TAG_V2,
    RESEALED_SHARE_SIZE_V2,
    SEALED_SHARE_SIZE_V2,
    SHARE_INFO_TAG_V2,
    SHARE_VALUE_SIZE_V2,
)

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
    "RECORD_VERSIONS",
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
    "record_format",
    "record_kind",
    "reseal_header",
    "reseal_info",
    "resealed_share_header",
    "resealed_share_index",
    "resealed_share_size",
    "resealed_share_version",
    "sealed_share_size",
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
# Per version: (format, data key info, share info tag, reseal info tag, share value size).
_VERSIONS: dict[int, tuple[str, bytes, bytes, bytes, int]] = {
    RESEAL_VERSION: (RECORD_FORMAT, DATA_KEY_INFO, SHARE_INFO_TAG, RESEAL_INFO_TAG, SECRET_SIZE),
    RECORD_VERSION_V2: (
        RECORD_FORMAT_V2,
        DATA_KEY_INFO_V2,
        SHARE_INFO_TAG_V2,
        RESEAL_INFO_TAG_V2,
        SHARE_VALUE_SIZE_V2,
    ),
}
RECORD_VERSIONS = tuple(_VERSIONS)
_BY_SEALED_SIZE = {SEALED_SHARE_SIZE: 1, SEALED_SHARE_SIZE_V2: RECORD_VERSION_V2}
_BY_VALUE_SIZE = {SECRET_SIZE: 1, SHARE_VALUE_SIZE_V2: RECORD_VERSION_V2}
_BY_RESEALED_SIZE = {RESEALED_SHARE_SIZE: 1, RESEALED_SHARE_SIZE_V2: RECORD_VERSION_V2}
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
    sealed: bytes  # enc (32) || ct (32), or in version 2 enc (32) || ct (33)

    def __post_init__(self) -> None:
        check_index(self.index, RecordError)
        _check_key_id(self.custodian_key_id, "custodian_key_id")
        check_epoch(self.epoch, RecordError)
        if not isinstance(self.sealed, bytes) or len(self.sealed) not in _BY_SEALED_SIZE:
            raise RecordError(
                f"a sealed share is {SEALED_SHARE_SIZE} bytes (version 1) or "
                f"{SEALED_SHARE_SIZE_V2} (version 2), got {size_of(self.sealed)}"
            )

    @property
    def version(self) -> int:
        """The record version this share is of, by its size."""
        return _BY_SEALED_SIZE[len(self.sealed)]

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
        sealed = _json_hex(fields["sealed"], "sealed")
        if len(sealed) != SEALED_SHARE_SIZE_V2:  # anything but version 2 is read as version 1
            sealed = _json_hex(fields["sealed"], "sealed", SEALED_SHARE_SIZE)
        return cls(
            index=_json_int(fields["index"], "index"),
            custodian_key_id=fields["custodian_key_id"],
            epoch=_json_int(fields["epoch"], "epoch"),
            sealed=sealed,
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
        versions = {s.version for s in self.sealed_shares}
        if len(versions) != 1:
            raise RecordError("a record's sealed shares are all of one version (64 or 65 bytes)")
        if self.version == RECORD_VERSION_V2 and self.threshold < MIN_THRESHOLD_V2:
            raise RecordError(
                f"a version 2 record has a threshold of at least {MIN_THRESHOLD_V2}, "
                f"got {self.threshold}"
            )
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
    def version(self) -> int:
        """1 or 2: the record version, by its sealed shares' size."""
        return self.sealed_shares[0].version if self.sealed_shares else RESEAL_VERSION

    @property
    def format(self) -> str:
        """The JSON ``format`` of this record's version."""
        return record_format(self.version)

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
            "format": self.format,
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
        formats = {v[0]: n for n, v in _VERSIONS.items()}
        if fields["format"] not in formats:
            raise RecordError(
                f"not an identity record: format {fields['format']!r}, expected one of "
                f"{', '.join(repr(f) for f in formats)}"
            )
        shares = fields["sealed_shares"]
        if not isinstance(shares, list):
            raise RecordError("sealed_shares must be a list")
        record = cls(
            record_id=_json_hex(fields["record_id"], "record_id", RECORD_ID_SIZE),
            kind=record_kind(fields["kind"]),
            epoch=_json_int(fields["epoch"], "epoch"),
            threshold=_json_int(fields["threshold"], "threshold"),
            nonce=_json_hex(fields["nonce"], "nonce", NONCE_SIZE),
            ciphertext=_json_hex(fields["ciphertext"], "ciphertext"),
            sealed_shares=tuple(SealedShare.from_dict(s) for s in shares),
        )
        if record.version != formats[fields["format"]]:
            raise RecordError(
                f"not an identity record: format {fields['format']!r} has "
                f"{sealed_share_size(formats[fields['format']])}-byte sealed shares, these are "
                f"{len(record.sealed_shares[0].sealed)}"
            )
        return record


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
        if not isinstance(self.value, bytes) or len(self.value) not in _BY_VALUE_SIZE:
            raise ShareError(
                f"a share value is {SECRET_SIZE} bytes (version 1) or {SHARE_VALUE_SIZE_V2} "
                f"(version 2), got {size_of(self.value)}"
            )
        if self.version == RECORD_VERSION_V2 and self.value[-1] == 0:
            raise ShareError("a version 2 share's x is 1 to 255: x = 0 would be K itself")

    @property
    def version(self) -> int:
        """The record version this share is of, by its value's size."""
        return _BY_VALUE_SIZE[len(self.value)]


# --- binding and headers ----------------------------------------------------------------


def share_info(
    record_id: bytes, epoch: int, index: int, custodian_key_id: bytes, version: int = 1
) -> bytes:
    """HPKE ``info`` of a sealed share of ``version`` (63 bytes, module doc)."""
    return b"".join(
        (
            _layout(version, RecordError)[2],
            check_record_id(record_id, RecordError),
            check_epoch(epoch, RecordError).to_bytes(EPOCH_SIZE, "big"),
            bytes((check_index(index, RecordError),)),
            _check_raw_key_id(custodian_key_id),
        )
    )


def reseal_info(
    record_id: bytes,
    epoch: int,
    index: int,
    request_digest: bytes,
    investigator_key_id: bytes,
    version: int = 1,
) -> bytes:
    """HPKE ``info`` of a share of ``version`` re-sealed to an investigator (96 bytes)."""
    return b"".join(
        (
            _layout(version, ShareError)[3],
            check_record_id(record_id, ShareError),
            check_epoch(epoch, ShareError).to_bytes(EPOCH_SIZE, "big"),
            bytes((check_index(index, ShareError),)),
            _check_request_digest(request_digest),
            _check_raw_key_id(investigator_key_id),
        )
    )


def reseal_header(index: int, epoch: int, version: int = 1) -> bytes:
    """The 6-byte header of a resealed share: version, index, epoch."""
    _layout(version, ShareError)
    return bytes((version, check_index(index, ShareError))) + check_epoch(
        epoch, ShareError
    ).to_bytes(EPOCH_SIZE, "big")


def resealed_share_index(resealed: bytes) -> int:
    """The share index a resealed share claims (unauthenticated until opened)."""
    return resealed_share_header(resealed)[0]


def resealed_share_header(resealed: object) -> tuple[int, int]:
    """``(index, epoch)`` of a resealed share; ``ShareError`` if its size or version is wrong."""
    resealed_share_version(resealed)
    assert isinstance(resealed, bytes | bytearray)  # checked just above
    index = check_index(resealed[1], ShareError)
    epoch = int.from_bytes(resealed[2:RESEAL_HEADER_SIZE], "big")
    return index, epoch


def resealed_share_version(resealed: object) -> int:
    """1 or 2: a resealed share's version, whose header byte must agree with its size."""
    if not isinstance(resealed, bytes | bytearray) or len(resealed) not in _BY_RESEALED_SIZE:
        raise ShareError(
            f"a resealed share is {RESEALED_SHARE_SIZE} bytes (version 1) or "
            f"{RESEALED_SHARE_SIZE_V2} (version 2), got {size_of(resealed)}"
        )
    version = _BY_RESEALED_SIZE[len(resealed)]
    if resealed[0] != version:
        raise ShareError(
            f"unknown resealed-share version {resealed[0]} for {len(resealed)} bytes (this "
            f"TipLedger reads version 1 at {RESEALED_SHARE_SIZE} bytes and version 2 at "
            f"{RESEALED_SHARE_SIZE_V2})"
        )
    return version


def record_format(version: int) -> str:
    """The JSON ``format`` of record ``version``; ``RecordError`` for an unknown version."""
    return _layout(version, RecordError)[0]


def sealed_share_size(version: int) -> int:
    """The size of a sealed share of record ``version``: 64 or 65 bytes."""
    return hpke.ENC_SIZE + _layout(version, RecordError)[4] + hpke.TAG_SIZE


def resealed_share_size(version: int) -> int:
    """The size of a resealed share of record ``version``: 70 or 71 bytes."""
    return RESEAL_HEADER_SIZE + sealed_share_size(version)


def data_key(secret: bytes, version: int = 1) -> bytes:
    """A record's AES-256-GCM key: HKDF-SHA256 over K, no salt, the version's info tag."""
    info = _layout(version, RecordError)[1]
    hkdf = HKDF(algorithm=hashes.SHA256(), length=DATA_KEY_SIZE, salt=None, info=info)
    return hkdf.derive(secret)


def _layout(version: object, error: type[Exception]) -> tuple[str, bytes, bytes, bytes, int]:
    if isinstance(version, bool) or not isinstance(version, int) or version not in _VERSIONS:
        raise error(
            f"unknown identity record version {version!r}: this TipLedger reads "
            f"{', '.join(str(v) for v in _VERSIONS)}"
        )
    return _VERSIONS[version]


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
