"""Sealed attachment streams, version 1 (PROTOCOL.md 17): the vectors, round trips, refusals.

HPKE sealing is randomised, so the whole-stream vector is a fixed header that must keep opening
with a fixed case key; the chunk layer is deterministic under a fixed file key and is pinned by
the SHA-256 of its output (tests/e2e/test_js_seal.py holds seal.js to the same figures).
"""

from __future__ import annotations

import hashlib
import itertools

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import hpke
from ledger.core.attachment import (
    CHUNK_SIZE,
    HEADER_SIZE,
    AttachmentSealer,
    _open_chunks,
    _seal_chunks,
    attachment_info,
    check_attachment,
    check_stream_header,
    open_attachment,
    plain_size,
    seal_attachment,
    seal_stream,
    sealed_size,
)
from ledger.core.errors import ConfigError, EnvelopeError, ProtocolError
from ledger.core.tip import Attachment

SEALED_CHUNK = CHUNK_SIZE + 16


def label(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def vector_data(size: int) -> bytes:
    """SHA-256 of 0, 1, 2, ... (4-byte big-endian counters), concatenated, cut to ``size``."""
    blocks = (size + 31) // 32
    return b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(blocks))[:size]


# The vector: every value here is rebuilt from its label, except the sealed header (HPKE is
# randomised: it was made once and must keep opening).
CASE = X25519PrivateKey.from_private_bytes(label("tipledger test vector: attachment case key"))
CASE_PUBLIC = "1fc1e0f0959ebaba650a2163082a0cd411f3fd115d2149e7ac8dfe253148f139"
CASE_KEY_ID = "18fafe1f359cfa05"
COMMITMENT = label("tipledger test vector: attachment commitment")
FILE_KEY = label("tipledger test vector: attachment file key")
INDEX = 1
DATA = vector_data(2 * CHUNK_SIZE + 1000)  # three chunks, the last of 1,000 bytes
DATA_SHA256 = "7ac96452ad99ff7027e0f14890a535236fb79d438c9194796d223e6a5eb44ec9"
CHUNKS_SHA256 = "1c4ffb997b49f25305099cc37a7e9d4fce1f7be28a689eb42d5b1c0f8eded92d"
EMPTY_CHUNK = bytes.fromhex("41bf74793d54326b86cff6859110bf29")  # the tag of one empty chunk
HEADER = bytes.fromhex(
    "0118fafe1f359cfa05bc30cb3431f9b884df5f35377d2e5cc75d080a0f1e9ee52ef3b5b69a0d0e043f62e7"
    "d17741210edee60f4e135e9818565f8dc6b5c15fd49e10c273365c0e9171186273fcbd3f3e7b3b16d8cd91"
    "9a89fd"
)
VECTOR_STREAM = HEADER + _seal_chunks(FILE_KEY, DATA)

OTHER_COMMITMENT = label("another tip")
STREAM_KEY = X25519PrivateKey.generate()  # for the properties: one key, many streams


# --- the vectors --------------------------------------------------------------------------


def test_the_vector_inputs() -> None:
    assert hpke.public_bytes(CASE.public_key()).hex() == CASE_PUBLIC
    assert hpke.key_id(CASE.public_key()) == CASE_KEY_ID
    assert hashlib.sha256(DATA).hexdigest() == DATA_SHA256
    assert len(HEADER) == HEADER_SIZE == 89


def test_the_chunk_layer_vector() -> None:
    chunks = _seal_chunks(FILE_KEY, DATA)
    assert len(chunks) == len(DATA) + 3 * 16
    assert hashlib.sha256(chunks).hexdigest() == CHUNKS_SHA256
    tags = [chunks[end - 16 : end].hex() for end in (SEALED_CHUNK, 2 * SEALED_CHUNK, len(chunks))]
    assert tags == [
        "457b7e2bda2a7788d652e59cae7acbc9",
        "6069b0a69c8f70cb02e50c86f3b0877e",
        "0e124c0517a6acaac95eba63593e80dc",
    ]
    assert _seal_chunks(FILE_KEY, b"") == EMPTY_CHUNK
    assert _open_chunks(FILE_KEY, chunks) == DATA


def test_the_stream_vector_keeps_opening() -> None:
    assert check_stream_header(VECTOR_STREAM, bytes.fromhex(CASE_KEY_ID)) == len(DATA)
    assert open_attachment(CASE, COMMITMENT, INDEX, VECTOR_STREAM) == DATA
    assert len(VECTOR_STREAM) == 132_209
    assert hashlib.sha256(VECTOR_STREAM).hexdigest() == (
        "28bc4db2f1216c951b17249581d4b845be96753402fb5415b56e940bc50d5c2d"
    )
    # The file key in the header is the vector's, bound to this commitment and index.
    info = attachment_info(HEADER[:9], COMMITMENT, INDEX)
    assert hpke.open_sealed(CASE, HEADER[9:], info=info) == FILE_KEY


def test_the_info_layout() -> None:
    info = attachment_info(HEADER[:9], COMMITMENT, 258)
    assert info == b"tipledger/v1/attachment" + HEADER[:9] + COMMITMENT + b"\x01\x02"
    assert len(info) == 23 + 9 + 32 + 2


# --- sizes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plain", "sealed"),
    [
        (0, 89 + 16),
        (1, 89 + 17),
        (CHUNK_SIZE, 89 + SEALED_CHUNK),
        (CHUNK_SIZE + 1, 89 + SEALED_CHUNK + 17),
        (3 * CHUNK_SIZE, 89 + 3 * SEALED_CHUNK),
    ],
)
def test_sizes(plain: int, sealed: int) -> None:
    assert sealed_size(plain) == sealed
    assert plain_size(sealed) == plain


@given(st.integers(min_value=0, max_value=10 * CHUNK_SIZE))
def test_sizes_invert(plain: int) -> None:
    assert plain_size(sealed_size(plain)) == plain


@pytest.mark.parametrize(
    "sealed", [0, 88, 89, 89 + 15, 89 + SEALED_CHUNK + 1, 89 + SEALED_CHUNK + 16]
)
def test_impossible_sizes(sealed: int) -> None:
    with pytest.raises(EnvelopeError, match="sealed attachment"):
        plain_size(sealed)


def test_every_stream_size_up_to_three_chunks_is_one_plain_size_or_refused() -> None:
    seen: dict[int, int] = {}
    for sealed in range(HEADER_SIZE, HEADER_SIZE + 3 * SEALED_CHUNK + 1):
        try:
            plain = plain_size(sealed)
        except EnvelopeError:
            continue
        assert sealed_size(plain) == sealed
        seen[plain] = sealed
    assert sorted(seen) == list(range(3 * CHUNK_SIZE + 1))


def test_negative_size_refused() -> None:
    with pytest.raises(ProtocolError, match="non-negative"):
        sealed_size(-1)


# --- round trips --------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    size=st.one_of(
        st.integers(0, 3 * CHUNK_SIZE + 100),
        st.sampled_from([0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE]),
    ),
    index=st.integers(0, 99),
    seed=st.binary(min_size=4, max_size=4),
)
def test_round_trip(size: int, index: int, seed: bytes) -> None:
    data = (seed * (size // 4 + 1))[:size]
    stream = seal_attachment(STREAM_KEY.public_key(), COMMITMENT, index, data)
    assert len(stream) == sealed_size(size)
    case_id = hpke.key_id_bytes(STREAM_KEY.public_key())
    assert check_stream_header(stream, case_id) == size
    assert check_stream_header(stream[:HEADER_SIZE], case_id, size=len(stream)) == size
    opened = open_attachment(STREAM_KEY, COMMITMENT, index, stream)
    assert opened == data
    check_attachment(opened, Attachment.of("f.bin", data))


@settings(max_examples=30, deadline=None)
@given(
    data=st.binary(max_size=3 * CHUNK_SIZE // 64).map(lambda b: b * 64),
    cuts=st.lists(st.integers(0, 3 * CHUNK_SIZE), max_size=6),
)
def test_the_sealer_gives_one_stream_however_the_bytes_are_fed(
    data: bytes, cuts: list[int]
) -> None:
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    parts = [data[a:b] for a, b in itertools.pairwise(bounds)]
    stream = b"".join(seal_stream(STREAM_KEY.public_key(), COMMITMENT, 0, parts))
    assert len(stream) == sealed_size(len(data))
    assert open_attachment(STREAM_KEY, COMMITMENT, 0, stream) == data


def test_the_sealer_holds_at_most_one_chunk() -> None:
    sealer = AttachmentSealer(STREAM_KEY.public_key(), COMMITMENT, 0)
    out = sealer.update(b"a" * CHUNK_SIZE)
    assert out[:1] == b"\x01"
    assert len(out) == HEADER_SIZE  # the full chunk may be the last: held back
    assert len(sealer.update(b"b")) == SEALED_CHUNK
    assert len(sealer.update(b"c" * (3 * CHUNK_SIZE))) == 3 * SEALED_CHUNK
    assert len(sealer.finish()) == 16 + 1
    with pytest.raises(ProtocolError, match="already sealed"):
        sealer.update(b"x")
    with pytest.raises(ProtocolError, match="already sealed"):
        sealer.finish()


def test_two_streams_of_the_same_bytes_differ() -> None:
    one = seal_attachment(STREAM_KEY.public_key(), COMMITMENT, 0, b"same")
    two = seal_attachment(STREAM_KEY.public_key(), COMMITMENT, 0, b"same")
    assert one != two  # a fresh file key each time


# --- refusals -----------------------------------------------------------------------------

SMALL = vector_data(2 * CHUNK_SIZE + 5)
SMALL_STREAM = seal_attachment(STREAM_KEY.public_key(), COMMITMENT, 3, SMALL)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(SMALL_STREAM) * 8 - 1))
def test_any_flipped_bit_is_refused(bit: int) -> None:
    tampered = bytearray(SMALL_STREAM)
    tampered[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(EnvelopeError):
        open_attachment(STREAM_KEY, COMMITMENT, 3, bytes(tampered))


@pytest.mark.parametrize("index", [0, 2, 4])
def test_another_index_is_refused(index: int) -> None:
    with pytest.raises(EnvelopeError, match="another place in the list"):
        open_attachment(STREAM_KEY, COMMITMENT, index, SMALL_STREAM)


def test_another_commitment_is_refused() -> None:
    with pytest.raises(EnvelopeError, match="belongs to another tip"):
        open_attachment(STREAM_KEY, OTHER_COMMITMENT, 3, SMALL_STREAM)


def test_another_case_key_is_refused_by_name() -> None:
    other = X25519PrivateKey.generate()
    with pytest.raises(EnvelopeError, match="sealed to case key"):
        open_attachment(other, COMMITMENT, 3, SMALL_STREAM)
    with pytest.raises(EnvelopeError, match=f"not to this tip's case key {bytes(8).hex()}"):
        check_stream_header(SMALL_STREAM, bytes(8))


def chunks_of(stream: bytes) -> tuple[bytes, list[bytes]]:
    body = stream[HEADER_SIZE:]
    return stream[:HEADER_SIZE], [
        body[i : i + SEALED_CHUNK] for i in range(0, len(body), SEALED_CHUNK)
    ]


def test_a_dropped_last_chunk_is_named_truncation() -> None:
    header, chunks = chunks_of(SMALL_STREAM)
    assert [len(c) for c in chunks] == [SEALED_CHUNK, SEALED_CHUNK, 5 + 16]
    with pytest.raises(EnvelopeError, match="truncated: it ends after chunk 1"):
        open_attachment(STREAM_KEY, COMMITMENT, 3, header + chunks[0] + chunks[1])


def test_a_dropped_middle_chunk_is_refused() -> None:
    header, chunks = chunks_of(SMALL_STREAM)
    with pytest.raises(EnvelopeError, match=r"chunk 1 of 2 .* altered, moved or cut short"):
        open_attachment(STREAM_KEY, COMMITMENT, 3, header + chunks[0] + chunks[2])


def test_reordered_chunks_are_refused() -> None:
    header, chunks = chunks_of(SMALL_STREAM)
    with pytest.raises(EnvelopeError, match="chunk 0 of 3"):
        open_attachment(STREAM_KEY, COMMITMENT, 3, header + chunks[1] + chunks[0] + chunks[2])


def test_appended_chunks_are_refused() -> None:
    big = seal_attachment(STREAM_KEY.public_key(), COMMITMENT, 3, vector_data(2 * CHUNK_SIZE))
    _, chunks = chunks_of(big)
    # A stream of one chunk opened as the first chunk of two: the final chunk is not last.
    one = seal_attachment(STREAM_KEY.public_key(), COMMITMENT, 3, vector_data(CHUNK_SIZE))
    with pytest.raises(EnvelopeError, match="bytes were appended"):
        open_attachment(STREAM_KEY, COMMITMENT, 3, one + chunks[1])
    with pytest.raises(EnvelopeError):
        open_attachment(STREAM_KEY, COMMITMENT, 3, big + chunks[1])


@pytest.mark.parametrize("cut", [1, 15, 16, 17, SEALED_CHUNK, SEALED_CHUNK + 16 + 5])
def test_cut_short_is_refused(cut: int) -> None:
    with pytest.raises(EnvelopeError):
        open_attachment(STREAM_KEY, COMMITMENT, 3, SMALL_STREAM[:-cut])


def test_a_chunk_from_another_stream_is_refused() -> None:
    header, chunks = chunks_of(SMALL_STREAM)
    _, others = chunks_of(seal_attachment(STREAM_KEY.public_key(), COMMITMENT, 3, SMALL))
    with pytest.raises(EnvelopeError, match="chunk 1 of 3"):
        open_attachment(STREAM_KEY, COMMITMENT, 3, header + chunks[0] + others[1] + chunks[2])


def test_header_refusals() -> None:
    case_id = hpke.key_id_bytes(STREAM_KEY.public_key())
    with pytest.raises(EnvelopeError, match="89-byte header"):
        check_stream_header(SMALL_STREAM[:88], case_id)
    with pytest.raises(EnvelopeError, match="unknown sealed-attachment version 2"):
        check_stream_header(b"\x02" + SMALL_STREAM[1:], case_id)
    with pytest.raises(EnvelopeError, match="end in a chunk of 16 bytes"):
        check_stream_header(SMALL_STREAM[:HEADER_SIZE], case_id, size=89 + SEALED_CHUNK + 16)
    with pytest.raises(ProtocolError, match="case key id is 8 bytes"):
        check_stream_header(SMALL_STREAM, case_id.hex().encode())


def test_input_refusals() -> None:
    public = STREAM_KEY.public_key()
    with pytest.raises(ProtocolError, match="commitment is 32 bytes"):
        seal_attachment(public, COMMITMENT[:31], 0, b"x")
    with pytest.raises(ProtocolError, match="index is 0 to 65535"):
        seal_attachment(public, COMMITMENT, 65536, b"x")
    with pytest.raises(ProtocolError, match="index is 0 to 65535"):
        seal_attachment(public, COMMITMENT, -1, b"x")
    low_order = X25519PublicKey.from_public_bytes(bytes(32))
    with pytest.raises(ConfigError, match="cannot seal an attachment"):
        seal_attachment(low_order, COMMITMENT, 0, b"x")


def test_check_attachment_compares_with_the_document() -> None:
    entry = Attachment.of("scan.pdf", b"the bytes", "application/pdf")
    check_attachment(b"the bytes", entry)
    with pytest.raises(EnvelopeError, match="opened to 10 bytes, the tip lists 9"):
        check_attachment(b"the bytes!", entry)
    with pytest.raises(EnvelopeError, match="SHA-256 0x"):
        check_attachment(b"the byteZ", entry)
