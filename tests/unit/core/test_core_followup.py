"""Follow-up formats v1 (ledger.core.followup): secret text, reporter key, pinned messages."""

from __future__ import annotations

import pytest
from core_vectors import (
    DESK_PRIVATE_KEY,
    DESK_PUBLIC_KEY,
    FOLLOW_UP_SECRET,
    FOLLOW_UP_SECRET_TEXT,
    MESSAGE_ID,
    MESSAGE_TEXT,
    MESSAGE_TO_DESK,
    MESSAGE_TO_REPORTER,
    REPORTER_PRIVATE_KEY,
    REPORTER_PUBLIC_KEY,
    TIP_COMMITMENT,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from ledger.core import followup, hpke
from ledger.core.errors import EnvelopeError, ProtocolError
from ledger.followup import secrets as service_side

DESK = X25519PrivateKey.from_private_bytes(DESK_PRIVATE_KEY)


def _private_bytes(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def test_the_secret_text_form_known_answer() -> None:
    secret = followup.FollowUpSecret(FOLLOW_UP_SECRET)
    assert secret.text == FOLLOW_UP_SECRET_TEXT
    assert followup.secret_from_text(FOLLOW_UP_SECRET_TEXT) == secret
    assert followup.secret_from_text(" " + FOLLOW_UP_SECRET_TEXT + "\n") == secret


@pytest.mark.parametrize(
    "text", [None, "", FOLLOW_UP_SECRET_TEXT[:-1], "tlf2_" + FOLLOW_UP_SECRET_TEXT[5:]]
)
def test_anything_else_is_not_a_secret(text: str | None) -> None:
    assert followup.secret_from_text(text) is None


@given(raw=st.binary(min_size=32, max_size=32))
def test_secret_from_text_inverts_text(raw: bytes) -> None:
    secret = followup.FollowUpSecret(raw)
    assert followup.secret_from_text(secret.text) == secret


def test_the_reporter_key_known_answer() -> None:
    key = followup.reporter_key(followup.FollowUpSecret(FOLLOW_UP_SECRET), TIP_COMMITMENT)
    assert _private_bytes(key) == REPORTER_PRIVATE_KEY
    assert hpke.public_bytes(key.public_key()) == REPORTER_PUBLIC_KEY


def test_the_pinned_messages_open_for_their_tip_id_and_sender() -> None:
    reporter = X25519PrivateKey.from_private_bytes(REPORTER_PRIVATE_KEY)
    for key, sealed in ((DESK, MESSAGE_TO_DESK), (reporter, MESSAGE_TO_REPORTER)):
        assert sealed[0] == followup.MESSAGE_VERSION == 1
        assert sealed[1:9] == hpke.key_id_bytes(key.public_key())
        bound = {"commitment": TIP_COMMITMENT, "message_id": MESSAGE_ID}
        text = followup.open_message(key, sealed, sender=followup.FROM_REVIEWER, **bound)
        assert text == MESSAGE_TEXT
        with pytest.raises(EnvelopeError, match="does not open"):
            followup.open_message(key, sealed, sender=followup.FROM_REPORTER, **bound)
    followup.check_message(MESSAGE_TO_DESK, DESK_PUBLIC_KEY, "desk copy")
    with pytest.raises(ProtocolError, match="desk copy: sealed to key"):
        followup.check_message(MESSAGE_TO_REPORTER, DESK_PUBLIC_KEY, "desk copy")


def test_the_message_info_layout() -> None:
    header = MESSAGE_TO_DESK[:9]
    info = followup.message_info(header, TIP_COMMITMENT, MESSAGE_ID, followup.FROM_REVIEWER)
    assert info == b"tipledger/v1/follow-up" + header + TIP_COMMITMENT + MESSAGE_ID + b"\x01"
    assert len(info) == 22 + 9 + 32 + 16 + 1


@given(text=st.text(min_size=1, max_size=200).filter(str.strip))
def test_open_message_inverts_seal_message(text: str) -> None:
    bound = {"commitment": TIP_COMMITMENT, "message_id": MESSAGE_ID, "sender": 2}
    sealed = followup.seal_message(DESK.public_key(), text=text, **bound)
    assert followup.open_message(DESK, sealed, **bound) == text


def test_the_service_module_re_exports_the_formats() -> None:
    assert service_side.seal_message is followup.seal_message
    assert service_side.SECRET_PREFIX == followup.SECRET_PREFIX == "tlf1_"
    assert service_side.key_id(DESK_PUBLIC_KEY) == hpke.key_id_bytes(DESK_PUBLIC_KEY)
    assert service_side.parse_secret(FOLLOW_UP_SECRET_TEXT).raw == FOLLOW_UP_SECRET
