"""Agencies, members, routing and referral on a real Anvil (PROTOCOL.md sections 16.4, 16.5).

The routing trees are real (``ledger.core.routing``): a log of 12 entries anchored as two
batches, 5 then 7, each entry routed to an agency with its own salt.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain.anvil import rpc_request
from ledger.chain.client import chain_errors, send_transaction
from ledger.chain.contract import ROLES, AgencyInfo, Member, TipLedgerContract
from ledger.chain.deploy import deploy, open_deployment
from ledger.core import merkle
from ledger.core.agency import agency_id
from ledger.core.routing import (
    RoutingProof,
    agency_counts,
    pack_counts,
    route_leaf,
    routing_path,
    routing_root,
    unpack_counts,
    verify_routing,
)
from ledger.errors import ChainError, ContractRevertedError, ProtocolError

from ..chain_support import THRESHOLD, DeployedLedger

pytestmark = pytest.mark.chain

INTAKE, DSI, NACC, OAG = (agency_id(s) for s in ("intake", "dsi", "nacc", "oag"))
NAMES = {
    INTAKE: ("ศูนย์รับเรื่องร้องเรียน", "National intake desk"),
    DSI: ("กรมสอบสวนคดีพิเศษ", "Department of Special Investigation"),
    NACC: ("สำนักงาน ป.ป.ช.", "National Anti-Corruption Commission"),
}
ADMIN_ROLE = ROLES["DEFAULT_ADMIN_ROLE"]
ANCHORER_ROLE = ROLES["ANCHORER_ROLE"]
ZERO_ADDRESS = "0x" + "00" * 20
# The storage slot of Agencies' agency count, TipLedger's latest size and threshold (the
# compiler's layout: AccessControl 1 slot, EIP712 2, Agencies 2 before it).
AGENCY_COUNT_SLOT = 5

# Entries 0-4 form the first batch, 5-11 the second.
ROUTES = [INTAKE, DSI, INTAKE, NACC, INTAKE, DSI, DSI, INTAKE, NACC, INTAKE, DSI, INTAKE]
BATCHES = [(0, 5), (5, 12)]


def b32(tag: str) -> bytes:
    return hashlib.sha256(tag.encode()).digest()


def reverts(name: str, *args: object) -> Callable[[Callable[[], object]], ContractRevertedError]:
    """``reverts("X", a)(lambda: ...)``: the call must revert with custom error X(a)."""

    def run(fn: Callable[[], object]) -> ContractRevertedError:
        with pytest.raises(ContractRevertedError) as info:
            fn()
        assert isinstance(info.value, ChainError)
        assert info.value.error_name == name, str(info.value)
        if args:
            assert info.value.error_args == args, str(info.value)
        return info.value

    return run


class RoutedLog:
    """The log's entries (commitments), where each was routed, and the salts."""

    def __init__(self, routes: Sequence[bytes], tag: str = "tip") -> None:
        self.commitments = [b32(f"{tag}{i}") for i in range(len(routes))]
        self.routes = list(routes)
        self.salts = [b32(f"salt{tag}{i}") for i in range(len(routes))]

    def leaves(self, lo: int, hi: int) -> list[bytes]:
        return [
            route_leaf(self.commitments[i], self.routes[i], self.salts[i]) for i in range(lo, hi)
        ]

    def anchor(self, c: TipLedgerContract, anchorer: LocalAccount, lo: int, hi: int) -> Any:
        proof = merkle.consistency_proof(self.commitments[:hi], lo) if lo else []
        ids, counts = agency_counts(self.routes[lo:hi])
        root = merkle.root(self.commitments[:hi])
        return c.anchor(anchorer, hi, root, proof, routing_root(self.leaves(lo, hi)), ids, counts)

    def proof(self, i: int) -> RoutingProof:
        lo, hi = next((lo, hi) for lo, hi in BATCHES if lo <= i < hi)
        path = routing_path(self.leaves(lo, hi), i - lo)
        return RoutingProof(hi, i - lo, self.salts[i], tuple(path))


class Scene:
    """A deployed TipLedger with three agencies, members in each, and the log anchored."""

    def __init__(self, d: DeployedLedger) -> None:
        self.d = d
        self.c = d.contract
        for agency, (th, en) in NAMES.items():
            self.c.add_agency(d.admin, agency, th, en)
        # Members are funded dev accounts: reviewers and custodians have no special power here.
        self.intake = d.reviewers[0]
        self.dsi = d.reviewers[1]
        self.nacc = d.custodians[0]
        self.both = d.custodians[1]  # a member of intake and of dsi
        for agency, who in (
            (INTAKE, self.intake),
            (DSI, self.dsi),
            (NACC, self.nacc),
            (INTAKE, self.both),
            (DSI, self.both),
        ):
            self.c.add_member(d.admin, agency, who.address, key_of(who))
        self.log = RoutedLog(ROUTES)
        for lo, hi in BATCHES:
            self.log.anchor(self.c, d.anchorer, lo, hi)

    def tip(self, i: int) -> bytes:
        return self.log.commitments[i]


def key_of(who: LocalAccount) -> bytes:
    return b32(f"x25519 {who.address}")


@pytest.fixture
def scene(deployed: DeployedLedger) -> Scene:
    return Scene(deployed)


def call(c: TipLedgerContract, sender: LocalAccount, fn: str, *args: Any) -> None:
    """An eth_call of ``fn`` from ``sender``: reverts decoded, nothing sent."""
    with chain_errors(f"{fn}()", c.error_decoder):
        c.contract.functions[fn](*args).call({"from": sender.address})


def proof_tuple(p: RoutingProof) -> tuple[int, int, bytes, list[bytes]]:
    return (p.tree_size, p.index, p.salt, list(p.path))


# ---------------------------------------------------------------- agencies


def test_agencies_added_listed_and_deactivated(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    assert c.agency_ids() == []
    assert c.agency_info(INTAKE) is None
    added = [c.add_agency(d.admin, a, *names) for a, names in NAMES.items()]
    assert c.agency_ids() == list(NAMES)
    assert c.agency_info(DSI) == AgencyInfo(DSI, True, *NAMES[DSI], 0)
    assert c.agency_info(OAG) is None
    off = c.set_agency_active(d.admin, DSI, False)
    assert c.agency_info(DSI) == AgencyInfo(DSI, False, *NAMES[DSI], 0)
    assert c.agency_info(DSI, block=off.block_number - 1).active  # type: ignore[union-attr]
    c.set_agency_active(d.admin, DSI, True)
    assert c.agency_info(DSI).active  # type: ignore[union-attr]
    assert c.agency_ids(block=added[0].block_number) == [INTAKE]
    events = c.agency_events(d.deployment.deploy_block)
    assert [(e.kind, e.agency, e.active, e.name_th, e.name_en) for e in events] == [
        *[("added", a, True, th, en) for a, (th, en) in NAMES.items()],
        ("active", DSI, False, "", ""),
        ("active", DSI, True, "", ""),
    ]
    assert events[0].tx_hash == added[0].tx_hash
    assert [e.block_number for e in events] == sorted(e.block_number for e in events)


def test_agency_refusals(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    for who in (d.outsider, d.anchorer, d.reviewers[0]):
        reverts("AccessControlUnauthorizedAccount", who.address, ADMIN_ROLE)(
            lambda who=who: c.add_agency(who, INTAKE, "ก", "a")
        )
    reverts("InvalidAgencyId")(lambda: c.add_agency(d.admin, bytes(32), "ก", "a"))
    c.add_agency(d.admin, INTAKE, *NAMES[INTAKE])
    reverts("AgencyExists", INTAKE)(lambda: c.add_agency(d.admin, INTAKE, "อื่น", "other"))
    assert c.agency_info(INTAKE) == AgencyInfo(INTAKE, True, *NAMES[INTAKE], 0)
    reverts("UnknownAgency", DSI)(lambda: c.set_agency_active(d.admin, DSI, False))
    reverts("AccessControlUnauthorizedAccount", d.outsider.address, ADMIN_ROLE)(
        lambda: c.set_agency_active(d.outsider, INTAKE, False)
    )
    with pytest.raises(ProtocolError):
        c.add_agency(d.admin, b"intake", "ก", "a")


# ---------------------------------------------------------------- members


def test_members_added_listed_and_removed(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    c.add_agency(d.admin, INTAKE, *NAMES[INTAKE])
    c.add_agency(d.admin, DSI, *NAMES[DSI])
    people = [*d.custodians, d.outsider]  # six accounts
    added = [c.add_member(d.admin, INTAKE, p.address, key_of(p)) for p in people]
    c.add_member(d.admin, DSI, people[2].address, b32("another key"))
    assert c.members(INTAKE) == [Member(INTAKE, p.address, key_of(p)) for p in people]
    assert c.agency_info(INTAKE).member_count == 6  # type: ignore[union-attr]
    assert all(c.is_member(INTAKE, p.address) for p in people)
    assert not c.is_member(DSI, people[0].address)
    assert c.memberships_of(people[2].address) == [INTAKE, DSI]
    assert c.memberships_of(people[0].address) == [INTAKE]
    assert c.memberships_of(d.admin.address) == []
    # Removing from the middle moves the last member into the gap; from the end just pops.
    removed = c.remove_member(d.admin, INTAKE, people[1].address)
    c.remove_member(d.admin, INTAKE, people[5].address)
    c.remove_member(d.admin, INTAKE, people[0].address)
    left = [people[3], people[4], people[2]]
    assert c.members(INTAKE) == [Member(INTAKE, p.address, key_of(p)) for p in left]
    assert c.agency_info(INTAKE).member_count == 3  # type: ignore[union-attr]
    assert not c.is_member(INTAKE, people[1].address)
    assert c.is_member(INTAKE, people[4].address)
    assert c.memberships_of(people[0].address) == []
    assert c.memberships_of(people[2].address) == [INTAKE, DSI]
    # Every survivor can still be removed (the moved entries' positions were kept right).
    for p in left:
        c.remove_member(d.admin, INTAKE, p.address)
    assert c.members(INTAKE) == []
    assert c.memberships_of(people[2].address) == [DSI]
    # Re-adding works, with a new key; history reads the old state.
    c.add_member(d.admin, INTAKE, people[1].address, b32("new key"))
    assert c.members(INTAKE) == [Member(INTAKE, people[1].address, b32("new key"))]
    assert c.is_member(INTAKE, people[1].address, block=removed.block_number - 1)
    assert not c.is_member(INTAKE, people[1].address, block=removed.block_number)
    assert len(c.members(INTAKE, block=added[-1].block_number)) == 6
    assert c.members(OAG) == []
    events = c.member_events(d.deployment.deploy_block)
    assert [(e.kind, e.agency, e.member) for e in events[:7]] == [
        *[("added", INTAKE, p.address) for p in people],
        ("added", DSI, people[2].address),
    ]
    assert events[0].encryption_key == key_of(people[0])
    assert [(e.kind, e.member, e.encryption_key) for e in events[7:10]] == [
        ("removed", people[1].address, None),
        ("removed", people[5].address, None),
        ("removed", people[0].address, None),
    ]
    assert events[-1].encryption_key == b32("new key")
    assert len(events) == 7 + 6 + 1


def test_member_refusals(deployed: DeployedLedger) -> None:
    d, c = deployed, deployed.contract
    who = d.outsider.address
    reverts("UnknownAgency", INTAKE)(lambda: c.add_member(d.admin, INTAKE, who, b32("k")))
    reverts("UnknownAgency", INTAKE)(lambda: c.remove_member(d.admin, INTAKE, who))
    c.add_agency(d.admin, INTAKE, *NAMES[INTAKE])
    for sender in (d.outsider, d.anchorer, d.custodians[0]):
        reverts("AccessControlUnauthorizedAccount", sender.address, ADMIN_ROLE)(
            lambda s=sender: c.add_member(s, INTAKE, who, b32("k"))
        )
    reverts("ZeroAddress")(lambda: c.add_member(d.admin, INTAKE, ZERO_ADDRESS, b32("k")))
    reverts("ZeroKey")(lambda: c.add_member(d.admin, INTAKE, who, bytes(32)))
    reverts("NotMember", INTAKE, who)(lambda: c.remove_member(d.admin, INTAKE, who))
    c.add_member(d.admin, INTAKE, who, b32("k"))
    reverts("AlreadyMember", INTAKE, who)(lambda: c.add_member(d.admin, INTAKE, who, b32("k2")))
    reverts("AccessControlUnauthorizedAccount", who, ADMIN_ROLE)(
        lambda: c.remove_member(d.outsider, INTAKE, who)
    )
    c.remove_member(d.admin, INTAKE, who)
    reverts("NotMember", INTAKE, who)(lambda: c.remove_member(d.admin, INTAKE, who))
    with pytest.raises(ProtocolError):
        c.add_member(d.admin, INTAKE, "not an address", b32("k"))


# ---------------------------------------------------------------- anchoring with routing


def test_anchor_carries_routing(scene: Scene) -> None:
    s, c = scene, scene.c
    anchored = c.anchored_events()
    routed = c.routed_events()
    assert [e.tree_size for e in anchored] == [5, 12]
    first, second = routed
    assert (first.tree_size, first.previous_size) == (5, 0)
    assert first.routing_root == routing_root(s.log.leaves(0, 5))
    # By agency index, the order added (intake, dsi, nacc), not by id.
    assert c.agency_ids() == [INTAKE, DSI, NACC]
    assert first.agencies == (INTAKE, DSI, NACC)
    assert first.counts == (3, 1, 1)
    assert (second.tree_size, second.previous_size) == (12, 5)
    assert (second.agencies, second.counts) == ((INTAKE, DSI, NACC), (3, 3, 1))
    # On chain, the packed entries the anchor carried: uint16 index || uint32 count.
    raw = [log["args"] for log in c.contract.events.Routed().get_logs(from_block=0)]
    assert [bytes(a["counts"]) for a in raw] == [
        bytes.fromhex("0000" + "00000003" + "0001" + "00000001" + "0002" + "00000001"),
        pack_counts([0, 1, 2], [3, 3, 1]),
    ]
    # Anchored first, Routed right after it in the same transaction.
    for a, r in zip(anchored, routed, strict=True):
        assert (a.tx_hash, a.block_number, a.log_index + 1) == (
            r.tx_hash,
            r.block_number,
            r.log_index,
        )
    assert c.routing_of(5) == (first.routing_root, 0)
    assert c.routing_of(12) == (second.routing_root, 5)
    for size in (0, 4, 6, 13):
        assert c.routing_of(size) == (bytes(32), 0)
    assert c.checkpoint(12).root_hash == merkle.root(s.log.commitments)
    # Another binding, knowing no agency yet, maps the indexes by reading agencyIds().
    assert TipLedgerContract(s.d.w3, c.address).routed_events() == routed


def test_anchor_routing_refusals(scene: Scene) -> None:
    s, c = scene, scene.c
    d = s.d
    log = RoutedLog([*ROUTES, INTAKE, DSI, DSI], tag="tip")  # the same log, grown by 3
    root = merkle.root(log.commitments)
    proof = merkle.consistency_proof(log.commitments, 12)
    routing = routing_root(log.leaves(12, 15))
    # Indexes: intake 0, dsi 1, nacc 2 (three agencies).

    def dry(agencies: list[bytes], counts: list[int], routing_root: bytes = routing) -> None:
        c.simulate_anchor(d.anchorer.address, 15, root, proof, routing_root, agencies, counts)

    def raw(counts: bytes, routing_root: bytes = routing) -> None:
        call(c, d.anchorer, "anchor", 15, root, proof, routing_root, counts)

    def entry(index: int, count: int) -> bytes:
        return index.to_bytes(2, "big") + count.to_bytes(4, "big")

    dry([DSI, INTAKE], [2, 1])
    dry([INTAKE, DSI], [1, 2])  # the binding orders them by index
    raw(entry(0, 1) + entry(1, 2))
    reverts("RoutingCountMismatch", 2, 3)(lambda: dry([DSI, INTAKE], [1, 1]))
    reverts("RoutingCountMismatch", 4, 3)(lambda: dry([DSI, INTAKE], [2, 2]))
    reverts("RoutingCountMismatch", 0, 3)(lambda: dry([], []))
    reverts("RoutingCountMismatch", 2**32 + 1, 3)(
        lambda: raw(entry(0, 2**32 - 1) + entry(1, 2))  # the sum is not cut to 32 bits
    )
    # Indexes not strictly increasing, unknown, or naming an agency with no tips.
    reverts("UnsortedAgencies")(lambda: raw(entry(1, 2) + entry(0, 1)))
    reverts("UnsortedAgencies")(lambda: raw(entry(1, 2) + entry(1, 1)))
    reverts("UnsortedAgencies")(lambda: dry([DSI, DSI], [2, 1]))
    reverts("UnknownAgencyIndex", 3)(lambda: raw(entry(0, 2) + entry(3, 1)))
    reverts("UnknownAgencyIndex", 65535)(lambda: raw(entry(65535, 3)))
    reverts("ZeroRoutingCount", 2)(lambda: raw(entry(0, 3) + entry(2, 0)))
    reverts("ZeroRoutingCount", 0)(lambda: dry([INTAKE, DSI], [0, 3]))
    for cut in (entry(0, 3)[:5], entry(0, 3) + b"\x00", entry(0, 2) + entry(1, 1)[:4]):
        reverts("MalformedRoutingCounts", len(cut))(lambda cut=cut: raw(cut))
    reverts("ZeroRootHash")(lambda: dry([DSI, INTAKE], [2, 1], bytes(32)))
    # The binding refuses what it cannot write: an id that is no agency, a count past uint32.
    with pytest.raises(ProtocolError, match="there is no agency oag on chain"):
        dry([DSI, OAG], [2, 1])
    with pytest.raises(ProtocolError, match=r"there is no agency 0x0{64} on chain"):
        dry([bytes(32), DSI], [1, 2])
    with pytest.raises(ProtocolError, match="1 agencies for 2 routing counts"):
        dry([DSI], [2, 1])
    with pytest.raises(ProtocolError, match=r"0\.\.2\^32-1"):
        dry([DSI], [2**32])
    # The ABI padding after the counts is not read: dirty padding changes nothing logged.
    data = bytearray(c.encode_anchor(15, root, proof, routing, [DSI, INTAKE], [2, 1]))
    assert data[-20:] == bytes(20)  # 12 bytes of counts, then zeros to the word's end
    data[-1] = 0xFF
    for who in (d.outsider, d.admin, s.intake):
        reverts("AccessControlUnauthorizedAccount", who.address, ANCHORER_ROLE)(
            lambda who=who: c.anchor(who, 15, root, proof, routing, [DSI, INTAKE], [2, 1])
        )
    # A deactivated agency still counts: deactivating one must not stall the log.
    c.set_agency_active(d.admin, INTAKE, False)
    sent = send_transaction(
        d.w3, d.anchorer, {"to": c.address, "data": bytes(data)}, what="anchor()"
    )
    assert c.routing_of(15) == (routing, 12)
    assert c.latest().tree_size == 15
    (event,) = c.routed_events(sent["blockNumber"])
    assert (event.agencies, event.counts) == ((INTAKE, DSI), (1, 2))
    anchored, routed = sent["logs"]  # the raw logs, padding and all
    assert bytes(routed["data"])[-32:] == entry(0, 1) + entry(1, 2) + bytes(20)
    assert bytes(anchored["topics"][1])[-8:] == (15).to_bytes(8, "big")


def test_a_batch_routed_to_fifty_agencies(deployed: DeployedLedger) -> None:
    """50 agencies in one batch, the binding's cached index list refreshed when one is added,
    every agency's cases open with their proofs, and no storage read per agency listed."""
    d, c = deployed, deployed.contract
    slugs = [f"agency-{i:02d}" for i in range(50)]
    ids = [agency_id(slug) for slug in reversed(slugs)]  # index order is not id order
    for agency in ids[:49]:
        c.add_agency(d.admin, agency, "หน่วยงาน", "Agency")
    member = d.reviewers[0]
    rng = random.Random(50)
    routes = [ids[i % 49] for i in range(49)] + [rng.choice(ids[:49]) for _ in range(51)]
    log = RoutedLog(routes, tag="fifty")
    first = log.anchor(c, d.anchorer, 0, 100)  # 49 agencies, each at least once
    # The 50th agency, added after the binding cached 49: anchoring to it re-reads the list.
    c.add_agency(d.admin, ids[49], "หน่วยงาน", "Agency")
    log = RoutedLog([*routes, *[ids[i] for i in range(50)], ids[49], ids[0]], tag="fifty")
    log_batches = [(0, 100), (100, 152)]
    proof = merkle.consistency_proof(log.commitments, 100)
    agencies, counts = agency_counts(log.routes[100:152])
    assert len(agencies) == 50
    second = c.anchor(
        d.anchorer,
        152,
        merkle.root(log.commitments),
        proof,
        routing_root(log.leaves(100, 152)),
        agencies,
        counts,
    )
    routed = c.routed_events()
    assert [len(r.agencies) for r in routed] == [49, 50]
    assert routed[1].agencies == tuple(ids)  # in index order
    assert dict(zip(routed[1].agencies, routed[1].counts, strict=True)) == dict(
        zip(agencies, counts, strict=True)
    )
    assert (routed[1].counts[0], routed[1].counts[49]) == (2, 2)
    assert sum(routed[0].counts) == 100
    (raw,) = [
        bytes(e["args"]["counts"]) for e in c.contract.events.Routed().get_logs(from_block=0)
    ][1:]
    assert unpack_counts(raw) == [(i, 2 if i in (0, 49) else 1) for i in range(50)]
    # The cases of the first and the last agency open with their routing proofs.
    for agency in (ids[0], ids[49]):
        c.add_member(d.admin, agency, member.address, key_of(member))
        i = next(i for i in range(100, 152) if log.routes[i] == agency)
        lo, hi = next(b for b in log_batches if b[0] <= i < b[1])
        path = routing_path(log.leaves(lo, hi), i - lo)
        c.record_review(
            member,
            log.commitments[i],
            agency,
            2,
            b32("n"),
            RoutingProof(hi, i - lo, log.salts[i], tuple(path)),
        )
        assert c.holds(log.commitments[i], agency)
    # Per agency listed, a few hundred gas (calldata, loop, event bytes), never a cold
    # storage read (2,100): compare one agency and fifty for batches of the same shape.
    one = fresh_with(d, ids)
    many = fresh_with(d, ids)
    batch = [ids[0]] * 100
    spread = [ids[i % 50] for i in range(100)]
    gas_one = RoutedLog(batch, tag="g").anchor(one, d.anchorer, 0, 100).gas_used
    gas_many = RoutedLog(spread, tag="g").anchor(many, d.anchorer, 0, 100).gas_used
    assert 0 < (gas_many - gas_one) / 49 < 400, (gas_one, gas_many)
    assert second.block_number > first.block_number


def fresh_with(d: DeployedLedger, agencies: Sequence[bytes]) -> TipLedgerContract:
    c = open_deployment(d.w3, deploy(d.w3, d.admin, anchorer=d.anchorer.address))
    for agency in agencies:
        c.add_agency(d.admin, agency, "หน่วยงาน", "Agency")
    return c


def test_at_most_65536_agencies(deployed: DeployedLedger) -> None:
    """The agency count shares a storage slot with the latest size; set it to the limit there
    (65,536 real additions would take an hour) and the next agency is refused, while an anchor
    may name the last index."""
    d, c = deployed, deployed.contract
    c.add_agency(d.admin, INTAKE, *NAMES[INTAKE])
    c.anchor(d.anchorer, 1, merkle.root([b32("t0")]), [], b32("routing"), [INTAKE], [1])
    slot = int.from_bytes(d.w3.eth.get_storage_at(c.address, AGENCY_COUNT_SLOT), "big")
    # Bits 0-31: the agency count (1); 32-95: the latest size (1); 96-103: the threshold.
    assert slot & 0xFFFFFFFF == 1
    assert (slot >> 32) & (2**64 - 1) == 1
    assert slot >> 96 == THRESHOLD
    limit = (slot & ~0xFFFFFFFF) | 65_536
    rpc_request(
        d.devchain.rpc_url,
        "anvil_setStorageAt",
        [c.address, hex(AGENCY_COUNT_SLOT), "0x" + limit.to_bytes(32, "big").hex()],
    )
    reverts("TooManyAgencies")(lambda: c.add_agency(d.admin, DSI, *NAMES[DSI]))
    entries = [b32("t0"), b32("t1"), b32("t2")]
    call(
        c,
        d.anchorer,
        "anchor",
        3,
        merkle.root(entries),
        merkle.consistency_proof(entries, 1),
        b32("routing"),
        pack_counts([0, 65_535], [1, 1]),
    )
    assert (c.latest().tree_size, c.disclosure_threshold()) == (1, THRESHOLD)


# ---------------------------------------------------------------- opening and reviewing


def test_review_opens_the_case(scene: Scene) -> None:
    s, c = scene, scene.c
    tip = s.tip(7)  # second batch, index 2, routed to intake
    assert not c.case_opened(tip)
    assert not c.holds(tip, INTAKE)
    proof = s.log.proof(7)
    assert (proof.tree_size, proof.index) == (12, 2)
    first = c.record_review(s.intake, tip, INTAKE, 2, b32("note"), proof)
    assert c.case_opened(tip)
    assert c.holds(tip, INTAKE)
    assert not c.holds(tip, DSI)
    assert not c.case_opened(tip, block=first.block_number - 1)
    (opened,) = c.case_opened_events()
    assert (opened.commitment, opened.agency, opened.tree_size, opened.index) == (
        tip,
        INTAKE,
        12,
        2,
    )
    assert (opened.tx_hash, opened.block_number) == (first.tx_hash, first.block_number)
    # Once open, no proof is needed, and any proof given is ignored.
    c.record_review(s.both, tip, INTAKE, 3, b32("note 2"), None)
    junk = RoutingProof(5, 0, b32("junk"), ())
    last = c.record_review(s.intake, tip, INTAKE, 4, b32("note 3"), junk)
    review = c.review_of(tip)
    assert (review.status, review.reviewer) == (4, s.intake.address)
    assert review.timestamp == int(s.d.w3.eth.get_block(last.block_number)["timestamp"])
    assert c.review_by(tip, INTAKE) == review
    assert c.review_by(tip, DSI).status == 0
    events = c.review_events()
    assert [(e.commitment, e.agency, e.status, e.note_digest, e.reviewer) for e in events] == [
        (tip, INTAKE, 2, b32("note"), s.intake.address),
        (tip, INTAKE, 3, b32("note 2"), s.both.address),
        (tip, INTAKE, 4, b32("note 3"), s.intake.address),
    ]
    assert events[-1].timestamp == review.timestamp
    assert len(c.case_opened_events()) == 1


def test_every_entry_of_both_batches_opens_with_its_proof(scene: Scene) -> None:
    """The contract's RFC 9162 inclusion check agrees with ledger.core.routing at every index,
    and refuses the path of every other index."""
    s, c = scene, scene.c
    members = {INTAKE: s.intake, DSI: s.dsi, NACC: s.nacc}
    for i, agency in enumerate(ROUTES):
        proof = s.log.proof(i)
        lo = BATCHES[0][1] if proof.tree_size == 12 else 0
        root, previous = c.routing_of(proof.tree_size)
        assert previous == lo
        assert verify_routing(
            s.tip(i), agency, proof.salt, proof.index, proof.tree_size - lo, proof.path, root
        )
        call(c, members[agency], "recordReview", s.tip(i), agency, 1, b32("n"), proof_tuple(proof))
        for j in range(proof.tree_size - lo):
            if j != proof.index:
                other = replace(proof, index=j)
                reverts("InvalidRoutingProof", s.tip(i))(
                    lambda o=other, a=agency, i=i: call(
                        c, members[a], "recordReview", s.tip(i), a, 1, b32("n"), proof_tuple(o)
                    )
                )


def test_bad_routing_proofs_refused(scene: Scene) -> None:
    s, c = scene, scene.c
    tip, good = s.tip(9), s.log.proof(9)  # second batch, index 4 of 7, routed to intake
    bad = reverts("InvalidRoutingProof", tip)

    def review(
        proof: RoutingProof | None, who: LocalAccount = s.intake, agency: bytes = INTAKE
    ) -> Any:
        return c.record_review(who, tip, agency, 2, b32("n"), proof)

    def raw(tree_size: int, index: int, salt: bytes, path: Sequence[bytes]) -> None:
        # Past what RoutingProof lets a caller build (index >= tree_size).
        call(
            c,
            s.intake,
            "recordReview",
            tip,
            INTAKE,
            2,
            b32("n"),
            (tree_size, index, salt, list(path)),
        )

    bad(lambda: review(replace(good, salt=b32("other salt"))))
    bad(lambda: review(replace(good, index=3)))
    bad(lambda: review(replace(good, index=7)))  # past the batch of 7, within the tree of 12
    bad(lambda: raw(12, 12, good.salt, good.path))
    bad(lambda: raw(12, 2**64 - 1, good.salt, good.path))
    bad(lambda: review(replace(good, path=good.path[:-1])))
    bad(lambda: review(replace(good, path=(*good.path, b32("extra")))))
    bad(lambda: review(replace(good, path=good.path[::-1])))
    bad(lambda: review(replace(good, path=(b32("x"), *good.path[1:]))))
    # The right path, but against the other checkpoint's routing.
    bad(lambda: review(replace(good, tree_size=5, index=4)))
    # Another agency's member claiming the case for their agency: the leaf names intake.
    bad(lambda: review(good, who=s.dsi, agency=DSI))
    # The proof of another entry in the same batch, for this commitment.
    bad(lambda: review(s.log.proof(11)))
    # A checkpoint that carries no routing (never anchored at that size).
    reverts("UnroutedCheckpoint", 11)(lambda: review(replace(good, tree_size=11)))
    reverts("UnroutedCheckpoint", 2**64 - 1)(lambda: review(replace(good, tree_size=2**64 - 1)))
    # No proof for a case nobody opened: nobody holds it yet.
    reverts("CaseNotHeld", tip, INTAKE)(lambda: review(None))
    reverts("CaseNotHeld", tip, INTAKE)(lambda: raw(0, 0, bytes(32), []))
    assert not c.case_opened(tip)
    review(good)
    assert c.holds(tip, INTAKE)


def test_review_refusals(scene: Scene) -> None:
    s, c = scene, scene.c
    tip, proof = s.tip(0), s.log.proof(0)
    for status in (0, 6, 255):
        reverts("InvalidReviewStatus", status)(
            lambda st=status: c.record_review(s.intake, tip, INTAKE, st, b32("n"), proof)
        )
    reverts("UnknownAgency", OAG)(lambda: c.record_review(s.intake, tip, OAG, 2, b32("n"), proof))
    for who in (s.dsi, s.d.admin, s.d.anchorer, s.d.outsider):
        reverts("NotMember", INTAKE, who.address)(
            lambda w=who: c.record_review(w, tip, INTAKE, 2, b32("n"), proof)
        )
    c.record_review(s.intake, tip, INTAKE, 2, b32("n"), proof)
    # Open now, but held by intake only: dsi's member may not review it, proof or not.
    reverts("CaseNotHeld", tip, DSI)(lambda: c.record_review(s.dsi, tip, DSI, 2, b32("n"), None))
    reverts("CaseNotHeld", tip, DSI)(lambda: c.record_review(s.both, tip, DSI, 2, b32("n"), proof))
    assert c.review_by(tip, DSI).status == 0


def test_removed_member_is_refused(scene: Scene) -> None:
    s, c = scene, scene.c
    d = s.d
    tip = s.tip(2)
    c.record_review(s.intake, tip, INTAKE, 2, b32("n"), s.log.proof(2))
    removal = c.remove_member(d.admin, INTAKE, s.intake.address)
    assert c.is_member(INTAKE, s.intake.address, block=removal.block_number - 1)
    reverts("NotMember", INTAKE, s.intake.address)(
        lambda: c.record_review(s.intake, tip, INTAKE, 3, b32("n"), None)
    )
    reverts("NotMember", INTAKE, s.intake.address)(
        lambda: c.refer(s.intake, tip, INTAKE, DSI, False, None)
    )
    # The other member still may; the removed one again once re-added.
    c.record_review(s.both, tip, INTAKE, 3, b32("n"), None)
    c.add_member(d.admin, INTAKE, s.intake.address, key_of(s.intake))
    c.record_review(s.intake, tip, INTAKE, 4, b32("n"), None)
    assert c.review_of(tip).status == 4


# ---------------------------------------------------------------- referral


def test_referral_moves_the_case_on_and_back(scene: Scene) -> None:
    s, c = scene, scene.c
    tip = s.tip(4)  # first batch, routed to intake
    # A referral opens the case too: intake refers it to dsi without keeping access.
    first = c.refer(s.intake, tip, INTAKE, DSI, False, s.log.proof(4))
    assert c.case_opened(tip)
    assert (c.holds(tip, INTAKE), c.holds(tip, DSI)) == (False, True)
    (opened,) = c.case_opened_events()
    assert (opened.commitment, opened.agency, opened.tree_size, opened.index) == (tip, INTAKE, 5, 4)
    reverts("CaseNotHeld", tip, INTAKE)(
        lambda: c.record_review(s.intake, tip, INTAKE, 2, b32("n"), s.log.proof(4))
    )
    c.record_review(s.dsi, tip, DSI, 2, b32("dsi note"), None)
    # dsi refers on to nacc and keeps access; both hold; nacc reviews.
    c.refer(s.dsi, tip, DSI, NACC, True, None)
    assert (c.holds(tip, INTAKE), c.holds(tip, DSI), c.holds(tip, NACC)) == (False, True, True)
    c.record_review(s.nacc, tip, NACC, 3, b32("nacc note"), None)
    c.record_review(s.dsi, tip, DSI, 4, b32("dsi note 2"), None)
    # nacc refers it back to intake, letting go; then intake back to nacc.
    c.refer(s.nacc, tip, NACC, INTAKE, False, None)
    assert (c.holds(tip, INTAKE), c.holds(tip, DSI), c.holds(tip, NACC)) == (True, True, False)
    c.record_review(s.intake, tip, INTAKE, 5, b32("intake note"), None)
    last = c.refer(s.both, tip, INTAKE, NACC, True, None)
    assert (c.holds(tip, INTAKE), c.holds(tip, DSI), c.holds(tip, NACC)) == (True, True, True)
    # The latest review over all, and each agency's latest, kept after letting go.
    assert (c.review_of(tip).status, c.review_of(tip).reviewer) == (5, s.intake.address)
    assert c.review_by(tip, DSI).status == 4
    assert (c.review_by(tip, NACC).status, c.review_by(tip, NACC).reviewer) == (3, s.nacc.address)
    events = c.referred_events()
    assert [(e.from_agency, e.to_agency, e.keep_access, e.by) for e in events] == [
        (INTAKE, DSI, False, s.intake.address),
        (DSI, NACC, True, s.dsi.address),
        (NACC, INTAKE, False, s.nacc.address),
        (INTAKE, NACC, True, s.both.address),
    ]
    assert all(e.commitment == tip for e in events)
    assert events[0].tx_hash == first.tx_hash
    assert events[-1].timestamp == int(s.d.w3.eth.get_block(last.block_number)["timestamp"])
    assert [e.agency for e in c.review_events()] == [DSI, NACC, DSI, INTAKE]


def test_referral_refusals(scene: Scene) -> None:
    s, c = scene, scene.c
    d = s.d
    tip, proof = s.tip(1), s.log.proof(1)  # first batch, routed to dsi
    reverts("UnknownAgency", OAG)(lambda: c.refer(s.dsi, tip, DSI, OAG, False, proof))
    reverts("SameAgency", DSI)(lambda: c.refer(s.dsi, tip, DSI, DSI, False, proof))
    reverts("NotMember", DSI, s.intake.address)(
        lambda: c.refer(s.intake, tip, DSI, NACC, False, proof)
    )
    reverts("UnknownAgency", OAG)(lambda: c.refer(s.dsi, tip, OAG, NACC, False, proof))
    # Not opened and no proof; or a proof for an agency it was not routed to.
    reverts("CaseNotHeld", tip, DSI)(lambda: c.refer(s.dsi, tip, DSI, NACC, False, None))
    reverts("InvalidRoutingProof", tip)(lambda: c.refer(s.intake, tip, INTAKE, NACC, False, proof))
    c.set_agency_active(d.admin, NACC, False)
    reverts("AgencyInactive", NACC)(lambda: c.refer(s.dsi, tip, DSI, NACC, False, proof))
    assert not c.case_opened(tip)
    c.refer(s.dsi, tip, DSI, INTAKE, True, proof)
    reverts("AlreadyHolds", tip, INTAKE)(lambda: c.refer(s.dsi, tip, DSI, INTAKE, True, None))
    reverts("AlreadyHolds", tip, DSI)(lambda: c.refer(s.intake, tip, INTAKE, DSI, False, None))
    # An inactive agency's members keep the cases they hold.
    c.set_agency_active(d.admin, NACC, True)
    c.refer(s.dsi, tip, DSI, NACC, False, None)
    c.set_agency_active(d.admin, NACC, False)
    c.record_review(s.nacc, tip, NACC, 2, b32("n"), None)
    reverts("CaseNotHeld", tip, DSI)(lambda: c.refer(s.dsi, tip, DSI, INTAKE, False, None))
    # A member of intake and dsi cannot refer as dsi what only intake and nacc hold.
    reverts("CaseNotHeld", tip, DSI)(lambda: c.refer(s.both, tip, DSI, INTAKE, False, proof))
    c.refer(s.nacc, tip, NACC, DSI, True, None)  # to an active agency, from an inactive one
    assert (c.holds(tip, DSI), c.holds(tip, NACC), c.holds(tip, INTAKE)) == (True, True, True)


def test_events_read_in_ranges(scene: Scene) -> None:
    s, c = scene, scene.c
    r1 = c.record_review(s.intake, s.tip(0), INTAKE, 2, b32("n"), s.log.proof(0))
    r2 = c.refer(s.dsi, s.tip(5), DSI, NACC, False, s.log.proof(5))
    assert [e.commitment for e in c.case_opened_events(r1.block_number, r1.block_number)] == [
        s.tip(0)
    ]
    assert [e.commitment for e in c.case_opened_events(r2.block_number)] == [s.tip(5)]
    assert [e.to_agency for e in c.referred_events(r1.block_number)] == [NACC]
    assert c.referred_events(0, r1.block_number) == []
    assert c.routed_events(r1.block_number) == []
    assert Web3.is_checksum_address(c.referred_events()[0].by)


def test_inclusion_check_at_the_edges_of_a_larger_batch(deployed: DeployedLedger) -> None:
    """Batches of 1 and 100 (paths up to 7 nodes, a right edge with no sibling): the contract's
    RFC 9162 check opens exactly the entries ledger.core.routing says it should."""
    d, c = deployed, deployed.contract
    c.add_agency(d.admin, INTAKE, *NAMES[INTAKE])
    member = d.reviewers[0]
    c.add_member(d.admin, INTAKE, member.address, key_of(member))
    log = RoutedLog([INTAKE] * 101, tag="big")
    log.anchor(c, d.anchorer, 0, 1)
    log.anchor(c, d.anchorer, 1, 101)
    assert c.routing_of(1) == (routing_root(log.leaves(0, 1)), 0)
    assert c.routing_of(101)[1] == 1
    only = RoutingProof(1, 0, log.salts[0], ())
    call(c, member, "recordReview", log.commitments[0], INTAKE, 1, b32("n"), proof_tuple(only))
    leaves = log.leaves(1, 101)
    for index in (0, 1, 31, 32, 63, 64, 95, 96, 98, 99):
        tip = log.commitments[1 + index]
        proof = RoutingProof(101, index, log.salts[1 + index], tuple(routing_path(leaves, index)))
        call(c, member, "recordReview", tip, INTAKE, 1, b32("n"), proof_tuple(proof))
        # The same path claimed at the mirror index, or one step up the tree, is refused.
        for wrong in (99 - index, index ^ 1):
            if wrong != index:
                reverts("InvalidRoutingProof", tip)(
                    lambda w=wrong, p=proof, t=tip: call(
                        c,
                        member,
                        "recordReview",
                        t,
                        INTAKE,
                        1,
                        b32("n"),
                        proof_tuple(replace(p, index=w)),
                    )
                )
        reverts("InvalidRoutingProof", tip)(
            lambda p=proof, t=tip: call(
                c,
                member,
                "recordReview",
                t,
                INTAKE,
                1,
                b32("n"),
                proof_tuple(replace(p, path=p.path[:-1])),
            )
        )
