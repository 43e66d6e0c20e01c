"""The receipt model (PROTOCOL.md section 6): round trips, leniency rules, readable errors.

Decisions pinned here (documented in ledger/core/receipt.py):
- upper-case hex digits are accepted and normalised to lower case; ``to_json`` writes lower case;
- addresses in lower or upper case are accepted and normalised to EIP-55; a mixed-case address
  with a wrong checksum is rejected;
- unknown fields are ignored at every level; a duplicate key is rejected.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from ledger.core.errors import ProtocolError, ReceiptError
from ledger.core.receipt import FORMAT, Inclusion, PromiseInfo, Receipt

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
SIGNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def h(byte: int, n: int = 32) -> str:
    return "0x" + f"{byte:02x}" * n


def sample() -> dict[str, Any]:
    return {
        "format": "tipledger-receipt/1",
        "chain_id": 31337,
        "contract": CONTRACT,
        "commitment": h(0x11),
        "salt": h(0x22),
        "content_digest": h(0x33),
        "author": "0x0000000000000000000000000000000000000000",
        "promise": {"received_at": 1764200000, "signer": SIGNER, "signature": h(0x44, 65)},
        "inclusion": {
            "leaf_index": 41,
            "tree_size": 64,
            "root_hash": h(0x55),
            "proof": [h(0x66), h(0x77)],
            "anchor_tx": h(0x88),
            "block_number": 12,
            "block_timestamp": 1764200001,
        },
    }


GOLDEN = """{
  "format": "tipledger-receipt/1",
  "chain_id": 31337,
  "contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  "commitment": "0x1111111111111111111111111111111111111111111111111111111111111111",
  "salt": "0x2222222222222222222222222222222222222222222222222222222222222222",
  "content_digest": "0x3333333333333333333333333333333333333333333333333333333333333333",
  "author": "0x0000000000000000000000000000000000000000",
  "promise": {
    "received_at": 1764200000,
    "signer": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "signature": "0x%s"
  },
  "inclusion": {
    "leaf_index": 41,
    "tree_size": 64,
    "root_hash": "0x5555555555555555555555555555555555555555555555555555555555555555",
    "proof": [
      "0x6666666666666666666666666666666666666666666666666666666666666666",
      "0x7777777777777777777777777777777777777777777777777777777777777777"
    ],
    "anchor_tx": "0x8888888888888888888888888888888888888888888888888888888888888888",
    "block_number": 12,
    "block_timestamp": 1764200001
  }
}""" % ("44" * 65)


def parse(data: Any) -> Receipt:
    return Receipt.from_json(json.dumps(data))


# --- round trips --------------------------------------------------------------------------------


def test_to_json_is_the_golden_text() -> None:
    receipt = parse(sample())
    assert receipt.to_json() == GOLDEN
    assert Receipt.from_json(GOLDEN) == receipt
    assert Receipt.from_json(GOLDEN.encode()) == receipt
    assert list(json.loads(receipt.to_json())) == list(sample())


def test_round_trip_and_dict() -> None:
    receipt = parse(sample())
    assert Receipt.from_json(receipt.to_json()) == receipt
    assert receipt.to_dict() == sample()
    assert Receipt.from_dict(receipt.to_dict()) == receipt


def test_pending_receipt_round_trip() -> None:
    data = sample()
    data["inclusion"] = None
    receipt = parse(data)
    assert receipt.inclusion is None
    assert not receipt.anchored
    assert '"inclusion": null' in receipt.to_json()
    assert Receipt.from_json(receipt.to_json()) == receipt
    # Absent is the same as null, for both optional parts.
    del data["inclusion"], data["promise"]
    bare = parse(data)
    assert bare.promise is None
    assert bare.inclusion is None


def test_create_from_raw_values() -> None:
    receipt = Receipt.create(
        chain_id=1,
        contract=bytes.fromhex(CONTRACT[2:]),
        commitment=b"\x11" * 32,
        salt=b"\x22" * 32,
        content_digest=b"\x33" * 32,
        author=bytes(20),
        promise=PromiseInfo.create(received_at=5, signer=SIGNER.lower(), signature=b"\x44" * 65),
    )
    assert receipt.format == FORMAT
    assert receipt.contract == CONTRACT
    assert receipt.commitment == h(0x11)
    assert receipt.promise is not None
    assert receipt.promise.signer == SIGNER
    assert receipt.inclusion is None
    anchored = receipt.with_inclusion(
        Inclusion.create(
            leaf_index=0,
            tree_size=1,
            root_hash=b"\x55" * 32,
            proof=[],
            anchor_tx=b"\x88" * 32,
            block_number=1,
            block_timestamp=6,
        )
    )
    assert anchored.inclusion is not None
    assert anchored.inclusion.root_hash == h(0x55)
    assert receipt.inclusion is None
    assert Receipt.from_json(anchored.to_json()) == anchored


def test_create_rejects_bad_values_with_receipt_error() -> None:
    with pytest.raises(ReceiptError, match="receipt field 'salt': expected 32 bytes, got 31"):
        Receipt.create(
            chain_id=1,
            contract=CONTRACT,
            commitment=b"\x11" * 32,
            salt=b"\x22" * 31,
            content_digest=b"\x33" * 32,
            author=bytes(20),
        )
    with pytest.raises(ReceiptError, match="receipt field 'proof\\[0\\]': expected 32 bytes"):
        Inclusion.create(
            leaf_index=0,
            tree_size=1,
            root_hash=b"\x55" * 32,
            proof=[b"\x01"],
            anchor_tx=b"\x88" * 32,
            block_number=1,
            block_timestamp=6,
        )


def test_validation_also_takes_bytes() -> None:
    data = sample()
    data["salt"] = b"\x22" * 32
    data["author"] = bytes(20)
    assert Receipt.from_dict(data) == parse(sample())


def test_bytes_accessors() -> None:
    receipt = parse(sample())
    assert receipt.commitment_bytes == b"\x11" * 32
    assert receipt.salt_bytes == b"\x22" * 32
    assert receipt.content_digest_bytes == b"\x33" * 32
    assert receipt.author_bytes == bytes(20)
    assert receipt.contract_bytes == bytes.fromhex(CONTRACT[2:])
    assert receipt.promise is not None
    assert receipt.inclusion is not None
    assert receipt.promise.signature_bytes == b"\x44" * 65
    assert receipt.promise.signer_bytes == bytes.fromhex(SIGNER[2:])
    assert receipt.inclusion.root_hash_bytes == b"\x55" * 32
    assert receipt.inclusion.proof_bytes == [b"\x66" * 32, b"\x77" * 32]
    assert receipt.inclusion.anchor_tx_bytes == b"\x88" * 32


def test_frozen() -> None:
    receipt = parse(sample())
    with pytest.raises(ValidationError):
        receipt.salt = h(0)
    assert hash(receipt) == hash(parse(sample()))


# --- leniency rules ----------------------------------------------------------------------------


def test_unknown_fields_are_ignored_at_every_level() -> None:
    data = sample()
    data["future"] = {"anything": [1, 2, 3]}
    data["promise"]["kind"] = "sct"
    data["inclusion"]["log_id"] = "x"
    receipt = parse(data)
    assert receipt == parse(sample())
    assert "future" not in receipt.to_json()


def test_uppercase_hex_is_normalised_to_lowercase() -> None:
    data = sample()
    data["commitment"] = "0x" + "AB" * 32
    data["inclusion"]["proof"] = ["0x" + "Cd" * 32]
    receipt = parse(data)
    assert receipt.commitment == "0x" + "ab" * 32
    assert receipt.inclusion is not None
    assert receipt.inclusion.proof == ("0x" + "cd" * 32,)
    assert "AB" not in receipt.to_json()


def test_addresses_are_normalised_to_eip55() -> None:
    data = sample()
    data["contract"] = CONTRACT.lower()
    data["promise"]["signer"] = "0x" + SIGNER[2:].upper()
    receipt = parse(data)
    assert receipt.contract == CONTRACT
    assert receipt.promise is not None
    assert receipt.promise.signer == SIGNER


# --- malformed receipts: one readable line each --------------------------------------------------


def _set(path: str, value: Any) -> dict[str, Any]:
    data = sample()
    *parents, last = path.split(".")
    target: Any = data
    for p in parents:
        target = target[p]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return data


_DELETE = object()

MALFORMED = [
    ("format", "tipledger-receipt/2", "receipt field 'format': expected 'tipledger-receipt/1'"),
    ("format", _DELETE, "receipt field 'format': missing"),
    ("chain_id", "31337", "receipt field 'chain_id': expected an integer, got the string '31337'"),
    ("chain_id", 31337.0, "receipt field 'chain_id': expected an integer, got the number 31337.0"),
    ("chain_id", True, "receipt field 'chain_id': expected an integer, got a boolean"),
    ("chain_id", 0, "receipt field 'chain_id': must be greater than 0, got 0"),
    ("chain_id", _DELETE, "receipt field 'chain_id': missing"),
    ("contract", "0x1234", "receipt field 'contract': invalid address: expected 0x + 40 hex"),
    ("contract", CONTRACT[:-1] + "A", "receipt field 'contract': address 0x5FbD"),
    (
        "contract",
        None,
        "receipt field 'contract': expected a 0x address of 40 hex digits, got null",
    ),
    ("commitment", h(0x11)[:-1], "receipt field 'commitment': expected 0x + 64 hex digits, got 63"),
    ("commitment", "11" * 32, "receipt field 'commitment': expected 0x + 64 hex digits, got '11"),
    ("commitment", "0X" + "11" * 32, "receipt field 'commitment': expected 0x + 64 hex digits"),
    ("commitment", "0x" + "zz" * 32, "receipt field 'commitment': expected 0x + 64 hex digits"),
    ("commitment", 17, "receipt field 'commitment': expected 0x + 64 hex digits, got the number"),
    ("salt", h(0x22, 31), "receipt field 'salt': expected 0x + 64 hex digits, got 62 hex digits"),
    ("salt", _DELETE, "receipt field 'salt': missing"),
    (
        "content_digest",
        [],
        "receipt field 'content_digest': expected 0x + 64 hex digits, got a list",
    ),
    (
        "author",
        0,
        "receipt field 'author': expected a 0x address of 40 hex digits, got the number 0",
    ),
    ("promise", "yes", "receipt field 'promise': expected an object or null, got the string 'yes'"),
    ("promise.received_at", -1, "receipt field 'promise.received_at': must be at least 0, got -1"),
    ("promise.received_at", 2**64, "receipt field 'promise.received_at': must be less than 2^64"),
    ("promise.signer", "0x", "receipt field 'promise.signer': invalid address"),
    ("promise.signature", h(0x44, 64), "receipt field 'promise.signature': expected 0x + 130 hex"),
    ("promise.signature", _DELETE, "receipt field 'promise.signature': missing"),
    ("inclusion", [1], "receipt field 'inclusion': expected an object or null, got a list"),
    ("inclusion.leaf_index", -1, "receipt field 'inclusion.leaf_index': must be at least 0"),
    ("inclusion.tree_size", 0, "receipt field 'inclusion.tree_size': must be at least 1, got 0"),
    ("inclusion.root_hash", None, "receipt field 'inclusion.root_hash': expected 0x + 64 hex"),
    ("inclusion.proof", h(0x66), "receipt field 'inclusion.proof': expected a list, got the str"),
    ("inclusion.proof", [h(0x66), "0x12"], "receipt field 'inclusion.proof[1]': expected 0x + 64"),
    (
        "inclusion.proof",
        [h(0x66)] * 65,
        "receipt field 'inclusion.proof': at most 64 items, got 65",
    ),
    ("inclusion.anchor_tx", _DELETE, "receipt field 'inclusion.anchor_tx': missing"),
    ("inclusion.block_number", "12", "receipt field 'inclusion.block_number': expected an integer"),
    (
        "inclusion.block_timestamp",
        1.5,
        "receipt field 'inclusion.block_timestamp': expected an int",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    MALFORMED,
    ids=[f"{p}={'<absent>' if v is _DELETE else repr(v)[:20]}" for p, v, _ in MALFORMED],
)
def test_malformed_field(path: str, value: Any, message: str) -> None:
    data = _set(path, value)
    with pytest.raises(ReceiptError) as info:
        parse(data)
    text = str(info.value)
    assert text.startswith(message), text
    assert "\n" not in text
    assert isinstance(info.value, ProtocolError)


def test_several_problems_are_counted_on_one_line() -> None:
    data = sample()
    data["salt"] = "0x"
    data["chain_id"] = "x"
    data["inclusion"]["tree_size"] = -5
    with pytest.raises(
        ReceiptError, match=r"^receipt field 'chain_id': .* \(and 2 more problems\)$"
    ):
        parse(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "receipt is not valid JSON"),
        ("{", "receipt is not valid JSON"),
        ("not json", "receipt is not valid JSON"),
        ("[1, 2]", "receipt must be a JSON object, got a list"),
        ("null", "receipt must be a JSON object, got null"),
        ('"receipt"', "receipt must be a JSON object, got the string 'receipt'"),
        ('{"salt": "0x", "salt": "0x"}', "receipt has a duplicate key 'salt'"),
        ('{"chain_id": NaN}', "receipt is not valid JSON: NaN is not a JSON number"),
        ("[" * 100000, "receipt nests JSON deeper than 32 levels"),
        ('{"a":' * 33 + "1" + "}" * 33, "receipt nests JSON deeper than 32 levels"),
        ('{"a": "' + "[" * 100000 + '"}', "receipt field 'format': missing"),
        (" " * (1 << 20) + "{}", "receipt is larger than 1048576 characters"),
    ],
    ids=[
        "empty",
        "truncated",
        "text",
        "array",
        "null",
        "string",
        "duplicate",
        "nan",
        "deep",
        "deep-objects",
        "brackets-in-string",
        "huge",
    ],
)
def test_malformed_json(text: str, message: str) -> None:
    with pytest.raises(ReceiptError) as info:
        Receipt.from_json(text)
    assert str(info.value).startswith(message), str(info.value)


def test_invalid_utf8_bytes() -> None:
    with pytest.raises(ReceiptError, match="not valid UTF-8"):
        Receipt.from_json(b"\xff\xfe{}")


def test_from_json_rejects_other_types() -> None:
    with pytest.raises(ReceiptError, match="JSON text"):
        Receipt.from_json(12)  # type: ignore[arg-type]
    with pytest.raises(ReceiptError, match="JSON object"):
        Receipt.from_dict([1])
