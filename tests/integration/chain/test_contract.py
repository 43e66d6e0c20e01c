"""TipLedger on a real Anvil: every function's success and every refusal (PROTOCOL.md section 4).

Agencies, members, routing and referral (section 16) are in test_agencies.py; the anchors here
route every batch to one agency, as the contract now requires.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cache
from itertools import pairwise

import pytest
from eth_account import Account
from eth_account.datastructures import SignedMessage
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.chain.client import send_transaction
from ledger.chain.contract import ROLES, AnchorResult, TipLedgerContract
from ledger.chain.deploy import Deployment, deploy, open_deployment
from ledger.core import eip712, merkle
from ledger.core.agency import agency_id
from ledger.core.routing import RoutingProof, route_leaf, routing_path, routing_root
from ledger.errors import ContractRevertedError, DeploymentError, ProtocolError

from ..chain_support import THRESHOLD, DeployedLedger

pytestmark = pytest.mark.chain

ANCHORER_ROLE = ROLES["ANCHORER_ROLE"]
REVIEWER_ROLE = ROLES["REVIEWER_ROLE"]
ADMIN_ROLE = ROLES["DEFAULT_ADMIN_ROLE"]

ENTRIES = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(4200)]


@cache
def root_of(size: int) -> bytes:
    return merkle.root(ENTRIES[:size])


def proof_of(first: int, second: int) -> list[bytes]:
    return merkle.consistency_proof(ENTRIES[:second], first)


def b32(tag: str) -> bytes:
    return hashlib.sha256(tag.encode()).digest()


INTAKE = agency_id("intake")
ROUTING = b32("routing root")  # the anchor checks the counts, not the tree behind the root


@pytest.fixture
def deployed(deployed: DeployedLedger) -> DeployedLedger:
    """The shared fixture's TipLedger, with the agency every batch here is routed to."""
    deployed.contract.add_agency(deployed.admin, INTAKE, "ศูนย์รับเรื่อง", "Intake")
    return deployed


def fresh_contract(d: DeployedLedger) -> TipLedgerContract:
    c = open_deployment(d.w3, deploy(d.w3, d.admin, anchorer=d.anchorer.address))
    c.add_agency(d.admin, INTAKE, "ศูนย์รับเรื่อง", "Intake")
    return c


def routed(c: TipLedgerContract, size: int) -> tuple[bytes, list[bytes], list[int]]:
    """Routing for the batch up to ``size``: all of it to intake (0 for a stale size, which is
    refused before the counts are looked at)."""
    return ROUTING, [INTAKE], [max(size - c.latest().tree_size, 0)]


def anchor(
    c: TipLedgerContract, who: LocalAccount, size: int, root: bytes, proof: Sequence[bytes]
) -> AnchorResult:
    return c.anchor(who, size, root, proof, *routed(c, size))


def simulate(
    c: TipLedgerContract, sender: str, size: int, root: bytes, proof: Sequence[bytes]
) -> None:
    c.simulate_anchor(sender, size, root, proof, *routed(c, size))


def reverts(name: str, *args: object) -> Callable[[Callable[[], object]], ContractRevertedError]:
    """``reverts("X", a)(lambda: ...)``: the call must revert with custom error X(a)."""

    def run(fn: Callable[[], object]) -> ContractRevertedError:
        with pytest.raises(ContractRevertedError) as info:
            fn()
        assert info.value.error_name == name, str(info.value)
        if args:
            assert info.value.error_args == args, str(info.value)
        return info.value

    return run


def block_timestamp(d: DeployedLedger, block_number: int) -> int:
    return int(d.w3.eth.get_block(block_number)["timestamp"])


# ---------------------------------------------------------------- deployment and views


def test_fresh_deployment_state(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    latest = c.latest()
    assert (latest.tree_size, latest.root_hash, latest.timestamp) == (0, bytes(32), 0)
    assert latest.block_number == 0
    assert c.max_merge_delay() == 3600
    assert c.disclosure_threshold() == THRESHOLD
    assert c.has_role("DEFAULT_ADMIN_ROLE", d.admin.address)
    assert c.has_role("ANCHORER_ROLE", d.anchorer.address)
    assert all(c.has_role("REVIEWER_ROLE", r.address) for r in d.reviewers)
    assert all(c.has_role("CUSTODIAN_ROLE", k.address) for k in d.custodians)
    for role in ROLES:
        assert not c.has_role(role, d.outsider.address)
    # Role ids are keccak256 of the names, as OpenZeppelin does.
    assert c.contract.functions.ANCHORER_ROLE().call() == ANCHORER_ROLE
    assert d.deployment.chain_id == d.w3.eth.chain_id
    assert d.deployment.code_hash == "0x" + c.code_hash.hex()
    assert d.deployment.anchorer == d.anchorer.address


def test_deployment_file_roundtrip(deployed: DeployedLedger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "data" / "deployment.json"
    deployed.deployment.save(path)
    assert Deployment.load(path) == deployed.deployment
    assert deployed.deployment.rpc_url is None
    with_url = replace(deployed.deployment, rpc_url=deployed.devchain.rpc_url)
    with_url.save(path)
    assert Deployment.load(path) == with_url
    assert path.read_text().endswith("\n")
    with pytest.raises(DeploymentError):
        Deployment.load(tmp_path / "missing.json")
    path.write_text("{}")
    with pytest.raises(DeploymentError):
        Deployment.load(path)


def test_open_deployment_checks_chain_and_code(deployed: DeployedLedger) -> None:
    d = deployed
    wrong_chain = Deployment(**{**d.deployment.__dict__, "chain_id": 1})
    with pytest.raises(DeploymentError, match="chain"):
        open_deployment(d.w3, wrong_chain)
    wrong_code = Deployment(**{**d.deployment.__dict__, "code_hash": "0x" + "00" * 32})
    with pytest.raises(DeploymentError, match="code hash"):
        open_deployment(d.w3, wrong_code)
    with pytest.raises(DeploymentError, match="no contract code"):
        TipLedgerContract(d.w3, d.outsider.address)


def test_constructor_refusals(deployed: DeployedLedger) -> None:
    d = deployed
    reverts("InvalidThreshold", 0)(
        lambda: deploy(d.w3, d.admin, anchorer=d.anchorer.address, disclosure_threshold=0)
    )
    reverts("ZeroAddress")(lambda: deploy(d.w3, d.admin, anchorer="0x" + "00" * 20))


# ---------------------------------------------------------------- anchor


def test_first_anchor_and_checkpoint(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    result = anchor(c, d.anchorer, 5, root_of(5), [])
    assert result.block_timestamp == block_timestamp(d, result.block_number)
    # Routing costs a third fresh slot: the per-anchor budget is now 2 gas per tip at 65,536.
    assert result.gas_used < 131_072
    cp = c.checkpoint(5)
    assert cp.anchored
    assert (cp.root_hash, cp.timestamp) == (root_of(5), result.block_timestamp)
    assert cp.block_number == result.block_number
    assert c.latest() == cp
    (event,) = c.anchored_events(d.deployment.deploy_block)
    assert (event.tree_size, event.root_hash, event.timestamp) == (5, root_of(5), cp.timestamp)
    assert (event.tx_hash, event.block_number) == (result.tx_hash, result.block_number)


def test_checkpoint_zeros_for_unanchored_sizes(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    first = anchor(c, d.anchorer, 4, root_of(4), [])
    anchor(c, d.anchorer, 9, root_of(9), proof_of(4, 9))
    assert c.latest(block=first.block_number).tree_size == 4
    assert not c.checkpoint(9, block=first.block_number).anchored
    for size in (0, 1, 3, 5, 8, 10, 2**64 - 1):
        cp = c.checkpoint(size)
        assert not cp.anchored
        assert (cp.root_hash, cp.timestamp, cp.block_number) == (bytes(32), 0, 0)
    # Earlier checkpoints stay readable after later ones.
    assert c.checkpoint(4).root_hash == root_of(4)
    assert c.checkpoint(9).root_hash == root_of(9)
    assert [e.tree_size for e in c.anchored_events()] == [4, 9]


def test_consistent_growth_many_steps(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    sizes = [1, 2, 3, 4, 7, 8, 9, 16, 31, 32, 33, 64, 100, 127, 128, 129, 1000, 1024, 4096, 4200]
    anchor(c, d.anchorer, sizes[0], root_of(sizes[0]), [])
    for first, second in pairwise(sizes):
        anchor(c, d.anchorer, second, root_of(second), proof_of(first, second))
        assert c.latest().tree_size == second
    assert [e.tree_size for e in c.anchored_events()] == sizes


def test_anchor_refusals_role(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    for who in (d.outsider, d.reviewers[0], d.admin, d.custodians[0]):
        reverts("AccessControlUnauthorizedAccount", who.address, ANCHORER_ROLE)(
            lambda who=who: anchor(c, who, 1, root_of(1), [])
        )
    assert c.latest().tree_size == 0


def test_anchor_refusals_arguments(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    reverts("EmptyTree")(lambda: anchor(c, d.anchorer, 0, root_of(1), []))
    reverts("ZeroRootHash")(lambda: anchor(c, d.anchorer, 1, bytes(32), []))
    reverts("UnexpectedProof", 1)(lambda: anchor(c, d.anchorer, 2, root_of(2), [root_of(1)]))
    anchor(c, d.anchorer, 10, root_of(10), [])
    reverts("StaleTreeSize", 10, 10)(lambda: anchor(c, d.anchorer, 10, root_of(10), []))
    reverts("StaleTreeSize", 10, 9)(lambda: anchor(c, d.anchorer, 9, root_of(9), []))
    reverts("StaleTreeSize", 10, 1)(lambda: anchor(c, d.anchorer, 1, root_of(1), []))
    # An equal size with a different root is a rewrite attempt: refused the same way.
    reverts("StaleTreeSize", 10, 10)(lambda: anchor(c, d.anchorer, 10, b32("other"), []))
    assert c.latest().root_hash == root_of(10)
    with pytest.raises(ProtocolError):
        anchor(c, d.anchorer, 11, b"short", [])


def test_anchor_refuses_bad_consistency_proofs(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    anchor(c, d.anchorer, 13, root_of(13), [])
    good = proof_of(13, 29)
    assert merkle.verify_consistency(13, 29, root_of(13), root_of(29), good)
    inconsistent = reverts("InconsistentCheckpoint")

    def flipped(i: int, byte: int) -> list[bytes]:
        node = bytearray(good[i])
        node[byte] ^= 0x01
        return [*good[:i], bytes(node), *good[i + 1 :]]

    for i in range(len(good)):
        inconsistent(lambda i=i: anchor(c, d.anchorer, 29, root_of(29), flipped(i, 31)))
    inconsistent(lambda: anchor(c, d.anchorer, 29, root_of(29), []))  # empty
    inconsistent(lambda: anchor(c, d.anchorer, 29, root_of(29), good[:-1]))  # too short
    inconsistent(lambda: anchor(c, d.anchorer, 29, root_of(29), [*good, good[-1]]))  # too long
    inconsistent(lambda: anchor(c, d.anchorer, 29, root_of(29), good[::-1]))  # reordered
    # A valid proof, but between other sizes of the same log.
    inconsistent(lambda: anchor(c, d.anchorer, 29, root_of(29), proof_of(12, 29)))
    inconsistent(lambda: anchor(c, d.anchorer, 30, root_of(30), good))
    # Right proof, wrong new root; and a forked log (other entries) with its own valid proof.
    inconsistent(lambda: anchor(c, d.anchorer, 29, root_of(30), good))
    fork = [*ENTRIES[:12], b32("forged"), *ENTRIES[13:29]]
    fork_proof = merkle.consistency_proof(fork, 13)
    inconsistent(lambda: anchor(c, d.anchorer, 29, merkle.root(fork), fork_proof))
    # A proof for a different tree altogether.
    other = [b32(f"x{i}") for i in range(29)]
    inconsistent(
        lambda: anchor(c, d.anchorer, 29, merkle.root(other), merkle.consistency_proof(other, 13))
    )
    assert c.latest().tree_size == 13
    anchor(c, d.anchorer, 29, root_of(29), good)
    assert c.latest().root_hash == root_of(29)


PROTOCOL_VECTOR_ENTRIES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
PROTOCOL_VECTOR_ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip


def test_protocol_test_vectors_anchor_in_sequence(deployed: DeployedLedger) -> None:
    """PROTOCOL.md section 8: the vector roots, grown one entry at a time, all verify on chain."""
    d, c = deployed, deployed.contract
    entries = PROTOCOL_VECTOR_ENTRIES
    anchor(c, d.anchorer, 1, PROTOCOL_VECTOR_ROOTS[0], [])
    for n in range(2, 9):
        simulate(
            c,
            d.anchorer.address,
            8,
            PROTOCOL_VECTOR_ROOTS[7],
            merkle.consistency_proof(entries, n - 1),
        )
        proof = merkle.consistency_proof(entries[:n], n - 1)
        anchor(c, d.anchorer, n, PROTOCOL_VECTOR_ROOTS[n - 1], proof)
    assert [c.checkpoint(n).root_hash for n in range(1, 9)] == PROTOCOL_VECTOR_ROOTS


def test_consistency_all_pairs_up_to_40(deployed: DeployedLedger) -> None:
    """Every (first, second) with 1 <= first < second <= 40, checked as dry runs (eth_call)."""
    d, c = deployed, deployed.contract
    limit = 40
    for first in range(1, limit):
        if first == 1:
            anchor(c, d.anchorer, 1, root_of(1), [])
        else:
            anchor(c, d.anchorer, first, root_of(first), proof_of(first - 1, first))
        for second in range(first + 1, limit + 1):
            proof = proof_of(first, second)
            simulate(c, d.anchorer.address, second, root_of(second), proof)
            if len(proof) > 0:
                reverts("InconsistentCheckpoint")(
                    lambda s=second, p=proof: simulate(c, d.anchorer.address, s, root_of(s), p[1:])
                )


def test_consistency_around_powers_of_two(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    sizes = sorted({n for k in range(13) for n in (2**k - 1, 2**k, 2**k + 1) if 0 < n <= 4200})
    anchor(c, d.anchorer, 1, root_of(1), [])
    previous = 1
    for size in sizes[1:]:
        for target in (size, 4200):
            if target > previous:
                simulate(c, d.anchorer.address, target, root_of(target), proof_of(previous, target))
        anchor(c, d.anchorer, size, root_of(size), proof_of(previous, size))
        previous = size


# A consistent pair of huge trees without their leaves: opaque subtree hashes at every perfect
# subtree that does not straddle `first`, combined by the RFC's own recursion.
def synthetic_pair(first: int, second: int) -> tuple[bytes, bytes, list[bytes]]:
    @cache
    def sub(lo: int, hi: int) -> bytes:
        n = hi - lo
        if n & (n - 1) == 0 and not lo < first < hi:
            return hashlib.sha256(b"synthetic%d-%d" % (lo, hi)).digest()
        k = merkle.split_point(n)
        return merkle.node_hash(sub(lo, lo + k), sub(lo + k, hi))

    return sub(0, first), sub(0, second), merkle.consistency_path(first, second, sub)


@st.composite
def pair_and_mutation(draw: st.DrawFn) -> tuple[int, int, str, int]:
    exponent = draw(st.integers(1, 32))
    second = draw(st.integers(2, 2**exponent))
    first = draw(st.one_of(st.integers(1, second - 1), st.just(second - 1), st.just(1)))
    mutation = draw(st.sampled_from(["none", "flip", "drop", "extra", "swap", "size"]))
    return first, second, mutation, draw(st.integers(0, 2**16))


def mutate(proof: Sequence[bytes], how: str, salt: int) -> list[bytes]:
    p = list(proof)
    i = salt % len(p)
    if how == "flip":
        p[i] = bytes([p[i][0] ^ 0x80]) + p[i][1:]
    elif how == "drop":
        del p[i]
    elif how == "extra":
        p.insert(i, b32(f"extra{salt}"))
    elif how == "swap" and len(p) > 1:
        j = (i + 1) % len(p)
        p[i], p[j] = p[j], p[i]
    return p


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=pair_and_mutation())
def test_contract_agrees_with_reference_verifier(
    deployed: DeployedLedger, case: tuple[int, int, str, int]
) -> None:
    """Differential: the contract accepts exactly what ledger.core.merkle accepts, up to 2^32."""
    first, second, how, salt = case
    d = deployed
    c = fresh_contract(d)
    first_root, second_root, proof = synthetic_pair(first, second)
    size = second + 1 if how == "size" else second
    proof = mutate(proof, how, salt)
    anchor(c, d.anchorer, first, first_root, [])
    expected = merkle.verify_consistency(first, size, first_root, second_root, proof)
    assert expected or how != "none"
    if expected:
        simulate(c, d.anchorer.address, size, second_root, proof)
    else:
        reverts("InconsistentCheckpoint")(
            lambda: simulate(c, d.anchorer.address, size, second_root, proof)
        )


def test_huge_sizes_anchor_within_uint64(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    first, second = 2**32 - 65536, 2**32
    first_root, second_root, proof = synthetic_pair(first, second)
    anchor(c, d.anchorer, first, first_root, [])
    anchor(c, d.anchorer, second, second_root, proof)
    assert c.checkpoint(second).root_hash == second_root


def test_mined_revert_is_decoded(deployed: DeployedLedger) -> None:
    """A transaction that passes no estimation and fails on chain still names its error."""
    d, c = deployed, deployed.contract
    data = c.encode_anchor(0, root_of(1), [], ROUTING, [INTAKE], [1])
    tx = {"to": c.address, "data": data, "gas": 200_000}
    err = reverts("EmptyTree")(
        lambda: send_transaction(d.w3, d.anchorer, tx, what="anchor()", decoder=c.error_decoder)  # type: ignore[arg-type]
    )
    assert "EmptyTree" in str(err)


# ---------------------------------------------------------------- commit


def test_direct_commitments(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    first = c.commit(d.outsider, b32("tip-1"))
    second = c.commit(d.reviewers[0], b32("tip-2"))
    events = c.direct_commitments(d.deployment.deploy_block)
    assert [(e.commitment, e.sender) for e in events] == [
        (b32("tip-1"), d.outsider.address),
        (b32("tip-2"), d.reviewers[0].address),
    ]
    assert events[0].timestamp == block_timestamp(d, first.block_number)
    assert events[0].tx_hash == first.tx_hash
    assert [e.commitment for e in c.direct_commitments(second.block_number)] == [b32("tip-2")]
    assert c.direct_commitments(first.block_number, first.block_number)[0].commitment == b32(
        "tip-1"
    )


# ---------------------------------------------------------------- reviews


def open_case(d: DeployedLedger, commitment: bytes) -> RoutingProof:
    """A batch of one entry, ``commitment`` routed to intake, anchored; reviewers[0] and [1]
    made members of intake. The routing proof of the entry."""
    c = d.contract
    salt = b32("salt")
    leaves = [route_leaf(commitment, INTAKE, salt)]
    c.anchor(d.anchorer, 1, merkle.root([commitment]), [], routing_root(leaves), [INTAKE], [1])
    for who in d.reviewers:
        c.add_member(d.admin, INTAKE, who.address, b32(f"key {who.address}"))
    return RoutingProof(1, 0, salt, tuple(routing_path(leaves, 0)))


def test_record_review_every_status(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    commitment = b32("tip")
    proof: RoutingProof | None = open_case(d, commitment)
    assert c.review_of(commitment).status == 0
    assert c.review_of(commitment).reviewer == "0x" + "00" * 20
    results = []
    for status in (1, 2, 3, 4, 5):
        reviewer = d.reviewers[status % 2]
        results.append(
            c.record_review(reviewer, commitment, INTAKE, status, b32(f"note{status}"), proof)
        )
        proof = None  # the first review opened the case
        review = c.review_of(commitment)
        assert (review.status, review.reviewer) == (status, reviewer.address)
        assert review.timestamp == block_timestamp(d, results[-1].block_number)
        assert c.review_by(commitment, INTAKE) == review
    events = c.review_events(d.deployment.deploy_block)
    assert [(e.status, e.note_digest, e.reviewer) for e in events] == [
        (s, b32(f"note{s}"), d.reviewers[s % 2].address) for s in (1, 2, 3, 4, 5)
    ]
    assert all(e.commitment == commitment and e.agency == INTAKE for e in events)


def test_record_review_refusals(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    proof = open_case(d, b32("tip"))
    for status in (0, 6, 255):
        reverts("InvalidReviewStatus", status)(
            lambda s=status: c.record_review(d.reviewers[0], b32("tip"), INTAKE, s, b32("n"), proof)
        )
    # Roles do not make a reviewer: only membership of an agency holding the case does.
    for who in (d.outsider, d.anchorer, d.admin, d.custodians[0]):
        reverts("NotMember", INTAKE, who.address)(
            lambda who=who: c.record_review(who, b32("tip"), INTAKE, 2, b32("n"), proof)
        )
    assert c.review_of(b32("tip")).status == 0
    assert not c.case_opened(b32("tip"))


# ---------------------------------------------------------------- disclosures


def signed_disclosure(
    d: DeployedLedger, signer: LocalAccount, record_id: bytes, request: bytes, requester: str
) -> SignedMessage:
    """Signed with eth-account's own EIP-712 encoder, independent of the code under test."""
    return Account.sign_typed_data(
        signer.key,
        {
            "name": "TipLedger",
            "version": "1",
            "chainId": d.deployment.chain_id,
            "verifyingContract": d.contract.address,
        },
        {
            "Disclosure": [
                {"name": "recordId", "type": "bytes32"},
                {"name": "requestDigest", "type": "bytes32"},
                {"name": "requester", "type": "address"},
            ]
        },
        {"recordId": record_id, "requestDigest": request, "requester": requester},
    )


def sign_disclosure(
    d: DeployedLedger, signer: LocalAccount, record_id: bytes, request: bytes, requester: str
) -> bytes:
    return bytes(signed_disclosure(d, signer, record_id, request, requester).signature)


def approvals(
    d: DeployedLedger,
    signers: Sequence[LocalAccount],
    record: bytes,
    request: bytes,
    requester: str,
) -> list[bytes]:
    return [sign_disclosure(d, s, record, request, requester) for s in signers]


def test_disclosure_digest_matches_eip712_encoders(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    record, request, requester = b32("rec"), b32("req"), d.outsider.address
    on_chain = c.disclosure_digest(record, request, requester)
    reference = signed_disclosure(d, d.custodians[0], record, request, requester).message_hash
    ours = eip712.disclosure_digest(d.deployment.chain_id, c.address, record, request, requester)
    assert on_chain == bytes(reference) == ours


def test_record_disclosure_with_quorum(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    record, request, requester = b32("rec"), b32("req"), d.outsider.address
    sigs = approvals(d, d.custodians[:THRESHOLD], record, request, requester)
    assert not c.is_disclosed(record, request)
    result = c.record_disclosure(d.anchorer, record, request, requester, sigs)  # anyone submits
    assert c.is_disclosed(record, request)
    (event,) = c.disclosure_events(d.deployment.deploy_block)
    assert (event.record_id, event.request_digest, event.requester) == (record, request, requester)
    assert event.timestamp == block_timestamp(d, result.block_number)
    # Every custodian signing is fine too; another request for the same record is its own record.
    all_sigs = approvals(d, d.custodians[::-1], record, b32("req2"), requester)
    c.record_disclosure(d.outsider, record, b32("req2"), requester, all_sigs)
    assert [e.request_digest for e in c.disclosure_events()] == [request, b32("req2")]


def test_record_disclosure_refusals(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    record, request, requester = b32("rec"), b32("req"), d.outsider.address
    k = d.custodians
    sigs = approvals(d, k[:THRESHOLD], record, request, requester)
    submit = d.outsider

    def record_with(signatures: list[bytes], req: bytes = request, who: str = requester) -> object:
        return c.record_disclosure(submit, record, req, who, signatures)

    reverts("InsufficientSignatures", 0, THRESHOLD)(lambda: record_with([]))
    reverts("InsufficientSignatures", 2, THRESHOLD)(lambda: record_with(sigs[:2]))
    reverts("DuplicateSigner", k[0].address)(lambda: record_with([*sigs[:2], sigs[0]]))
    stranger = sign_disclosure(d, d.outsider, record, request, requester)
    reverts("NotCustodian", d.outsider.address)(lambda: record_with([*sigs[:2], stranger]))
    reviewer = sign_disclosure(d, d.reviewers[0], record, request, requester)
    reverts("NotCustodian", d.reviewers[0].address)(lambda: record_with([reviewer, *sigs]))
    reverts("InvalidSignature", 2)(lambda: record_with([*sigs[:2], sigs[2][:64]]))  # 64 bytes
    reverts("InvalidSignature", 0)(lambda: record_with([sigs[0] + b"\x00", *sigs[1:]]))
    bad_v = sigs[1][:64] + bytes([sigs[1][64] + 2])
    reverts("InvalidSignature", 1)(lambda: record_with([sigs[0], bad_v, sigs[2]]))
    high_s = bytearray(sigs[2])
    s = int.from_bytes(high_s[32:64], "big")
    high_s[32:64] = (eip712.SECP256K1_N - s).to_bytes(32, "big")  # the malleable twin
    high_s[64] ^= 1  # 27 <-> 28
    reverts("InvalidSignature", 2)(lambda: record_with([*sigs[:2], bytes(high_s)]))
    # A custodian's signature over another request, or for another requester, is not theirs here.
    other = sign_disclosure(d, k[2], record, b32("other"), requester)
    assert reverts("NotCustodian")(lambda: record_with([*sigs[:2], other])).error_args != (
        k[2].address,
    )
    other_requester = sign_disclosure(d, k[2], record, request, d.admin.address)
    reverts("NotCustodian")(lambda: record_with([*sigs[:2], other_requester]))
    reverts("ZeroAddress")(
        lambda: record_with(sigs, who="0x0000000000000000000000000000000000000000")
    )
    assert not c.is_disclosed(record, request)
    record_with(sigs)
    reverts("DisclosureAlreadyRecorded", record, request)(lambda: record_with(sigs))


def test_revoked_custodian_cannot_approve(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    record, request, requester = b32("rec"), b32("req"), d.outsider.address
    c.revoke_role(d.admin, "CUSTODIAN_ROLE", d.custodians[0].address)
    sigs = approvals(d, d.custodians[:THRESHOLD], record, request, requester)
    reverts("NotCustodian", d.custodians[0].address)(
        lambda: c.record_disclosure(d.outsider, record, request, requester, sigs)
    )


def test_disclosure_threshold_is_admin_settable(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    reverts("AccessControlUnauthorizedAccount", d.outsider.address, ADMIN_ROLE)(
        lambda: c.set_disclosure_threshold(d.outsider, 1)
    )
    reverts("InvalidThreshold", 0)(lambda: c.set_disclosure_threshold(d.admin, 0))
    c.set_disclosure_threshold(d.admin, 5)
    assert c.disclosure_threshold() == 5
    record, request, requester = b32("rec"), b32("req"), d.outsider.address
    four = approvals(d, d.custodians[:4], record, request, requester)
    reverts("InsufficientSignatures", 4, 5)(
        lambda: c.record_disclosure(d.outsider, record, request, requester, four)
    )


# ---------------------------------------------------------------- roles


def test_grant_role(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    newcomer = Account.from_key(os.urandom(32))
    reverts("AccessControlUnauthorizedAccount", d.outsider.address, ADMIN_ROLE)(
        lambda: c.grant_role(d.outsider, "REVIEWER_ROLE", newcomer.address)
    )
    granted = c.grant_role(d.admin, "REVIEWER_ROLE", d.outsider.address)
    assert c.has_role("REVIEWER_ROLE", d.outsider.address)
    # Historical reads: the role as of the block before the grant, and as of the grant.
    assert not c.has_role("REVIEWER_ROLE", d.outsider.address, block=granted.block_number - 1)
    assert c.has_role("REVIEWER_ROLE", d.outsider.address, block=granted.block_number)
    # The role no longer lets its holder review (PROTOCOL.md 16.5): membership does.
    proof = open_case(d, b32("tip"))
    reverts("NotMember", INTAKE, d.outsider.address)(
        lambda: c.record_review(d.outsider, b32("tip"), INTAKE, 3, b32("n"), proof)
    )
    c.add_member(d.admin, INTAKE, d.outsider.address, b32("outsider key"))
    c.record_review(d.outsider, b32("tip"), INTAKE, 3, b32("n"), proof)
    assert c.review_of(b32("tip")).reviewer == d.outsider.address
    with pytest.raises(ProtocolError):
        c.has_role("NO_SUCH_ROLE", d.outsider.address)
