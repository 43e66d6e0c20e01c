"""Review outcomes as the chain holds them: status names, and an index of reviewed tips.

The status numbers and their one spelling are ``ledger.core.names`` (frozen), re-exported here.

Decisions are recorded on chain by each reviewer's own key (``recordReview``); the service
never stores them. ``reviewOf`` answers for one tip; ``ReviewIndex`` follows the
``ReviewRecorded`` events so the desk can list the tips nobody has reviewed without one
``eth_call`` per tip.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ledger.chain.contract import Review, TipLedgerContract
from ledger.core.names import STATUS_IDS, STATUS_NAMES, UNDER_REVIEW, status_id

__all__ = [
    "STATUS_IDS",
    "STATUS_NAMES",
    "ReviewIndex",
    "ReviewSource",
    "review_view",
    "status_id",
]

_LOG_CHUNK = 10_000  # blocks per eth_getLogs: providers refuse unbounded ranges


def review_view(review: Review, *, with_reviewer: bool = False) -> dict[str, Any] | None:
    """``{"status", "status_name", "recorded_at"}`` (and the reviewer), or None if never."""
    if review.status == 0:
        return None
    view: dict[str, Any] = {
        "status": review.status,
        "status_name": STATUS_NAMES.get(review.status, f"status_{review.status}"),
        "recorded_at": review.timestamp,
    }
    if with_reviewer:
        view["reviewer"] = review.reviewer
    return view


class ReviewSource(Protocol):
    """Where one tip's latest review is read: the contract (``ReviewIndex``)."""

    def review_of(self, commitment: bytes) -> Review: ...


@dataclass(frozen=True)
class _Latest:
    status: int
    block_number: int


class ReviewIndex:
    """The latest recorded status of every reviewed tip, from ``ReviewRecorded`` events.

    Caught up on each call from the last block it had read (blocks mined since cost one
    ``eth_getLogs``), so a decision recorded by any reviewer shows at the next listing.
    """

    def __init__(self, contract: Callable[[], TipLedgerContract], from_block: int) -> None:
        self._contract = contract
        self._next_block = from_block
        self._latest: dict[bytes, _Latest] = {}
        self._by_agency: dict[tuple[bytes, bytes], _Latest] = {}
        self._lock = threading.Lock()

    def statuses(self) -> dict[bytes, int]:
        """Commitment -> latest status, as of the chain's latest block."""
        with self._lock:
            contract = self._contract()
            head = contract.chain.head_block("reading the latest block number")
            while self._next_block <= head:
                to_block = min(head, self._next_block + _LOG_CHUNK - 1)
                for event in contract.review_events(self._next_block, to_block):
                    latest = _Latest(event.status, event.block_number)
                    self._latest[event.commitment] = latest
                    self._by_agency[(event.commitment, event.agency)] = latest
                self._next_block = to_block + 1
            return {c: latest.status for c, latest in self._latest.items()}

    def statuses_of(self, agency: bytes) -> dict[bytes, int]:
        """Commitment -> the latest status ``agency`` recorded, as of the latest block."""
        self.statuses()  # catch up
        with self._lock:
            return {c: v.status for (c, a), v in self._by_agency.items() if a == agency}

    def review_of(self, commitment: bytes) -> Review:
        """The latest review of one tip, read from the contract (``reviewOf``)."""
        return self._contract().review_of(commitment)

    def review_by(self, commitment: bytes, agency: bytes) -> Review:
        """The latest review of one tip by one agency (``reviewBy``)."""
        return self._contract().review_by(commitment, agency)

    def awaiting(self, commitment: bytes, statuses: dict[bytes, int], under_review: bool) -> bool:
        status = statuses.get(commitment, 0)
        return status == 0 or (under_review and status == UNDER_REVIEW)
