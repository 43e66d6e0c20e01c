"""Custodian key material: an X25519 key for shares and an Ethereum key for approvals, one file.

A custodian generates both keys together on their own machine. The X25519 key opens the
identity shares sealed to it (``ledger.vault.records``); the Ethereum key signs EIP-712
``Disclosure`` approvals and is the address granted ``CUSTODIAN_ROLE`` on chain. Both private
keys live in ONE file, encrypted under a passphrase; only the public part leaves the machine,
as a registration JSON.

Key file, version 1: the two-key file of ``ledger.ops.key_pair_file`` (mode 0600, written
atomically), with ``"format": "tipledger-custodian-key/1"`` and the AAD tag
``"tipledger/v1/custodian-key"``. Its public fields (``key_id``, ``x25519_public``, ``address``)
are in clear; a wrong passphrase and an altered file are the same event to AES-GCM:
``WrongPassphraseError`` says so.

Registration JSON (``CustodianPublicInfo.to_json``)::

    {"format": "tipledger-custodian-public/1", "key_id": "…", "x25519_public": "0x…",
     "address": "0x…"}

``key_id`` is the first 8 bytes of SHA-256 over the raw X25519 public key, as 16 hex digits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.core.eip712 import sign_disclosure
from ledger.core.encoding import checksum_address, to_hex
from ledger.core.errors import ProtocolError
from ledger.core.hpke import public_bytes
from ledger.ops import key_pair_file
from ledger.ops.key_pair_file import (
    DEFAULT_SCRYPT_N,
    KeyPairFileKind,
    hex_field,
)
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
KEY_FILE = KeyPairFileKind(
    format=KEY_FILE_FORMAT,
    aad_tag=KEY_FILE_AAD_TAG,
    what="custodian",
    error=CustodianKeyError,
    wrong_passphrase=WrongPassphraseError,
)
_RAW_KEY_SIZE = 32


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
        public = key_pair_file.public_key(
            KEY_FILE, hex_field(KEY_FILE, data, "x25519_public", _RAW_KEY_SIZE)
        )
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
    return key_pair_file.encrypt_key_pair(
        KEY_FILE, key.x25519_private, key.eth_account, passphrase, scrypt_n=scrypt_n
    )


def decrypt_key_file(
    data: Mapping[str, Any], passphrase: str, *, source: str = "custodian key file"
) -> CustodianKey:
    """The keys in a key file's JSON object. ``WrongPassphraseError`` if it does not open,
    ``CustodianKeyError`` if it is malformed; ``source`` names the file in messages."""
    return CustodianKey(*key_pair_file.decrypt_key_pair(KEY_FILE, data, passphrase, source=source))


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
    if not isinstance(key, CustodianKey):
        raise CustodianKeyError(f"expected a CustodianKey, got {type(key).__name__}")
    key_pair_file.save_key_pair(
        KEY_FILE,
        Path(path),
        key.x25519_private,
        key.eth_account,
        passphrase,
        overwrite=overwrite,
        scrypt_n=scrypt_n,
    )


def load_custodian_key(path: Path | str, passphrase: str) -> CustodianKey:
    """Read a key file written by ``save_custodian_key``.

    ``WrongPassphraseError`` for a wrong passphrase (or an altered file), ``CustodianKeyError``
    for anything else.
    """
    return CustodianKey(*key_pair_file.load_key_pair(KEY_FILE, Path(path), passphrase))
