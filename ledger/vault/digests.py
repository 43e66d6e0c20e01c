"""What custodians sign and check: the registration statement, request and rotation digests.

Pure functions, the same on the server and on every custodian's and investigator's machine, so
each side recomputes what the other claims instead of trusting it. Sizes in bytes, integers
unsigned big-endian, ``||`` concatenation, ``H`` SHA-256.

Disclosure request digest (the ``requestDigest`` of the EIP-712 ``Disclosure`` custodians sign
and of ``recordDisclosure`` on chain)::

    purpose_digest = H(purpose as UTF-8)
    request_digest = H("tipledger/v1/disclosure-request" (31) || record_id (32)
                       || requester address (20) || investigator X25519 public key (32)
                       || purpose_digest (32) || filed_at (8))

Every field but the tag is fixed-size, so the encoding is unambiguous. It commits to the
investigator's key: a custodian who approves a request approves re-sealing its share to exactly
that key, and the on-chain record names the digest, so no one can swap the key afterwards.
``filed_at`` (Unix seconds, the service's clock) makes two otherwise equal requests distinct.

Custodian registration statement (EIP-191 ``personal_sign`` by the custodian's Ethereum key; it
proves that one person holds both keys and binds them to one deployment)::

    TipLedger custodian registration
    I hold the X25519 key below and open identity shares sealed to it only as TipLedger allows.
    Chain ID: <chain id>
    Contract: <EIP-55 contract address>
    Address: <EIP-55 custodian address>
    X25519 public key: 0x<64 hex>
    Key ID: <16 hex>

Rotation digest (binds contributed shares to one rotation, one new set and one coordinator; it is
the ``request_digest`` of the re-sealed shares a rotation collects)::

    rotation_digest = H("tipledger/v1/vault-rotation" (27) || rotation id (8) || created_at (8)
                        || len(kind) (1) || kind (ASCII) || threshold (1) || n (1)
                        || n x new custodian X25519 public key (32, share order)
                        || coordinator X25519 public key (32))
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from ledger.core.encoding import address_bytes, checksum_address, to_hex
from ledger.core.errors import ProtocolError
from ledger.vault.custodian_keys import CustodianPublicInfo
from ledger.vault.errors import RecordError, RegistrationError
from ledger.vault.records import RECORD_ID_SIZE, RecordKind

__all__ = [
    "MAX_PURPOSE_CHARS",
    "REQUEST_TAG",
    "ROTATION_TAG",
    "check_purpose",
    "purpose_digest",
    "registration_statement",
    "request_digest",
    "rotation_digest",
    "sign_registration",
    "verify_registration",
]

REQUEST_TAG = b"tipledger/v1/disclosure-request"
ROTATION_TAG = b"tipledger/v1/vault-rotation"
MAX_PURPOSE_CHARS = 4000
_RAW_KEY_SIZE = 32
_UINT64_LIMIT = 1 << 64


def check_purpose(purpose: object) -> str:
    """The purpose as given, if it is a non-blank string of at most ``MAX_PURPOSE_CHARS``."""
    if not isinstance(purpose, str) or not purpose.strip():
        raise RecordError("a disclosure request needs a purpose: say why, for the record")
    if len(purpose) > MAX_PURPOSE_CHARS:
        raise RecordError(
            f"the purpose is {len(purpose)} characters, at most {MAX_PURPOSE_CHARS} are allowed"
        )
    return purpose


def purpose_digest(purpose: str) -> bytes:
    return hashlib.sha256(check_purpose(purpose).encode("utf-8")).digest()


def request_digest(
    record_id: bytes, requester: str | bytes, investigator_key: bytes, purpose: str, filed_at: int
) -> bytes:
    """The disclosure request digest (module doc)."""
    return hashlib.sha256(
        REQUEST_TAG
        + _fixed(record_id, RECORD_ID_SIZE, "record id")
        + _address(requester)
        + _fixed(investigator_key, _RAW_KEY_SIZE, "investigator key")
        + purpose_digest(purpose)
        + _uint64(filed_at, "filed_at")
    ).digest()


def rotation_digest(
    *,
    rotation_id: int,
    created_at: int,
    kind: RecordKind | str,
    threshold: int,
    custodian_keys: Sequence[bytes],
    coordinator_key: bytes,
) -> bytes:
    """The rotation digest (module doc); ``custodian_keys`` are raw X25519 keys in share order."""
    try:
        kind_ = RecordKind(kind).value.encode("ascii")
    except ValueError:
        raise RecordError(f"unknown record kind {kind!r}") from None
    if not 1 <= threshold <= len(custodian_keys) <= 255:
        raise RecordError(f"a rotation to {len(custodian_keys)} custodians, threshold {threshold}")
    return hashlib.sha256(
        ROTATION_TAG
        + _uint64(rotation_id, "rotation id")
        + _uint64(created_at, "created_at")
        + bytes((len(kind_),))
        + kind_
        + bytes((threshold, len(custodian_keys)))
        + b"".join(_fixed(k, _RAW_KEY_SIZE, "custodian key") for k in custodian_keys)
        + _fixed(coordinator_key, _RAW_KEY_SIZE, "coordinator key")
    ).digest()


def registration_statement(chain_id: int, contract: str, info: CustodianPublicInfo) -> str:
    """The text a custodian's Ethereum key signs to register (module doc)."""
    return "\n".join(
        (
            "TipLedger custodian registration",
            "I hold the X25519 key below and open identity shares sealed to it only as TipLedger "
            "allows.",
            f"Chain ID: {int(chain_id)}",
            f"Contract: {checksum_address(contract)}",
            f"Address: {info.address}",
            f"X25519 public key: {to_hex(info.share_key.raw)}",
            f"Key ID: {info.key_id}",
        )
    )


def sign_registration(
    account: LocalAccount, chain_id: int, contract: str, info: CustodianPublicInfo
) -> bytes:
    """The custodian's EIP-191 signature over its registration statement."""
    message = encode_defunct(text=registration_statement(chain_id, contract, info))
    return bytes(account.sign_message(message).signature)


def verify_registration(
    chain_id: int, contract: str, info: CustodianPublicInfo, signature: bytes
) -> None:
    """``RegistrationError`` unless ``signature`` is ``info.address``'s over the statement."""
    message = encode_defunct(text=registration_statement(chain_id, contract, info))
    if not isinstance(signature, bytes) or len(signature) != 65:
        raise RegistrationError("a registration signature is 65 bytes (r || s || v)")
    try:
        signer = Account.recover_message(message, signature=signature)
    except Exception as exc:  # eth-keys raises several types for a malformed signature
        raise RegistrationError(f"the registration signature does not recover: {exc}") from None
    if checksum_address(signer) != info.address:
        raise RegistrationError(
            f"the registration is signed by {signer}, not by the custodian address "
            f"{info.address}: it does not prove possession of that key"
        )


def _fixed(value: object, size: int, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != size:
        got = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise RecordError(f"{name} must be {size} bytes, got {got}")
    return bytes(value)


def _address(value: str | bytes) -> bytes:
    try:
        return address_bytes(value)
    except ProtocolError as exc:
        raise RecordError(f"requester: {exc}") from None


def _uint64(value: object, name: str) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _UINT64_LIMIT:
        raise RecordError(f"{name} must be an integer in [0, 2^64), got {value!r}")
    return value.to_bytes(8, "big")
