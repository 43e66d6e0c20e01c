"""An agency member's keys (PROTOCOL.md section 16.2): X25519 and Ethereum, one file.

A member generates both keys together on their own machine. The X25519 key opens the case keys
granted to them (section 16.3); the Ethereum key signs reviews and referrals and signs in. The
admin registers the public halves together on chain (``addMember``): the address, and the raw
32-byte X25519 public key as ``encryptionKey``.

The key file is the custodians' two-key file (``ledger.ops.key_pair_file``, section 11) with
``"format": "tipledger-member-key/1"`` and the AAD tag ``"tipledger/v1/member-key"``; its public
fields (key id, X25519 public key, address) are in clear, so ``read_member_public`` needs no
passphrase.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.core.hpke import key_id, public_bytes
from ledger.errors import ConfigError
from ledger.ops import key_pair_file
from ledger.ops.key_pair_file import DEFAULT_SCRYPT_N, KeyPairFileKind, PublicFields

__all__ = [
    "DEFAULT_SCRYPT_N",
    "KEY_FILE_AAD_TAG",
    "KEY_FILE_FORMAT",
    "MemberKey",
    "MemberKeyError",
    "PublicFields",
    "WrongMemberPassphraseError",
    "load_member_key",
    "read_member_public",
    "save_member_key",
]

KEY_FILE_FORMAT = "tipledger-member-key/1"
KEY_FILE_AAD_TAG = b"tipledger/v1/member-key"


class MemberKeyError(ConfigError):
    """A member key file that cannot be read, parsed or written."""


class WrongMemberPassphraseError(MemberKeyError):
    """The member key file does not decrypt under the given passphrase (or was altered)."""


KEY_FILE = KeyPairFileKind(
    format=KEY_FILE_FORMAT,
    aad_tag=KEY_FILE_AAD_TAG,
    what="member",
    error=MemberKeyError,
    wrong_passphrase=WrongMemberPassphraseError,
)


class MemberKey:
    """A member's private keys: X25519 for case-key grants, secp256k1 for reviews and sign-in.

    Its ``repr`` shows only the key id and the address.
    """

    __slots__ = ("_account", "_x25519")

    def __init__(self, x25519_private: X25519PrivateKey, eth_account: LocalAccount) -> None:
        if not isinstance(x25519_private, X25519PrivateKey):
            raise MemberKeyError(
                f"the grant key is an X25519 private key, got {type(x25519_private).__name__}"
            )
        if not isinstance(eth_account, LocalAccount):
            raise MemberKeyError(
                f"the signing key is an eth-account LocalAccount, got {type(eth_account).__name__}"
            )
        self._x25519 = x25519_private
        self._account = eth_account

    @classmethod
    def generate(cls) -> MemberKey:
        """Fresh X25519 and Ethereum keys from the OS CSPRNG."""
        account: LocalAccount = Account.create()
        return cls(X25519PrivateKey.generate(), account)

    @property
    def x25519_private(self) -> X25519PrivateKey:
        return self._x25519

    @property
    def x25519_public(self) -> X25519PublicKey:
        return self._x25519.public_key()

    @property
    def encryption_key(self) -> bytes:
        """The raw 32-byte X25519 public key, as ``addMember`` registers it."""
        return public_bytes(self.x25519_public)

    @property
    def key_id(self) -> str:
        return key_id(self.x25519_public)

    @property
    def eth_account(self) -> LocalAccount:
        return self._account

    @property
    def address(self) -> str:
        return str(self._account.address)

    def public(self) -> PublicFields:
        return PublicFields(self.key_id, self.x25519_public, self.address)

    def __repr__(self) -> str:
        return f"MemberKey(key_id={self.key_id}, address={self.address})"


def save_member_key(
    path: Path | str,
    key: MemberKey,
    passphrase: str,
    *,
    overwrite: bool = False,
    scrypt_n: int = DEFAULT_SCRYPT_N,
) -> None:
    """Write ``key`` to ``path`` encrypted under ``passphrase``: mode 0600, atomically.

    Refuses (``MemberKeyError``) an empty passphrase, and an existing file unless ``overwrite``.
    """
    if not isinstance(key, MemberKey):
        raise MemberKeyError(f"expected a MemberKey, got {type(key).__name__}")
    key_pair_file.save_key_pair(
        KEY_FILE,
        Path(path),
        key.x25519_private,
        key.eth_account,
        passphrase,
        overwrite=overwrite,
        scrypt_n=scrypt_n,
    )


def load_member_key(path: Path | str, passphrase: str) -> MemberKey:
    """Read a key file written by ``save_member_key``: ``WrongMemberPassphraseError`` for a
    wrong passphrase (or an altered file), ``MemberKeyError`` for anything else."""
    return MemberKey(*key_pair_file.load_key_pair(KEY_FILE, Path(path), passphrase))


def read_member_public(path: Path | str) -> PublicFields:
    """The public fields of a member key file, without its passphrase (``MemberKeyError``)."""
    return key_pair_file.read_public(KEY_FILE, Path(path))
