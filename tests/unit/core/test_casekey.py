"""Case keys granted to members (PROTOCOL.md 16.3): the vector keeps opening; refusals."""

from __future__ import annotations

import hashlib

import core_vectors as v
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.core import hpke
from ledger.core.casekey import (
    GRANT_SIZE,
    grant_case_key,
    grant_member_key_id,
    new_case_key,
    open_grant,
)
from ledger.core.commitment import commitment, content_digest
from ledger.core.envelope import open_tip, seal_tip
from ledger.core.errors import EnvelopeError

COMMITMENT_0 = hashlib.sha256(b"commitment 0").digest()
MEMBER = X25519PrivateKey.from_private_bytes(v.MEMBER_PRIVATE_KEY)
CASE = X25519PrivateKey.from_private_bytes(v.CASE_PRIVATE_KEY)
CASE_ID = bytes.fromhex(v.CASE_KEY_ID)


def test_the_grant_vector_still_opens() -> None:
    assert hpke.key_id(MEMBER.public_key()) == v.MEMBER_KEY_ID
    assert grant_member_key_id(v.GRANT) == v.MEMBER_KEY_ID
    opened = open_grant(MEMBER, v.GRANT, COMMITMENT_0, CASE_ID)
    assert hpke.key_id(opened.public_key()) == v.CASE_KEY_ID


def test_a_grant_is_89_bytes_and_opens_the_envelope_sealed_to_the_case_key() -> None:
    case = new_case_key()
    salt, author, document = bytes(range(32)), bytes(20), "เบาะแส".encode()
    c = commitment(salt, content_digest(document), author)
    envelope = seal_tip(
        case.public_key(), commitment=c, document=document, salt=salt, author=author
    )
    grant = grant_case_key(MEMBER.public_key(), case, c)
    assert len(grant) == GRANT_SIZE == 89
    opened_case = open_grant(MEMBER, grant, c, hpke.key_id_bytes(case.public_key()))
    assert open_tip(opened_case, envelope, c).document == document


def test_refusals_name_what_is_wrong() -> None:
    other = X25519PrivateKey.generate()
    with pytest.raises(EnvelopeError, match=f"granted to member key {v.MEMBER_KEY_ID}"):
        open_grant(other, v.GRANT, COMMITMENT_0, CASE_ID)
    with pytest.raises(EnvelopeError, match="does not open"):
        open_grant(MEMBER, v.GRANT, hashlib.sha256(b"commitment 1").digest(), CASE_ID)
    with pytest.raises(EnvelopeError, match="does not open"):
        open_grant(MEMBER, v.GRANT, COMMITMENT_0, bytes(8))
    tampered = v.GRANT[:-1] + bytes([v.GRANT[-1] ^ 1])
    with pytest.raises(EnvelopeError, match="does not open"):
        open_grant(MEMBER, tampered, COMMITMENT_0, CASE_ID)
    with pytest.raises(EnvelopeError, match="is 89 bytes"):
        open_grant(MEMBER, v.GRANT[:-1], COMMITMENT_0, CASE_ID)
    with pytest.raises(EnvelopeError, match="unknown case key grant version 2"):
        open_grant(MEMBER, b"\x02" + v.GRANT[1:], COMMITMENT_0, CASE_ID)
