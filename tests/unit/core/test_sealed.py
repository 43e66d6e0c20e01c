"""The sealed tip of PROTOCOL.md 17.1: its JSON, and what the service checks without a key."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from ledger.core.casekey import open_grant
from ledger.core.commitment import ZERO_AUTHOR, commitment, content_digest
from ledger.core.envelope import open_tip
from ledger.core.errors import EnvelopeError, ProtocolError
from ledger.core.hpke import key_id_bytes
from ledger.core.sealed import SEALED_FORMAT, SealedTip, check_sealed_tip, seal_for_members

MEMBERS = [X25519PrivateKey.generate() for _ in range(3)]


def _sealed(document: bytes = b"tip", members: list[X25519PrivateKey] = MEMBERS) -> SealedTip:
    salt = os.urandom(32)
    entry = commitment(salt, content_digest(document), ZERO_AUTHOR)
    tip, _case = seal_for_members(
        [m.public_key() for m in members],
        agency="intake",
        commitment=entry,
        document=document,
        salt=salt,
        author=ZERO_AUTHOR,
    )
    return tip


def _ids(members: list[X25519PrivateKey] = MEMBERS) -> list[bytes]:
    return [key_id_bytes(m.public_key()) for m in members]


@given(st.binary(min_size=0, max_size=2000))
def test_every_member_opens_the_case_and_the_tip(document: bytes) -> None:
    tip = _sealed(document)
    check_sealed_tip(tip, _ids())
    for member, grant in zip(MEMBERS, tip.grants, strict=True):
        case = open_grant(member, grant, tip.commitment, tip.case_key_id)
        assert open_tip(case, tip.envelope, tip.commitment).document == document


def test_the_json_round_trips_and_names_its_format() -> None:
    tip = _sealed()
    data = tip.to_json()
    assert data["format"] == SEALED_FORMAT
    assert set(data) == {
        "format",
        "commitment",
        "agency",
        "case_key",
        "envelope",
        "grants",
        "attachments",
    }
    assert SealedTip.from_json(data) == tip


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"format": "tipledger-sealed-tip/2"}, "field 'format'"),
        ({"commitment": "0x00"}, "field 'commitment'"),
        ({"case_key": 7}, "field 'case_key'"),
        ({"envelope": "not base64!"}, "field 'envelope': not valid base64"),
        ({"grants": {"a": 1}}, "field 'grants': expected a list"),
        ({"grants": ["AA=="] * 1025}, "at most 1024 grants"),
        ({"attachments": -1}, "field 'attachments'"),
        ({"attachments": True}, "field 'attachments'"),
        ({"agency": None}, "field 'agency'"),
        ({"identity": []}, "field 'identity': expected a JSON object"),
        ({"extra": 1}, "unknown field 'extra'"),
    ],
)
def test_a_malformed_field_is_named(change: dict[str, object], words: str) -> None:
    data = {**_sealed().to_json(), **change}
    with pytest.raises(ProtocolError, match=words):
        SealedTip.from_json(data)


def test_a_required_field_missing_is_named() -> None:
    data = _sealed().to_json()
    del data["grants"]
    with pytest.raises(ProtocolError, match="field 'grants' is required"):
        SealedTip.from_json(data)


def test_grants_are_exactly_one_per_listed_member() -> None:
    tip = _sealed()
    with pytest.raises(EnvelopeError, match="no grant for member key"):
        check_sealed_tip(tip, [*_ids(), os.urandom(8)])  # a member the device did not seal to
    with pytest.raises(EnvelopeError, match="which the chain does not list"):
        check_sealed_tip(tip, _ids()[:2])  # a grant to a key no longer listed
    doubled = SealedTip(**{**tip.__dict__, "grants": (tip.grants[0], tip.grants[0])})
    with pytest.raises(EnvelopeError, match="granted twice"):
        check_sealed_tip(doubled, _ids()[:1])
    short = SealedTip(**{**tip.__dict__, "grants": (tip.grants[0][:-1],)})
    with pytest.raises(EnvelopeError, match="a grant is 89"):
        check_sealed_tip(short, _ids()[:1])


def test_the_envelope_must_name_the_case_key() -> None:
    tip = _sealed()
    other = _sealed()
    swapped = SealedTip(**{**tip.__dict__, "envelope": other.envelope})
    with pytest.raises(EnvelopeError, match="not to the case key"):
        check_sealed_tip(swapped, _ids())
    cut = SealedTip(**{**tip.__dict__, "envelope": tip.envelope[:40]})
    with pytest.raises(EnvelopeError, match="a sealed tip is at least"):
        check_sealed_tip(cut, _ids())
    versioned = bytearray(tip.envelope)
    versioned[0] = 2
    with pytest.raises(EnvelopeError, match="unknown sealed-tip version 2"):
        check_sealed_tip(SealedTip(**{**tip.__dict__, "envelope": bytes(versioned)}), _ids())


def test_sealing_needs_a_member_and_the_right_commitment() -> None:
    with pytest.raises(ProtocolError, match="lists no member key"):
        seal_for_members(
            [],
            agency="intake",
            commitment=os.urandom(32),
            document=b"x",
            salt=os.urandom(32),
            author=ZERO_AUTHOR,
        )
    with pytest.raises(ProtocolError, match="refusing to seal"):
        seal_for_members(
            [MEMBERS[0].public_key()],
            agency="intake",
            commitment=os.urandom(32),
            document=b"x",
            salt=os.urandom(32),
            author=ZERO_AUTHOR,
        )


def test_base64_of_the_grants_is_standard_and_padded() -> None:
    data = _sealed().to_json()
    for grant in data["grants"]:
        assert base64.b64decode(grant, validate=True)
        assert len(grant) == 120  # 89 bytes
