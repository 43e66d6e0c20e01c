"""Receipt verification (PROTOCOL.md section 7), on receipts built from a real small log."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from ledger.core import merkle
from ledger.core.commitment import commitment, content_digest
from ledger.core.eip712 import sign_promise
from ledger.core.encoding import to_hex
from ledger.core.errors import ProtocolError
from ledger.core.receipt import Inclusion, PromiseInfo, Receipt
from ledger.core.verify import (
    ChainQuery,
    OfflineVerdict,
    Verdict,
    complete_verdict,
    verify_offline,
)

CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ANCHORER_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
ANCHORER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER_KEY = bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
AUTHOR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
DOCUMENT = b'{"text": "invoices at office X are paid twice", "attachments": []}'
SALT = hashlib.sha256(b"test salt").digest()
SIZE, INDEX = 13, 9
RECEIVED_AT = 1764200000
BLOCK_TIMESTAMP = RECEIVED_AT + 2
MAX_MERGE_DELAY = 60

DIGEST = content_digest(DOCUMENT)
COMMITMENT = commitment(SALT, DIGEST, AUTHOR)
ENTRIES = [hashlib.sha256(b"other tip %d" % i).digest() for i in range(SIZE)]
ENTRIES[INDEX] = COMMITMENT
ROOT = merkle.root(ENTRIES)


def build(**changes: Any) -> Receipt:
    """A valid receipt for DOCUMENT at leaf INDEX of a SIZE-entry log, with ``changes`` applied
    to its JSON form (``promise.x`` and ``inclusion.x`` reach inside)."""
    signature = sign_promise(ANCHORER_KEY, CHAIN_ID, CONTRACT, COMMITMENT, RECEIVED_AT)
    data: dict[str, Any] = {
        "format": "tipledger-receipt/1",
        "chain_id": CHAIN_ID,
        "contract": CONTRACT,
        "commitment": to_hex(COMMITMENT),
        "salt": to_hex(SALT),
        "content_digest": to_hex(DIGEST),
        "author": AUTHOR,
        "promise": {"received_at": RECEIVED_AT, "signer": ANCHORER, "signature": to_hex(signature)},
        "inclusion": {
            "leaf_index": INDEX,
            "tree_size": SIZE,
            "root_hash": to_hex(ROOT),
            "proof": [to_hex(p) for p in merkle.inclusion_proof(ENTRIES, INDEX)],
            "anchor_tx": to_hex(b"\xaa" * 32),
            "block_number": 12,
            "block_timestamp": BLOCK_TIMESTAMP,
        },
    }
    for key, value in changes.items():
        if "." in key:
            part, field = key.split(".")
            data[part][field] = value
        else:
            data[key] = value
    return Receipt.from_dict(data)


def complete(offline: OfflineVerdict, **overrides: Any) -> Verdict:
    answers: dict[str, Any] = {
        "chain_id": CHAIN_ID,
        "checkpoint_root": ROOT,
        "checkpoint_timestamp": BLOCK_TIMESTAMP,
        "signer_is_anchorer": True,
        "max_merge_delay": MAX_MERGE_DELAY,
    }
    answers.update(overrides)
    return complete_verdict(offline, **answers)


def failed(verdict: OfflineVerdict | Verdict) -> set[str]:
    return {c.name for c in verdict.failures}


def flip_hex(hex_text: str, position: int = 0) -> str:
    raw = bytearray(bytes.fromhex(hex_text[2:]))
    raw[position] ^= 0x01
    return to_hex(bytes(raw))


# --- offline: the valid receipt ------------------------------------------------------------------


def test_valid_receipt_passes_offline() -> None:
    verdict = verify_offline(build(), DOCUMENT)
    assert verdict.ok
    assert not verdict.pending
    assert verdict.document_checked
    assert [c.name for c in verdict.checks] == [
        "content_digest",
        "commitment",
        "inclusion",
        "promise_signature",
    ]
    assert all(c.ok for c in verdict.checks)
    assert verdict.query == ChainQuery(
        chain_id=CHAIN_ID,
        contract=CONTRACT,
        tree_size=SIZE,
        root_hash=ROOT,
        block_timestamp=BLOCK_TIMESTAMP,
        block_number=12,
        promise_signer=ANCHORER,
        received_at=RECEIVED_AT,
    )


def test_valid_receipt_through_json_passes() -> None:
    receipt = Receipt.from_json(build().to_json())
    assert verify_offline(receipt, DOCUMENT).ok


def test_without_document_the_commitment_is_still_checked() -> None:
    verdict = verify_offline(build())
    assert verdict.ok
    assert not verdict.document_checked
    assert verdict.check("content_digest") is None


def test_every_leaf_of_a_real_log_verifies() -> None:
    for size in (1, 2, 3, 8, 13):
        entries = [
            commitment(hashlib.sha256(b"s%d" % i).digest(), DIGEST, AUTHOR) for i in range(size)
        ]
        root = merkle.root(entries)
        for index in range(size):
            receipt = build(
                commitment=to_hex(entries[index]),
                salt=to_hex(hashlib.sha256(b"s%d" % index).digest()),
                promise=None,
                **{
                    "inclusion.leaf_index": index,
                    "inclusion.tree_size": size,
                    "inclusion.root_hash": to_hex(root),
                    "inclusion.proof": [to_hex(p) for p in merkle.inclusion_proof(entries, index)],
                },
            )
            assert verify_offline(receipt, DOCUMENT).ok, (index, size)


# --- offline: each alteration fails the right check ----------------------------------------------


def test_altered_document() -> None:
    verdict = verify_offline(build(), DOCUMENT + b" ")
    assert not verdict.ok
    assert failed(verdict) == {"content_digest"}
    check = verdict.check("content_digest")
    assert check is not None
    assert "the receipt says" in check.detail


def test_altered_salt() -> None:
    verdict = verify_offline(build(salt=flip_hex(to_hex(SALT), 5)), DOCUMENT)
    assert failed(verdict) == {"commitment"}


def test_altered_author() -> None:
    verdict = verify_offline(build(author=ANCHORER), DOCUMENT)
    assert failed(verdict) == {"commitment"}


def test_altered_content_digest() -> None:
    verdict = verify_offline(build(content_digest=to_hex(content_digest(b"other"))), DOCUMENT)
    assert failed(verdict) == {"content_digest", "commitment"}


def test_altered_commitment() -> None:
    verdict = verify_offline(build(commitment=flip_hex(to_hex(COMMITMENT))), DOCUMENT)
    assert failed(verdict) == {"commitment", "inclusion", "promise_signature"}


@pytest.mark.parametrize("position", [0, 1, 2, 3])
def test_altered_proof_byte(position: int) -> None:
    proof = [to_hex(p) for p in merkle.inclusion_proof(ENTRIES, INDEX)]
    proof[position] = flip_hex(proof[position], 31)
    verdict = verify_offline(build(**{"inclusion.proof": proof}), DOCUMENT)
    assert failed(verdict) == {"inclusion"}
    check = verdict.check("inclusion")
    assert check is not None
    assert "not root_hash" in check.detail


def test_altered_root() -> None:
    verdict = verify_offline(build(**{"inclusion.root_hash": flip_hex(to_hex(ROOT))}), DOCUMENT)
    assert failed(verdict) == {"inclusion"}


@pytest.mark.parametrize("index", [0, 8, 10, 12])
def test_wrong_leaf_index(index: int) -> None:
    verdict = verify_offline(build(**{"inclusion.leaf_index": index}), DOCUMENT)
    assert failed(verdict) == {"inclusion"}


def test_leaf_index_outside_the_tree() -> None:
    verdict = verify_offline(build(**{"inclusion.leaf_index": SIZE}), DOCUMENT)
    check = verdict.check("inclusion")
    assert check is not None
    assert not check.ok
    assert check.detail == "leaf index 13 is outside a log of 13 entries"


@pytest.mark.parametrize("size", [10, 11, 12, 17, 32, 100])
def test_wrong_tree_size(size: int) -> None:
    verdict = verify_offline(build(**{"inclusion.tree_size": size}), DOCUMENT)
    assert failed(verdict) == {"inclusion"}


def test_wrong_tree_size_of_the_same_shape_is_caught_by_the_checkpoint() -> None:
    # PATH(9, D[n]) has the same shape for n = 13..16, so the offline RFC 9162 check cannot
    # tell those sizes apart; the contract's checkpoint(n) can.
    for size in (14, 15, 16):
        offline = verify_offline(build(**{"inclusion.tree_size": size}), DOCUMENT)
        assert offline.ok
        other_root = merkle.root([*ENTRIES, *[b"\x00" * 32] * (size - SIZE)])
        verdict = complete(offline, checkpoint_root=other_root)
        assert failed(verdict) == {"checkpoint_root"}


def test_truncated_and_extended_proofs_say_how_long_a_proof_must_be() -> None:
    proof = [to_hex(p) for p in merkle.inclusion_proof(ENTRIES, INDEX)]
    assert len(proof) == 4
    short = verify_offline(build(**{"inclusion.proof": proof[:-1]}), DOCUMENT)
    long = verify_offline(build(**{"inclusion.proof": [*proof, proof[0]]}), DOCUMENT)
    for verdict, n in ((short, 3), (long, 5)):
        check = verdict.check("inclusion")
        assert check is not None
        assert not check.ok
        assert check.detail == f"proof has {n} hashes; entry 10 of 13 needs 4"


def test_promise_signed_by_another_key() -> None:
    signature = sign_promise(OTHER_KEY, CHAIN_ID, CONTRACT, COMMITMENT, RECEIVED_AT)
    verdict = verify_offline(build(**{"promise.signature": to_hex(signature)}), DOCUMENT)
    assert failed(verdict) == {"promise_signature"}
    check = verdict.check("promise_signature")
    assert check is not None
    assert f"not signer {ANCHORER}" in check.detail


def test_promise_with_altered_time_or_signer() -> None:
    late = verify_offline(build(**{"promise.received_at": RECEIVED_AT + 1}), DOCUMENT)
    assert failed(late) == {"promise_signature"}
    other = verify_offline(build(**{"promise.signer": AUTHOR}), DOCUMENT)
    assert failed(other) == {"promise_signature"}


def test_promise_for_another_chain_or_contract() -> None:
    for chain_id, contract in ((1, CONTRACT), (CHAIN_ID, AUTHOR)):
        signature = sign_promise(ANCHORER_KEY, chain_id, contract, COMMITMENT, RECEIVED_AT)
        verdict = verify_offline(build(**{"promise.signature": to_hex(signature)}), DOCUMENT)
        assert failed(verdict) == {"promise_signature"}


def test_malformed_promise_signature_is_a_failed_check_not_an_exception() -> None:
    signature = bytearray(sign_promise(ANCHORER_KEY, CHAIN_ID, CONTRACT, COMMITMENT, RECEIVED_AT))
    signature[64] = 0
    verdict = verify_offline(build(**{"promise.signature": to_hex(bytes(signature))}), DOCUMENT)
    check = verdict.check("promise_signature")
    assert check is not None
    assert not check.ok
    assert check.detail.startswith("malformed promise signature: signature v must be 27 or 28")


def test_receipt_without_promise() -> None:
    verdict = verify_offline(build(promise=None), DOCUMENT)
    assert verdict.ok
    assert verdict.check("promise_signature") is None
    assert verdict.query.promise_signer is None
    full = complete(verdict, signer_is_anchorer=None, max_merge_delay=None)
    assert full.ok
    assert full.unchecked == ()


# --- pending -------------------------------------------------------------------------------------


def test_pending_receipt() -> None:
    offline = verify_offline(build(inclusion=None), DOCUMENT)
    assert offline.pending
    assert not offline.ok
    assert offline.failures == ()
    assert offline.query.tree_size is None
    assert offline.query.root_hash is None
    verdict = complete(offline, checkpoint_root=None, checkpoint_timestamp=None)
    assert verdict.pending
    assert not verdict.ok
    assert verdict.proven_time is None
    assert verdict.failures == ()
    assert verdict.summary().startswith("PENDING: commitment 0x")
    assert "not yet anchored" in verdict.summary()
    assert verdict.warnings == ()


def test_pending_receipt_overdue_is_flagged() -> None:
    offline = verify_offline(build(inclusion=None), DOCUMENT)
    on_time = complete(offline, now=RECEIVED_AT + MAX_MERGE_DELAY)
    assert on_time.warnings == ()
    overdue = complete(offline, now=RECEIVED_AT + MAX_MERGE_DELAY + 1)
    assert len(overdue.warnings) == 1
    assert overdue.warnings[0].startswith("promise overdue")
    assert overdue.pending


def test_pending_receipt_with_a_bad_commitment_is_invalid() -> None:
    offline = verify_offline(build(inclusion=None, salt=to_hex(bytes(32))), DOCUMENT)
    verdict = complete(offline)
    assert verdict.summary().startswith("INVALID: commitment:")


# --- chain completion ----------------------------------------------------------------------------


def test_complete_valid() -> None:
    verdict = complete(verify_offline(build(), DOCUMENT))
    assert verdict.ok
    assert verdict.proven_time == BLOCK_TIMESTAMP
    assert verdict.warnings == ()
    assert verdict.unchecked == ()
    assert [c.name for c in verdict.checks][-4:] == [
        "chain_id",
        "checkpoint_root",
        "checkpoint_timestamp",
        "promise_signer_role",
    ]
    summary = verdict.summary()
    assert summary.startswith("VALID: the document existed no later than 2025-11-26T23:33:22Z")
    assert "entry 10 of 13" in summary  # leaf_index 9, counted from 1
    assert "\n" not in summary
    timestamp = next(c for c in verdict.checks if c.name == "checkpoint_timestamp")
    assert timestamp.detail == "anchored at 2025-11-26T23:33:22Z"  # a time, not Unix seconds


def test_complete_without_document_says_commitment() -> None:
    verdict = complete(verify_offline(build()))
    assert verdict.ok
    assert verdict.summary().startswith("VALID: the commitment existed no later than")


def test_wrong_chain_id() -> None:
    verdict = complete(verify_offline(build(), DOCUMENT), chain_id=1)
    assert not verdict.ok
    assert failed(verdict) == {"chain_id"}
    assert verdict.proven_time is None
    assert verdict.summary().startswith("INVALID: chain_id: the endpoint is chain 1")


def test_checkpoint_root_mismatch() -> None:
    verdict = complete(verify_offline(build(), DOCUMENT), checkpoint_root=b"\x01" * 32)
    assert failed(verdict) == {"checkpoint_root"}


def test_checkpoint_timestamp_mismatch() -> None:
    verdict = complete(verify_offline(build(), DOCUMENT), checkpoint_timestamp=BLOCK_TIMESTAMP - 1)
    assert failed(verdict) == {"checkpoint_timestamp"}
    assert verdict.failures[0].detail == (
        "checkpoint(13) was anchored at 2025-11-26T23:33:21Z, the receipt says 2025-11-26T23:33:22Z"
    )
    assert not verdict.ok


def test_checkpoint_never_anchored() -> None:
    verdict = complete(
        verify_offline(build(), DOCUMENT), checkpoint_root=bytes(32), checkpoint_timestamp=0
    )
    assert failed(verdict) == {"checkpoint_root", "checkpoint_timestamp"}
    check = verdict.check("checkpoint_root")
    assert check is not None
    assert "never anchored" in check.detail


def test_zero_timestamp_fails_even_with_the_right_root() -> None:
    verdict = complete(verify_offline(build(), DOCUMENT), checkpoint_timestamp=0)
    assert "checkpoint_timestamp" in failed(verdict)
    assert not verdict.ok


def test_promise_signer_without_anchorer_role() -> None:
    verdict = complete(verify_offline(build(), DOCUMENT), signer_is_anchorer=False)
    assert failed(verdict) == {"promise_signer_role"}


def test_unchecked_parts_are_listed() -> None:
    verdict = complete(
        verify_offline(build(), DOCUMENT), signer_is_anchorer=None, max_merge_delay=None
    )
    assert verdict.ok
    assert verdict.unchecked == ("promise_signer_role", "merge_delay")
    assert verdict.summary().endswith("; not checked: promise_signer_role, merge_delay")


def test_late_inclusion_only_warns() -> None:
    late = RECEIVED_AT + MAX_MERGE_DELAY + 1
    receipt = build(**{"inclusion.block_timestamp": late})
    verdict = complete(verify_offline(receipt, DOCUMENT), checkpoint_timestamp=late)
    assert verdict.ok
    assert verdict.proven_time == late
    assert len(verdict.warnings) == 1
    assert verdict.warnings[0].startswith("late inclusion: anchored 61 s after received_at")
    assert "1 warning: late inclusion" in verdict.summary()
    on_time = RECEIVED_AT + MAX_MERGE_DELAY
    receipt = build(**{"inclusion.block_timestamp": on_time})
    verdict = complete(verify_offline(receipt, DOCUMENT), checkpoint_timestamp=on_time)
    assert verdict.ok
    assert verdict.warnings == ()


def test_anchored_receipt_needs_checkpoint_answers() -> None:
    with pytest.raises(ProtocolError, match="checkpoint_root"):
        complete(verify_offline(build(), DOCUMENT), checkpoint_root=None)


def test_offline_failures_carry_into_the_verdict() -> None:
    offline = verify_offline(build(), DOCUMENT + b"!")
    verdict = complete(offline)
    assert not verdict.ok
    assert failed(verdict) == {"content_digest"}
    assert verdict.summary().startswith("INVALID: content_digest: the document hashes to 0x")


def test_promise_info_and_inclusion_models_are_reused() -> None:
    receipt = build()
    assert isinstance(receipt.promise, PromiseInfo)
    assert isinstance(receipt.inclusion, Inclusion)
