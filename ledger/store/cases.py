"""Cases across agencies: each tip's routing, who holds it after referrals, and its grants.

A submission row carries the agency it was routed to, its routing salt, its case public key and
the grants made at intake (``ledger.store.submissions``). Here are the rest: the routing of an
anchored batch (for the anchor's routing root and for routing proofs), the holders a referral
changed, the grants made later (a referral, a member added later) and the service's copy of the
referrals themselves. The chain is the authority on who holds a case (``holds`` on the
contract); these rows follow it, written only after the chain has shown each referral.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Engine, and_, delete, func, insert, or_, select

from ledger.core.casekey import GRANT_SIZE
from ledger.errors import StoreError
from ledger.store.database import connection, transaction
from ledger.store.schema import (
    case_grants,
    case_holders,
    case_referrals,
    log_entries,
    submissions,
)

__all__ = ["CaseStore", "Route", "StoredReferral", "split_grants"]


@dataclass(frozen=True)
class Route:
    leaf_index: int
    commitment: bytes
    agency: bytes
    salt: bytes


@dataclass(frozen=True)
class StoredReferral:
    commitment: bytes
    position: int
    from_agency: bytes
    to_agency: bytes
    keep_access: bool
    referred_by: str
    tx_hash: bytes
    block_number: int


def split_grants(blob: bytes | None) -> list[bytes]:
    """The 89-byte grants concatenated in a submission's ``grants`` column."""
    if not blob:
        return []
    if len(blob) % GRANT_SIZE:
        raise StoreError(f"a stored grant list is {len(blob)} bytes, not a multiple of 89")
    return [blob[i : i + GRANT_SIZE] for i in range(0, len(blob), GRANT_SIZE)]


class CaseStore:
    def __init__(self, engine: Engine, read_engine: Engine | None = None) -> None:
        self.engine = engine
        self.read_engine = read_engine or engine

    # -- routing ---------------------------------------------------------------------------

    def routes(self, start: int, end: int) -> list[Route]:
        """The routing of log entries ``start`` up to ``end`` (exclusive), in log order."""
        e, s = log_entries.c, submissions.c
        query = (
            select(e.leaf_index, e.commitment, s.agency, s.routing_salt)
            .join(submissions, s.commitment == e.commitment)
            .where(e.leaf_index >= start, e.leaf_index < end)
            .order_by(e.leaf_index)
        )
        with connection(self.engine, "reading the routing") as conn:
            rows = conn.execute(query).all()
        if len(rows) != end - start:
            raise StoreError(
                f"entries {start}..{end - 1} have {len(rows)} routes, not {end - start}: a log "
                "entry without its submission"
            )
        return [Route(int(i), bytes(c), bytes(a), bytes(salt)) for i, c, a, salt in rows]

    # -- holders ---------------------------------------------------------------------------

    def holders(self, commitment: bytes, routed_to: bytes) -> set[bytes]:
        """The agencies holding a case routed to ``routed_to``, after its referrals."""
        h = case_holders.c
        with connection(self.read_engine, "reading the case holders") as conn:
            rows = conn.execute(select(h.agency, h.holds).where(h.commitment == commitment)).all()
        held = {bytes(a): bool(x) for a, x in rows}
        result = {a for a, x in held.items() if x}
        if held.get(routed_to, True):
            result.add(routed_to)
        return result

    def held_by(self, agency: bytes) -> ColumnElement[bool]:
        """A WHERE clause: submissions held by ``agency`` (for listings in ``ledger.store``)."""
        s, h = submissions.c, case_holders.c
        override = (
            select(h.holds)
            .where(h.commitment == s.commitment, h.agency == agency)
            .scalar_subquery()
        )
        return or_(
            override == 1,
            and_(s.agency == agency, func.coalesce(override, 1) == 1),
        )

    # -- referrals and later grants ----------------------------------------------------------

    def record_referral(
        self, referral: StoredReferral, grants: Sequence[tuple[bytes, bytes]]
    ) -> bool:
        """Store a referral the chain has shown, the new holders and the ``(member key id,
        grant)`` pairs for the receiving agency, in one transaction. False if this referral's
        transaction was stored already (the call is idempotent)."""
        r = case_referrals.c
        with transaction(self.engine, "storing the referral") as conn:
            if conn.scalar(select(func.count()).where(r.tx_hash == referral.tx_hash)):
                return False
            position = conn.scalar(select(func.count()).where(r.commitment == referral.commitment))
            conn.execute(
                insert(case_referrals).values(
                    commitment=referral.commitment,
                    position=int(position or 0),
                    from_agency=referral.from_agency,
                    to_agency=referral.to_agency,
                    keep_access=int(referral.keep_access),
                    referred_by=referral.referred_by,
                    tx_hash=referral.tx_hash,
                    block_number=referral.block_number,
                )
            )
            self._set_holder(conn, referral.commitment, referral.to_agency, True)
            if not referral.keep_access:
                self._set_holder(conn, referral.commitment, referral.from_agency, False)
            self._put_grants(conn, referral.commitment, referral.to_agency, grants)
        return True

    def add_grants(
        self, commitment: bytes, agency: bytes, grants: Sequence[tuple[bytes, bytes]]
    ) -> None:
        """Grants to members of ``agency`` made after intake (replacing a member key's earlier)."""
        with transaction(self.engine, "storing the grants") as conn:
            self._put_grants(conn, commitment, agency, grants)

    def grant_for(self, commitment: bytes, member_key_id: bytes) -> bytes | None:
        """A later grant for this member key, if any (intake grants are on the submission)."""
        g = case_grants.c
        with connection(self.read_engine, "reading the grants") as conn:
            value = conn.scalar(
                select(g.grant).where(g.commitment == commitment, g.member_key_id == member_key_id)
            )
        return None if value is None else bytes(value)

    def referrals(self, commitment: bytes) -> list[StoredReferral]:
        r = case_referrals.c
        with connection(self.read_engine, "reading the referrals") as conn:
            rows = conn.execute(
                select(case_referrals).where(r.commitment == commitment).order_by(r.position)
            ).all()
        return [
            StoredReferral(
                commitment=bytes(row.commitment),
                position=int(row.position),
                from_agency=bytes(row.from_agency),
                to_agency=bytes(row.to_agency),
                keep_access=bool(row.keep_access),
                referred_by=str(row.referred_by),
                tx_hash=bytes(row.tx_hash),
                block_number=int(row.block_number),
            )
            for row in rows
        ]

    @staticmethod
    def _set_holder(conn: Connection, commitment: bytes, agency: bytes, holds: bool) -> None:
        h = case_holders.c
        conn.execute(delete(case_holders).where(h.commitment == commitment, h.agency == agency))
        conn.execute(
            insert(case_holders).values(commitment=commitment, agency=agency, holds=int(holds))
        )

    @staticmethod
    def _put_grants(
        conn: Connection, commitment: bytes, agency: bytes, grants: Sequence[tuple[bytes, bytes]]
    ) -> None:
        if not grants:
            return
        g = case_grants.c
        conn.execute(
            delete(case_grants).where(
                g.commitment == commitment, g.member_key_id.in_([k for k, _ in grants])
            )
        )
        conn.execute(
            insert(case_grants),
            [
                {"commitment": commitment, "member_key_id": k, "agency": agency, "grant": grant}
                for k, grant in grants
            ],
        )
