"""Accountability per agency on a real Anvil: two agencies and their members, checkpoints
anchored with real routing (``ledger.core.routing``), reviews, a referral and a late answer,
then ``run_audit`` and ``tipledger audit`` read the per-agency figures from the chain."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from ledger.audit import MemoryEntrySource, run_audit
from ledger.audit.auditor import AuditOptions
from ledger.audit.deadlines import PRESETS
from ledger.chain.anvil import Devchain
from ledger.core.agency import agency_id
from ledger.core.encoding import to_hex
from ledger.core.routing import RoutingProof, agency_counts, route_leaf, routing_path, routing_root
from ledger.core.tree import MerkleTree
from ledger.store import LogStore, open_database

from ..chain_support import DeployedLedger
from .conftest import deploy_on, rpc, run_audit_cli, violation_lines, warp

pytestmark = pytest.mark.chain

DAY = 86_400
INTAKE = agency_id("intake")
POLICE = agency_id("police")


@dataclass
class Routed:
    """A ledger anchored batch by batch with routing, as the sequencer would."""

    chain: DeployedLedger
    entries: list[bytes]
    tree: MerkleTree
    routes: dict[bytes, tuple[int, int, bytes, list[bytes]]]  # commitment -> tree size, index...
    anchored_at: dict[int, int]

    def anchor(self, batch: list[tuple[bytes, bytes]]) -> int:
        """Append ``(commitment, agency)`` pairs and anchor them; the anchor's timestamp."""
        previous = self.tree.size
        salts = [os.urandom(32) for _ in batch]
        leaves = [route_leaf(c, a, s) for (c, a), s in zip(batch, salts, strict=True)]
        for c, _ in batch:
            self.tree.append(c)
            self.entries.append(c)
        size = self.tree.size
        proof = self.tree.consistency_proof(previous, size) if previous else []
        ids, counts = agency_counts([a for _, a in batch])
        result = self.chain.contract.anchor(
            self.chain.anchorer, size, self.tree.root(size), proof, routing_root(leaves), ids,
            counts,
        )  # fmt: skip
        for i, ((c, _), salt) in enumerate(zip(batch, salts, strict=True)):
            self.routes[c] = (size, i, salt, routing_path(leaves, i))
        self.anchored_at[size] = result.block_timestamp
        return result.block_timestamp

    def proof(self, commitment: bytes) -> RoutingProof:
        size, index, salt, path = self.routes[commitment]
        return RoutingProof(size, index, salt, tuple(path))

    def time_of(self, block: int) -> int:
        return int(self.chain.w3.eth.get_block(block)["timestamp"])


def build(chain: DeployedLedger, warp_chain: Devchain) -> tuple[Routed, dict[str, int]]:
    """Batch 1: entries 0-3 to intake, intake, police, intake; batch 2: 4 intake, 5 police.
    intake reviews entry 0 and refers entry 1 to police, which substantiates it; 20 days on,
    police looks at entry 2 (late for a 15-day deadline). Entries 3, 4, 5 are never opened."""
    c = chain.contract
    admin = chain.admin
    officer, inspector = chain.reviewers
    c.add_agency(admin, INTAKE, "ศูนย์รับเรื่องร้องเรียน", "National intake desk")
    c.add_agency(admin, POLICE, "สำนักงานตำรวจแห่งชาติ", "Royal Thai Police")
    c.add_member(admin, INTAKE, officer.address, os.urandom(32))
    c.add_member(admin, POLICE, inspector.address, os.urandom(32))
    ledger = Routed(chain, [], MerkleTree(), {}, {})
    tips = [os.urandom(32) for _ in range(6)]
    ledger.anchor([(tips[0], INTAKE), (tips[1], INTAKE), (tips[2], POLICE), (tips[3], INTAKE)])
    ledger.anchor([(tips[4], INTAKE), (tips[5], POLICE)])
    times = {}
    r = c.record_review(officer, tips[0], INTAKE, 1, os.urandom(32), ledger.proof(tips[0]))
    times["intake reviews 0"] = ledger.time_of(r.block_number)
    r = c.refer(officer, tips[1], INTAKE, POLICE, False, ledger.proof(tips[1]))
    times["intake refers 1"] = ledger.time_of(r.block_number)
    r = c.record_review(inspector, tips[1], POLICE, 2, os.urandom(32), None)
    times["police substantiates 1"] = ledger.time_of(r.block_number)
    warp(warp_chain, 20 * DAY)
    r = c.record_review(inspector, tips[2], POLICE, 1, os.urandom(32), ledger.proof(tips[2]))
    times["police reviews 2"] = ledger.time_of(r.block_number)
    return ledger, times


def test_the_per_agency_summary_is_read_from_the_chain(
    warp_chain: Devchain, tmp_path: Path, home: Path
) -> None:
    chain = deploy_on(warp_chain)
    ledger, times = build(chain, warp_chain)
    first = ledger.anchored_at[4]
    result = run_audit(
        chain.contract,
        MemoryEntrySource(ledger.entries),
        AuditOptions.of(PRESETS["th"]),
        from_block=chain.deployment.deploy_block,
    )
    assert result.ok, [v.line() for v in result.violations]
    by = {a.slug: a for a in result.agencies}
    assert list(by) == ["intake", "police"]
    intake, police = by["intake"], by["police"]
    assert (intake.name_th, intake.name_en) == ("ศูนย์รับเรื่องร้องเรียน", "National intake desk")
    assert (intake.received, intake.opened, intake.referrals_in, intake.referrals_out) == (
        4,
        2,
        0,
        1,
    )
    assert (police.received, police.opened, police.referrals_in, police.referrals_out) == (
        2,
        1,
        1,
        0,
    )
    assert (intake.reviews, police.reviews) == (1, 2)
    assert intake.to_ack == sorted(
        [times["intake reviews 0"] - first, times["intake refers 1"] - first]
    )
    assert intake.to_outcome == [times["intake refers 1"] - first]  # the referral away
    assert police.to_ack == [
        times["police substantiates 1"] - first,
        times["police reviews 2"] - first,
    ]
    assert police.to_outcome == [times["police substantiates 1"] - first]
    assert police.ack_worst == times["police reviews 2"] - first >= 20 * DAY
    # 15 days: both batches due. intake: entries 3 and 4 never opened. police: entry 2
    # answered after 20 days, entry 5 never opened.
    assert (intake.ack.due, intake.ack.late, intake.ack.open) == (4, 2, 2)
    assert (police.ack.due, police.ack.late, police.ack.open) == (2, 2, 1)
    assert intake.outcome.due == police.outcome.due == 0  # 90 days: not yet

    # The command, with entries from a real store: text, JSON and HTML carry the section.
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    store = LogStore(open_database(url))
    store.bind_deployment(chain.deployment.chain_id, chain.deployment.address)
    store.append(ledger.entries)
    args = [
        "--rpc", warp_chain.rpc_url, "--contract", chain.deployment.address, "--database", url,
        "--json", str(tmp_path / "audit.json"), "--html", str(tmp_path / "audit.html"),
        "--lang", "en",
    ]  # fmt: skip
    done = run_audit_cli(home, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert violation_lines(done.stderr) == []
    assert "agencies     2 (deadlines th: ITA (NACC)" in done.stdout
    assert "National intake desk / ศูนย์รับเรื่องร้องเรียน: 4 received, 2 opened" in done.stdout
    assert "past 15 days: 2 of 2 (1 open)" in done.stdout  # police
    report = json.loads((tmp_path / "audit.json").read_text())
    assert [a["agency"] for a in report["agencies"]] == ["intake", "police"]
    assert report["agencies"][1]["past_first_response_deadline"] == {
        "limit_days": 15,
        "due": 2,
        "late": 2,
        "open": 1,
    }
    html = (tmp_path / "audit.html").read_text(encoding="utf-8")
    assert "Accountability per agency" in html
    assert "สำนักงานตำรวจแห่งชาติ" in html

    # --deadlines overrides the setting: with 30 days nothing is due yet.
    later = run_audit_cli(home, *args, "--deadlines", "ack=30d,outcome=90d")
    assert later.returncode == 0, later.stdout + later.stderr
    report = json.loads((tmp_path / "audit.json").read_text())
    assert report["options"]["deadlines"] == "ack=30d,outcome=90d"
    assert [a["past_first_response_deadline"]["due"] for a in report["agencies"]] == [0, 0]
    bad = run_audit_cli(home, *args, "--deadlines", "soon")
    assert bad.returncode == 2
    assert "expected a preset" in bad.stderr


# TipLedger's storage (bases first): AccessControl's roles (slot 0), EIP712's two fallback
# strings (1, 2), then Agencies' _agencies (3) (tests/unit/chain/test_artifact.py reads the
# layout). An Agency is {exists+active, members, position} (its names live only in events):
# position is its 3rd slot.
AGENCIES_SLOT = 3
POSITION_OFFSET = 2


def backdoor_member(chain: DeployedLedger, agency: bytes, account: str) -> None:
    """Make ``account`` a member of ``agency`` in storage only: no MemberAdded event, as a
    compromised node or contract would. ``isMember`` then says yes; the events say no."""
    base = int.from_bytes(keccak(agency + AGENCIES_SLOT.to_bytes(32, "big")), "big")
    position = (base + POSITION_OFFSET).to_bytes(32, "big")
    slot = keccak(bytes(12) + bytes.fromhex(account[2:]) + position)
    rpc(
        chain.devchain,
        "anvil_setStorageAt",
        chain.deployment.address,
        "0x" + slot.hex(),
        "0x" + (1).to_bytes(32, "big").hex(),
    )
    assert chain.contract.is_member(agency, account)


def test_a_review_by_someone_never_made_a_member_is_a_violation(
    deployed: DeployedLedger, tmp_path: Path, home: Path
) -> None:
    chain = deployed
    chain.contract.add_agency(chain.admin, INTAKE, "ศูนย์รับเรื่องร้องเรียน", "Intake desk")
    ledger = Routed(chain, [], MerkleTree(), {}, {})
    tips = [os.urandom(32) for _ in range(3)]
    ledger.anchor([(t, INTAKE) for t in tips])
    intruder = chain.outsider
    backdoor_member(chain, INTAKE, intruder.address)
    result = chain.contract.record_review(
        intruder, tips[1], INTAKE, 3, os.urandom(32), ledger.proof(tips[1])
    )
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    store = LogStore(open_database(url))
    store.bind_deployment(chain.deployment.chain_id, chain.deployment.address)
    store.append(ledger.entries)
    done = run_audit_cli(
        home, "--rpc", chain.devchain.rpc_url, "--contract", chain.deployment.address,
        "--database", url,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert violation_lines(done.stderr) == [
        f"VIOLATION review-unauthorised at entry 1, block {result.block_number}: review "
        f"(status 3) of commitment {to_hex(tips[1])} for agency intake by {intruder.address}: "
        "not a member of intake then (it was never added)"
    ]
