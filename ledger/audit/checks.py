"""The audit's integrity checks, over plain data: no chain, no database, no network.

Each check takes what the chain said (``ledger.audit.history``) and what the log's source served,
and returns what it found as ``Violation``s, one per fact an oversight body would act on, each
naming the entry index and the block it concerns:

- ``LogScan`` rebuilds the tree from the served entries in one pass (``MerkleTree.extend`` a page
  at a time), finds duplicate commitments and the index of every commitment the chain refers to;
- ``check_anchors`` compares every anchored root with the rebuilt tree's root at that size,
  re-verifies each consistency step between successive checkpoints, and, where the served entries
  differ, narrows down which entry with the subtree hashes the anchor transactions carried;
- ``check_direct_commitments``: every ``commit()`` was logged and anchored within maxMergeDelay;
- ``check_reviews``: every review names a logged commitment (who may review: ``agencies``);
- ``check_disclosures``: every disclosure carried a quorum of distinct custodians' signatures.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ledger.audit.history import (
    Disclosure,
    Position,
    RoleHistory,
    ThresholdHistory,
)
from ledger.chain.contract import (
    ROLES,
    AnchoredEvent,
    Checkpoint,
    DirectCommitmentEvent,
    ReviewEvent,
)
from ledger.core.eip712 import recover_disclosure_signer
from ledger.core.encoding import to_hex
from ledger.core.errors import SignatureError
from ledger.core.merkle import HASH_SIZE, consistency_path, verify_consistency
from ledger.core.tree import MerkleTree

__all__ = [
    "AnchorCheck",
    "DirectCheck",
    "DisclosureCheck",
    "LogScan",
    "Violation",
    "anchor_covering",
    "check_anchors",
    "check_direct_commitments",
    "check_disclosures",
    "check_reviews",
    "increasing_anchors",
]

CUSTODIAN_ROLE = ROLES["CUSTODIAN_ROLE"]

# How many later anchors' consistency proofs are read to narrow down a differing entry.
LOCATE_ANCHORS = 64


# --- findings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """One thing the ledger got wrong. ``kind`` is a stable, greppable name."""

    kind: str
    message: str
    block: int | None = None
    index: int | None = None
    tx_hash: bytes | None = None

    def line(self) -> str:
        """One line for people: kind, where (entry and block), what."""
        where = []
        if self.index is not None:
            where.append(f"entry {self.index}")
        if self.block is not None:
            where.append(f"block {self.block}")
        at = f" at {', '.join(where)}" if where else ""
        return f"{self.kind}{at}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "index": self.index,
            "block": self.block,
            "tx_hash": to_hex(self.tx_hash) if self.tx_hash else None,
            "message": self.message,
        }


def _short(data: bytes) -> str:
    h = to_hex(data)
    return f"{h[:10]}…{h[-4:]}"


# --- one pass over the served entries ------------------------------------------------------


class LogScan:
    """Rebuilds the log from pages of served entries, in order, in one pass.

    ``wanted`` are the commitments the chain refers to (direct commitments, reviews): the index
    of the first occurrence of each is kept in ``index_of``. ``on_page(start, page)`` callbacks
    see every page after it is added (the deadline tracker uses this, so nothing is kept beyond
    what the tree itself holds).
    """

    def __init__(
        self,
        wanted: Iterable[bytes] = (),
        on_page: Sequence[Callable[[int, Sequence[bytes]], None]] = (),
    ) -> None:
        self.tree = MerkleTree()
        self.index_of: dict[bytes, int] = {}
        self.duplicates: list[tuple[int, int, bytes]] = []  # (index, first index, commitment)
        self._wanted = frozenset(wanted)
        self._seen: set[bytes] = set()
        self._on_page = list(on_page)

    @property
    def size(self) -> int:
        return self.tree.size

    def add(self, page: Sequence[bytes]) -> None:
        if not page:
            return
        start = self.tree.size
        self.tree.extend(page)
        page_set = set(page)
        if len(page_set) != len(page) or not self._seen.isdisjoint(page_set):
            self._find_duplicates(start, page)
        self._seen |= page_set
        hits = self._wanted.intersection(page_set)
        if hits:
            for j, c in enumerate(page):
                if c in hits and c not in self.index_of:
                    self.index_of[c] = start + j
        for hook in self._on_page:
            hook(start, page)

    def _find_duplicates(self, start: int, page: Sequence[bytes]) -> None:
        # Rare: a log that repeats a commitment. Find where each repeat first appeared.
        in_page: dict[bytes, int] = {}
        for j, c in enumerate(page):
            if c in in_page:
                self.duplicates.append((start + j, in_page[c], c))
            elif c in self._seen:
                self.duplicates.append((start + j, self._first_index(c, start), c))
            else:
                in_page[c] = start + j

    def _first_index(self, commitment: bytes, before: int) -> int:
        leaves = self.tree.level_bytes(0)
        target = MerkleTree()
        target.append(commitment)
        leaf = target.leaf_hash_at(0)
        pos = leaves.find(leaf)
        while pos != -1 and pos % HASH_SIZE:
            pos = leaves.find(leaf, pos + 1)
        index = pos // HASH_SIZE if pos != -1 else -1
        return index if 0 <= index < before else -1

    def duplicate_violations(self, anchors: Sequence[AnchoredEvent]) -> list[Violation]:
        found = []
        for index, first, c in self.duplicates:
            anchor = anchor_covering(anchors, index)
            found.append(
                Violation(
                    "duplicate-entry",
                    f"commitment {to_hex(c)} is logged again (first at entry {first}); a "
                    "commitment appears in the log at most once (PROTOCOL.md section 3)",
                    block=anchor.block_number if anchor else None,
                    index=index,
                )
            )
        return found


# --- anchors -----------------------------------------------------------------------------------


def increasing_anchors(anchors: Sequence[AnchoredEvent]) -> list[AnchoredEvent]:
    """The anchors in chain order, keeping only those that grow the log (the contract refuses
    any other, so this drops nothing on an honest chain)."""
    kept: list[AnchoredEvent] = []
    for a in sorted(anchors, key=lambda a: (a.block_number, a.log_index)):
        if not kept or a.tree_size > kept[-1].tree_size:
            kept.append(a)
    return kept


def anchor_covering(anchors: Sequence[AnchoredEvent], index: int) -> AnchoredEvent | None:
    """The first checkpoint (of increasing ``anchors``) whose tree includes entry ``index``."""
    sizes = [a.tree_size for a in anchors]
    i = bisect.bisect_right(sizes, index)
    return anchors[i] if i < len(anchors) else None


@dataclass(frozen=True)
class AnchorCheck:
    """One anchored checkpoint and what the audit found about it (None: could not check)."""

    tree_size: int
    root_hash: bytes
    timestamp: int
    block_number: int
    tx_hash: bytes
    root_matches: bool | None
    consistent: bool | None
    stored_matches: bool | None

    def to_json(self) -> dict[str, object]:
        return {
            "tree_size": self.tree_size,
            "root_hash": to_hex(self.root_hash),
            "timestamp": self.timestamp,
            "block_number": self.block_number,
            "tx_hash": to_hex(self.tx_hash),
            "root_matches": self.root_matches,
            "consistent_with_previous": self.consistent,
            "stored_matches": self.stored_matches,
        }


ProofReader = Callable[[AnchoredEvent], Sequence[bytes] | None]


def check_anchors(
    tree: MerkleTree,
    anchors: Sequence[AnchoredEvent],
    stored: Mapping[int, Checkpoint] | None = None,
    proofs: ProofReader | None = None,
) -> tuple[list[AnchorCheck], list[Violation]]:
    """Replay every Anchored event against the tree rebuilt from the served entries.

    ``stored`` are the contract's ``checkpoint(n)`` reads (checked against the events when
    given). ``proofs`` reads the consistency proof an anchor transaction carried; it is asked
    only when the served entries differ, to narrow down which entry does.
    """
    violations: list[Violation] = []
    ordered = sorted(anchors, key=lambda a: (a.block_number, a.log_index))
    checks: list[AnchorCheck] = []
    previous: AnchoredEvent | None = None
    first_bad: int | None = None  # position in ``ordered`` of the first root that differs
    later_bad = 0
    for k, a in enumerate(ordered):
        if previous is not None and a.tree_size <= previous.tree_size:
            violations.append(
                Violation(
                    "anchor-order",
                    f"checkpoint of size {a.tree_size} anchored after one of size "
                    f"{previous.tree_size}: the anchored history must only grow",
                    block=a.block_number,
                    index=a.tree_size - 1 if a.tree_size else None,
                    tx_hash=a.tx_hash,
                )
            )
        stored_ok = _check_stored(a, stored, violations)
        if a.tree_size > tree.size:
            checks.append(_anchor_check(a, None, None, stored_ok))
            previous = a
            continue
        root_ok = tree.root(a.tree_size) == a.root_hash
        consistent: bool | None = None
        if previous is not None and 0 < previous.tree_size < a.tree_size <= tree.size:
            proof = tree.consistency_proof(previous.tree_size, a.tree_size)
            consistent = verify_consistency(
                previous.tree_size, a.tree_size, previous.root_hash, a.root_hash, proof
            )
            if not consistent and root_ok and tree.root(previous.tree_size) == previous.root_hash:
                violations.append(  # cannot happen with SHA-256: kept as a last line of defence
                    Violation(
                        "anchor-consistency",
                        f"checkpoint of size {a.tree_size} is not consistent with the previous "
                        f"one of size {previous.tree_size}",
                        block=a.block_number,
                        index=previous.tree_size,
                        tx_hash=a.tx_hash,
                    )
                )
        if not root_ok:
            if first_bad is None:
                first_bad = k
            else:
                later_bad += 1
        checks.append(_anchor_check(a, root_ok, consistent, stored_ok))
        previous = a
    if first_bad is not None:
        violations.append(_entries_differ(tree, ordered, first_bad, later_bad, proofs))
    unchecked = [a for a in ordered if a.tree_size > tree.size]
    if unchecked:
        last = unchecked[-1]
        violations.append(
            Violation(
                "entries-missing",
                f"the source served {tree.size:,} entries, but {last.tree_size:,} are anchored "
                f"(checkpoint of size {last.tree_size:,}); {len(unchecked)} checkpoint(s) "
                f"from size {unchecked[0].tree_size:,} on cannot be checked",
                block=unchecked[0].block_number,
                index=tree.size,
                tx_hash=unchecked[0].tx_hash,
            )
        )
    return checks, violations


def _anchor_check(
    a: AnchoredEvent, root_ok: bool | None, consistent: bool | None, stored_ok: bool | None
) -> AnchorCheck:
    return AnchorCheck(
        tree_size=a.tree_size,
        root_hash=a.root_hash,
        timestamp=a.timestamp,
        block_number=a.block_number,
        tx_hash=a.tx_hash,
        root_matches=root_ok,
        consistent=consistent,
        stored_matches=stored_ok,
    )


def _check_stored(
    a: AnchoredEvent, stored: Mapping[int, Checkpoint] | None, violations: list[Violation]
) -> bool | None:
    if not stored:
        return None
    cp = stored.get(a.tree_size)
    ok = (
        cp is not None
        and cp.root_hash == a.root_hash
        and cp.timestamp == a.timestamp
        and cp.block_number == a.block_number
    )
    if not ok:
        got = (
            "nothing"
            if cp is None or not cp.anchored
            else f"root {to_hex(cp.root_hash)} at time {cp.timestamp}, block {cp.block_number}"
        )
        violations.append(
            Violation(
                "stored-checkpoint",
                f"the Anchored event of size {a.tree_size} says root {to_hex(a.root_hash)} at "
                f"time {a.timestamp}, but checkpoint({a.tree_size}) returns {got}",
                block=a.block_number,
                index=a.tree_size - 1,
                tx_hash=a.tx_hash,
            )
        )
    return ok


def _token(start: int, end: int) -> bytes:
    return start.to_bytes(16, "big") + end.to_bytes(16, "big")


def proof_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ``[start, end)`` leaf range each node of RFC 9162 ``PROOF(first, D[second])`` covers."""
    tokens = consistency_path(first, second, _token)
    return [(int.from_bytes(t[:16], "big"), int.from_bytes(t[16:], "big")) for t in tokens]


def _entries_differ(
    tree: MerkleTree,
    ordered: Sequence[AnchoredEvent],
    k: int,
    later_bad: int,
    proofs: ProofReader | None,
) -> Violation:
    """The first checkpoint whose root the served entries do not give, with the entries that
    must differ narrowed down as far as the chain allows."""
    bad = ordered[k]
    good = next(
        (a for a in reversed(ordered[:k]) if a.tree_size < bad.tree_size), None
    )  # every root before ``k`` matched: entries below its size are the anchored ones
    lo = good.tree_size if good is not None else 0
    hi = bad.tree_size
    suspects = [(lo, hi)]
    if proofs is not None:
        suspects = _locate(tree, ordered, k, lo, hi, proofs)
    first, last = suspects[0][0], suspects[-1][1] - 1
    count = sum(e - s for s, e in suspects)
    if count == 1:
        what = f"entry {first} served differs from the one anchored"
    elif len(suspects) == 1:
        what = f"entries {first}-{last} served differ from the anchored ones (at least one)"
    else:
        listed = ", ".join(f"{s}" if e - s == 1 else f"{s}-{e - 1}" for s, e in suspects[:8])
        what = f"one of entries {listed} served differs from the anchored one"
    base = (
        f"entries below {lo:,} match checkpoint {lo:,}"
        if good is not None
        else "no earlier checkpoint"
    )
    tail = f"; {later_bad} later checkpoint(s) differ with it" if later_bad else ""
    return Violation(
        "entry-differs",
        f"{what}: checkpoint of size {hi:,} has root {_short(bad.root_hash)} on chain, the "
        f"served entries give {_short(tree.root(hi))} ({base}){tail}",
        block=bad.block_number,
        index=first,
        tx_hash=bad.tx_hash,
    )


def _locate(
    tree: MerkleTree,
    ordered: Sequence[AnchoredEvent],
    k: int,
    lo: int,
    hi: int,
    proofs: ProofReader,
) -> list[tuple[int, int]]:
    """Narrow ``[lo, hi)`` with the subtree hashes in anchor calldata: each consistency proof
    node is the true hash of a known leaf range (the contract checked it against the roots), so
    a range whose rebuilt hash differs holds a differing entry, and one that matches holds none.
    """
    known: list[tuple[int, int, bytes]] = []
    for j in range(max(k, 1), min(len(ordered), k + LOCATE_ANCHORS)):
        prev, cur = ordered[j - 1].tree_size, ordered[j].tree_size
        if not 0 < prev < cur:
            continue
        nodes = proofs(ordered[j])
        ranges = proof_ranges(prev, cur)
        if nodes is None or len(nodes) != len(ranges):
            continue
        known.extend((s, e, h) for (s, e), h in zip(ranges, nodes, strict=True))
    differ: list[tuple[int, int]] = []
    match: list[tuple[int, int]] = []
    for s, e, h in known:
        if e > tree.size or e <= lo or s >= hi:
            continue
        (match if tree.subtree_hash(s, e) == h else differ).append((s, e))
    suspects = [(lo, hi)]
    if differ:
        s, e = min(differ, key=lambda r: r[1] - r[0])
        suspects = [(max(s, lo), min(e, hi))]
    for ms, me in match:
        suspects = _subtract(suspects, ms, me)
    return suspects or [(lo, hi)]


def _subtract(ranges: list[tuple[int, int]], s: int, e: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in ranges:
        if e <= a or s >= b:
            out.append((a, b))
            continue
        if a < s:
            out.append((a, s))
        if e < b:
            out.append((e, b))
    return out


# --- direct commitments ------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectCheck:
    """A ``commit()`` and when the log took it: ``status`` is on-time, late, missing (past the
    deadline and not anchored) or pending (not yet anchored, still within the delay)."""

    commitment: bytes
    sender: str
    block_number: int
    timestamp: int
    tx_hash: bytes
    deadline: int
    status: str
    index: int | None = None
    anchored_at: int | None = None
    anchor_block: int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "commitment": to_hex(self.commitment),
            "sender": self.sender,
            "block_number": self.block_number,
            "timestamp": self.timestamp,
            "tx_hash": to_hex(self.tx_hash),
            "deadline": self.deadline,
            "status": self.status,
            "index": self.index,
            "anchored_at": self.anchored_at,
            "anchor_block": self.anchor_block,
            "delay": None if self.anchored_at is None else self.anchored_at - self.timestamp,
        }


def _direct_check(
    d: DirectCommitmentEvent,
    deadline: int,
    status: str,
    index: int | None,
    anchor: AnchoredEvent | None,
) -> DirectCheck:
    return DirectCheck(
        commitment=d.commitment,
        sender=d.sender,
        block_number=d.block_number,
        timestamp=d.timestamp,
        tx_hash=d.tx_hash,
        deadline=deadline,
        status=status,
        index=index,
        anchored_at=anchor.timestamp if anchor else None,
        anchor_block=anchor.block_number if anchor else None,
    )


def check_direct_commitments(
    directs: Sequence[DirectCommitmentEvent],
    index_of: Mapping[bytes, int],
    anchors: Sequence[AnchoredEvent],
    max_merge_delay: int,
    now: int,
) -> tuple[list[DirectCheck], list[Violation]]:
    """Every direct commitment must be in a checkpoint anchored within ``max_merge_delay``
    seconds of its event (``anchors`` increasing; ``now`` the latest block's time)."""
    checks: list[DirectCheck] = []
    violations: list[Violation] = []
    for d in sorted(directs, key=lambda d: (d.block_number, d.log_index)):
        deadline = d.timestamp + max_merge_delay
        index = index_of.get(d.commitment)
        anchor = anchor_covering(anchors, index) if index is not None else None
        if anchor is None:
            status = "missing" if now > deadline else "pending"
            checks.append(_direct_check(d, deadline, status, index, None))
            if status == "missing":
                violations.append(
                    Violation(
                        "direct-commitment-missing",
                        f"commitment {to_hex(d.commitment)} committed directly by {d.sender} is "
                        f"not in the anchored log {now - deadline:,} s after its deadline "
                        f"(maxMergeDelay {max_merge_delay:,} s)",
                        block=d.block_number,
                        index=index,
                        tx_hash=d.tx_hash,
                    )
                )
            continue
        late = anchor.timestamp > deadline
        checks.append(_direct_check(d, deadline, "late" if late else "on-time", index, anchor))
        if late:
            violations.append(
                Violation(
                    "direct-commitment-late",
                    f"commitment {to_hex(d.commitment)} committed directly in block "
                    f"{d.block_number} was first anchored in block {anchor.block_number}, "
                    f"{anchor.timestamp - deadline:,} s after its deadline (maxMergeDelay "
                    f"{max_merge_delay:,} s)",
                    block=d.block_number,
                    index=index,
                    tx_hash=d.tx_hash,
                )
            )
    return checks, violations


# --- reviews ---------------------------------------------------------------------------------


def _role_story(roles: RoleHistory, role: bytes, account: str, at: Position) -> str:
    change = roles.last_change(role, account, at)
    if change is None:
        return "was never granted it"
    return f"was revoked in block {change.block_number}"


def check_reviews(
    reviews: Sequence[ReviewEvent], index_of: Mapping[bytes, int], log_size: int
) -> list[Violation]:
    """Each review names a commitment in the log. (Who may review is no longer a role but
    membership of an agency holding the case: ``ledger.audit.agencies.check_authority``.)"""
    violations: list[Violation] = []
    for r in sorted(reviews, key=lambda r: (r.block_number, r.log_index)):
        if r.commitment not in index_of:
            violations.append(
                Violation(
                    "review-unknown-commitment",
                    f"review (status {r.status}) by {r.reviewer} refers to commitment "
                    f"{to_hex(r.commitment)}, which is not among the {log_size:,} entries "
                    "served",
                    block=r.block_number,
                    tx_hash=r.tx_hash,
                )
            )
    return violations


# --- disclosures -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DisclosureCheck:
    record_id: bytes
    request_digest: bytes
    requester: str
    block_number: int
    timestamp: int
    tx_hash: bytes
    threshold: int
    custodians: list[str] = field(default_factory=list)  # distinct valid custodian signers
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and len(self.custodians) >= self.threshold

    def to_json(self) -> dict[str, object]:
        return {
            "record_id": to_hex(self.record_id),
            "request_digest": to_hex(self.request_digest),
            "requester": self.requester,
            "block_number": self.block_number,
            "timestamp": self.timestamp,
            "tx_hash": to_hex(self.tx_hash),
            "threshold": self.threshold,
            "custodians": self.custodians,
            "problems": self.problems,
            "ok": self.ok,
        }


def check_disclosures(
    disclosures: Sequence[Disclosure],
    roles: RoleHistory,
    thresholds: ThresholdHistory,
    chain_id: int,
    contract: str,
) -> tuple[list[DisclosureCheck], list[Violation]]:
    """Each disclosure: at least the threshold then in force of distinct CUSTODIAN_ROLE holders
    (at that point of the chain) signed the EIP-712 ``Disclosure`` it records, and no signature
    is invalid (the contract refuses a set with any bad one)."""
    checks: list[DisclosureCheck] = []
    violations: list[Violation] = []
    for d in sorted(disclosures, key=lambda d: (d.event.block_number, d.event.log_index)):
        e = d.event
        at = (e.block_number, e.log_index)
        threshold = thresholds.at(at)
        custodians: list[str] = []
        problems: list[str] = []
        if d.signatures is None:
            problems.append(f"its signatures cannot be read ({d.unreadable})")
        for i, sig in enumerate(d.signatures or ()):
            try:
                signer = recover_disclosure_signer(
                    chain_id, contract, e.record_id, e.request_digest, e.requester, sig
                )
            except SignatureError as exc:
                problems.append(f"signature {i} is invalid ({exc})")
                continue
            if not roles.holds(CUSTODIAN_ROLE, signer, at):
                story = _role_story(roles, CUSTODIAN_ROLE, signer, at)
                problems.append(f"signature {i} is by {signer}, not a custodian: it {story}")
            elif signer in custodians:
                problems.append(f"signature {i} repeats custodian {signer}")
            else:
                custodians.append(signer)
        if d.signatures is not None and len(custodians) < threshold:
            problems.insert(
                0,
                f"{len(custodians)} distinct custodian signature(s), the threshold then was "
                f"{threshold}",
            )
        check = DisclosureCheck(
            record_id=e.record_id,
            request_digest=e.request_digest,
            requester=e.requester,
            block_number=e.block_number,
            timestamp=e.timestamp,
            tx_hash=e.tx_hash,
            threshold=threshold,
            custodians=custodians,
            problems=problems,
        )
        checks.append(check)
        if not check.ok:
            violations.append(
                Violation(
                    "disclosure-quorum",
                    f"disclosure of record {_short(e.record_id)} to {e.requester} lacks a valid "
                    f"quorum: {'; '.join(problems)}",
                    block=e.block_number,
                    tx_hash=e.tx_hash,
                )
            )
    return checks, violations
