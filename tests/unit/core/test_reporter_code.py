"""The reporter's one code (ledger.core.reporter_code, PROTOCOL.md 17.8): its form, its check
symbol, the stretch and what is derived from it. The known answers are PROTOCOL.md 15.14; the
derivations are recomputed here from the documented steps (Argon2id with the documented
parameters, HKDF written out from RFC 5869), so the vector is not just what the code gives."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from argon2.low_level import Type, hash_secret_raw
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import reporter_code as rc
from ledger.core.commitment import ZERO_AUTHOR, commitment, content_digest
from ledger.core.errors import ProtocolError
from ledger.core.followup import follow_up_token, token_text, token_verifier

CODE_TEXT = "7KQM-4T9X-J2RB-8HCE"
DOCUMENT = b'{"format":"tipledger-tip/1"}'
CASE_KEY = bytes(range(32))
SECRET_TEXT = "tlf2_qTbAJeonuXVGIlw36eLAekokHl5xu4RkG6u3owdCnQM"
SALT = bytes.fromhex("7ae2097e325f6df7fd51c048fa6b9aa98823cd59026e756b4611b113fd55d3ce")
PIN_KEY = bytes.fromhex("8ae65163fb61a533e0e082fbde15a6e4cdbbf6197fda5e10aa776608d84a92b1")
COMMITMENT = bytes.fromhex("16f1f60cbb92a5f4058fcaa80bb6965d3b8e024dfc5cbdb4c6523cb79b979b77")
CASE_KEY_TAG = bytes.fromhex("fa25048486eb602fce1daf6caa916b2e")
TOKEN_TEXT = "tlt2_2RLfwI934h6HpraOsbd8AuF6PUDU3O3wQ-U4GbDEINQ"

# One stretch per test run: it takes a third of a second and 64 MiB.
_KEYS = rc.code_keys(rc.parse_code(CODE_TEXT))

_symbol = st.sampled_from(rc.ALPHABET)
_data = st.text(alphabet=rc.ALPHABET, min_size=15, max_size=15)


def rfc5869(ikm: bytes, info: bytes, salt: bytes = bytes(32), length: int = 32) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:length]


def with_check(data: str) -> str:
    return (
        data
        + rc.ALPHABET[hashlib.sha256(b"tipledger/v3/code/check" + data.encode()).digest()[0] >> 3]
    )


def test_the_protocol_document_s_vector() -> None:
    code = rc.parse_code(CODE_TEXT)
    assert code.symbols == "7KQM4T9XJ2RB8HCE"
    assert code.locator == "7KQM4T"
    assert code.text == CODE_TEXT
    assert _KEYS.follow_up.text == SECRET_TEXT
    assert _KEYS.salt == SALT
    assert _KEYS.pin_key == PIN_KEY
    assert commitment(_KEYS.salt, content_digest(DOCUMENT), ZERO_AUTHOR) == COMMITMENT
    assert rc.case_key_tag(_KEYS, COMMITMENT, CASE_KEY) == CASE_KEY_TAG
    assert token_text(follow_up_token(_KEYS.follow_up, COMMITMENT)) == TOKEN_TEXT


def test_the_stretch_follows_the_documented_steps() -> None:
    stretched = hash_secret_raw(
        b"7KQM4T9XJ2RB8HC",
        hashlib.sha256(b"tipledger/v3/code/kdf-salt7KQM4T").digest()[:16],
        time_cost=3,
        memory_cost=65_536,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
        version=0x13,
    )
    assert _KEYS.follow_up.raw == rfc5869(stretched, b"tipledger/v3/code/follow-up")
    assert _KEYS.salt == rfc5869(stretched, b"tipledger/v3/code/salt")
    assert _KEYS.pin_key == rfc5869(stretched, b"tipledger/v3/code/case-key-pin")
    tag = hmac.new(PIN_KEY, b"tipledger/v3/case-key" + COMMITMENT + CASE_KEY, hashlib.sha256)
    assert tag.digest()[:16] == CASE_KEY_TAG


def test_the_enrolment_carries_the_locator_key_verifier_and_tag() -> None:
    enrolment = rc.code_enrolment(_KEYS, COMMITMENT, CASE_KEY)
    data = enrolment.to_json()
    assert data["version"] == 3
    assert data["locator"] == "7KQM4T"
    assert (
        data["verifier"]
        == "0x" + token_verifier(follow_up_token(_KEYS.follow_up, COMMITMENT)).hex()
    )
    assert data["case_key_tag"] == "0x" + CASE_KEY_TAG.hex()
    assert rc.code_enrolment_from_json(data) == enrolment


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("7KQM-4T9X-J2RB-8HCA", "does not check out"),
        ("7KQM-4T9X-J2RB-8HC", "this has 15"),
        ("7KQM-4T9X-J2RB-8HCE-0", "this has 17"),
        ("UKQM-4T9X-J2RB-8HCE", "symbol 1 of the code, 'U'"),
        ("7KQM-4T9X-J2RB-8HC!", "symbol 16 of the code, '!'"),
        ("", "this has 0"),
    ],
)
def test_a_mistyped_code_is_refused_with_one_readable_line(text: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message) as caught:
        rc.parse_code(text)
    assert "\n" not in str(caught.value)


def test_a_code_that_is_not_text_is_refused() -> None:
    with pytest.raises(ProtocolError, match="the code is text"):
        rc.parse_code(7)


def test_look_alikes_spaces_and_case_are_read_as_meant() -> None:
    assert rc.parse_code(" 7kqm 4t9x\tj2rb-8hce\n").symbols == "7KQM4T9XJ2RB8HCE"
    zeros = with_check("000000111111000")
    assert (
        rc.parse_code(zeros.replace("0", "O", 3).replace("1", "l", 2).replace("1", "I", 1)).symbols
        == zeros
    )


@given(data=_data)
def test_every_well_formed_code_reads_back_from_its_text(data: str) -> None:
    code = rc.parse_code(with_check(data))
    assert rc.parse_code(code.text) == code
    assert rc.parse_code(code.text.lower()) == code
    assert len(code.text) == 19


@settings(max_examples=300)
@given(data=_data, position=st.integers(0, 15), symbol=_symbol)
def test_the_check_symbol_catches_most_single_symbol_errors(
    data: str, position: int, symbol: str
) -> None:
    good = with_check(data)
    bad = good[:position] + symbol + good[position + 1 :]
    if bad == good:
        return
    # A changed symbol passes the check only where the check happens to agree (1 in 32).
    try:
        rc.parse_code(bad)
    except ProtocolError:
        return
    assert with_check(bad[:15]) == bad


def test_the_check_symbol_catches_31_of_32_single_errors() -> None:
    data = "7KQM4T9XJ2RB8HC"
    missed = total = 0
    for position in range(15):
        for symbol in rc.ALPHABET:
            if symbol == data[position]:
                continue
            changed = data[:position] + symbol + data[position + 1 :]
            total += 1
            missed += with_check(changed)[-1] == with_check(data)[-1]
    assert missed / total < 0.07  # about 1 in 32, never a systematic blind spot


def test_new_codes_are_fresh_well_formed_and_spread_over_the_alphabet() -> None:
    codes = [rc.new_code() for _ in range(400)]
    assert len({c.symbols for c in codes}) == 400
    for code in codes:
        assert rc.parse_code(code.text) == code
    seen = {s for c in codes for s in c.symbols[:15]}
    assert seen == set(rc.ALPHABET)


def test_the_secret_part_is_45_bits() -> None:
    assert rc.SECRET_BITS == 45
    assert rc.LOCATOR_SYMBOLS * 5 == 30


def test_a_different_code_or_tip_gives_unrelated_keys() -> None:
    other = rc.code_keys(rc.parse_code(with_check("7KQM4T9XJ2RB8HD")))  # same locator
    assert other.salt != _KEYS.salt
    assert other.follow_up != _KEYS.follow_up
    assert rc.case_key_tag(other, COMMITMENT, CASE_KEY) != CASE_KEY_TAG
    assert rc.case_key_tag(_KEYS, bytes(32), CASE_KEY) != CASE_KEY_TAG


def test_the_case_key_check_accepts_only_the_sealed_to_key() -> None:
    assert rc.check_case_key(_KEYS, COMMITMENT, CASE_KEY, CASE_KEY_TAG)
    assert not rc.check_case_key(_KEYS, COMMITMENT, bytes(32), CASE_KEY_TAG)
    with pytest.raises(ProtocolError):
        rc.case_key_tag(_KEYS, COMMITMENT, bytes(31))


def test_the_key_objects_do_not_print_their_secrets() -> None:
    assert "9XJ2" not in repr(rc.parse_code(CODE_TEXT))
    assert SECRET_TEXT[5:15] not in repr(_KEYS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 2}, "expected 3"),
        ({"version": True}, "expected 3"),
        ({"locator": "7kqm4t"}, "follow_up.locator"),
        ({"locator": "7KQM4"}, "follow_up.locator"),
        ({"locator": "UKQM4T"}, "follow_up.locator"),
        ({"case_key_tag": "0x" + "00" * 15}, "case_key_tag"),
        ({"reporter_key": "0x12"}, "reporter_key"),
        ({"extra": 1}, "unknown field 'extra'"),
    ],
)
def test_a_malformed_enrolment_is_refused_naming_the_field(
    change: dict[str, object], message: str
) -> None:
    data = rc.code_enrolment(_KEYS, COMMITMENT, CASE_KEY).to_json() | change
    with pytest.raises(ProtocolError, match=message):
        rc.code_enrolment_from_json(data)


def test_an_enrolment_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ProtocolError, match="expected a JSON object"):
        rc.code_enrolment_from_json([1])


@pytest.mark.parametrize("locator", ["7KQM4T", "000000", "ZZZZZZ"])
def test_locators_as_the_service_receives_them(locator: str) -> None:
    assert rc.locator_from_text(locator) == locator


@pytest.mark.parametrize("locator", ["7kqm4t", "7KQM4", "7KQM4TX", "OKQM4T", 7, None])
def test_malformed_locators_are_refused(locator: object) -> None:
    with pytest.raises(ProtocolError, match="locator"):
        rc.locator_from_text(locator)
