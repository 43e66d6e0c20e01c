"""What the chain says, as plain data: the events an audit replays and the state they imply.

``ChainHistory`` holds every event of one TipLedger up to one block, read once (see
``chain_history``). Role membership and the disclosure threshold at any point of the chain are
replayed from their events here (``RoleHistory``, ``ThresholdHistory``): pure, so no archive node
is needed and the checks can be tested on synthetic histories.

Points of the chain are ``(block number, log index)`` pairs. State "at" an event is the state
its transaction saw: every change logged before it (an earlier block, or earlier in the block),
none logged after it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ledger.chain.contract import (
    ROLES,
    AgencyEvent,
    AnchoredEvent,
    CaseOpenedEvent,
    Checkpoint,
    DirectCommitmentEvent,
    DisclosureEvent,
    MemberEvent,
    ReferredEvent,
    ReviewEvent,
    RoutedEvent,
)

__all__ = [
    "ROLE_NAMES",
    "AgencyHistory",
    "ChainHistory",
    "Disclosure",
    "Position",
    "RoleChange",
    "RoleHistory",
    "ThresholdChange",
    "ThresholdHistory",
]

Position = tuple[int, int]  # (block number, log index)

ROLE_NAMES: dict[bytes, str] = {v: k for k, v in ROLES.items()}


@dataclass(frozen=True)
class RoleChange:
    """One OpenZeppelin ``RoleGranted`` (``granted``) or ``RoleRevoked`` event."""

    role: bytes
    account: str
    granted: bool
    block_number: int
    log_index: int
    tx_hash: bytes = b""

    @property
    def position(self) -> Position:
        return (self.block_number, self.log_index)


@dataclass(frozen=True)
class ThresholdChange:
    """One ``DisclosureThresholdChanged(previous, current)`` event."""

    previous: int
    current: int
    block_number: int
    log_index: int
    tx_hash: bytes = b""

    @property
    def position(self) -> Position:
        return (self.block_number, self.log_index)


class RoleHistory:
    """Who held which role when, replayed from role events (granting twice is one grant)."""

    def __init__(self, changes: Iterable[RoleChange] = ()) -> None:
        self._changes: dict[tuple[bytes, str], list[RoleChange]] = {}
        for change in sorted(changes, key=lambda c: c.position):
            self._changes.setdefault((change.role, change.account.lower()), []).append(change)
        self._positions = {k: [c.position for c in v] for k, v in self._changes.items()}

    def last_change(self, role: bytes, account: str, at: Position) -> RoleChange | None:
        """The latest grant or revocation of ``role`` to ``account`` logged before ``at``."""
        key = (role, account.lower())
        positions = self._positions.get(key)
        if not positions:
            return None
        i = bisect.bisect_left(positions, at)
        return self._changes[key][i - 1] if i else None

    def holds(self, role: bytes, account: str, at: Position) -> bool:
        change = self.last_change(role, account, at)
        return change is not None and change.granted

    def holders(self, role: bytes, at: Position) -> list[str]:
        """Every account holding ``role`` at ``at``, in the order they were first granted it."""
        return [
            changes[0].account
            for (r, account), changes in self._changes.items()
            if r == role and self.holds(role, account, at)
        ]

    def changes(self) -> list[RoleChange]:
        return sorted((c for cs in self._changes.values() for c in cs), key=lambda c: c.position)


class ThresholdHistory:
    """The disclosure threshold at any point: the constructor's value, then each change."""

    def __init__(self, initial: int, changes: Iterable[ThresholdChange] = ()) -> None:
        self.initial = initial
        self.changes = sorted(changes, key=lambda c: c.position)
        self._positions = [c.position for c in self.changes]

    def at(self, position: Position) -> int:
        i = bisect.bisect_left(self._positions, position)
        return self.changes[i - 1].current if i else self.initial


@dataclass(frozen=True)
class Disclosure:
    """A ``DisclosureApproved`` event with the custodian signatures its transaction carried.

    ``signatures`` is None when they could not be read from the transaction (``unreadable``
    says why): a quorum that cannot be shown is reported as a violation.
    """

    event: DisclosureEvent
    signatures: tuple[bytes, ...] | None
    unreadable: str | None = None


@dataclass(frozen=True)
class AgencyHistory:
    """The agency events (PROTOCOL.md 16.5), each in chain order: who may act on which case
    (``ledger.audit.agencies`` replays them) and how tips were routed."""

    agencies: Sequence[AgencyEvent] = ()
    members: Sequence[MemberEvent] = ()
    routed: Sequence[RoutedEvent] = ()
    opened: Sequence[CaseOpenedEvent] = ()
    referrals: Sequence[ReferredEvent] = ()


@dataclass(frozen=True)
class ChainHistory:
    """One TipLedger's events from ``from_block`` to ``to_block`` (inclusive), as one snapshot.

    ``stored`` holds ``checkpoint(n)`` as the contract's storage returns it for each anchored
    size (empty if not read). ``head_timestamp`` is ``to_block``'s time: the audit's "now".
    ``deploy_timestamp`` is the time of the first block with a TipLedger event (the deployment).
    """

    chain_id: int
    contract: str
    from_block: int
    to_block: int
    head_timestamp: int
    max_merge_delay: int
    anchors: Sequence[AnchoredEvent] = ()
    direct_commitments: Sequence[DirectCommitmentEvent] = ()
    reviews: Sequence[ReviewEvent] = ()
    disclosures: Sequence[Disclosure] = ()
    roles: RoleHistory = field(default_factory=RoleHistory)
    thresholds: ThresholdHistory = field(default_factory=lambda: ThresholdHistory(1))
    stored: Mapping[int, Checkpoint] = field(default_factory=dict)
    deploy_block: int | None = None
    deploy_timestamp: int | None = None
    notes: Sequence[str] = ()
    agencies: AgencyHistory = field(default_factory=AgencyHistory)

    @property
    def anchored_size(self) -> int:
        """The largest tree size anchored (0 before the first anchor)."""
        return max((a.tree_size for a in self.anchors), default=0)
