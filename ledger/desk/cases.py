"""A case across agencies, as the desk needs it: which agency a member acts for, the routing
proof a first review or referral shows the contract, and the grants a referral brings.

The chain decides who holds a case (the contract's ``holds``); the service's rows follow it
(``ledger.store.cases``) and are written here only after the chain has shown the referral. The
service never makes a grant: members make them on their own machines, where the case key is
opened; the service checks only that each grant is for a current member of the agency that
now holds the case, so none is stored for a key the chain does not list.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ledger.chain.contract import Member, TipLedgerContract
from ledger.chain.reader import ChainReader
from ledger.core.agency import agency_id, agency_slug
from ledger.core.casekey import grant_member_key_id
from ledger.core.encoding import checksum_address, to_hex
from ledger.core.hpke import key_id_bytes
from ledger.core.routing import RoutingProof, route_leaf, routing_path, routing_root
from ledger.errors import (
    ChainMismatchError,
    EnvelopeError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
)
from ledger.store.cases import CaseStore, StoredReferral, split_grants
from ledger.store.log_store import LogStore
from ledger.store.submissions import Submission

__all__ = ["CaseDesk", "MemberContext"]

_BATCHES_KEPT = 4


@dataclass(frozen=True)
class MemberContext:
    """A signed-in member acting for one agency, with the key the chain lists for them."""

    address: str
    agency: bytes
    member: Member

    @property
    def key_id(self) -> bytes:
        return key_id_bytes(self.member.encryption_key)


class CaseDesk:
    def __init__(
        self,
        cases: CaseStore,
        log: LogStore,
        contract: Callable[[], TipLedgerContract],
    ) -> None:
        self.cases = cases
        self.log = log
        self._contract = contract
        self._lock = threading.Lock()
        self._batches: dict[tuple[int, int], list[bytes]] = {}

    # -- who acts --------------------------------------------------------------------------

    def member(self, address: str, agency: str | None) -> MemberContext:
        """The agency ``address`` acts for: ``agency`` (a slug), or its only one. 403 if it is
        not a current member of it on chain."""
        contract = self._contract()
        address = checksum_address(address)
        memberships = contract.memberships_of(address)
        if agency is None:
            if not memberships:
                raise PermissionDeniedError(f"{address} is not a member of any agency on chain")
            if len(memberships) > 1:
                names = ", ".join(agency_slug(a) for a in memberships)
                raise ProtocolError(
                    f"{address} is a member of several agencies ({names}): say which with "
                    "the query parameter 'agency'"
                )
            chosen = memberships[0]
        else:
            chosen = agency_id(agency)
            if chosen not in memberships:
                raise PermissionDeniedError(
                    f"{address} is not a member of agency {agency!r} on chain"
                )
        for m in contract.members(chosen):
            if m.address == address:
                return MemberContext(address, chosen, m)
        raise PermissionDeniedError(  # removed between the two reads
            f"{address} is not a member of agency {agency_slug(chosen)!r} on chain"
        )

    def require_holding(self, row: Submission, who: MemberContext) -> set[bytes]:
        """The case's holders; 403 unless ``who``'s agency is one of them. Once the case is
        opened on chain the contract's ``holds`` decides (a referral recorded there counts even
        if its grants never reached the service); before, its routing does."""
        holders = self.cases.holders(row.commitment, row.agency)
        contract = self._contract()
        if contract.case_opened(row.commitment):
            candidates = holders | {who.agency}
            holders = {a for a in candidates if contract.holds(row.commitment, a)}
        if who.agency not in holders:
            raise PermissionDeniedError(
                f"agency {agency_slug(who.agency)!r} does not hold case {to_hex(row.commitment)}"
            )
        return holders

    def grant_for(self, row: Submission, who: MemberContext) -> bytes | None:
        """This member's grant of the case key: made at intake or later; None if none."""
        mine = who.key_id.hex()
        for grant in split_grants(row.grants):
            if grant_member_key_id(grant) == mine:
                return grant
        return self.cases.grant_for(row.commitment, who.key_id)

    # -- routing ---------------------------------------------------------------------------

    def routing_proof(self, row: Submission) -> RoutingProof | None:
        """The proof of the case's routing against its batch's anchored routing root; None
        while the tip is not anchored."""
        if row.leaf_index is None:
            return None
        index = row.leaf_index
        covering = self.log.checkpoint_covering(index)
        if covering is None:
            return None
        contract = self._contract()
        size = covering.tree_size
        # The chain links each anchor to the one before it: walk back to this entry's batch
        # (the store may not have recorded every anchor the chain holds).
        while True:
            root, previous = contract.routing_of(size)
            if previous <= index:
                break
            size = previous
        leaves = self._batch(previous, size, root)
        position = index - previous
        return RoutingProof(
            tree_size=size,
            index=position,
            salt=row.routing_salt,
            path=tuple(routing_path(leaves, position)),
        )

    def _batch(self, previous: int, size: int, root: bytes) -> list[bytes]:
        """The route leaves of an anchored batch, checked against its anchored root. An
        anchored batch never changes, so the last few are kept: a desk paging through one
        batch's cases reads it once, not once per case (65,536 rows at most)."""
        key = (previous, size)
        with self._lock:
            cached = self._batches.get(key)
        if cached is not None:
            return cached
        routes = self.cases.routes(previous, size)
        leaves = [route_leaf(r.commitment, r.agency, r.salt) for r in routes]
        if routing_root(leaves) != root:
            raise ChainMismatchError(
                f"the routing root anchored at size {size} is {to_hex(root)}, the stored "
                f"routing gives {to_hex(routing_root(leaves))}"
            )
        with self._lock:
            self._batches[key] = leaves
            while len(self._batches) > _BATCHES_KEPT:
                self._batches.pop(next(iter(self._batches)))
        return leaves

    # -- referrals and later grants ----------------------------------------------------------

    def accept_referral(
        self,
        row: Submission,
        who: MemberContext,
        *,
        tx_hash: bytes,
        block_number: int,
        grants: Sequence[bytes],
    ) -> StoredReferral:
        """Store a referral once the chain shows it, with the grants for the receiving
        agency's members (each for a member the chain lists now)."""
        contract = self._contract()
        head = ChainReader(contract.w3).head_block()
        if block_number > head:  # the node would refuse the range: say what is wrong instead
            raise NotFoundError(
                f"block {block_number} is beyond the chain's latest block {head}: no Referred "
                f"event of case {to_hex(row.commitment)} there"
            )
        events = [
            e
            for e in contract.referred_events(block_number, block_number)
            if e.tx_hash == tx_hash and e.commitment == row.commitment
        ]
        if not events:
            raise NotFoundError(
                f"block {block_number} holds no Referred event of case {to_hex(row.commitment)} "
                f"in transaction {to_hex(tx_hash)}"
            )
        event = events[0]
        if event.from_agency != who.agency or event.by != who.address:
            raise PermissionDeniedError(
                "that referral was made by another member or agency, not by this session's"
            )
        checked = self._check_grants(contract, event.to_agency, grants)
        referral = StoredReferral(
            commitment=row.commitment,
            position=0,  # the store numbers it
            from_agency=event.from_agency,
            to_agency=event.to_agency,
            keep_access=event.keep_access,
            referred_by=event.by,
            tx_hash=tx_hash,
            block_number=event.block_number,
        )
        self.cases.record_referral(referral, checked)
        return referral

    def add_grants(self, row: Submission, who: MemberContext, grants: Sequence[bytes]) -> int:
        """Grants a member made for fellow members of their agency (added later)."""
        self.require_holding(row, who)
        checked = self._check_grants(self._contract(), who.agency, grants)
        self.cases.add_grants(row.commitment, who.agency, checked)
        return len(checked)

    @staticmethod
    def _check_grants(
        contract: TipLedgerContract, agency: bytes, grants: Sequence[bytes]
    ) -> list[tuple[bytes, bytes]]:
        listed = {key_id_bytes(m.encryption_key): m for m in contract.members(agency)}
        checked: list[tuple[bytes, bytes]] = []
        for i, grant in enumerate(grants):
            try:
                member_key = bytes.fromhex(grant_member_key_id(grant))
            except EnvelopeError as exc:
                raise ProtocolError(f"grant {i}: {exc}") from None
            if member_key not in listed:
                raise ProtocolError(
                    f"grant {i} is for key {member_key.hex()}, which the chain does not list "
                    f"for agency {agency_slug(agency)!r}"
                )
            checked.append((member_key, bytes(grant)))
        return checked
