"""Identity records: an identity encrypted under a fresh key K, K split k-of-n among custodians.

This is DESIGN.md 'Identity vault', to the letter. The server stores an ``IdentityRecord`` (the
ciphertext and the sealed shares) and nothing else: no single custodian, and not the server, can
read the identity; any ``threshold`` custodians together can.

The format (layout, sizes, ``info`` strings, the JSON form, the 64 KiB limit) is
``ledger.core.identity`` (version 1) and ``ledger.core.identity_v2`` (version 2), frozen, and
re-exported here; this module seals, opens, re-seals, combines and rotates records of both.
Version 1 splits K with PyCryptodome's Shamir over GF(2^128), version 2 with ``pyshamir`` over
GF(2^8), byte-compatible with the browser's ``shamir-secret-sharing``. New records are version 2
(``seal_identity``'s default); version 1 records still open, re-seal, combine and rotate (a
rotation keeps a record's version). Every step takes the version from the record or the share,
never from the caller, so a share of one version cannot be used as the other.

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

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyshamir
from Crypto.Protocol.SecretSharing import Shamir
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.core import hpke
from ledger.core.encoding import to_hex
from ledger.core.errors import UnusableKeyError
from ledger.core.hpke import SUITE, key_id, key_id_bytes
from ledger.core.identity import (
    DATA_KEY_INFO,
    EPOCH_SIZE,
    KEY_ID_SIZE,
    MAX_CUSTODIANS,
    MAX_EPOCH,
    MAX_IDENTITY_SIZE,
    NONCE_SIZE,
    RECORD_FORMAT,
    RECORD_ID_SIZE,
    RECORD_VERSIONS,
    REQUEST_DIGEST_SIZE,
    RESEAL_HEADER_SIZE,
    RESEAL_INFO_TAG,
    RESEAL_VERSION,
    RESEALED_SHARE_SIZE,
    SEALED_SHARE_SIZE,
    SECRET_SIZE,
    SHARE_INFO_TAG,
    IdentityRecord,
    RecordKind,
    SealedShare,
    Share,
    check_record_id,
    check_threshold,
    data_key,
    identity_bytes,
    no_duplicates,
    record_kind,
    reseal_header,
    reseal_info,
    resealed_share_header,
    resealed_share_index,
    resealed_share_size,
    resealed_share_version,
    sealed_share_size,
    share_info,
)
from ledger.core.identity_v2 import (
    MIN_THRESHOLD_V2,
    RECORD_FORMAT_V2,
    RECORD_VERSION_V2,
    RESEALED_SHARE_SIZE_V2,
    SEALED_SHARE_SIZE_V2,
)
from ledger.vault.errors import RecordError, ShareError

__all__ = [
    "DATA_KEY_INFO",
    "EPOCH_SIZE",
    "KEY_ID_SIZE",
    "MAX_CUSTODIANS",
    "MAX_IDENTITY_SIZE",
    "NONCE_SIZE",
    "RECORD_FORMAT",
    "RECORD_FORMAT_V2",
    "RECORD_ID_SIZE",
    "RECORD_VERSIONS",
    "RECORD_VERSION_V2",
    "REQUEST_DIGEST_SIZE",
    "RESEALED_SHARE_SIZE",
    "RESEALED_SHARE_SIZE_V2",
    "RESEAL_INFO_TAG",
    "RESEAL_VERSION",
    "SEALED_SHARE_SIZE",
    "SEALED_SHARE_SIZE_V2",
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
    "resealed_share_size",
    "resealed_share_version",
    "reshare",
    "seal_identity",
    "sealed_share_size",
    "share_info",
]


# --- keys ------------------------------------------------------------------------------------


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
        return hpke.public_bytes(self.x25519_public)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CustodianPublicKey) and self.raw == other.raw

    def __hash__(self) -> int:
        return hash(self.raw)


# --- sealing ---------------------------------------------------------------------------------


def seal_identity(
    identity: Mapping[str, Any] | bytes,
    *,
    kind: RecordKind | str,
    custodians: Sequence[CustodianPublicKey],
    threshold: int,
    version: int = RECORD_VERSION_V2,
) -> IdentityRecord:
    """Encrypt ``identity`` under a fresh K and seal K's shares, one to each custodian.

    ``custodians[i]`` receives share index ``i + 1``. Needs ``1 <= threshold <= n <= 255``
    (version 2: ``2 <= threshold``) and distinct custodian keys; ``RecordError`` otherwise.
    ``version`` 1 is for the legacy server-side sealing and for tests of that format.
    """
    return _seal(
        identity_bytes(identity),
        record_id=secrets.token_bytes(RECORD_ID_SIZE),
        kind=record_kind(kind),
        epoch=0,
        custodians=custodians,
        threshold=threshold,
        version=version,
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
    and re-encrypted under a fresh K with a fresh nonce; the new record keeps the record id,
    kind and version, and its epoch is one more. Old shares neither open nor combine for the new
    record. A fresh K protects only once the old ciphertext and sealed shares are deleted: they
    still open with the old shares.
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
        version=record.version,
    )


def _seal(
    plaintext: bytes,
    *,
    record_id: bytes,
    kind: RecordKind,
    epoch: int,
    custodians: Sequence[CustodianPublicKey],
    threshold: int,
    version: int,
) -> IdentityRecord:
    if isinstance(version, bool) or version not in RECORD_VERSIONS:
        raise RecordError(f"unknown identity record version {version!r}: 1 or 2")
    custodians_ = _check_custodians(custodians)
    check_threshold(threshold, len(custodians_))
    if version == RECORD_VERSION_V2 and threshold < MIN_THRESHOLD_V2:
        raise RecordError(
            f"a version 2 record needs a threshold of at least {MIN_THRESHOLD_V2}, got {threshold}"
        )
    secret = secrets.token_bytes(SECRET_SIZE)
    nonce = secrets.token_bytes(NONCE_SIZE)
    ciphertext = AESGCM(data_key(secret, version)).encrypt(nonce, plaintext, record_id)
    split = _split(secret, threshold, len(custodians_), version)
    sealed = tuple(
        _seal_share(record_id, epoch, index, value, custodian, version)
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


def _split(secret: bytes, threshold: int, n: int, version: int) -> list[tuple[int, bytes]]:
    """(index, share value) for indices 1..n: GF(2^128) for version 1, GF(2^8) for version 2."""
    if version == RECORD_VERSION_V2:
        # pyshamir draws the x coordinates at random; the value carries x as its last byte
        return [(i, bytes(v)) for i, v in enumerate(pyshamir.split(secret, n, threshold), 1)]
    return [(i, bytes(v)) for i, v in Shamir.split(threshold, n, secret, ssss=False)]


def _seal_share(
    record_id: bytes,
    epoch: int,
    index: int,
    value: bytes,
    custodian: CustodianPublicKey,
    version: int,
) -> SealedShare:
    kid = bytes.fromhex(custodian.key_id)
    try:
        sealed = hpke.seal(
            custodian.x25519_public,
            value,
            info=share_info(record_id, epoch, index, kid, version),
        )
    except UnusableKeyError as exc:  # a low-order public key: no shared secret
        raise RecordError(
            f"cannot seal to custodian key {custodian.key_id}: not a usable X25519 key ({exc})"
        ) from None
    return SealedShare(index=index, custodian_key_id=custodian.key_id, epoch=epoch, sealed=sealed)


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
    record_id_ = check_record_id(record_id, ShareError)
    mine = key_id_bytes(_private_key(custodian_private_key, "custodian").public_key())
    if sealed_share.custodian_key_id != mine.hex():
        raise ShareError(
            f"share {sealed_share.index} of record {to_hex(record_id_)} was sealed to custodian "
            f"key {sealed_share.custodian_key_id}, not to this key ({mine.hex()})"
        )
    info = share_info(
        record_id_, sealed_share.epoch, sealed_share.index, mine, sealed_share.version
    )
    value = hpke.open_sealed(custodian_private_key, sealed_share.sealed, info=info)
    if value is None:
        raise ShareError(
            f"share {sealed_share.index} does not open for record {to_hex(record_id_)} "
            f"(epoch {sealed_share.epoch}): it was altered, or belongs to another record, epoch "
            "or share index"
        )
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
    meant to commit to that key, and the caller checks it. Returns the resealed share of the
    share's version (70 bytes, or 71 for version 2; module doc); it opens only with the
    investigator's key, the same record id and the same request digest.
    """
    if not isinstance(share, Share):
        raise ShareError(f"expected a Share, got {type(share).__name__}")
    record_id_ = check_record_id(record_id, ShareError)
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
        share.version,
    )
    try:
        sealed = hpke.seal(investigator_public_key, share.value, info=info)
    except UnusableKeyError as exc:
        raise ShareError(
            f"cannot seal to the investigator key: not a usable X25519 key ({exc})"
        ) from None
    return reseal_header(share.index, share.epoch, share.version) + sealed


# --- the investigator's machine --------------------------------------------------------------


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
    index, epoch = resealed_share_header(resealed)
    version = resealed_share_version(resealed)
    record_id_ = check_record_id(record_id, ShareError)
    mine = key_id_bytes(_private_key(investigator_private_key, "investigator").public_key())
    info = reseal_info(record_id_, epoch, index, request_digest, mine, version)
    value = hpke.open_sealed(
        investigator_private_key, bytes(resealed[RESEAL_HEADER_SIZE:]), info=info
    )
    if value is None:
        raise ShareError(
            f"resealed share {index} does not open for record {to_hex(record_id_)} and request "
            f"{to_hex(bytes(request_digest))} with this investigator key ({mine.hex()}): it was "
            "altered, or made for another record, request or key"
        )
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
        if s.version != record.version:
            raise ShareError(
                f"share {s.index} is of record version {s.version}, but record "
                f"{to_hex(record.record_id)} is of version {record.version}"
            )
    no_duplicates([s.index for s in shares_], "share index", ShareError)
    if len(shares_) < record.threshold:
        raise ShareError(
            f"record {to_hex(record.record_id)} needs {record.threshold} shares, got {len(shares_)}"
        )
    secret = _combine_secret(shares_, record.version)
    try:
        return AESGCM(data_key(secret, record.version)).decrypt(
            record.nonce, record.ciphertext, record.record_id
        )
    except InvalidTag:
        raise ShareError(
            f"the {len(shares_)} shares do not decrypt record {to_hex(record.record_id)}: at "
            "least one share is wrong or tampered, too few are genuine, or the record's "
            "ciphertext was altered"
        ) from None


def _combine_secret(shares: Sequence[Share], version: int) -> bytes:
    if version != RECORD_VERSION_V2:
        return bytes(Shamir.combine([(s.index, s.value) for s in shares], ssss=False))
    if len(shares) < MIN_THRESHOLD_V2:  # pyshamir refuses one share; the record never has k=1
        raise ShareError(f"a version 2 record needs at least {MIN_THRESHOLD_V2} shares")
    try:
        return bytes(pyshamir.combine([bytearray(s.value) for s in shares]))
    except ValueError as exc:  # two shares with the same x: not two genuine shares
        raise ShareError(f"these shares do not combine: {exc} (the same x twice)") from None


# --- helpers ---------------------------------------------------------------------------------


def _check_custodians(custodians: Sequence[CustodianPublicKey]) -> list[CustodianPublicKey]:
    if isinstance(custodians, CustodianPublicKey) or not isinstance(custodians, Sequence):
        raise RecordError("custodians must be a sequence of CustodianPublicKey")
    custodians_ = list(custodians)
    for c in custodians_:
        if not isinstance(c, CustodianPublicKey):
            raise RecordError(f"custodians must be CustodianPublicKey, got a {type(c).__name__}")
    if not 1 <= len(custodians_) <= MAX_CUSTODIANS:
        raise RecordError(f"a record has 1 to {MAX_CUSTODIANS} custodians, got {len(custodians_)}")
    no_duplicates([c.key_id for c in custodians_], "custodian key", RecordError)
    return custodians_


def _private_key(key: object, whose: str) -> X25519PrivateKey:
    if not isinstance(key, X25519PrivateKey):
        raise ShareError(f"the {whose} key is an X25519 private key, got {type(key).__name__}")
    return key
