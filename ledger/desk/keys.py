"""The desk's X25519 keys: a passphrase-protected private key file, and the public key's one-line
text form (``tipledger-desk-x25519:<base64url raw key, no padding>``) in
``TIPLEDGER_DESK_PUBLIC_KEY`` or in ``<home>/desk-public.txt``."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ledger.config import Settings
from ledger.core.hpke import public_bytes
from ledger.errors import ConfigError
from ledger.ops.files import write_private

__all__ = [
    "PUBLIC_KEY_PREFIX",
    "configured_public_key",
    "generate_desk_keypair",
    "load_private_key",
    "public_key_from_text",
    "public_key_to_text",
    "save_private_key",
    "save_public_key",
]

PUBLIC_KEY_PREFIX = "tipledger-desk-x25519:"
_B64_KEY = re.compile(r"[A-Za-z0-9_-]{43}")
_P25519 = 2**255 - 19


def generate_desk_keypair() -> X25519PrivateKey:
    """A fresh review desk key; its public half is ``.public_key()``."""
    return X25519PrivateKey.generate()


def save_private_key(
    path: Path, key: X25519PrivateKey, passphrase: str, *, overwrite: bool = False
) -> None:
    """Write ``key`` as passphrase-encrypted PKCS#8 PEM, mode 0600, atomically.

    Refuses (``ConfigError``) an empty passphrase, and an existing file unless ``overwrite``.
    """
    if not passphrase:
        raise ConfigError("the review desk key needs a non-empty passphrase")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    )
    write_private(path, pem, overwrite=overwrite, what="review desk private key")


def load_private_key(path: Path, passphrase: str) -> X25519PrivateKey:
    """Read a review desk key written by ``save_private_key``; ``ConfigError`` on any failure."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the review desk key {path}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(pem, passphrase.encode("utf-8"))
    except TypeError as exc:  # given a passphrase for an unencrypted key
        raise ConfigError(f"{path} is not passphrase-protected; a review desk key must be") from exc
    except ValueError as exc:
        # cryptography's message for a wrong passphrase varies by backend and padding luck
        # (a wrong key can decrypt to garbage that fails as "could not deserialize"), so an
        # encrypted PEM that does not open is a wrong passphrase, whatever the text says.
        if b"ENCRYPTED PRIVATE KEY" in pem or "password" in str(exc).lower():
            raise ConfigError(
                f"wrong passphrase for the review desk key {path} (or the file is damaged)"
            ) from None
        raise ConfigError(f"{path} holds no readable private key") from exc
    if not isinstance(key, X25519PrivateKey):
        raise ConfigError(f"{path} holds a {type(key).__name__}, not an X25519 review desk key")
    return key


def public_key_to_text(public_key: X25519PublicKey) -> str:
    """``tipledger-desk-x25519:`` + the raw key in base64url without padding (43 characters)."""
    encoded = base64.urlsafe_b64encode(public_bytes(public_key)).decode()
    return PUBLIC_KEY_PREFIX + encoded.rstrip("=")


def public_key_from_text(text: str) -> X25519PublicKey:
    """Parse ``public_key_to_text``'s form (surrounding whitespace ignored); ``ConfigError``."""
    line = text.strip()
    if not line.startswith(PUBLIC_KEY_PREFIX):
        raise ConfigError(
            f"a review desk public key starts with {PUBLIC_KEY_PREFIX!r}, got {_preview(line)}"
        )
    encoded = line[len(PUBLIC_KEY_PREFIX) :]
    if _B64_KEY.fullmatch(encoded) is None:
        raise ConfigError(
            "a review desk public key is 43 base64url characters after the prefix, "
            f"got {_preview(encoded)}"
        )
    try:
        raw = base64.urlsafe_b64decode(encoded + "=")
    except binascii.Error as exc:  # pragma: no cover - the pattern admits only valid base64url
        raise ConfigError(f"a review desk public key is not base64url: {exc}") from exc
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != encoded:
        raise ConfigError("a review desk public key is not in canonical base64url")
    if int.from_bytes(raw, "little") >= _P25519:  # the same point as a smaller encoding
        raise ConfigError("a review desk public key must be a canonical X25519 encoding")
    public_key = X25519PublicKey.from_public_bytes(raw)
    try:  # reject low-order points, to which nothing can be sealed
        X25519PrivateKey.generate().exchange(public_key)
    except ValueError:
        raise ConfigError("that review desk public key is not a usable X25519 key") from None
    return public_key


def save_public_key(path: Path, public_key: X25519PublicKey, *, overwrite: bool = False) -> None:
    """Write the public key's one-line text form to ``path`` (atomically, mode 0644)."""
    data = (public_key_to_text(public_key) + "\n").encode()
    write_private(path, data, overwrite=overwrite, what="review desk public key", mode=0o644)


def configured_public_key(settings: Settings) -> X25519PublicKey | None:
    """The desk key the service seals to: ``TIPLEDGER_DESK_PUBLIC_KEY``, else
    ``<home>/desk-public.txt``, else ``None``. ``ConfigError`` names the source of a bad key."""
    if settings.desk_public_key:
        try:
            return public_key_from_text(settings.desk_public_key)
        except ConfigError as exc:
            raise ConfigError(f"TIPLEDGER_DESK_PUBLIC_KEY: {exc}") from None
    path = settings.desk_public_file
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the review desk public key {path}: {exc}") from exc
    try:
        return public_key_from_text(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _preview(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")
