"""The review desk's envelope: each tip sealed to the desk's X25519 key with HPKE (RFC 9180).

The service seals every tip's document, salt and author to the review desk's public key before
storing it, and holds only that public half, so it can never read a stored tip. Reviewers hold the
private half in a passphrase-protected PKCS#8 file and open tips on their own machines.

Envelope, version 1 (all sizes in bytes)::

    envelope  = version (1, = 0x01) || key_id (8) || enc (32) || ciphertext (len(plaintext) + 16)
    plaintext = salt (32) || author (20) || document (the rest)
    info      = "tipledger/v1/desk" || version || key_id || commitment (32)

- HPKE base mode, single shot, suite DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM
  (RFC 9180 ids 0x0020, 0x0001, 0x0002), from ``cryptography.hazmat.primitives.hpke``.
- ``key_id`` is the first 8 bytes of SHA-256 over the desk's raw 32-byte public key; it says which
  desk key an envelope was sealed to, so a reviewer holding another key gets a clear refusal.
- The commitment is bound through HPKE's ``info``, which enters the key schedule: an envelope
  opened under any other commitment (or with its header altered) fails authentication. The
  library's public single-shot API takes no separate AAD; RFC 9180 section 8.1 recommends ``info``
  for this. So an envelope cannot be moved to another tip's commitment.
- After opening, the commitment is recomputed from salt, ``H(document)`` and author, and the tip
  is refused unless it matches: the opened tip is exactly the tip the log committed to.

The public key travels as one line, ``tipledger-desk-x25519:<base64url raw key, no padding>``, in
``TIPLEDGER_DESK_PUBLIC_KEY`` or in ``<home>/desk-public.txt``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from ledger.config import Settings
from ledger.core.commitment import SALT_SIZE, commitment, content_digest
from ledger.core.encoding import ADDRESS_SIZE, address_bytes, to_hex
from ledger.errors import ConfigError, EnvelopeError, ProtocolError

__all__ = [
    "ENVELOPE_VERSION",
    "INFO_TAG",
    "KEY_ID_SIZE",
    "PUBLIC_KEY_PREFIX",
    "SUITE",
    "OpenedTip",
    "configured_public_key",
    "envelope_key_id",
    "generate_desk_keypair",
    "key_id",
    "load_private_key",
    "open_tip",
    "public_key_from_text",
    "public_key_to_text",
    "save_private_key",
    "save_public_key",
    "seal_tip",
]

ENVELOPE_VERSION = 1
INFO_TAG = b"tipledger/v1/desk"
KEY_ID_SIZE = 8
PUBLIC_KEY_PREFIX = "tipledger-desk-x25519:"
SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)

_COMMITMENT_SIZE = 32
_ENC_SIZE = 32  # KEM.X25519.enc_length()
_TAG_SIZE = 16
_HEADER_SIZE = 1 + KEY_ID_SIZE
_MIN_ENVELOPE = _HEADER_SIZE + _ENC_SIZE + _TAG_SIZE + SALT_SIZE + ADDRESS_SIZE
_RAW_KEY_SIZE = 32
_B64_KEY = re.compile(r"[A-Za-z0-9_-]{43}")
_P25519 = 2**255 - 19


@dataclass(frozen=True)
class OpenedTip:
    """A tip as the review desk reads it, already checked against its commitment."""

    document: bytes
    salt: bytes
    author: bytes  # 20 bytes; all zero when the reporter made no one-time key


# --- sealing and opening ---------------------------------------------------------------------


def key_id(public_key: X25519PublicKey) -> str:
    """16 hex digits: the first 8 bytes of SHA-256 over the raw public key."""
    return _key_id_bytes(public_key).hex()


def seal_tip(
    public_key: X25519PublicKey,
    *,
    commitment: bytes,
    document: bytes,
    salt: bytes,
    author: bytes | str,
) -> bytes:
    """Seal a tip's document, salt and author to the review desk, bound to its commitment.

    Raises ``ProtocolError`` if the sizes are wrong or if ``commitment`` is not the commitment of
    this salt, document and author (such an envelope could never be opened).
    """
    commitment_ = _check_commitment(commitment)
    author_raw = address_bytes(author)
    expected = _commit(salt, document, author_raw)  # checks the salt's size too
    if expected != commitment_:
        raise ProtocolError(
            f"refusing to seal: salt, document and author commit to {to_hex(expected)}, "
            f"not to {to_hex(commitment_)}"
        )
    return _seal(public_key, commitment_, b"".join((salt, author_raw, document)))


def open_tip(private_key: X25519PrivateKey, envelope: bytes, commitment: bytes) -> OpenedTip:
    """Open an envelope with the review desk's private key and check it against ``commitment``.

    Raises ``EnvelopeError`` if the envelope was sealed to another desk key (naming it), was
    altered, belongs to another commitment, or holds a tip whose commitment differs.
    """
    commitment_ = _check_commitment(commitment)
    envelope = bytes(envelope)
    header = _check_header(envelope)
    mine = _key_id_bytes(private_key.public_key())
    if header[1:] != mine:
        raise EnvelopeError(
            f"this tip was sealed to the review desk key {header[1:].hex()}, "
            f"not to this key ({mine.hex()})"
        )
    try:
        plaintext = SUITE.decrypt(
            memoryview(envelope)[_HEADER_SIZE:], private_key, info=_info(header, commitment_)
        )
    except InvalidTag:
        raise EnvelopeError(
            f"the sealed tip does not open for commitment {to_hex(commitment_)}: it was altered, "
            "or it belongs to another commitment"
        ) from None
    salt = plaintext[:SALT_SIZE]
    author = plaintext[SALT_SIZE : SALT_SIZE + ADDRESS_SIZE]
    document = plaintext[SALT_SIZE + ADDRESS_SIZE :]
    actual = _commit(salt, document, author)
    if actual != commitment_:
        raise EnvelopeError(
            f"the opened tip does not match commitment {to_hex(commitment_)}: its salt, document "
            f"and author commit to {to_hex(actual)}"
        )
    return OpenedTip(document=document, salt=salt, author=author)


def envelope_key_id(envelope: bytes) -> str:
    """The key id of the desk key an envelope was sealed to (to pick the key after a rotation)."""
    return bytes(_check_header(bytes(envelope))[1:]).hex()


def _seal(public_key: X25519PublicKey, commitment_: bytes, plaintext: bytes) -> bytes:
    header = bytes([ENVELOPE_VERSION]) + _key_id_bytes(public_key)
    try:
        sealed = SUITE.encrypt(plaintext, public_key, info=_info(header, commitment_))
    except ValueError as exc:  # a low-order public key: no shared secret
        raise ConfigError(
            f"cannot seal to the review desk key {key_id(public_key)}: {exc}"
        ) from exc
    return header + sealed


def _info(header: bytes, commitment_: bytes) -> bytes:
    return INFO_TAG + header + commitment_


def _check_header(envelope: bytes) -> bytes:
    if len(envelope) < _MIN_ENVELOPE:
        raise EnvelopeError(
            f"a sealed tip is at least {_MIN_ENVELOPE} bytes, this one is {len(envelope)}"
        )
    if envelope[0] != ENVELOPE_VERSION:
        raise EnvelopeError(
            f"unknown sealed-tip version {envelope[0]} (this TipLedger reads {ENVELOPE_VERSION})"
        )
    return envelope[:_HEADER_SIZE]


def _check_commitment(value: bytes) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != _COMMITMENT_SIZE:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise ProtocolError(f"a commitment is {_COMMITMENT_SIZE} bytes, got {size}")
    return bytes(value)


def _commit(salt: bytes, document: bytes, author: bytes) -> bytes:
    return commitment(salt, content_digest(document), author)


def _key_id_bytes(public_key: X25519PublicKey) -> bytes:
    return hashlib.sha256(_raw(public_key)).digest()[:KEY_ID_SIZE]


def _raw(public_key: X25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# --- keys ------------------------------------------------------------------------------------


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
    _write_atomic(path, pem, overwrite=overwrite, what="review desk private key")


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
        if "password" in str(exc).lower():
            raise ConfigError(f"wrong passphrase for the review desk key {path}") from None
        raise ConfigError(f"{path} holds no readable private key") from exc
    if not isinstance(key, X25519PrivateKey):
        raise ConfigError(f"{path} holds a {type(key).__name__}, not an X25519 review desk key")
    return key


def public_key_to_text(public_key: X25519PublicKey) -> str:
    """``tipledger-desk-x25519:`` + the raw key in base64url without padding (43 characters)."""
    return PUBLIC_KEY_PREFIX + base64.urlsafe_b64encode(_raw(public_key)).decode().rstrip("=")


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
    _write_atomic(path, data, overwrite=overwrite, what="review desk public key", mode=0o644)


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


def _write_atomic(
    path: Path, data: bytes, *, overwrite: bool, what: str, mode: int = 0o600
) -> None:
    """Write via a private temporary file in the same directory, then rename into place.

    Without ``overwrite`` the final step is a hard link, which fails if ``path`` exists, so an
    existing file is never replaced, even by a concurrent writer.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not overwrite and path.exists():
        raise ConfigError(f"{path} already exists; refusing to overwrite the {what}")
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:  # mkstemp creates the file with mode 0600
            if mode != 0o600:
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            tmp.replace(path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise ConfigError(
                    f"{path} already exists; refusing to overwrite the {what}"
                ) from None
            except OSError:  # no hard links on this filesystem: check, then rename
                if path.exists():
                    raise ConfigError(
                        f"{path} already exists; refusing to overwrite the {what}"
                    ) from None
                tmp.replace(path)
    except OSError as exc:
        raise ConfigError(f"cannot write the {what} to {path}: {exc.strerror}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _preview(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")
