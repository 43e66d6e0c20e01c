"""What an agency's members read from the service: cases awaiting review, and one sealed case.

The service holds each tip only sealed to its case key, granted to the members of the agencies
holding it, so what it serves a member is the envelope and that member's grant (opened on the
member's machine), the routing proof the contract asks for at the first review, where the tip
stands in the log with its inclusion proof, and its reviews read from the chain.
Decisions are not made here: the reviewer's own key records them on chain (``recordReview``).
"""

from __future__ import annotations

import base64
import re
from typing import Any

from ledger.core.agency import agency_slug
from ledger.core.encoding import to_hex
from ledger.core.routing import RoutingProof
from ledger.desk.cases import CaseDesk, MemberContext
from ledger.desk.reviews import STATUS_NAMES, ReviewIndex, review_view
from ledger.errors import NotFoundError, ProtocolError
from ledger.log.reader import LogReader
from ledger.log.receipts import ReceiptBuilder
from ledger.store.attachments import AttachmentStore
from ledger.store.followups import FollowUpStore

__all__ = ["MAX_PAGE", "ReviewDesk", "routing_view"]

MAX_PAGE = 500
_CURSOR = re.compile(r"(\d{1,19})-([0-9a-f]{64})")


class ReviewDesk:
    """The desk's reads: the log's read side, the follow-up store, reviews from chain."""

    def __init__(
        self,
        reader: LogReader,
        *,
        index: ReviewIndex,
        follow_ups: FollowUpStore,
        receipts: ReceiptBuilder,
        cases: CaseDesk,
        attachments: AttachmentStore | None = None,
    ) -> None:
        self.reader = reader
        self.attachments = attachments
        self.index = index
        self.follow_ups = follow_ups
        self.receipts = receipts
        self.cases = cases

    def awaiting(
        self,
        who: MemberContext,
        *,
        after: str | None = None,
        limit: int = 100,
        under_review: bool = False,
    ) -> dict[str, Any]:
        """Cases ``who``'s agency holds that it has not reviewed on chain, oldest first, one
        page.

        ``under_review`` adds those whose latest status from this agency is 1 (under review,
        no outcome yet). ``next`` continues the listing (None at the end).
        """
        if not 1 <= limit <= MAX_PAGE:
            raise ProtocolError(f"limit must be between 1 and {MAX_PAGE}, got {limit}")
        cursor = _parse_cursor(after)
        statuses = self.index.statuses_of(who.agency)
        held = self.cases.cases.held_by(who.agency)
        anchored_size = self.reader.anchored_size()
        found: list[tuple[bytes, int, int | None]] = []
        last: tuple[int, bytes] | None = cursor
        more = True  # rows may remain after ``last``
        while len(found) < limit and more:
            rows = self.reader.submissions.sealed_page(last, limit * 2, held)
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

    def tip(self, commitment: bytes, who: MemberContext) -> dict[str, Any]:
        """One case for a member: its envelope (base64) and this member's grant of its case
        key, its routing proof, where it stands in the log, its holders and reviews."""
        row = self.reader.submissions.get(commitment)
        if row is None:
            raise NotFoundError(f"no tip with commitment {to_hex(commitment)}")
        if row.envelope is None:
            raise NotFoundError(
                f"the service holds no sealed copy of tip {to_hex(commitment)}: it was committed "
                "directly on chain, or submitted locally where no agency was reachable"
            )
        holders = self.cases.require_holding(row, who)
        grant = self.cases.grant_for(row, who)
        routing = self.cases.routing_proof(row)
        status = self.reader.tip_status(commitment)
        return {
            "commitment": to_hex(commitment),
            "received_at": row.received_at,
            "envelope": base64.b64encode(row.envelope).decode("ascii"),
            "agency": agency_slug(row.agency),
            "holders": sorted(agency_slug(a) for a in holders),
            "case_key": None if row.case_key is None else to_hex(row.case_key),
            "grant": None if grant is None else base64.b64encode(grant).decode("ascii"),
            "routing": None if routing is None else routing_view(routing),
            "status": status.status,
            **self.receipts.standing(status),
            "review": review_view(self.index.review_by(commitment, who.agency), with_reviewer=True),
            "latest_review": review_view(self.index.review_of(commitment), with_reviewer=True),
            "follow_up": bool(self.follow_ups.having([commitment])),
            # Sealed sizes of the attachments sealed on the device, in document order (fetch
            # each from .../attachments/{position}); empty for a tip without them.
            "attachments": [] if self.attachments is None else self.attachments.sizes(commitment),
        }

    def attachment(self, commitment: bytes, position: int, who: MemberContext) -> bytes:
        """One sealed attachment of a case ``who``'s agency holds."""
        row = self.reader.submissions.get(commitment)
        if row is None:
            raise NotFoundError(f"no tip with commitment {to_hex(commitment)}")
        self.cases.require_holding(row, who)
        stream = None if self.attachments is None else self.attachments.stream(commitment, position)
        if stream is None:
            raise NotFoundError(f"tip {to_hex(commitment)} has no attachment {position}")
        return stream


def routing_view(proof: RoutingProof) -> dict[str, Any]:
    return {
        "tree_size": proof.tree_size,
        "index": proof.index,
        "salt": to_hex(proof.salt),
        "path": [to_hex(p) for p in proof.path],
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
