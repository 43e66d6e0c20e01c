"""The audit's integrity checks on synthetic histories: each rule, passing and broken."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from audit_synthetic import (
    CHAIN_ID,
    CONTRACT,
    CUSTODIAN,
    T0,
    anchors_for,
    direct,
    entries,
    entry,
    grant,
    honest_proofs,
    review,
    revoke,
    stored_for,
    tx,
)
from eth_utils.address import to_checksum_address

from ledger.audit.checks import (
    LogScan,
    anchor_covering,
    check_anchors,
    check_direct_commitments,
    check_disclosures,
    check_reviews,
    increasing_anchors,
    proof_ranges,
)
from ledger.audit.history import Disclosure, RoleHistory, ThresholdChange, ThresholdHistory
from ledger.chain.contract import DisclosureEvent
from ledger.core.eip712 import Signer, sign_disclosure
from ledger.core.merkle import consistency_path
from ledger.core.tree import MerkleTree

ALICE = "0x00000000000000000000000000000000000A11CE"
BOB = "0x0000000000000000000000000000000000000B0B"


def scan(log: list[bytes], page: int = 7, wanted: tuple[bytes, ...] = ()) -> LogScan:
    s = LogScan(wanted)
    for i in range(0, len(log), page):
        s.add(log[i : i + page])
    return s


# --- LogScan ---------------------------------------------------------------------------------


def test_scan_rebuilds_the_tree_in_pages_and_indexes_wanted_commitments() -> None:
    log = entries(100)
    s = scan(log, page=13, wanted=(log[42], log[99], b"\x01" * 32))
    reference = MerkleTree()
    reference.extend(log)
    assert s.size == 100
    assert s.tree.root() == reference.root()
    assert s.index_of == {log[42]: 42, log[99]: 99}
    assert s.duplicates == []


def test_scan_finds_duplicates_within_and_across_pages() -> None:
    log = entries(20)
    log[5] = log[2]  # same page (pages of 7)
    log[17] = log[3]  # a later page
    s = scan(log)
    assert sorted(s.duplicates) == [(5, 2, log[2]), (17, 3, log[3])]
    anchors = anchors_for(log, [20])
    found = s.duplicate_violations(anchors)
    assert [(v.kind, v.index, v.block) for v in found] == [
        ("duplicate-entry", 5, 10),
        ("duplicate-entry", 17, 10),
    ]
    assert "first at entry 3" in found[1].message


# --- anchors ---------------------------------------------------------------------------------


SIZES = [3, 5, 8, 20, 21]


def test_honest_log_matches_every_anchor_and_consistency_step() -> None:
    log = entries(21)
    anchors = anchors_for(log, SIZES)
    checks, violations = check_anchors(scan(log).tree, anchors, stored_for(anchors))
    assert violations == []
    assert [c.root_matches for c in checks] == [True] * 5
    assert [c.consistent for c in checks] == [None, True, True, True, True]
    assert all(c.stored_matches for c in checks)


def test_proof_ranges_name_the_leaves_each_proof_node_covers() -> None:
    log = entries(8)
    tree = MerkleTree()
    tree.extend(log)
    ranges = proof_ranges(5, 8)
    assert ranges == [(4, 5), (5, 6), (6, 8), (0, 4)]
    assert [tree.subtree_hash(s, e) for s, e in ranges] == consistency_path(5, 8, tree.subtree_hash)


@pytest.mark.parametrize(
    ("tampered", "first", "named"),
    [
        (5, 5, "entry 5 served differs from the one anchored"),
        (6, 6, "entries 6-7 served differ from the anchored ones (at least one)"),
        (0, 0, "entries 0-1 served differ"),
        (2, 2, "entry 2 served differs"),
        (12, 8, "entries 8-15 served differ"),
    ],
)
def test_a_served_entry_that_differs_is_named_with_its_checkpoint(
    tampered: int, first: int, named: str
) -> None:
    honest = entries(21)
    anchors = anchors_for(honest, SIZES)
    served = list(honest)
    served[tampered] = hashlib.sha256(b"forged").digest()
    checks, violations = check_anchors(
        scan(served).tree, anchors, stored_for(anchors), honest_proofs(honest, anchors)
    )
    assert len(violations) == 1
    v = violations[0]
    bad = anchor_covering(anchors, tampered)
    assert bad is not None
    assert (v.kind, v.index, v.block) == ("entry-differs", first, bad.block_number)
    assert named in v.message
    assert f"checkpoint of size {bad.tree_size}" in v.message
    assert [c.root_matches for c in checks] == [a.tree_size <= tampered for a in anchors]


def test_without_calldata_the_differing_entry_is_narrowed_to_its_batch() -> None:
    honest = entries(21)
    anchors = anchors_for(honest, SIZES)
    served = list(honest)
    served[10] = b"\x00" * 32
    _, violations = check_anchors(scan(served).tree, anchors)
    assert violations[0].message.startswith("entries 8-19 served differ")
    assert "entries below 8 match checkpoint 8" in violations[0].message
    assert "1 later checkpoint(s) differ with it" in violations[0].message


def test_fewer_entries_served_than_anchored_is_a_violation() -> None:
    honest = entries(21)
    anchors = anchors_for(honest, SIZES)
    checks, violations = check_anchors(scan(honest[:10]).tree, anchors)
    assert [(v.kind, v.index, v.block) for v in violations] == [("entries-missing", 10, 13)]
    assert "served 10 entries, but 21 are anchored" in violations[0].message
    assert [c.root_matches for c in checks] == [True, True, True, None, None]


def test_storage_that_disagrees_with_the_event_is_a_violation() -> None:
    log = entries(8)
    anchors = anchors_for(log, [3, 8])
    stored = stored_for(anchors)
    stored[8] = dataclasses.replace(stored[8], root_hash=b"\x11" * 32)
    _, violations = check_anchors(scan(log).tree, anchors, stored)
    assert [(v.kind, v.index, v.block) for v in violations] == [("stored-checkpoint", 7, 11)]


def test_an_anchor_that_does_not_grow_the_log_is_a_violation() -> None:
    log = entries(8)
    anchors = anchors_for(log, [5, 8])
    shrink = dataclasses.replace(anchors[0], block_number=12, tx_hash=tx("again"))
    _, violations = check_anchors(scan(log).tree, [*anchors, shrink])
    assert [(v.kind, v.block) for v in violations] == [("anchor-order", 12)]
    assert increasing_anchors([*anchors, shrink]) == anchors


# --- direct commitments ----------------------------------------------------------------------


def test_direct_commitments_on_time_late_missing_and_pending() -> None:
    log = entries(8)
    anchors = anchors_for(log, [3, 8], spacing=3000)  # anchored at T0+3000 and T0+6000
    directs = [
        direct(log[1], 5, T0 + 100, ALICE),  # anchored at T0+3000: on time (delay 3600)
        direct(log[6], 6, T0 + 200, ALICE),  # anchored at T0+6000 > T0+3800: late
        direct(b"\x07" * 32, 7, T0 + 300, BOB),  # never logged, deadline passed: missing
        direct(b"\x08" * 32, 8, T0 + 9000, BOB),  # not logged yet, within the delay: pending
    ]
    s = scan(log, wanted=tuple(d.commitment for d in directs))
    checks, violations = check_direct_commitments(directs, s.index_of, anchors, 3600, T0 + 10_000)
    assert [c.status for c in checks] == ["on-time", "late", "missing", "pending"]
    assert [(v.kind, v.index, v.block) for v in violations] == [
        ("direct-commitment-late", 6, 6),
        ("direct-commitment-missing", None, 7),
    ]
    assert "2,200 s after its deadline" in violations[0].message
    assert "not in the anchored log 6,100 s after its deadline" in violations[1].message


def test_a_direct_commitment_already_logged_before_it_was_committed_is_on_time() -> None:
    log = entries(4)
    anchors = anchors_for(log, [4])
    checks, violations = check_direct_commitments(
        [direct(log[0], 50, T0 + 50_000, ALICE)], {log[0]: 0}, anchors, 60, T0 + 99_999
    )
    assert violations == []
    assert checks[0].status == "on-time"


# --- reviews ---------------------------------------------------------------------------------


def test_a_review_of_a_commitment_not_in_the_log_is_a_violation() -> None:
    violations = check_reviews([review(b"\x42" * 32, ALICE, 9, T0)], {}, 7)
    assert [(v.kind, v.block) for v in violations] == [("review-unknown-commitment", 9)]
    assert "not among the 7 entries served" in violations[0].message


# --- disclosures -----------------------------------------------------------------------------

CUSTODIANS = [Signer(hashlib.sha256(f"custodian {i}".encode()).digest()) for i in range(5)]
OUTSIDER = Signer(hashlib.sha256(b"outsider").digest())
REQUESTER = Signer(hashlib.sha256(b"investigator").digest()).address
RECORD, REQUEST = b"\x01" * 32, b"\x02" * 32
REPEAT = f"signature 2 repeats custodian {CUSTODIANS[0].address}"


def custodian_roles(block: int = 1) -> RoleHistory:
    return RoleHistory([grant(CUSTODIAN, c.address, block, i) for i, c in enumerate(CUSTODIANS)])


def disclosure(signers: list[Signer], block: int = 40, **changes: object) -> Disclosure:
    sigs = tuple(
        sign_disclosure(s, CHAIN_ID, CONTRACT, RECORD, REQUEST, REQUESTER) for s in signers
    )
    event = DisclosureEvent(
        block_number=block,
        tx_hash=tx(f"disclosure {block}"),
        log_index=0,
        record_id=RECORD,
        request_digest=REQUEST,
        requester=to_checksum_address(REQUESTER),
        timestamp=T0 + block,
    )
    return Disclosure(event, changes.get("signatures", sigs))  # type: ignore[arg-type]


def run_disclosures(d: Disclosure, roles: RoleHistory | None = None, threshold: int = 3):  # type: ignore[no-untyped-def]
    return check_disclosures(
        [d], roles or custodian_roles(), ThresholdHistory(threshold), CHAIN_ID, CONTRACT
    )


def test_a_three_of_five_quorum_is_valid() -> None:
    checks, violations = run_disclosures(disclosure(CUSTODIANS[1:4]))
    assert violations == []
    assert checks[0].ok
    assert checks[0].custodians == [c.address for c in CUSTODIANS[1:4]]


@pytest.mark.parametrize(
    ("signers", "problem"),
    [
        (CUSTODIANS[:2], "2 distinct custodian signature(s), the threshold then was 3"),
        (
            [*CUSTODIANS[:2], CUSTODIANS[0]],
            f"signature 2 repeats custodian {CUSTODIANS[0].address}",
        ),
        ([*CUSTODIANS[:2], OUTSIDER], f"signature 2 is by {OUTSIDER.address}, not a custodian"),
    ],
)
def test_a_quorum_short_of_the_threshold_is_a_violation(
    signers: list[Signer], problem: str
) -> None:
    checks, violations = run_disclosures(disclosure(signers))
    assert not checks[0].ok
    assert [(v.kind, v.block) for v in violations] == [("disclosure-quorum", 40)]
    assert problem in violations[0].message
    assert "2 distinct custodian signature(s)" in violations[0].message


def test_an_invalid_signature_fails_the_disclosure_even_with_a_quorum() -> None:
    good = disclosure(CUSTODIANS[:3])
    assert good.signatures is not None
    broken = good.signatures[0][:64] + b"\x05"  # v = 5
    bad = dataclasses.replace(good, signatures=(*good.signatures, broken))
    _, violations = run_disclosures(bad)
    assert "signature 3 is invalid (signature v must be 27 or 28, got 5)" in violations[0].message


def test_a_signature_by_a_revoked_custodian_does_not_count() -> None:
    roles = RoleHistory(
        [*custodian_roles().changes(), revoke(CUSTODIAN, CUSTODIANS[0].address, 30)]
    )
    _, violations = run_disclosures(disclosure(CUSTODIANS[:3]), roles)
    assert f"{CUSTODIANS[0].address}, not a custodian: it was revoked in block 30" in (
        violations[0].message
    )


def test_the_threshold_in_force_at_the_disclosure_applies() -> None:
    raised = ThresholdHistory(2, [ThresholdChange(2, 4, 35, 0)])
    early = disclosure(CUSTODIANS[:3], block=30)
    late = disclosure(CUSTODIANS[:3], block=40)
    checks, violations = check_disclosures(
        [early, late], custodian_roles(), raised, CHAIN_ID, CONTRACT
    )
    assert [c.threshold for c in checks] == [2, 4]
    assert [(v.kind, v.block) for v in violations] == [("disclosure-quorum", 40)]


def test_signatures_that_cannot_be_read_are_a_violation() -> None:
    unreadable = Disclosure(disclosure([]).event, None, "its transaction does not call it")
    _, violations = run_disclosures(unreadable)
    assert "its signatures cannot be read (its transaction does not call it)" in (
        violations[0].message
    )


def test_entry_helper_is_deterministic() -> None:
    assert entry(3) == entries(4)[3]
