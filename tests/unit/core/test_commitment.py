"""Commitment and content digest (PROTOCOL.md sections 1 and 2), and the hex/address helpers."""

from __future__ import annotations

import hashlib
import re

import pytest

from ledger.core.commitment import (
    TAG,
    ZERO_AUTHOR,
    commitment,
    content_digest,
    new_salt,
)
from ledger.core.encoding import address_bytes, checksum_address, from_hex, to_hex
from ledger.core.errors import ProtocolError

SALT = bytes(range(32))
DOCUMENT = b'{"text":"fraud at office X"}'
AUTHOR = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
AUTHOR_RAW = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")


def test_tag_is_the_23_protocol_bytes() -> None:
    assert TAG == b"tipledger/v1/commitment"
    assert len(TAG) == 23


def test_content_digest_is_sha256_of_the_exact_bytes() -> None:
    assert content_digest(DOCUMENT) == hashlib.sha256(DOCUMENT).digest()
    assert content_digest(b"") == bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    # No re-serialisation: a different byte string is a different digest.
    assert content_digest(DOCUMENT + b"\n") != content_digest(DOCUMENT)


def test_commitment_known_answer_pins_the_byte_layout() -> None:
    digest = hashlib.sha256(DOCUMENT).digest()
    by_hand = hashlib.sha256(b"tipledger/v1/commitment" + SALT + digest + AUTHOR_RAW).hexdigest()
    assert commitment(SALT, digest, AUTHOR).hex() == by_hand
    assert commitment(SALT, digest, AUTHOR_RAW).hex() == by_hand
    assert commitment(SALT, digest, AUTHOR.lower()).hex() == by_hand
    # And a frozen literal, so a change to both code and test above cannot go unnoticed.
    zero = commitment(bytes(32), bytes(32), ZERO_AUTHOR)
    assert zero == hashlib.sha256(TAG + bytes(84)).digest()
    assert zero.hex() == (hashlib.sha256(b"tipledger/v1/commitment" + b"\x00" * 84).hexdigest())


def test_commitment_known_answer_literal() -> None:
    digest = content_digest(b"hello")
    assert digest.hex() == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    layout = bytes.fromhex(
        "746970"  # "tip"
        "6c65646765722f76312f636f6d6d69746d656e74"  # "ledger/v1/commitment"
        + "01" * 32  # salt
        + digest.hex()  # content_digest
        + "02" * 20  # author
    )
    expected = "0a26d037855987aefd52deb60c90dce74b148b3bca3618c10463f5290c6df1be"
    assert hashlib.sha256(layout).hexdigest() == expected
    assert commitment(b"\x01" * 32, digest, "0x" + "02" * 20).hex() == expected


def test_zero_author() -> None:
    assert bytes(20) == ZERO_AUTHOR
    assert commitment(SALT, bytes(32), ZERO_AUTHOR) == commitment(SALT, bytes(32), "0x" + "0" * 40)


def test_each_input_changes_the_commitment() -> None:
    base = commitment(SALT, bytes(32), AUTHOR)
    assert commitment(new_salt(), bytes(32), AUTHOR) != base
    assert commitment(SALT, b"\x01" + bytes(31), AUTHOR) != base
    assert commitment(SALT, bytes(32), ZERO_AUTHOR) != base


@pytest.mark.parametrize(
    ("salt", "digest", "author", "message"),
    [
        (bytes(31), bytes(32), ZERO_AUTHOR, "salt must be 32 bytes, got 31"),
        (bytes(33), bytes(32), ZERO_AUTHOR, "salt must be 32 bytes, got 33"),
        ("00" * 32, bytes(32), ZERO_AUTHOR, "salt must be 32 bytes, got str"),
        (bytes(32), bytes(31), ZERO_AUTHOR, "content digest must be 32 bytes, got 31"),
        (bytes(32), bytes(64), ZERO_AUTHOR, "content digest must be 32 bytes, got 64"),
        (bytes(32), bytes(32), bytes(19), "an address is 20 bytes, got 19"),
        (bytes(32), bytes(32), bytes(32), "an address is 20 bytes, got 32"),
        (bytes(32), bytes(32), "0x" + "00" * 19, "expected 0x + 40 hex digits"),
        (bytes(32), bytes(32), "00" * 20, "expected 0x + 40 hex digits"),
        (bytes(32), bytes(32), "0xZZ" + "00" * 19, "expected 0x + 40 hex digits"),
        (bytes(32), bytes(32), AUTHOR.replace("F", "f", 1), "invalid EIP-55 checksum"),
    ],
    ids=[
        "salt-31",
        "salt-33",
        "salt-str",
        "digest-31",
        "digest-64",
        "author-19",
        "author-32",
        "author-hex-19",
        "author-no-prefix",
        "author-not-hex",
        "author-bad-checksum",
    ],
)
def test_commitment_rejects_bad_inputs(
    salt: object, digest: object, author: object, message: str
) -> None:
    with pytest.raises(ProtocolError, match=re.escape(message)):
        commitment(salt, digest, author)  # type: ignore[arg-type]


def test_content_digest_rejects_text() -> None:
    with pytest.raises(ProtocolError, match="bytes"):
        content_digest("a string")  # type: ignore[arg-type]


def test_new_salt_is_fresh() -> None:
    salts = {new_salt() for _ in range(100)}
    assert len(salts) == 100
    assert all(len(s) == 32 for s in salts)


# --- encoding helpers ----------------------------------------------------------------------------


def test_to_hex_is_lowercase_and_prefixed() -> None:
    assert to_hex(b"\xab\xcd") == "0xabcd"
    assert to_hex(b"") == "0x"


def test_from_hex() -> None:
    assert from_hex("0xabCD") == b"\xab\xcd"
    assert from_hex("0xABCD", 2) == b"\xab\xcd"
    assert from_hex("0x") == b""
    for bad in ("abcd", "0Xabcd", "0xabc", "0xabcg", " 0xabcd", "0xabcd ", "0x ab"):
        with pytest.raises(ProtocolError):
            from_hex(bad)
    with pytest.raises(ProtocolError, match="expected 0x \\+ 6 hex digits, got 4 hex digits"):
        from_hex("0xabcd", 3)
    with pytest.raises(ProtocolError, match="got bytes"):
        from_hex(b"0xabcd")  # type: ignore[arg-type]


def test_addresses() -> None:
    assert checksum_address(AUTHOR.lower()) == AUTHOR
    assert checksum_address("0x" + AUTHOR[2:].upper()) == AUTHOR
    assert checksum_address(AUTHOR_RAW) == AUTHOR
    assert address_bytes(AUTHOR) == AUTHOR_RAW
    with pytest.raises(ProtocolError, match="checksum"):
        checksum_address(AUTHOR[:-1] + "A")
