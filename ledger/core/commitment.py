"""Content digest and commitment (PROTOCOL.md sections 1 and 2).

    content_digest = H(document)
    commitment     = H("tipledger/v1/commitment" || salt || content_digest || author)

Frozen: changing what these compute breaks every receipt already issued.
"""

from __future__ import annotations

import hashlib
import secrets

from ledger.core.encoding import ADDRESS_SIZE, address_bytes
from ledger.core.errors import ProtocolError

TAG = b"tipledger/v1/commitment"
SALT_SIZE = 32
DIGEST_SIZE = 32
ZERO_AUTHOR = bytes(ADDRESS_SIZE)


def content_digest(document: bytes) -> bytes:
    """``H(document)`` over the exact bytes submitted."""
    if not isinstance(document, bytes | bytearray | memoryview):
        raise ProtocolError(f"a tip document is bytes, got {type(document).__name__}")
    return hashlib.sha256(document).digest()


def commitment(salt: bytes, content_digest: bytes, author: bytes | str) -> bytes:
    """The 32-byte commitment to a tip.

    ``salt`` and ``content_digest`` are 32 bytes each; ``author`` is a 20-byte address, raw or as
    a hex string (``ZERO_AUTHOR`` when the reporter made no one-time key). Raises
    ``ProtocolError`` on any other length or type.
    """
    _check_bytes("salt", salt, SALT_SIZE)
    _check_bytes("content digest", content_digest, DIGEST_SIZE)
    try:
        author_raw = address_bytes(author)
    except ProtocolError as exc:
        raise ProtocolError(f"commitment author: {exc}") from None
    return hashlib.sha256(TAG + bytes(salt) + bytes(content_digest) + author_raw).digest()


def new_salt() -> bytes:
    """32 fresh bytes from the operating system's CSPRNG; never reuse one."""
    return secrets.token_bytes(SALT_SIZE)


def _check_bytes(name: str, value: object, size: int) -> None:
    if not isinstance(value, bytes | bytearray):
        raise ProtocolError(f"commitment {name} must be {size} bytes, got {type(value).__name__}")
    if len(value) != size:
        raise ProtocolError(f"commitment {name} must be {size} bytes, got {len(value)}")
