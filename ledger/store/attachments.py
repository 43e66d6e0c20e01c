"""Attachments sealed on the reporter's device: stored with their tip, read by its members.

Each is one sealed stream (``ledger.core.attachment``) at its position in the tip document's
list. They are written only as companions of a new tip, in its transaction
(``SubmissionStore.accept``), so a tip is never stored with part of its attachments.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, func, select

from ledger.store.database import connection
from ledger.store.schema import tip_attachments
from ledger.store.submissions import Companions

__all__ = ["AttachmentStore"]


class AttachmentStore:
    """Reads of sealed attachments (writes go with their tip as companion rows)."""

    def __init__(self, read_engine: Engine) -> None:
        self.read_engine = read_engine

    @staticmethod
    def companion_rows(commitment: bytes, streams: Sequence[bytes]) -> Companions:
        return [
            (tip_attachments, {"commitment": commitment, "position": i, "stream": bytes(s)})
            for i, s in enumerate(streams)
        ]

    def sizes(self, commitment: bytes) -> list[int]:
        """The sealed size of each attachment of a tip, in document order."""
        t = tip_attachments.c
        with connection(self.read_engine, "reading the tip's attachments") as conn:
            rows = conn.execute(
                select(t.position, func.length(t.stream))
                .where(t.commitment == commitment)
                .order_by(t.position)
            ).all()
        return [int(size) for _position, size in rows]

    def stream(self, commitment: bytes, position: int) -> bytes | None:
        """One sealed attachment, or None if the tip has none at ``position``."""
        t = tip_attachments.c
        with connection(self.read_engine, "reading a sealed attachment") as conn:
            row = conn.execute(
                select(t.stream).where(t.commitment == commitment, t.position == position)
            ).first()
        return None if row is None else bytes(row[0])
