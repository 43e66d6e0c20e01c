"""Custodian key material: an X25519 key for shares and an Ethereum key for approvals, one file.

A custodian generates both keys together on their own machine. The X25519 key opens the
identity shares sealed to it (``ledger.vault.records``); the Ethereum key signs EIP-712
``Disclosure`` approvals and is the address granted ``CUSTODIAN_ROLE`` on chain. Both private
keys live in ONE file, encrypted under a passphrase; only the public part leaves the machine,
as a registration JSON.

Key file, version 1 (JSON, mode 0600, written atomically; bytes as ``0x`` hex)::

    {
      "format": "tipledger-custodian-key/1",
      "key_id": "<16 hex digits>",
      "x25519_public": "0x<32 bytes>",
      "address": "0x<EIP-55 address>",
      "kdf": {"name": "scrypt", "salt": "0x<16 bytes>", "n": 131072, "r": 8, "p": 1},
      "cipher": {"name": "aes-256-gcm", "nonce": "0x<12 bytes>"},
      "ciphertext": "0x<80 bytes>"
    }

    wrapping key = scrypt(UTF-8 passphrase, salt, n, r, p, length 32)        (cryptography's Scrypt)
    plaintext    = X25519 private key, raw (32) || secp256k1 private key (32)
    aad          = "tipledger/v1/custodian-key" || x25519_public (32) || address (20)
    ciphertext   = AES-256-GCM(wrapping key, nonce, plaintext, aad)

The public fields are in clear so the file says whose it is without the passphrase; the AAD binds
them to the secret, and after decryption the keys are re-derived and must match them. A wrong
passphrase and an altered file are the same event to AES-GCM: ``WrongPassphraseError`` says so.
Loading accepts scrypt ``n`` a power of two from 2^14 to 2^20, ``r`` 1 to 16, ``p`` 1 to 4, and at
most 1 GiB of scrypt memory, so a crafted file cannot make ``load`` run for ever.

Registration JSON (``CustodianPublicInfo.to_json``)::

    {"format": "tipledger-custodian-public/1", "key_id": "…", "x25519_public": "0x…",
     "address": "0x…"}

``key_id`` is the first 8 bytes of SHA-256 over the raw X25519 public key, as 16 hex digits.
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

from ledger.core.eip712 import sign_disclosure
from ledger.core.encoding import address_bytes, checksum_address, from_hex, to_hex
from ledger.core.errors import ProtocolError
from ledger.core.hpke import public_bytes
from ledger.ops.files import write_private
from ledger.vault.errors import CustodianKeyError, RecordError, WrongPassphraseError
from ledger.vault.records import CustodianPublicKey, SealedShare, Share, key_id, open_share

__all__ = [
    "DEFAULT_SCRYPT_N",
    "KEY_FILE_FORMAT",
    "PUBLIC_FORMAT",
    "CustodianKey",
    "CustodianPublicInfo",
    "decrypt_key_file",
    "encrypt_key_file",
    "generate_custodian_key",
    "load_custodian_key",
    "save_custodian_key",
]

KEY_FILE_FORMAT = "tipledger-custodian-key/1"
PUBLIC_FORMAT = "tipledger-custodian-public/1"
KEY_FILE_AAD_TAG = b"tipledger/v1/custodian-key"

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


# --- public part -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CustodianPublicInfo:
    """What a custodian registers: share key, its key id, and the approval address."""

    key_id: str
    x25519_public: X25519PublicKey
    address: str

    def __post_init__(self) -> None:
        try:
            CustodianPublicKey(self.key_id, self.x25519_public)  # checks key id and key
        except RecordError as exc:
            raise CustodianKeyError(str(exc)) from None
        try:
            canonical = checksum_address(self.address)
        except ProtocolError as exc:
            raise CustodianKeyError(f"custodian address: {exc}") from None
        if canonical != self.address:
            raise CustodianKeyError(f"custodian address {self.address} is not in EIP-55 form")

    @property
    def share_key(self) -> CustodianPublicKey:
        """The key shares are sealed to, for ``seal_identity`` and ``reshare``."""
        return CustodianPublicKey(self.key_id, self.x25519_public)

    def to_dict(self) -> dict[str, str]:
        return {
            "format": PUBLIC_FORMAT,
            "key_id": self.key_id,
            "x25519_public": to_hex(public_bytes(self.x25519_public)),
            "address": self.address,
        }

    def to_json(self) -> str:
        """The registration JSON (one object, indented, with a trailing newline)."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CustodianPublicInfo:
        """Parse ``to_dict``'s form; ``CustodianKeyError`` names what is wrong."""
        if not isinstance(data, Mapping):
            raise CustodianKeyError(
                f"custodian registration is a JSON object, got {type(data).__name__}"
            )
        if data.get("format") != PUBLIC_FORMAT:
            raise CustodianKeyError(
                f"not a custodian registration: format {data.get('format')!r}, "
                f"expected {PUBLIC_FORMAT!r}"
            )
        public = _public_key(_hex_field(data, "x25519_public", _RAW_KEY_SIZE))
        kid = data.get("key_id")
        address = data.get("address")
        if not isinstance(kid, str) or not isinstance(address, str):
            raise CustodianKeyError("custodian registration needs key_id and address strings")
        try:
            address = checksum_address(address)  # accept all-lower/upper; checks mixed case
        except ProtocolError as exc:
            raise CustodianKeyError(f"custodian address: {exc}") from None
        return cls(key_id=kid, x25519_public=public, address=address)

    @classmethod
    def from_json(cls, text: str | bytes) -> CustodianPublicInfo:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CustodianKeyError(f"custodian registration is not JSON: {exc}") from None
        return cls.from_dict(data)


# --- the key pair ----------------------------------------------------------------------------


class CustodianKey:
    """A custodian's private keys: X25519 for shares, secp256k1 for approvals.

    Its ``repr`` shows only the key id and the address.
    """

    __slots__ = ("_account", "_x25519")

    def __init__(self, x25519_private: X25519PrivateKey, eth_account: LocalAccount) -> None:
        if not isinstance(x25519_private, X25519PrivateKey):
            raise CustodianKeyError(
                f"the share key is an X25519 private key, got {type(x25519_private).__name__}"
            )
        if not isinstance(eth_account, LocalAccount):
            raise CustodianKeyError(
                f"the approval key is an eth-account LocalAccount, got {type(eth_account).__name__}"
            )
        self._x25519 = x25519_private
        self._account = eth_account

    @classmethod
    def generate(cls) -> CustodianKey:
        """Fresh X25519 and Ethereum keys from the OS CSPRNG."""
        account: LocalAccount = Account.create()  # keccak(os.urandom(32)), eth-account's own
        return cls(X25519PrivateKey.generate(), account)

    @property
    def x25519_private(self) -> X25519PrivateKey:
        return self._x25519

    @property
    def x25519_public(self) -> X25519PublicKey:
        return self._x25519.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.x25519_public)

    @property
    def eth_account(self) -> LocalAccount:
        return self._account

    @property
    def address(self) -> str:
        return str(self._account.address)

    @property
    def share_key(self) -> CustodianPublicKey:
        return CustodianPublicKey(self.key_id, self.x25519_public)

    def public(self) -> CustodianPublicInfo:
        """The public part, for registration."""
        return CustodianPublicInfo(self.key_id, self.x25519_public, self.address)

    def open_share(self, sealed_share: SealedShare, record_id: bytes) -> Share:
        """``records.open_share`` with this custodian's X25519 key."""
        return open_share(sealed_share, record_id, self._x25519)

    def sign_disclosure(
        self,
        *,
        chain_id: int,
        contract: bytes | str,
        record_id: bytes,
        request_digest: bytes,
        requester: bytes | str,
    ) -> bytes:
        """This custodian's 65-byte EIP-712 ``Disclosure`` approval (PROTOCOL.md section 5)."""
        return sign_disclosure(
            self._account, chain_id, contract, record_id, request_digest, requester
        )

    def __repr__(self) -> str:
        return f"CustodianKey(key_id={self.key_id}, address={self.address})"


def generate_custodian_key() -> CustodianKey:
    """Fresh custodian keys (``CustodianKey.generate``)."""
    return CustodianKey.generate()


# --- the key file ----------------------------------------------------------------------------


def encrypt_key_file(
    key: CustodianKey, passphrase: str, *, scrypt_n: int = DEFAULT_SCRYPT_N
) -> dict[str, Any]:
    """The key file's JSON object for ``key`` under ``passphrase`` (module doc)."""
    if not isinstance(key, CustodianKey):
        raise CustodianKeyError(f"expected a CustodianKey, got {type(key).__name__}")
    _check_scrypt(scrypt_n, SCRYPT_R, SCRYPT_P)
    salt = secrets.token_bytes(_SALT_SIZE)
    nonce = secrets.token_bytes(_NONCE_SIZE)
    wrap = _wrapping_key(_passphrase_bytes(passphrase), salt, scrypt_n, SCRYPT_R, SCRYPT_P)
    plaintext = _raw_private(key.x25519_private) + bytes(key.eth_account.key)
    public = public_bytes(key.x25519_public)
    ciphertext = AESGCM(wrap).encrypt(nonce, plaintext, _aad(public, key.address))
    return {
        "format": KEY_FILE_FORMAT,
        "key_id": key.key_id,
        "x25519_public": to_hex(public),
        "address": key.address,
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


def decrypt_key_file(
    data: Mapping[str, Any], passphrase: str, *, source: str = "custodian key file"
) -> CustodianKey:
    """The keys in a key file's JSON object. ``WrongPassphraseError`` if it does not open,
    ``CustodianKeyError`` if it is malformed; ``source`` names the file in messages."""
    if not isinstance(data, Mapping):
        raise CustodianKeyError(f"{source} is not a JSON object")
    if data.get("format") != KEY_FILE_FORMAT:
        raise CustodianKeyError(
            f"{source} is not a custodian key file: format {data.get('format')!r}, "
            f"expected {KEY_FILE_FORMAT!r}"
        )
    try:
        public = _hex_field(data, "x25519_public", _RAW_KEY_SIZE)
        address = data.get("address")
        if not isinstance(address, str):
            raise CustodianKeyError("address is missing")
        address_raw = _address_raw(address)
        kdf = _mapping_field(data, "kdf")
        cipher = _mapping_field(data, "cipher")
        if kdf.get("name") != "scrypt":
            raise CustodianKeyError(f"unsupported kdf {kdf.get('name')!r}, expected 'scrypt'")
        if cipher.get("name") != "aes-256-gcm":
            raise CustodianKeyError(
                f"unsupported cipher {cipher.get('name')!r}, expected 'aes-256-gcm'"
            )
        salt = _hex_field(kdf, "salt", _SALT_SIZE)
        n, r, p = (_int_field(kdf, name) for name in ("n", "r", "p"))
        _check_scrypt(n, r, p)
        nonce = _hex_field(cipher, "nonce", _NONCE_SIZE)
        ciphertext = _hex_field(data, "ciphertext", _CIPHERTEXT_SIZE)
    except CustodianKeyError as exc:
        raise CustodianKeyError(f"{source}: {exc}") from None
    wrap = _wrapping_key(_passphrase_bytes(passphrase), salt, n, r, p)
    try:
        plaintext = AESGCM(wrap).decrypt(nonce, ciphertext, KEY_FILE_AAD_TAG + public + address_raw)
    except InvalidTag:
        raise WrongPassphraseError(
            f"wrong passphrase for {source} (or the file was altered)"
        ) from None
    x25519 = X25519PrivateKey.from_private_bytes(plaintext[:_RAW_KEY_SIZE])
    try:
        account: LocalAccount = Account.from_key(plaintext[_RAW_KEY_SIZE:])
    except (ValueError, TypeError) as exc:
        raise CustodianKeyError(f"{source} holds an invalid Ethereum key: {exc}") from None
    key = CustodianKey(x25519, account)
    if public_bytes(key.x25519_public) != public or address_bytes(key.address) != address_raw:
        raise CustodianKeyError(f"{source}: the keys inside do not match its public fields")
    if data.get("key_id") != key.key_id:
        raise CustodianKeyError(f"{source}: key_id {data.get('key_id')!r} is not {key.key_id}")
    return key


def save_custodian_key(
    path: Path | str,
    key: CustodianKey,
    passphrase: str,
    *,
    overwrite: bool = False,
    scrypt_n: int = DEFAULT_SCRYPT_N,
) -> None:
    """Write ``key`` to ``path`` encrypted under ``passphrase``: mode 0600, atomically.

    Refuses (``CustodianKeyError``) an empty passphrase, and an existing file unless
    ``overwrite``.
    """
    path = Path(path)
    document = encrypt_key_file(key, passphrase, scrypt_n=scrypt_n)
    write_private(
        path,
        (json.dumps(document, indent=2) + "\n").encode(),
        what="custodian key file",
        overwrite=overwrite,
        error=CustodianKeyError,
    )


def load_custodian_key(path: Path | str, passphrase: str) -> CustodianKey:
    """Read a key file written by ``save_custodian_key``.

    ``WrongPassphraseError`` for a wrong passphrase (or an altered file), ``CustodianKeyError``
    for anything else.
    """
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise CustodianKeyError(
            f"cannot read the custodian key file {path}: {exc.strerror}"
        ) from None
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise CustodianKeyError(f"{path} is not a custodian key file (not JSON)") from None
    return decrypt_key_file(data, passphrase, source=f"custodian key file {path}")


# --- helpers ---------------------------------------------------------------------------------


def _wrapping_key(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    try:
        return Scrypt(salt=salt, length=_WRAP_KEY_SIZE, n=n, r=r, p=p).derive(passphrase)
    except (ValueError, MemoryError) as exc:
        raise CustodianKeyError(f"scrypt failed (n={n}, r={r}, p={p}): {exc}") from None


def _check_scrypt(n: int, r: int, p: int) -> None:
    for name, value in (("n", n), ("r", r), ("p", p)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise CustodianKeyError(f"scrypt {name} must be an integer, got {value!r}")
    if not MIN_SCRYPT_N <= n <= MAX_SCRYPT_N or n & (n - 1):
        raise CustodianKeyError(f"scrypt n must be a power of two from 2^14 to 2^20, got {n}")
    if not 1 <= r <= _MAX_SCRYPT_R or not 1 <= p <= _MAX_SCRYPT_P:
        raise CustodianKeyError(
            f"scrypt r must be 1 to {_MAX_SCRYPT_R} and p 1 to {_MAX_SCRYPT_P}, got r={r}, p={p}"
        )
    if 128 * n * r > _MAX_SCRYPT_MEMORY:
        raise CustodianKeyError(f"scrypt n={n}, r={r} needs more than 1 GiB of memory")


def _passphrase_bytes(passphrase: str) -> bytes:
    if not isinstance(passphrase, str):
        raise CustodianKeyError(f"the passphrase is a string, got {type(passphrase).__name__}")
    if not passphrase:
        raise CustodianKeyError("a custodian key file needs a non-empty passphrase")
    return passphrase.encode("utf-8")


def _aad(public: bytes, address: str) -> bytes:
    return KEY_FILE_AAD_TAG + public + _address_raw(address)


def _address_raw(address: str) -> bytes:
    try:
        return address_bytes(address)
    except ProtocolError as exc:
        raise CustodianKeyError(f"address: {exc}") from None


def _raw_private(private_key: X25519PrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def _public_key(raw: bytes) -> X25519PublicKey:
    try:
        return X25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise CustodianKeyError(f"x25519_public: {exc}") from None


def _hex_field(data: Mapping[str, Any], name: str, length: int) -> bytes:
    value = data.get(name)
    if not isinstance(value, str):
        raise CustodianKeyError(f"{name} is missing or not a string")
    try:
        return from_hex(value, length)
    except ProtocolError as exc:
        raise CustodianKeyError(f"{name}: {exc}") from None


def _int_field(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CustodianKeyError(f"{name} must be an integer, got {value!r}")
    return value


def _mapping_field(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    if not isinstance(value, Mapping):
        raise CustodianKeyError(f"{name} must be a JSON object")
    return value
