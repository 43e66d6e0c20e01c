"""Follow-up version 2 (ledger.core.followup): the secret made on the device, the token that
proves it, the verifier and the enrolment. Known answers, checked against an HKDF written out
here from RFC 5869 (so the vectors are not just what the code happens to give)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from core_vectors import (
    FOLLOW_UP_SECRET,
    FOLLOW_UP_SECRET_TEXT,
    REPORTER_PUBLIC_KEY,
    TIP_COMMITMENT,
)
from hypothesis import given
from hypothesis import strategies as st

from ledger.core import followup
from ledger.core.errors import ProtocolError

SECRET_V2_TEXT = "tlf2_" + FOLLOW_UP_SECRET_TEXT[5:]
TOKEN = bytes.fromhex("20841ced9084a4b2581bf8dcbb0062312330aca5bb9314830d271b8e462b09d3")
TOKEN_TEXT = "tlt2_IIQc7ZCEpLJYG_jcuwBiMSMwrKW7kxSDDScbjkYrCdM"
VERIFIER = bytes.fromhex("3ddf8c316227040220838f47ec94c72bcc45cd958ba0df1a190537e1d6a07782")


def rfc5869(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block = b"", b""
    for i in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
    return out[:length]


def test_the_version_2_secret_text_form() -> None:
    secret = followup.FollowUpSecret(FOLLOW_UP_SECRET, 2)
    assert secret.text == SECRET_V2_TEXT
    assert followup.device_secret_from_text(f" {SECRET_V2_TEXT}\n") == secret
    # the two versions never read as each other
    assert followup.secret_from_text(SECRET_V2_TEXT) is None
    assert followup.device_secret_from_text(FOLLOW_UP_SECRET_TEXT) is None
    assert followup.device_secret_from_text(TOKEN_TEXT) is None
    assert followup.token_from_text(SECRET_V2_TEXT) is None


@given(raw=st.binary(min_size=32, max_size=32))
def test_device_secret_from_text_inverts_text(raw: bytes) -> None:
    secret = followup.FollowUpSecret(raw, 2)
    assert followup.device_secret_from_text(secret.text) == secret


def test_a_new_device_secret_is_version_2_and_fresh() -> None:
    a, b = followup.new_device_secret(), followup.new_device_secret()
    assert a.version == 2
    assert a.text.startswith("tlf2_")
    assert len(a.text) == 48
    assert a != b
    assert a.raw.hex() not in repr(a)


def test_the_token_known_answer_is_rfc5869_with_its_own_info() -> None:
    secret = followup.FollowUpSecret(FOLLOW_UP_SECRET, 2)
    token = followup.follow_up_token(secret, TIP_COMMITMENT)
    assert token == TOKEN
    assert token == rfc5869(FOLLOW_UP_SECRET, TIP_COMMITMENT, b"tipledger/v2/follow-up/token")
    assert followup.token_text(token) == TOKEN_TEXT
    assert followup.token_from_text(TOKEN_TEXT) == TOKEN
    assert followup.token_verifier(token) == VERIFIER == hashlib.sha256(TOKEN).digest()


def test_the_version_2_reporter_key_is_version_1_s_derivation() -> None:
    secret = followup.FollowUpSecret(FOLLOW_UP_SECRET, 2)
    key = followup.reporter_key(secret, TIP_COMMITMENT)
    seed = rfc5869(FOLLOW_UP_SECRET, TIP_COMMITMENT, b"tipledger/v1/follow-up/key")
    assert key.private_bytes_raw() == seed
    # the token and the key are independent outputs: the token is not the key's seed
    assert followup.follow_up_token(secret, TIP_COMMITMENT) != seed


def test_the_token_is_bound_to_the_tip_and_only_for_version_2() -> None:
    secret = followup.FollowUpSecret(FOLLOW_UP_SECRET, 2)
    other = bytes(32)
    assert followup.follow_up_token(secret, other) != TOKEN
    with pytest.raises(ProtocolError, match="only a version 2"):
        followup.follow_up_token(followup.FollowUpSecret(FOLLOW_UP_SECRET), TIP_COMMITMENT)
    with pytest.raises(ProtocolError, match="32-byte commitment"):
        followup.follow_up_token(secret, b"short")


def test_the_enrolment_known_answer_and_its_json() -> None:
    secret = followup.FollowUpSecret(FOLLOW_UP_SECRET, 2)
    enrolment = followup.device_enrolment(secret, TIP_COMMITMENT)
    assert enrolment.to_json() == {
        "version": 2,
        "reporter_key": "0x" + REPORTER_PUBLIC_KEY.hex(),
        "verifier": "0x" + VERIFIER.hex(),
    }
    assert followup.enrolment_from_json(enrolment.to_json()) == enrolment
    # what the service learns holds neither the secret nor the token
    text = str(enrolment.to_json())
    assert FOLLOW_UP_SECRET.hex() not in text
    assert TOKEN.hex() not in text


GOOD = {"version": 2, "reporter_key": "0x" + "11" * 32, "verifier": "0x" + "22" * 32}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 1}, "follow_up.version"),
        ({"version": True}, "follow_up.version"),
        ({"version": None}, "follow_up.version"),
        ({"reporter_key": "0x" + "11" * 31}, "follow_up.reporter_key"),
        ({"reporter_key": "11" * 32}, "follow_up.reporter_key"),
        ({"verifier": "0x" + "22" * 33}, "follow_up.verifier"),
        ({"verifier": 5}, "follow_up.verifier"),
        ({"secret": "tlf2_x"}, "unknown field 'secret'"),
    ],
)
def test_an_enrolment_with_a_wrong_field_is_refused_by_name(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ProtocolError, match=message):
        followup.enrolment_from_json({**GOOD, **change})


def test_an_enrolment_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ProtocolError, match="JSON object"):
        followup.enrolment_from_json(["0x"])
    assert followup.enrolment_from_json(GOOD).verifier == bytes([0x22]) * 32


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "tlt2_",
        "tlt2_" + "A" * 42,
        "tlt2_" + "A" * 44,
        "tlt2_" + "+" * 43,
        "tlt1_" + "A" * 43,
    ],
)
def test_anything_else_is_not_a_token(text: str | None) -> None:
    assert followup.token_from_text(text) is None


def test_the_protocol_document_s_vector() -> None:
    """PROTOCOL.md 15.13: the secret 00 01 … 1f as version 2, for the commitment of 15.5."""
    commitment = bytes.fromhex("c1cf29e03810d43b4cb243e244b611ac9541889959830129dddbbe8e0e7d6854")
    secret = followup.FollowUpSecret(bytes(range(32)), 2)
    assert secret.text == "tlf2_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
    token = followup.follow_up_token(secret, commitment)
    assert token.hex() == "5f49a50ab288f1f912ca81d2ddb374860a7d56fc7f300b33a56092485194e5dc"
    assert followup.token_text(token) == "tlt2_X0mlCrKI8fkSyoHS3bN0hgp9Vvx_MAszpWCSSFGU5dw"
    assert followup.device_enrolment(secret, commitment).to_json() == {
        "version": 2,
        "reporter_key": "0x6d63999316b47b945809975822d94ace6b8d305a8f700431bad8e4caab92d551",
        "verifier": "0x3aebc5a3d66cf19ddb21a0e21cdfcdf633d6cd05c71a0e97ab50b25f4b9a230f",
    }
