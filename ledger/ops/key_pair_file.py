"""An X25519 key and an Ethereum key in one passphrase-protected JSON file (PROTOCOL.md section 11).

Custodians, investigators (``ledger.vault.custodian_keys``) and agency members
(``ledger.desk.member_keys``) keep their keys this way; a ``KeyPairFileKind`` names the format,
the AAD tag and the errors, and is the only difference between them::

    {
      "format": "<kind.format>",
      "key_id": "<16 hex digits>",
      "x25519_public": "0x<32 bytes>",
      "address": "0x<EIP-55 address>",
      "kdf": {"name": "scrypt", "salt": "0x<16 bytes>", "n": 131072, "r": 8, "p": 1},
      "cipher": {"name": "aes-256-gcm", "nonce": "0x<12 bytes>"},
      "ciphertext": "0x<80 bytes>"
    }

    wrapping key = scrypt(UTF-8 passphrase, salt, n, r, p, length 32)        (cryptography's Scrypt)
    plaintext    = X25519 private key, raw (32) || secp256k1 private key (32)
    aad          = kind.aad_tag || x25519_public (32) || address (20)
    ciphertext   = AES-256-GCM(wrapping key, nonce, plaintext, aad)

The public fields are in clear so the file says whose it is without the passphrase
(``read_public``); the AAD binds them to the secret, and after decryption the keys are re-derived
and must match them. A wrong passphrase and an altered file are the same event to AES-GCM:
``kind.wrong_passphrase`` says so. Loading accepts scrypt ``n`` a power of two from 2^14 to 2^20,
``r`` 1 to 16, ``p`` 1 to 4, and at most 1 GiB of scrypt memory, so a crafted file cannot make a
load run for ever. ``key_id`` is the first 8 bytes of SHA-256 over the raw X25519 public key.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.core.encoding import address_bytes, checksum_address, from_hex, to_hex
from ledger.core.errors import LedgerError, ProtocolError
from ledger.core.hpke import key_id, public_bytes
from ledger.ops.files import write_private

__all__ = [
    "DEFAULT_SCRYPT_N",
    "MAX_SCRYPT_N",
    "MIN_SCRYPT_N",
    "KeyPairFileKind",
    "PublicFields",
    "decrypt_key_pair",
    "encrypt_key_pair",
    "hex_field",
    "load_key_pair",
    "public_key",
    "read_public",
    "save_key_pair",
]

DEFAULT_SCRYPT_N = 2**17  # 128 MiB with r = 8; about 0.3 s here
SCRYPT_R = 8
SCRYPT_P = 1
MIN_SCRYPT_N = 2**14
MAX_SCRYPT_N = 2**20
_MAX_SCRYPT_R = 16
_MAX_SCRYPT_P = 4
_MAX_SCRYPT_MEMORY = 2**30  # 128 * n * r bytes

_SALT_SIZE = 16
_NONCE_SIZE = 12
_WRAP_KEY_SIZE = 32
_RAW_KEY_SIZE = 32
_CIPHERTEXT_SIZE = 2 * _RAW_KEY_SIZE + 16


@dataclass(frozen=True)
class KeyPairFileKind:
    """One use of the file: ``what`` names it in messages ("custodian" -> "custodian key file")."""

    format: str
    aad_tag: bytes
    what: str
    error: type[LedgerError]
    wrong_passphrase: type[LedgerError]

    @property
    def noun(self) -> str:
        return f"{self.what} key file"


@dataclass(frozen=True)
class PublicFields:
    """What a key file says in clear, checked: key id, X25519 public key, EIP-55 address."""

    key_id: str
    x25519_public: X25519PublicKey
    address: str

    @property
    def x25519_public_raw(self) -> bytes:
        return public_bytes(self.x25519_public)


def encrypt_key_pair(
    kind: KeyPairFileKind,
    x25519_private: X25519PrivateKey,
    account: LocalAccount,
    passphrase: str,
    *,
    scrypt_n: int = DEFAULT_SCRYPT_N,
) -> dict[str, Any]:
    """The key file's JSON object for the two keys under ``passphrase`` (module doc)."""
    _check_scrypt(kind, scrypt_n, SCRYPT_R, SCRYPT_P)
    salt = secrets.token_bytes(_SALT_SIZE)
    nonce = secrets.token_bytes(_NONCE_SIZE)
    wrap = _wrapping_key(
        kind, _passphrase_bytes(kind, passphrase), salt, scrypt_n, SCRYPT_R, SCRYPT_P
    )
    plaintext = _raw_private(x25519_private) + bytes(account.key)
    public = public_bytes(x25519_private.public_key())
    address = str(account.address)
    aad = kind.aad_tag + public + _address_raw(kind, address)
    ciphertext = AESGCM(wrap).encrypt(nonce, plaintext, aad)
    return {
        "format": kind.format,
        "key_id": key_id(public),
        "x25519_public": to_hex(public),
        "address": address,
        "kdf": {
            "name": "scrypt",
            "salt": to_hex(salt),
            "n": scrypt_n,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
        },
        "cipher": {"name": "aes-256-gcm", "nonce": to_hex(nonce)},
        "ciphertext": to_hex(ciphertext),
    }


def decrypt_key_pair(
    kind: KeyPairFileKind, data: Mapping[str, Any], passphrase: str, *, source: str
) -> tuple[X25519PrivateKey, LocalAccount]:
    """The two keys in a key file's JSON object. ``kind.wrong_passphrase`` if it does not open,
    ``kind.error`` if it is malformed; ``source`` names the file in messages."""
    _check_format(kind, data, source)
    try:
        public = hex_field(kind, data, "x25519_public", _RAW_KEY_SIZE)
        address = data.get("address")
        if not isinstance(address, str):
            raise kind.error("address is missing")
        address_raw = _address_raw(kind, address)
        kdf = _mapping_field(kind, data, "kdf")
        cipher = _mapping_field(kind, data, "cipher")
        if kdf.get("name") != "scrypt":
            raise kind.error(f"unsupported kdf {kdf.get('name')!r}, expected 'scrypt'")
        if cipher.get("name") != "aes-256-gcm":
            raise kind.error(f"unsupported cipher {cipher.get('name')!r}, expected 'aes-256-gcm'")
        salt = hex_field(kind, kdf, "salt", _SALT_SIZE)
        n, r, p = (_int_field(kind, kdf, name) for name in ("n", "r", "p"))
        _check_scrypt(kind, n, r, p)
        nonce = hex_field(kind, cipher, "nonce", _NONCE_SIZE)
        ciphertext = hex_field(kind, data, "ciphertext", _CIPHERTEXT_SIZE)
    except kind.error as exc:
        raise kind.error(f"{source}: {exc}") from None
    wrap = _wrapping_key(kind, _passphrase_bytes(kind, passphrase), salt, n, r, p)
    try:
        plaintext = AESGCM(wrap).decrypt(nonce, ciphertext, kind.aad_tag + public + address_raw)
    except InvalidTag:
        raise kind.wrong_passphrase(
            f"wrong passphrase for {source} (or the file was altered)"
        ) from None
    x25519 = X25519PrivateKey.from_private_bytes(plaintext[:_RAW_KEY_SIZE])
    try:
        account: LocalAccount = Account.from_key(plaintext[_RAW_KEY_SIZE:])
    except (ValueError, TypeError) as exc:
        raise kind.error(f"{source} holds an invalid Ethereum key: {exc}") from None
    derived = public_bytes(x25519.public_key())
    if derived != public or address_bytes(account.address) != address_raw:
        raise kind.error(f"{source}: the keys inside do not match its public fields")
    if data.get("key_id") != key_id(derived):
        raise kind.error(f"{source}: key_id {data.get('key_id')!r} is not {key_id(derived)}")
    return x25519, account


def save_key_pair(
    kind: KeyPairFileKind,
    path: Path,
    x25519_private: X25519PrivateKey,
    account: LocalAccount,
    passphrase: str,
    *,
    overwrite: bool = False,
    scrypt_n: int = DEFAULT_SCRYPT_N,
) -> None:
    """Write the two keys to ``path`` encrypted under ``passphrase``: mode 0600, atomically.

    Refuses (``kind.error``) an empty passphrase, and an existing file unless ``overwrite``.
    """
    document = encrypt_key_pair(kind, x25519_private, account, passphrase, scrypt_n=scrypt_n)
    write_private(
        path,
        (json.dumps(document, indent=2) + "\n").encode(),
        what=kind.noun,
        overwrite=overwrite,
        error=kind.error,
    )


def load_key_pair(
    kind: KeyPairFileKind, path: Path, passphrase: str
) -> tuple[X25519PrivateKey, LocalAccount]:
    """Read a key file written by ``save_key_pair`` (errors as ``decrypt_key_pair``)."""
    data = _read_json(kind, path)
    return decrypt_key_pair(kind, data, passphrase, source=f"{kind.noun} {path}")


def read_public(kind: KeyPairFileKind, path: Path) -> PublicFields:
    """The public fields of a key file, without its passphrase: the key id must be the X25519
    key's and the address valid (the passphrase alone proves they belong to the secret)."""
    data = _read_json(kind, path)
    source = f"{kind.noun} {path}"
    _check_format(kind, data, source)
    try:
        public = public_key(kind, hex_field(kind, data, "x25519_public", _RAW_KEY_SIZE))
        address = data.get("address")
        if not isinstance(address, str):
            raise kind.error("address is missing")
        try:
            address = checksum_address(address)
        except ProtocolError as exc:
            raise kind.error(f"address: {exc}") from None
    except kind.error as exc:
        raise kind.error(f"{source}: {exc}") from None
    kid = key_id(public_bytes(public))
    if data.get("key_id") != kid:
        raise kind.error(f"{source}: key_id {data.get('key_id')!r} is not {kid}")
    return PublicFields(kid, public, address)


# --- field helpers (also for the registration forms built on these files) --------------------


def hex_field(kind: KeyPairFileKind, data: Mapping[str, Any], name: str, length: int) -> bytes:
    value = data.get(name)
    if not isinstance(value, str):
        raise kind.error(f"{name} is missing or not a string")
    try:
        return from_hex(value, length)
    except ProtocolError as exc:
        raise kind.error(f"{name}: {exc}") from None


def public_key(kind: KeyPairFileKind, raw: bytes) -> X25519PublicKey:
    try:
        return X25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise kind.error(f"x25519_public: {exc}") from None


# --- helpers ---------------------------------------------------------------------------------


def _read_json(kind: KeyPairFileKind, path: Path) -> Any:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise kind.error(f"cannot read the {kind.noun} {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise kind.error(f"{path} is not a {kind.noun} (not JSON)") from None


def _check_format(kind: KeyPairFileKind, data: Any, source: str) -> None:
    if not isinstance(data, Mapping):
        raise kind.error(f"{source} is not a JSON object")
    if data.get("format") != kind.format:
        raise kind.error(
            f"{source} is not a {kind.noun}: format {data.get('format')!r}, "
            f"expected {kind.format!r}"
        )


def _wrapping_key(
    kind: KeyPairFileKind, passphrase: bytes, salt: bytes, n: int, r: int, p: int
) -> bytes:
    try:
        return Scrypt(salt=salt, length=_WRAP_KEY_SIZE, n=n, r=r, p=p).derive(passphrase)
    except (ValueError, MemoryError) as exc:
        raise kind.error(f"scrypt failed (n={n}, r={r}, p={p}): {exc}") from None


def _check_scrypt(kind: KeyPairFileKind, n: int, r: int, p: int) -> None:
    for name, value in (("n", n), ("r", r), ("p", p)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise kind.error(f"scrypt {name} must be an integer, got {value!r}")
    if not MIN_SCRYPT_N <= n <= MAX_SCRYPT_N or n & (n - 1):
        raise kind.error(f"scrypt n must be a power of two from 2^14 to 2^20, got {n}")
    if not 1 <= r <= _MAX_SCRYPT_R or not 1 <= p <= _MAX_SCRYPT_P:
        raise kind.error(
            f"scrypt r must be 1 to {_MAX_SCRYPT_R} and p 1 to {_MAX_SCRYPT_P}, got r={r}, p={p}"
        )
    if 128 * n * r > _MAX_SCRYPT_MEMORY:
        raise kind.error(f"scrypt n={n}, r={r} needs more than 1 GiB of memory")


def _passphrase_bytes(kind: KeyPairFileKind, passphrase: str) -> bytes:
    if not isinstance(passphrase, str):
        raise kind.error(f"the passphrase is a string, got {type(passphrase).__name__}")
    if not passphrase:
        raise kind.error(f"a {kind.noun} needs a non-empty passphrase")
    return passphrase.encode("utf-8")


def _address_raw(kind: KeyPairFileKind, address: str) -> bytes:
    try:
        return address_bytes(address)
    except ProtocolError as exc:
        raise kind.error(f"address: {exc}") from None


def _raw_private(private_key: X25519PrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def _int_field(kind: KeyPairFileKind, data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise kind.error(f"{name} must be an integer, got {value!r}")
    return value


def _mapping_field(kind: KeyPairFileKind, data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    if not isinstance(value, Mapping):
        raise kind.error(f"{name} must be a JSON object")
    return value
