"""The device's side of a reporter's code, without a service (``ledger.followup.code``): the tip
sealed under a code commits with the code's salt and carries its version 3 enrolment; the case
key is checked by the code's tag before anything is sealed to it; the receipt is rebuilt from the
code, the document and the service's public part, and refused for another document."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.core.commitment import commitment, content_digest
from ledger.core.encoding import checksum_address, to_hex
from ledger.core.hpke import key_id_bytes, public_bytes
from ledger.core.reporter_code import case_key_tag, code_enrolment_from_json, parse_code
from ledger.errors import EnvelopeError, ProtocolError
from ledger.followup.code import (
    checked_seal_to,
    code_bearer,
    recovered_receipt,
    seal_code_answer,
    seal_with_code,
    unlock,
)

CODE = "7KQM-4T9X-J2RB-8HCE"  # PROTOCOL.md 15.14
DOCUMENT = b'{"format":"tipledger-tip/1"}'


def sealed() -> Any:
    member = X25519PrivateKey.generate().public_key()
    return seal_with_code([member], agency="intake", document=DOCUMENT, code=parse_code(CODE))


def view_of(made: Any, **change: Any) -> dict[str, Any]:
    case = made.tip.sealed.case_key
    view = {
        "version": 3,
        "seal_to": {"key": to_hex(case), "key_id": key_id_bytes(case).hex()},
        "case_key_tag": to_hex(case_key_tag(made.keys, made.tip.commitment, case)),
        "reporter_key_id": "",
        "messages": [],
    }
    return {**view, **change}


def test_a_tip_sealed_under_a_code() -> None:
    made = sealed()
    assert made.tip.salt == made.keys.salt  # the code gives the salt
    assert made.tip.commitment == commitment(made.keys.salt, content_digest(DOCUMENT), bytes(20))
    assert made.tip.commitment.hex() == (  # vector 15.14
        "16f1f60cbb92a5f4058fcaa80bb6965d3b8e024dfc5cbdb4c6523cb79b979b77"
    )
    enrolment = code_enrolment_from_json(made.tip.sealed.follow_up)
    assert enrolment.locator == "7KQM4T"
    assert enrolment.case_key_tag == case_key_tag(
        made.keys, made.tip.commitment, made.tip.sealed.case_key
    )
    assert made.tip.sealed.to_json()["follow_up"]["version"] == 3
    assert code_bearer(unlock(CODE.lower()), made.tip.commitment).startswith("tlt2_")
    with pytest.raises(ProtocolError, match="does not check out"):
        unlock("7KQM-4T9X-J2RB-8HCF")


def test_the_case_key_is_checked_by_the_tag() -> None:
    made = sealed()
    entry = made.tip.commitment
    assert checked_seal_to(view_of(made), made.keys, entry)["key"] == to_hex(
        made.tip.sealed.case_key
    )
    assert set(seal_code_answer(view_of(made), made.keys, entry, "A.")) == {
        "id",
        "to_reporter",
        "to_desk",
    }
    other = public_bytes(X25519PrivateKey.generate().public_key())
    for lie in (
        view_of(made, seal_to={"key": to_hex(other), "key_id": key_id_bytes(other).hex()}),
        view_of(made, case_key_tag="0x" + "00" * 16),
        view_of(made, case_key_tag="0x00"),
        view_of(made, version=2),
        {k: v for k, v in view_of(made).items() if k != "case_key_tag"},
    ):
        with pytest.raises(EnvelopeError):
            seal_code_answer(lie, made.keys, entry, "A.")


def test_the_receipt_rebuilt_from_the_code() -> None:
    made = sealed()
    status = {
        "status": "pending",
        "format": "tipledger-receipt/1",
        "chain_id": 31337,
        "contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        "commitment": to_hex(made.tip.commitment),
        "leaf_index": None,
        "promise": None,
        "inclusion": None,
    }
    receipt = recovered_receipt(made.keys, DOCUMENT, status)
    assert receipt.commitment_bytes == made.tip.commitment
    assert receipt.salt_bytes == made.keys.salt
    assert receipt.author == checksum_address(bytes(20))
    with pytest.raises(ProtocolError, match="one-time author key"):
        recovered_receipt(made.keys, DOCUMENT + b" ", status)
    with pytest.raises(ProtocolError, match="with this author"):
        recovered_receipt(made.keys, DOCUMENT, status, "0x" + "11" * 20)
