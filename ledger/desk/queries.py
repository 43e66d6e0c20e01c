"""What the review desk reads from the service: tips awaiting review, and one tip's sealed copy.

The service holds each tip only sealed to the desk's key, so what it serves here is the
envelope (the reviewer opens it locally), where the tip stands in the log with its inclusion
proof against the latest anchored checkpoint, and its review status read from the chain.
Decisions are not made here: the reviewer's own key records them on chain (``recordReview``).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, or_, select

from ledger.chain.contract import Review
from ledger.core.encoding import to_hex
from ledger.desk.reviews import STATUS_NAMES, ReviewIndex, review_view
from ledger.errors import NotFoundError, ProtocolError
from ledger.store.schema import SOURCE_API, submissions

if TYPE_CHECKING:
    from ledger.followup.threads import FollowUps
    from ledger.service import TipStatus
    from ledger.store import StoredCheckpoint

__all__ = ["MAX_PAGE", "ReviewDesk"]

MAX_PAGE = 500
_CURSOR = re.compile(r"(\d{1,19})-([0-9a-f]{64})")


class ReviewDesk:
    def __init__(
        self,
        read_engine: Engine,
        *,
        index: ReviewIndex,
        follow_ups: FollowUps,
        tip_status: Callable[[bytes], TipStatus],
        checkpoint: Callable[[], StoredCheckpoint | None],
        review_of: Callable[[bytes], Review],
    ) -> None:
        self.read_engine = read_engine
        self.index = index
        self.follow_ups = follow_ups
        self._tip_status = tip_status
        self._checkpoint = checkpoint
        self._review_of = review_of

    def awaiting(
        self, *, after: str | None = None, limit: int = 100, under_review: bool = False
    ) -> dict[str, Any]:
        """Tips (sealed to the desk) nobody has reviewed on chain, oldest first, one page.

        ``under_review`` adds those whose latest status is 1 (under review, no outcome yet).
        ``next`` continues the listing (None at the end).
        """
        if not 1 <= limit <= MAX_PAGE:
            raise ProtocolError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
        cursor = _parse_cursor(after)
        statuses = self.index.statuses()
        cp = self._checkpoint()
        anchored_size = cp.tree_size if cp is not None else 0
        found: list[tuple[bytes, int, int | None]] = []
        last: tuple[int, bytes] | None = cursor
        more = True  # rows may remain after ``last``
        while len(found) < limit and more:
            rows = self._page(last, limit * 2)
            more = len(rows) == limit * 2
            for i, (commitment, received_at, leaf_index) in enumerate(rows):
                last = (received_at, commitment)
                if self.index.awaiting(commitment, statuses, under_review):
                    found.append((commitment, received_at, leaf_index))
                    if len(found) == limit:
                        more = more or i < len(rows) - 1
                        break
        with_follow_up = self.follow_ups.having(c for c, _, _ in found)
        tips = [
            {
                "commitment": to_hex(c),
                "received_at": received_at,
                "leaf_index": leaf_index,
                "anchored": leaf_index is not None and leaf_index < anchored_size,
                "status": STATUS_NAMES.get(statuses.get(c, 0), "unreviewed"),
                "follow_up": c in with_follow_up,
            }
            for c, received_at, leaf_index in found
        ]
        return {"tips": tips, "next": _cursor_text(last) if more and last else None}

    def _page(self, after: tuple[int, bytes] | None, size: int) -> list[tuple[bytes, int, Any]]:
        t = submissions.c
        query = select(t.commitment, t.received_at, t.leaf_index).where(
            t.source == SOURCE_API, t.envelope.is_not(None)
        )
        if after is not None:
            received_at, commitment = after
            query = query.where(
                or_(
                    t.received_at > received_at,
                    and_(t.received_at == received_at, t.commitment > commitment),
                )
            )
        query = query.order_by(t.received_at, t.commitment).limit(size)
        with self.read_engine.connect() as conn:
            return [
                (bytes(c), int(r), None if i is None else int(i))
                for c, r, i in conn.execute(query).all()
            ]

    def tip(self, commitment: bytes) -> dict[str, Any]:
        """One tip for the desk: its envelope (base64), inclusion, promise, review, follow-up."""
        t = submissions.c
        with self.read_engine.connect() as conn:
            row = conn.execute(
                select(t.received_at, t.envelope).where(t.commitment == commitment)
            ).first()
        if row is None:
            raise NotFoundError(f"no tip with commitment {to_hex(commitment)}")
        if row.envelope is None:
            raise NotFoundError(
                f"tip {to_hex(commitment)} was committed directly on chain: the service holds "
                "no sealed copy of it"
            )
        status = self._tip_status(commitment)
        return {
            "commitment": to_hex(commitment),
            "received_at": int(row.received_at),
            "envelope": base64.b64encode(bytes(row.envelope)).decode("ascii"),
            "status": status.status,
            "leaf_index": status.leaf_index,
            "promise": None if status.promise is None else status.promise.model_dump(mode="json"),
            "inclusion": (
                None if status.inclusion is None else status.inclusion.model_dump(mode="json")
            ),
            "review": review_view(self._review_of(commitment), with_reviewer=True),
            "follow_up": bool(self.follow_ups.having([commitment])),
        }


def _parse_cursor(text: str | None) -> tuple[int, bytes] | None:
    if text is None or text == "":
        return None
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise ProtocolError(
            "query parameter 'after': not a cursor from a previous page "
            "(<received_at>-<64 hex digits>)"
        )
    return int(match.group(1)), bytes.fromhex(match.group(2))


def _cursor_text(key: tuple[int, bytes]) -> str:
    return f"{key[0]}-{key[1].hex()}"
