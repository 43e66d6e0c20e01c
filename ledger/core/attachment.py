"""A sealed attachment stream, version 1 (PROTOCOL.md section 17.2).

Frozen: browsers and the CLI seal attachments in this layout and the service stores the streams
as they come. A change to the layout, the ``info``, the chunk size or the nonces makes stored
attachments unreadable, so such a change is a new stream version, never an edit.

An attachment is sealed to its tip's case key (``ledger.core.casekey``) on the reporter's device.
HPKE seals only a fresh 32-byte file key; the bytes are cut into chunks of 64 KiB, each sealed
with AES-256-GCM under that file key, after age's STREAM construction (a chunk counter and a
final flag in the nonce), so neither side ever holds more than one chunk at a time::

    stream   = header (89) || chunk_0 || ... || chunk_{n-1}
    header   = version (1, = 0x01) || case key_id (8) || enc (32) || sealed file key (32 + 16)
    info     = "tipledger/v1/attachment" || version || case key_id || commitment (32)
               || index (2, big-endian)
    chunk_i  = AES-256-GCM(file key, nonce_i, plaintext_i, aad = empty)   (len(plaintext_i) + 16)
    nonce_i  = i (11, big-endian) || final (1: 0x01 for the last chunk, else 0x00)

- Every chunk's plaintext is 65,536 bytes except the last, which has 1 to 65,536; an empty
  attachment is one final chunk of 0 bytes. So a stream's size says how many chunks it has, and
  a plaintext size maps to exactly one stream size (``sealed_size``, ``plain_size``).
- ``index`` is the attachment's place in the tip document's ``attachments`` (0-based). It and
  the commitment are bound through HPKE's ``info``: a stream moved to another tip or another
  place in the list does not open. Chunks dropped, reordered or cut off are caught by the
  counter and the final flag; a stream is whole only when its last chunk carries the flag.
- After opening, the bytes are checked against the document's entry (``check_attachment``):
  the document is what the commitment covers, the stream is only how the bytes travel.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.core import hpke
from ledger.core.encoding import to_hex
from ledger.core.errors import ConfigError, EnvelopeError, ProtocolError, UnusableKeyError
from ledger.core.hpke import KEY_ID_SIZE
from ledger.core.tip import Attachment

__all__ = [
    "ATTACHMENT_VERSION",
    "CHUNK_SIZE",
    "FILE_KEY_SIZE",
    "HEADER_SIZE",
    "INFO_TAG",
    "MAX_INDEX",
    "AttachmentSealer",
    "attachment_info",
    "check_attachment",
    "check_stream_header",
    "open_attachment",
    "plain_size",
    "seal_attachment",
    "seal_stream",
    "sealed_size",
]

ATTACHMENT_VERSION = 1
INFO_TAG = b"tipledger/v1/attachment"
CHUNK_SIZE = 65_536
FILE_KEY_SIZE = 32
MAX_INDEX = 0xFFFF  # the index is 2 bytes in info
_TAG_SIZE = 16  # AES-256-GCM
_SEALED_CHUNK = CHUNK_SIZE + _TAG_SIZE
_COUNTER_SIZE = 11
_MAX_CHUNKS = 1 << (8 * _COUNTER_SIZE)
_COMMITMENT_SIZE = 32
_PREFIX_SIZE = 1 + KEY_ID_SIZE  # version and case key id: the part of the header in info
HEADER_SIZE = _PREFIX_SIZE + hpke.ENC_SIZE + FILE_KEY_SIZE + hpke.TAG_SIZE  # 89


# --- sizes ----------------------------------------------------------------------------------


def sealed_size(plain: int) -> int:
    """The size of the stream that seals ``plain`` bytes (``ProtocolError`` if negative)."""
    if isinstance(plain, bool) or not isinstance(plain, int) or plain < 0:
        raise ProtocolError(f"an attachment's size is a non-negative integer, got {plain!r}")
    return HEADER_SIZE + plain + _TAG_SIZE * _chunk_count(plain)


def plain_size(sealed: int) -> int:
    """The attachment size a stream of ``sealed`` bytes holds; ``EnvelopeError`` if none can."""
    body = sealed - HEADER_SIZE
    if body < _TAG_SIZE:
        raise EnvelopeError(
            f"a sealed attachment is at least {HEADER_SIZE + _TAG_SIZE} bytes, this one is {sealed}"
        )
    chunks = -(-body // _SEALED_CHUNK)
    last = body - (chunks - 1) * _SEALED_CHUNK
    if chunks > 1 and last <= _TAG_SIZE:  # only a lone chunk may be empty
        raise EnvelopeError(
            f"a sealed attachment of {sealed} bytes would end in a chunk of {last} bytes "
            f"(a last chunk is {_TAG_SIZE + 1} to {_SEALED_CHUNK}): it was truncated or padded"
        )
    return body - _TAG_SIZE * chunks


def _chunk_count(plain: int) -> int:
    return max(1, -(-plain // CHUNK_SIZE))


# --- sealing --------------------------------------------------------------------------------


class AttachmentSealer:
    """Seal one attachment as it is read: ``update`` with its bytes, then ``finish``.

    Everything ``update`` and ``finish`` return, in order, is the stream (the first bytes are
    its header). At most one chunk of plaintext is held back: the last chunk is only known to be
    the last when ``finish`` is called.
    """

    def __init__(self, case_public: X25519PublicKey, commitment: bytes, index: int) -> None:
        file_key = os.urandom(FILE_KEY_SIZE)
        self._header = _seal_header(case_public, _check_commitment(commitment), index, file_key)
        self._aead = AESGCM(file_key)
        self._pending = bytearray()
        self._counter = 0
        self._started = False
        self._finished = False

    def update(self, data: bytes) -> bytes:
        """Sealed bytes for ``data`` (possibly none yet: a chunk is sealed once it is full)."""
        if self._finished:
            raise ProtocolError("this attachment is already sealed: finish() was called")
        self._pending += data
        out = [self._take_header()]
        # Hold back the last full chunk: it may turn out to be the final one.
        while len(self._pending) > CHUNK_SIZE:
            out.append(self._seal(bytes(self._pending[:CHUNK_SIZE]), final=False))
            del self._pending[:CHUNK_SIZE]
        return b"".join(out)

    def finish(self) -> bytes:
        """The last sealed bytes: the final chunk (and the header if nothing came before)."""
        if self._finished:
            raise ProtocolError("this attachment is already sealed: finish() was called")
        self._finished = True
        out = self._take_header() + self._seal(bytes(self._pending), final=True)
        self._pending.clear()
        return out

    def _take_header(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        return self._header

    def _seal(self, plaintext: bytes, *, final: bool) -> bytes:
        sealed = self._aead.encrypt(_nonce(self._counter, final), plaintext, None)
        self._counter += 1
        return sealed


def seal_stream(
    case_public: X25519PublicKey, commitment: bytes, index: int, parts: Iterable[bytes]
) -> Iterator[bytes]:
    """The stream for an attachment read in ``parts`` (any sizes), piece by piece."""
    sealer = AttachmentSealer(case_public, commitment, index)
    for part in parts:
        sealed = sealer.update(part)
        if sealed:
            yield sealed
    yield sealer.finish()


def seal_attachment(
    case_public: X25519PublicKey, commitment: bytes, index: int, data: bytes
) -> bytes:
    """The whole stream sealing ``data``, the ``index``-th attachment of the tip ``commitment``.

    ``ProtocolError`` for a commitment that is not 32 bytes or an index out of range,
    ``ConfigError`` for a case key nothing can be sealed to.
    """
    return b"".join(seal_stream(case_public, commitment, index, (data,)))


def _seal_header(
    case_public: X25519PublicKey, commitment_: bytes, index: int, file_key: bytes
) -> bytes:
    prefix = bytes([ATTACHMENT_VERSION]) + hpke.key_id_bytes(case_public)
    info = attachment_info(prefix, commitment_, index)
    try:
        sealed_key = hpke.seal(case_public, file_key, info=info)
    except UnusableKeyError as exc:
        raise ConfigError(
            f"cannot seal an attachment to the case key {hpke.key_id(case_public)}: {exc}"
        ) from exc
    return prefix + sealed_key


def _seal_chunks(file_key: bytes, data: bytes) -> bytes:
    """The chunks of a stream (no header): the layer the test vectors pin."""
    aead = AESGCM(file_key)
    count = _chunk_count(len(data))
    return b"".join(
        aead.encrypt(_nonce(i, i == count - 1), data[i * CHUNK_SIZE : (i + 1) * CHUNK_SIZE], None)
        for i in range(count)
    )


# --- what the service can check -------------------------------------------------------------


def check_stream_header(stream: bytes, case_key_id: bytes, *, size: int | None = None) -> int:
    """Check what can be checked without a key; return the attachment's size in bytes.

    ``stream`` is the stream or at least its first ``HEADER_SIZE`` bytes; ``size`` is the whole
    stream's length when only its beginning is given. ``EnvelopeError`` if the version is unknown,
    the stream is sealed to a case key other than ``case_key_id`` (8 bytes, the tip's), or its
    size is not that of any attachment.
    """
    if not isinstance(case_key_id, bytes) or len(case_key_id) != KEY_ID_SIZE:
        raise ProtocolError(f"a case key id is {KEY_ID_SIZE} bytes")
    total = len(stream) if size is None else size
    stream = bytes(stream[:HEADER_SIZE])
    if len(stream) < HEADER_SIZE:
        raise EnvelopeError(
            f"a sealed attachment starts with a {HEADER_SIZE}-byte header, "
            f"this one has {len(stream)} bytes"
        )
    if stream[0] != ATTACHMENT_VERSION:
        raise EnvelopeError(
            f"unknown sealed-attachment version {stream[0]} "
            f"(this TipLedger reads {ATTACHMENT_VERSION})"
        )
    if stream[1:_PREFIX_SIZE] != case_key_id:
        raise EnvelopeError(
            f"the attachment is sealed to case key {stream[1:_PREFIX_SIZE].hex()}, "
            f"not to this tip's case key {case_key_id.hex()}"
        )
    return plain_size(total)


# --- opening --------------------------------------------------------------------------------


def open_attachment(
    case_private: X25519PrivateKey, commitment: bytes, index: int, stream: bytes
) -> bytes:
    """The attachment's bytes; ``EnvelopeError`` naming what failed.

    Refused: a stream sealed to another case key, or for another tip or index (the file key does
    not open); a chunk altered or moved (named by its number); a stream cut short or extended.
    """
    commitment_ = _check_commitment(commitment)
    stream = bytes(stream)
    size = check_stream_header(
        stream, hpke.key_id_bytes(case_private.public_key()), size=len(stream)
    )
    info = attachment_info(stream[:_PREFIX_SIZE], commitment_, index)
    file_key = hpke.open_sealed(
        case_private, memoryview(stream)[_PREFIX_SIZE:HEADER_SIZE], info=info
    )
    if file_key is None:
        raise EnvelopeError(
            f"attachment {index} does not open for commitment {to_hex(commitment_)}: it belongs "
            "to another tip or another place in the list, or its header was altered"
        )
    plaintext = _open_chunks(file_key, memoryview(stream)[HEADER_SIZE:])
    if len(plaintext) != size:  # pragma: no cover - the chunk layout fixes the size
        raise EnvelopeError("the opened attachment is not the size its stream says")
    return plaintext


def _open_chunks(file_key: bytes, body: bytes | memoryview) -> bytes:
    """The plaintext of a stream's chunks (no header); ``EnvelopeError`` naming the chunk."""
    body = memoryview(body)
    plain_size(HEADER_SIZE + len(body))  # a whole number of chunks
    aead = AESGCM(file_key)
    count = -(-len(body) // _SEALED_CHUNK)
    out = bytearray()
    for i in range(count):
        chunk = body[i * _SEALED_CHUNK : (i + 1) * _SEALED_CHUNK]
        final = i == count - 1
        try:
            out += aead.decrypt(_nonce(i, final), chunk, None)
        except InvalidTag:
            raise EnvelopeError(_chunk_failure(aead, chunk, i, final, count)) from None
    return bytes(out)


def _chunk_failure(aead: AESGCM, chunk: memoryview, i: int, final: bool, count: int) -> str:
    """Why chunk ``i`` failed: the other final flag tells a cut or an extension from damage."""
    try:
        aead.decrypt(_nonce(i, not final), chunk, None)
    except InvalidTag:
        return f"chunk {i} of {count} of the sealed attachment was altered, moved or cut short"
    if final:
        return f"the sealed attachment was truncated: it ends after chunk {i} without its last"
    return f"the sealed attachment goes on after its last chunk ({i}): bytes were appended"


def check_attachment(opened: bytes, entry: Attachment) -> None:
    """Refuse (``EnvelopeError``) opened bytes that are not the ones the tip document lists."""
    if len(opened) != entry.size:
        raise EnvelopeError(
            f"attachment {entry.name!r} opened to {len(opened)} bytes, the tip lists {entry.size}"
        )
    digest = hashlib.sha256(opened).digest()
    if digest != entry.sha256:
        raise EnvelopeError(
            f"attachment {entry.name!r} opened to bytes with SHA-256 {to_hex(digest)}, "
            f"the tip lists {to_hex(entry.sha256)}"
        )


# --- shared ---------------------------------------------------------------------------------


def attachment_info(prefix: bytes, commitment: bytes, index: int) -> bytes:
    """HPKE ``info`` of the file key: tag || version || case key id || commitment || index."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= MAX_INDEX:
        raise ProtocolError(f"an attachment's index is 0 to {MAX_INDEX}, got {index!r}")
    return INFO_TAG + prefix + _check_commitment(commitment) + index.to_bytes(2, "big")


def _nonce(counter: int, final: bool) -> bytes:
    if counter >= _MAX_CHUNKS:  # pragma: no cover - 2^88 chunks
        raise ProtocolError("an attachment has too many chunks for the stream's counter")
    return counter.to_bytes(_COUNTER_SIZE, "big") + (b"\x01" if final else b"\x00")


def _check_commitment(value: bytes) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != _COMMITMENT_SIZE:
        raise ProtocolError(f"a commitment is {_COMMITMENT_SIZE} bytes")
    return bytes(value)
