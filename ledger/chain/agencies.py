"""The agencies and their members' keys, as the chain lists them (PROTOCOL.md 16.2).

The service seals every tip to the keys the contract lists for its agency, never to keys of its
own, so a compromised service cannot slip a key in without the chain showing it. Reads are
cached for at most ``ttl`` seconds: a member removed on chain is not sealed to for any tip
received more than ``ttl`` after the removal's block (docs/PROTOCOL.md 16.3 states the bound).

While the chain cannot be read (an outage, a node that lost the contract) the last read is used,
stale: the service keeps taking tips through a chain outage (docs/DESIGN.md), and a removal the
chain cannot show yet could not be acted on anyway. Only an agency never read is refused then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from ledger.chain.contract import AgencyInfo, Member, TipLedgerContract
from ledger.core.agency import agency_slug
from ledger.errors import AgencyError, AgencyRefusedError, ChainError

__all__ = ["AgencyDirectory", "Recipients"]

DEFAULT_TTL = 1.0

log = logging.getLogger("tipledger.chain")


@dataclass(frozen=True)
class Recipients:
    """An active agency and the members' keys a new tip is sealed to."""

    info: AgencyInfo
    members: tuple[Member, ...]
    keys: tuple[X25519PublicKey, ...]


class AgencyDirectory:
    """Cached reads of agencies and members from one contract (thread-safe)."""

    def __init__(
        self,
        contract: TipLedgerContract | Callable[[], TipLedgerContract],
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # A factory is called at the first read: the service is built before the chain answers.
        self._contract = contract
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._recipients: dict[bytes, tuple[float, Recipients | AgencyInfo | None]] = {}
        self._all: tuple[float, list[AgencyInfo]] | None = None
        self._failing = False

    @property
    def contract(self) -> TipLedgerContract:
        if not isinstance(self._contract, TipLedgerContract):
            self._contract = self._contract()
        return self._contract

    def agencies(self) -> list[AgencyInfo]:
        """Every agency the contract lists, active or not, in registration order."""
        now = self._clock()
        with self._lock:
            cached = self._all
        if cached is not None and now - cached[0] < self.ttl:
            return list(cached[1])
        try:
            infos = [
                info
                for agency in self.contract.agency_ids()
                if (info := self.contract.agency_info(agency)) is not None
            ]
        except ChainError as exc:
            if cached is None:
                raise
            self._stale("the agencies", exc)
            with self._lock:
                self._all = (now, cached[1])  # the next try in ``ttl``, not at every tip
            return list(cached[1])
        self._read_again()
        with self._lock:
            self._all = (now, infos)
        return infos

    def info(self, agency: bytes) -> AgencyInfo | None:
        entry = self._entry(agency)
        return entry.info if isinstance(entry, Recipients) else entry

    def members(self, agency: bytes) -> list[Member]:
        entry = self._entry(agency)
        return list(entry.members) if isinstance(entry, Recipients) else []

    def recipients(self, agency: bytes) -> Recipients:
        """The keys to seal a new tip for ``agency`` to; ``AgencyRefusedError`` (a 422 at the
        API) for an unknown or inactive agency or one with no members."""
        entry = self._entry(agency)
        name = _name(agency)
        if entry is None:
            raise AgencyRefusedError(f"there is no agency {name!r} on this channel")
        info = entry.info if isinstance(entry, Recipients) else entry
        if not info.active:
            raise AgencyRefusedError(f"the agency {name!r} is not taking tips (inactive)")
        if not isinstance(entry, Recipients) or not entry.keys:
            raise AgencyRefusedError(f"the agency {name!r} has no members to seal a tip to")
        return entry

    def forget(self) -> None:
        """Drop the cache (after this process changed agencies or members itself)."""
        with self._lock:
            self._recipients.clear()
            self._all = None

    def _entry(self, agency: bytes) -> Recipients | AgencyInfo | None:
        now = self._clock()
        with self._lock:
            cached = self._recipients.get(agency)
            if cached is not None and now - cached[0] < self.ttl:
                return cached[1]
        try:
            info = self.contract.agency_info(agency)
            entry: Recipients | AgencyInfo | None = info
            if info is not None:
                members = tuple(self.contract.members(agency))
                keys = tuple(X25519PublicKey.from_public_bytes(m.encryption_key) for m in members)
                entry = Recipients(info, members, keys) if members else info
        except ChainError as exc:
            if cached is None:
                raise
            self._stale(f"agency {_name(agency)!r}", exc)
            entry = cached[1]
        else:
            self._read_again()
        with self._lock:
            self._recipients[agency] = (now, entry)
        return entry

    def _stale(self, what: str, exc: ChainError) -> None:
        if not self._failing:  # once an outage, not once a tip
            self._failing = True
            log.warning("the chain cannot be read (%s): using %s as last read", exc, what)

    def _read_again(self) -> None:
        if self._failing:
            self._failing = False
            log.info("the chain answers again: agencies and members read afresh")


def _name(agency: bytes) -> str:
    try:
        return agency_slug(agency)
    except AgencyError:
        return "0x" + agency.hex()
