"""Identity records: an identity encrypted under a fresh key K, K split k-of-n among custodians.

This is DESIGN.md 'Identity vault', to the letter. The server stores an ``IdentityRecord`` (the
ciphertext and the sealed shares) and nothing else: no single custodian, and not the server, can
read the identity; any ``threshold`` custodians together can.

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

- HPKE is RFC 9180 base mode, single shot, suite DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
  AES-256-GCM (ids 0x0020, 0x0001, 0x0002), from ``cryptography.hazmat.primitives.hpke``, the
  review desk's suite. The library's single-shot API takes no AAD; what a share is bound to goes
  into ``info``, which enters the key schedule (RFC 9180 section 8.1), so a sealed share opened
  under any other record id, epoch, index or key id fails authentication.
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
  JSON. It must be a JSON object of at most 64 KiB.
- ``kind`` and ``threshold`` are stored in clear and not authenticated. Neither can leak
  anything: the shares are sealed to the record's own custodian keys whatever the label says, and
  a false threshold only makes ``combine`` refuse (too few shares fail the GCM tag).

A disclosure, crypto side: each custodian opens its sealed share on its own machine
(``open_share``), and only after the on-chain ``recordDisclosure`` re-seals it to the
investigator's key, bound to the disclosure request digest (``reseal_share``); the investigator
opens the resealed shares (``open_resealed``) and ``combine``s them. A resealed share opens only
for the request digest it was made for. ``combine`` uses every share it is given: k or more
correct shares decrypt; fewer than k, or any wrong, tampered or foreign share, raise
``ShareError`` (the AES-GCM tag is the final check: the vault never returns unauthenticated
bytes).
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from Crypto.Protocol.SecretSharing import Shamir
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.core.encoding import from_hex, to_hex
from ledger.core.errors import ProtocolError
from ledger.vault.errors import RecordError, ShareError

__all__ = [
    "DATA_KEY_INFO",
    "EPOCH_SIZE",
    "KEY_ID_SIZE",
    "MAX_CUSTODIANS",
    "MAX_IDENTITY_SIZE",
    "NONCE_SIZE",
    "RECORD_FORMAT",
    "RECORD_ID_SIZE",
    "REQUEST_DIGEST_SIZE",
    "RESEALED_SHARE_SIZE",
    "RESEAL_INFO_TAG",
    "RESEAL_VERSION",
    "SEALED_SHARE_SIZE",
    "SECRET_SIZE",
    "SHARE_INFO_TAG",
    "SUITE",
    "CustodianPublicKey",
    "IdentityRecord",
    "RecordKind",
    "SealedShare",
    "Share",
    "combine",
    "identity_bytes",
    "key_id",
    "key_id_bytes",
    "open_resealed",
    "open_share",
    "reseal_info",
    "reseal_share",
    "resealed_share_index",
    "reshare",
    "seal_identity",
    "share_info",
]

SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)

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
KEY_ID_SIZE = 8
EPOCH_SIZE = 4
MAX_EPOCH = 2 ** (8 * EPOCH_SIZE) - 1
MAX_CUSTODIANS = 255  # share indices are one byte, 1..255
MAX_IDENTITY_SIZE = 64 * 1024

_ENC_SIZE = 32  # KEM.X25519.enc_length()
_TAG_SIZE = 16
SEALED_SHARE_SIZE = _ENC_SIZE + SECRET_SIZE + _TAG_SIZE
_RESEAL_HEADER_SIZE = 1 + 1 + EPOCH_SIZE
RESEALED_SHARE_SIZE = _RESEAL_HEADER_SIZE + SEALED_SHARE_SIZE
_MIN_CIPHERTEXT = len(b"{}") + _TAG_SIZE
_MAX_CIPHERTEXT = MAX_IDENTITY_SIZE + _TAG_SIZE
_KEY_ID_HEX = re.compile(f"[0-9a-f]{{{2 * KEY_ID_SIZE}}}")


class RecordKind(enum.StrEnum):
    """Reporter and witness identities are separate kinds, each with its own custodian set."""

    REPORTER = "reporter"
    WITNESS = "witness"


# --- keys ------------------------------------------------------------------------------------


def key_id_bytes(public_key: X25519PublicKey) -> bytes:
    """The first 8 bytes of SHA-256 over the raw 32-byte X25519 public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).digest()[:KEY_ID_SIZE]


def key_id(public_key: X25519PublicKey) -> str:
    """``key_id_bytes`` as 16 lowercase hex digits, the form used in JSON and in the API."""
    return key_id_bytes(public_key).hex()


@dataclass(frozen=True, eq=False)
class CustodianPublicKey:
    """A custodian's X25519 public key for shares, and its key id (checked to match the key)."""

    key_id: str
    x25519_public: X25519PublicKey

    def __post_init__(self) -> None:
        if not isinstance(self.x25519_public, X25519PublicKey):
            raise RecordError(
                f"a custodian key is an X25519 public key, got {type(self.x25519_public).__name__}"
            )
        try:  # reject low-order points, to which nothing can be sealed
            X25519PrivateKey.generate().exchange(self.x25519_public)
        except ValueError:
            raise RecordError("that custodian public key is not a usable X25519 key") from None
        expected = key_id(self.x25519_public)
        if self.key_id != expected:
            raise RecordError(
                f"custodian key id {self.key_id!r} does not match its public key (id {expected})"
            )

    @classmethod
    def from_public_key(cls, public_key: X25519PublicKey) -> CustodianPublicKey:
        """The custodian key for ``public_key``, with its key id computed."""
        if not isinstance(public_key, X25519PublicKey):
            raise RecordError(
                f"a custodian key is an X25519 public key, got {type(public_key).__name__}"
            )
        return cls(key_id(public_key), public_key)

    @property
    def raw(self) -> bytes:
        """The raw 32-byte public key."""
        return self.x25519_public.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CustodianPublicKey) and self.raw == other.raw

    def __hash__(self) -> int:
        return hash(self.raw)


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealedShare:
    """One custodian's share of K, HPKE-sealed to that custodian's X25519 key (module doc)."""

    index: int
    custodian_key_id: str
    epoch: int
    sealed: bytes  # enc (32) || ct (32)

    def __post_init__(self) -> None:
        _check_index(self.index, RecordError)
        _check_key_id(self.custodian_key_id, "custodian_key_id")
        _check_epoch(self.epoch, RecordError)
        if not isinstance(self.sealed, bytes) or len(self.sealed) != SEALED_SHARE_SIZE:
            raise RecordError(
                f"a sealed share is {SEALED_SHARE_SIZE} bytes, got {_size_of(self.sealed)}"
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
        fields = _fields(data, "a sealed share", ("index", "custodian_key_id", "epoch", "sealed"))
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
        _check_record_id(self.record_id, RecordError)
        if not isinstance(self.kind, RecordKind):
            raise RecordError(f"kind must be a RecordKind, got {type(self.kind).__name__}")
        _check_epoch(self.epoch, RecordError)
        if not isinstance(self.nonce, bytes) or len(self.nonce) != NONCE_SIZE:
            raise RecordError(f"a record nonce is {NONCE_SIZE} bytes, got {_size_of(self.nonce)}")
        if (
            not isinstance(self.ciphertext, bytes)
            or not _MIN_CIPHERTEXT <= len(self.ciphertext) <= _MAX_CIPHERTEXT
        ):
            raise RecordError(
                f"a record ciphertext is {_MIN_CIPHERTEXT} to {_MAX_CIPHERTEXT} bytes, "
                f"got {_size_of(self.ciphertext)}"
            )
        if not isinstance(self.sealed_shares, tuple) or not all(
            isinstance(s, SealedShare) for s in self.sealed_shares
        ):
            raise RecordError("sealed_shares must be a tuple of SealedShare")
        n = len(self.sealed_shares)
        _check_threshold(self.threshold, n)
        _no_duplicates([s.index for s in self.sealed_shares], "share index", RecordError)
        _no_duplicates(
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
        fields = _fields(
            data,
            "an identity record",
            (
                "format",
                "record_id",
                "kind",
                "epoch",
                "threshold",
                "nonce",
                "ciphertext",
                "sealed_shares",
            ),
        )
        if fields["format"] != RECORD_FORMAT:
            raise RecordError(
                f"not an identity record: format {fields['format']!r}, expected {RECORD_FORMAT!r}"
            )
        shares = fields["sealed_shares"]
        if not isinstance(shares, list):
            raise RecordError("sealed_shares must be a list")
        return cls(
            record_id=_json_hex(fields["record_id"], "record_id", RECORD_ID_SIZE),
            kind=_kind(fields["kind"]),
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
        _check_record_id(self.record_id, ShareError)
        _check_epoch(self.epoch, ShareError)
        _check_index(self.index, ShareError)
        if not isinstance(self.value, bytes) or len(self.value) != SECRET_SIZE:
            raise ShareError(f"a share value is {SECRET_SIZE} bytes, got {_size_of(self.value)}")


# --- sealing ---------------------------------------------------------------------------------


def seal_identity(
    identity: Mapping[str, Any] | bytes,
    *,
    kind: RecordKind | str,
    custodians: Sequence[CustodianPublicKey],
    threshold: int,
) -> IdentityRecord:
    """Encrypt ``identity`` under a fresh K and seal K's shares, one to each custodian.

    ``custodians[i]`` receives share index ``i + 1``. Needs ``1 <= threshold <= n <= 255`` and
    distinct custodian keys; ``RecordError`` otherwise.
    """
    return _seal(
        identity_bytes(identity),
        record_id=secrets.token_bytes(RECORD_ID_SIZE),
        kind=_kind(kind),
        epoch=0,
        custodians=custodians,
        threshold=threshold,
    )


def reshare(
    shares: Iterable[Share],
    record: IdentityRecord,
    *,
    custodians: Sequence[CustodianPublicKey],
    threshold: int,
) -> IdentityRecord:
    """Rotate ``record`` to a new custodian set and threshold, from at least k of its shares.

    The identity is decrypted (so this runs where the shares are combined, never on the server)
    and re-encrypted under a fresh K with a fresh nonce; the new record keeps the record id and
    kind, and its epoch is one more. Old shares neither open nor combine for the new record. A
    fresh K protects only once the old ciphertext and sealed shares are deleted: they still open
    with the old shares.
    """
    plaintext = combine(shares, record)
    if record.epoch >= MAX_EPOCH:
        raise RecordError(f"record {to_hex(record.record_id)} cannot be rotated again")
    return _seal(
        plaintext,
        record_id=record.record_id,
        kind=record.kind,
        epoch=record.epoch + 1,
        custodians=custodians,
        threshold=threshold,
    )


def _seal(
    plaintext: bytes,
    *,
    record_id: bytes,
    kind: RecordKind,
    epoch: int,
    custodians: Sequence[CustodianPublicKey],
    threshold: int,
) -> IdentityRecord:
    custodians_ = _check_custodians(custodians)
    _check_threshold(threshold, len(custodians_))
    secret = secrets.token_bytes(SECRET_SIZE)
    nonce = secrets.token_bytes(NONCE_SIZE)
    ciphertext = AESGCM(_data_key(secret)).encrypt(nonce, plaintext, record_id)
    split = Shamir.split(threshold, len(custodians_), secret, ssss=False)
    sealed = tuple(
        _seal_share(record_id, epoch, index, value, custodian)
        for (index, value), custodian in zip(split, custodians_, strict=True)
    )
    return IdentityRecord(
        record_id=record_id,
        kind=kind,
        epoch=epoch,
        threshold=threshold,
        nonce=nonce,
        ciphertext=ciphertext,
        sealed_shares=sealed,
    )


def _seal_share(
    record_id: bytes, epoch: int, index: int, value: bytes, custodian: CustodianPublicKey
) -> SealedShare:
    kid = bytes.fromhex(custodian.key_id)
    try:
        sealed = SUITE.encrypt(
            value, custodian.x25519_public, info=share_info(record_id, epoch, index, kid)
        )
    except ValueError as exc:  # a low-order public key: no shared secret
        raise RecordError(
            f"cannot seal to custodian key {custodian.key_id}: not a usable X25519 key ({exc})"
        ) from None
    return SealedShare(index=index, custodian_key_id=custodian.key_id, epoch=epoch, sealed=sealed)


def share_info(record_id: bytes, epoch: int, index: int, custodian_key_id: bytes) -> bytes:
    """HPKE ``info`` of a sealed share (63 bytes, module doc)."""
    return b"".join(
        (
            SHARE_INFO_TAG,
            _check_record_id(record_id, RecordError),
            _check_epoch(epoch, RecordError).to_bytes(EPOCH_SIZE, "big"),
            bytes((_check_index(index, RecordError),)),
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
            _check_record_id(record_id, ShareError),
            _check_epoch(epoch, ShareError).to_bytes(EPOCH_SIZE, "big"),
            bytes((_check_index(index, ShareError),)),
            _check_request_digest(request_digest),
            _check_raw_key_id(investigator_key_id),
        )
    )


# --- a custodian's machine -------------------------------------------------------------------


def open_share(
    sealed_share: SealedShare, record_id: bytes, custodian_private_key: X25519PrivateKey
) -> Share:
    """Open a sealed share of record ``record_id`` with the custodian's private key.

    ``ShareError`` if the share was sealed to another custodian key (naming it), or does not
    authenticate: altered, or moved to another record id, epoch or index.
    """
    if not isinstance(sealed_share, SealedShare):
        raise ShareError(f"expected a SealedShare, got {type(sealed_share).__name__}")
    record_id_ = _check_record_id(record_id, ShareError)
    mine = key_id_bytes(_private_key(custodian_private_key, "custodian").public_key())
    if sealed_share.custodian_key_id != mine.hex():
        raise ShareError(
            f"share {sealed_share.index} of record {to_hex(record_id_)} was sealed to custodian "
            f"key {sealed_share.custodian_key_id}, not to this key ({mine.hex()})"
        )
    info = share_info(record_id_, sealed_share.epoch, sealed_share.index, mine)
    try:
        value = SUITE.decrypt(sealed_share.sealed, custodian_private_key, info=info)
    except InvalidTag:
        raise ShareError(
            f"share {sealed_share.index} does not open for record {to_hex(record_id_)} "
            f"(epoch {sealed_share.epoch}): it was altered, or belongs to another record, epoch "
            "or share index"
        ) from None
    return Share(
        record_id=record_id_, epoch=sealed_share.epoch, index=sealed_share.index, value=value
    )


def reseal_share(
    share: Share,
    *,
    record_id: bytes,
    investigator_public_key: X25519PublicKey,
    request_digest: bytes,
) -> bytes:
    """Re-seal an opened share to the investigator's X25519 key for one disclosure request.

    Call only once ``recordDisclosure`` for ``(record_id, request_digest)`` has succeeded on
    chain, and only to the investigator key the approved request names: the request digest is
    meant to commit to that key, and the caller checks it. Returns the 70-byte resealed share
    (module doc); it opens only with the investigator's key, the same record id and the same
    request digest.
    """
    if not isinstance(share, Share):
        raise ShareError(f"expected a Share, got {type(share).__name__}")
    record_id_ = _check_record_id(record_id, ShareError)
    if share.record_id != record_id_:
        raise ShareError(
            f"this share belongs to record {to_hex(share.record_id)}, not {to_hex(record_id_)}"
        )
    if not isinstance(investigator_public_key, X25519PublicKey):
        raise ShareError(
            "the investigator key is an X25519 public key, "
            f"got {type(investigator_public_key).__name__}"
        )
    info = reseal_info(
        record_id_,
        share.epoch,
        share.index,
        request_digest,
        key_id_bytes(investigator_public_key),
    )
    try:
        sealed = SUITE.encrypt(share.value, investigator_public_key, info=info)
    except ValueError as exc:
        raise ShareError(
            f"cannot seal to the investigator key: not a usable X25519 key ({exc})"
        ) from None
    header = bytes((RESEAL_VERSION, share.index)) + share.epoch.to_bytes(EPOCH_SIZE, "big")
    return header + sealed


# --- the investigator's machine --------------------------------------------------------------


def resealed_share_index(resealed: bytes) -> int:
    """The share index a resealed share claims (unauthenticated until opened)."""
    return _reseal_header(resealed)[0]


def open_resealed(
    resealed: bytes,
    *,
    record_id: bytes,
    request_digest: bytes,
    investigator_private_key: X25519PrivateKey,
) -> Share:
    """Open a share a custodian re-sealed to this investigator for ``request_digest``.

    ``ShareError`` if it is malformed, altered, or was made for another record, request or key.
    """
    index, epoch = _reseal_header(resealed)
    record_id_ = _check_record_id(record_id, ShareError)
    mine = key_id_bytes(_private_key(investigator_private_key, "investigator").public_key())
    info = reseal_info(record_id_, epoch, index, request_digest, mine)
    try:
        value = SUITE.decrypt(
            bytes(resealed[_RESEAL_HEADER_SIZE:]), investigator_private_key, info=info
        )
    except InvalidTag:
        raise ShareError(
            f"resealed share {index} does not open for record {to_hex(record_id_)} and request "
            f"{to_hex(bytes(request_digest))} with this investigator key ({mine.hex()}): it was "
            "altered, or made for another record, request or key"
        ) from None
    return Share(record_id=record_id_, epoch=epoch, index=index, value=value)


def combine(shares: Iterable[Share], record: IdentityRecord) -> bytes:
    """Recover K from the shares and decrypt the record: the identity JSON bytes.

    Every share given is used (Lagrange interpolation through all of them), so one wrong share
    among more than k still fails. ``ShareError`` for shares of another record or epoch, duplicate
    indices, fewer than ``record.threshold`` shares, and when the AES-GCM tag rejects the result:
    a wrong or tampered share, or an altered record. Never returns unauthenticated bytes.
    """
    if not isinstance(record, IdentityRecord):
        raise ShareError(f"expected an IdentityRecord, got {type(record).__name__}")
    shares_ = list(shares)
    for s in shares_:
        if not isinstance(s, Share):
            raise ShareError(f"expected Share objects, got a {type(s).__name__}")
        if s.record_id != record.record_id:
            raise ShareError(
                f"share {s.index} belongs to record {to_hex(s.record_id)}, "
                f"not {to_hex(record.record_id)}"
            )
        if s.epoch != record.epoch:
            raise ShareError(
                f"share {s.index} is of epoch {s.epoch}, but record {to_hex(record.record_id)} "
                f"is at epoch {record.epoch}: it was re-shared since, and old shares are void"
            )
    _no_duplicates([s.index for s in shares_], "share index", ShareError)
    if len(shares_) < record.threshold:
        raise ShareError(
            f"record {to_hex(record.record_id)} needs {record.threshold} shares, got {len(shares_)}"
        )
    secret = Shamir.combine([(s.index, s.value) for s in shares_], ssss=False)
    try:
        return AESGCM(_data_key(secret)).decrypt(record.nonce, record.ciphertext, record.record_id)
    except InvalidTag:
        raise ShareError(
            f"the {len(shares_)} shares do not decrypt record {to_hex(record.record_id)}: at "
            "least one share is wrong or tampered, too few are genuine, or the record's "
            "ciphertext was altered"
        ) from None


# --- helpers ---------------------------------------------------------------------------------


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


def _data_key(secret: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=DATA_KEY_SIZE, salt=None, info=DATA_KEY_INFO)
    return hkdf.derive(secret)


def _check_custodians(custodians: Sequence[CustodianPublicKey]) -> list[CustodianPublicKey]:
    if isinstance(custodians, CustodianPublicKey) or not isinstance(custodians, Sequence):
        raise RecordError("custodians must be a sequence of CustodianPublicKey")
    custodians_ = list(custodians)
    for c in custodians_:
        if not isinstance(c, CustodianPublicKey):
            raise RecordError(f"custodians must be CustodianPublicKey, got a {type(c).__name__}")
    if not 1 <= len(custodians_) <= MAX_CUSTODIANS:
        raise RecordError(f"a record has 1 to {MAX_CUSTODIANS} custodians, got {len(custodians_)}")
    _no_duplicates([c.key_id for c in custodians_], "custodian key", RecordError)
    return custodians_


def _check_threshold(threshold: int, n: int) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        raise RecordError(f"the threshold is an integer, got {type(threshold).__name__}")
    if not 1 <= n <= MAX_CUSTODIANS:
        raise RecordError(f"a record has 1 to {MAX_CUSTODIANS} custodians, got {n}")
    if not 1 <= threshold <= n:
        raise RecordError(
            f"the threshold must be between 1 and {n} (the custodians), got {threshold}"
        )


def _kind(value: object) -> RecordKind:
    if isinstance(value, RecordKind):
        return value
    choices = ", ".join(repr(k.value) for k in RecordKind)
    if not isinstance(value, str):
        raise RecordError(f"a record kind is one of {choices}, got a {type(value).__name__}")
    try:
        return RecordKind(value)
    except ValueError:
        raise RecordError(f"unknown record kind {value!r}: expected one of {choices}") from None


def _check_record_id(value: object, error: type[Exception]) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != RECORD_ID_SIZE:
        raise error(f"a record id is {RECORD_ID_SIZE} bytes, got {_size_of(value)}")
    return bytes(value)


def _check_request_digest(value: object) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != REQUEST_DIGEST_SIZE:
        raise ShareError(
            f"a disclosure request digest is {REQUEST_DIGEST_SIZE} bytes, got {_size_of(value)}"
        )
    return bytes(value)


def _check_raw_key_id(value: object) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != KEY_ID_SIZE:
        raise RecordError(f"a raw key id is {KEY_ID_SIZE} bytes, got {_size_of(value)}")
    return bytes(value)


def _check_key_id(value: object, name: str) -> str:
    if not isinstance(value, str) or _KEY_ID_HEX.fullmatch(value) is None:
        raise RecordError(f"{name} is {2 * KEY_ID_SIZE} lowercase hex digits, got {value!r}")
    return value


def _check_index(value: object, error: type[Exception]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CUSTODIANS:
        raise error(f"a share index is an integer from 1 to {MAX_CUSTODIANS}, got {value!r}")
    return value


def _check_epoch(value: object, error: type[Exception]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_EPOCH:
        raise error(f"an epoch is an integer from 0 to {MAX_EPOCH}, got {value!r}")
    return value


def _private_key(key: object, whose: str) -> X25519PrivateKey:
    if not isinstance(key, X25519PrivateKey):
        raise ShareError(f"the {whose} key is an X25519 private key, got {type(key).__name__}")
    return key


def _reseal_header(resealed: object) -> tuple[int, int]:
    if not isinstance(resealed, bytes | bytearray) or len(resealed) != RESEALED_SHARE_SIZE:
        raise ShareError(
            f"a resealed share is {RESEALED_SHARE_SIZE} bytes, got {_size_of(resealed)}"
        )
    if resealed[0] != RESEAL_VERSION:
        raise ShareError(
            f"unknown resealed-share version {resealed[0]} (this TipLedger reads {RESEAL_VERSION})"
        )
    index = _check_index(resealed[1], ShareError)
    epoch = int.from_bytes(resealed[2:_RESEAL_HEADER_SIZE], "big")
    return index, epoch


def _no_duplicates(values: Sequence[object], what: str, error: type[Exception]) -> None:
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


def _size_of(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return str(len(value))
    return f"a {type(value).__name__}"
