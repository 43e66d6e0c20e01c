"""The desk envelope v1 (ledger.core.envelope): the pinned envelope opens, and the layout."""

from __future__ import annotations

import pytest
from core_vectors import (
    DESK_KEY_ID,
    DESK_PRIVATE_KEY,
    ENVELOPE,
    TIP_AUTHOR,
    TIP_COMMITMENT,
    TIP_DOCUMENT,
    TIP_SALT,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import envelope, hpke
from ledger.core.commitment import commitment, content_digest
from ledger.core.errors import EnvelopeError
from ledger.desk import envelope as desk_envelope
from ledger.errors import EnvelopeError as LedgerEnvelopeError

DESK = X25519PrivateKey.from_private_bytes(DESK_PRIVATE_KEY)


def test_the_pinned_envelope_opens_to_the_pinned_tip() -> None:
    assert commitment(TIP_SALT, content_digest(TIP_DOCUMENT), TIP_AUTHOR) == TIP_COMMITMENT
    opened = envelope.open_tip(DESK, ENVELOPE, TIP_COMMITMENT)
    assert opened == envelope.OpenedTip(document=TIP_DOCUMENT, salt=TIP_SALT, author=TIP_AUTHOR)
    assert envelope.envelope_key_id(ENVELOPE) == DESK_KEY_ID


def test_the_pinned_envelope_layout() -> None:
    assert ENVELOPE[0] == envelope.ENVELOPE_VERSION == 1
    assert ENVELOPE[1:9].hex() == DESK_KEY_ID
    assert len(ENVELOPE) == 1 + 8 + 32 + (32 + 20 + len(TIP_DOCUMENT)) + 16
    # The ciphertext after the header is plain HPKE, bound to tag || header || commitment.
    info = b"tipledger/v1/desk" + ENVELOPE[:9] + TIP_COMMITMENT
    assert hpke.open_sealed(DESK, ENVELOPE[9:], info=info) == TIP_SALT + TIP_AUTHOR + TIP_DOCUMENT


def test_the_pinned_envelope_does_not_open_for_another_commitment() -> None:
    with pytest.raises(EnvelopeError, match="does not open for commitment"):
        envelope.open_tip(DESK, ENVELOPE, bytes(32))


def test_the_desk_module_and_ledger_errors_re_export_the_same_objects() -> None:
    assert desk_envelope.seal_tip is envelope.seal_tip
    assert desk_envelope.open_tip is envelope.open_tip
    assert desk_envelope.SUITE is hpke.SUITE
    assert LedgerEnvelopeError is EnvelopeError


@settings(max_examples=25, deadline=None)
@given(
    document=st.binary(max_size=2048),
    salt=st.binary(min_size=32, max_size=32),
    author=st.binary(min_size=20, max_size=20),
)
def test_open_tip_inverts_seal_tip(document: bytes, salt: bytes, author: bytes) -> None:
    c = commitment(salt, content_digest(document), author)
    sealed = envelope.seal_tip(
        DESK.public_key(), commitment=c, document=document, salt=salt, author=author
    )
    assert len(sealed) == envelope.MIN_ENVELOPE_SIZE + len(document)
    assert envelope.open_tip(DESK, sealed, c) == envelope.OpenedTip(document, salt, author)
