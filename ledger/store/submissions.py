"""Accepted submissions and their sequencing into the log.

``accept`` is the durability point: a tip is acknowledged only after the transaction holding its
row has committed. ``sequence`` moves pending submissions into the log in one transaction with
the log's own writes, so a crash leaves a submission either pending or sequenced, never between.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, and_, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ledger.core.agency import INTAKE, agency_id
from ledger.errors import ConflictError, ProtocolError, StoreError
from ledger.store.claims import claims_of, refusals
from ledger.store.database import connection, positional
from ledger.store.log_store import Appended, LogStore
from ledger.store.schema import SOURCE_API, SOURCE_DIRECT, submissions

__all__ = [
    "SOURCE_API",
    "SOURCE_DIRECT",
    "Companions",
    "NewSubmission",
    "Submission",
    "SubmissionStore",
    "new_routing_salt",
]

# Rows that belong to a submission (a follow-up secret's hash, a sealed identity record): written
# in the submission's own transaction, and only when the submission is new, so a tip is never
# stored without them nor they without it.
Companions = Sequence[tuple[Table, Mapping[str, Any]]]
# A companion's value in a column with a unique index of its own (a code's locator) is a claim
# (``ledger.store.claims``): an item whose claim another tip holds is refused alone.
_CLAIM_TRIES = 4  # PostgreSQL: another writer's claim committed meanwhile, the batch is retried

_IN_BATCH = 500
_ACCEPT_SQL = (
    "INSERT INTO submissions (commitment, received_at, source, envelope, promise_signer, "
    "promise_signature, agency, routing_salt, case_key, grants) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (commitment) DO NOTHING"
)
_INTAKE = agency_id(INTAKE)


def new_routing_salt() -> bytes:
    """32 bytes from the operating system's CSPRNG."""
    return secrets.token_bytes(32)


@dataclass(frozen=True)
class NewSubmission:
    """A tip to store. Each gets a fresh routing salt (PROTOCOL.md 16.4) unless one is given."""

    commitment: bytes
    received_at: int  # whole seconds: nothing finer is kept
    source: int = SOURCE_API
    envelope: bytes | None = None
    promise_signer: bytes | None = None
    promise_signature: bytes | None = None
    agency: bytes = _INTAKE
    routing_salt: bytes = field(default_factory=new_routing_salt)
    case_key: bytes | None = None  # the case public key the envelope is sealed to
    grants: bytes | None = None  # the agency's members' grants, 89 bytes each

    def __post_init__(self) -> None:
        if len(self.routing_salt) != 32 or len(self.agency) != 32:
            raise ProtocolError("a submission's agency and routing salt are 32 bytes each")


@dataclass(frozen=True)
class Submission(NewSubmission):
    leaf_index: int | None = None


def _write_companions(conn: Connection, companions: Sequence[Companions]) -> None:
    by_table: dict[Table, list[Mapping[str, Any]]] = {}
    for rows in companions:
        for table, values in rows:
            by_table.setdefault(table, []).append(values)
    for table, values_list in by_table.items():
        conn.execute(insert(table), list(values_list))


def _row(m: object) -> Submission:
    r = m._mapping  # type: ignore[attr-defined]
    return Submission(
        commitment=bytes(r["commitment"]),
        received_at=int(r["received_at"]),
        source=int(r["source"]),
        envelope=None if r["envelope"] is None else bytes(r["envelope"]),
        promise_signer=None if r["promise_signer"] is None else bytes(r["promise_signer"]),
        promise_signature=None if r["promise_signature"] is None else bytes(r["promise_signature"]),
        agency=bytes(r["agency"]),
        routing_salt=bytes(r["routing_salt"]),
        case_key=_opt_bytes(r["case_key"]),
        grants=_opt_bytes(r["grants"]),
        leaf_index=None if r["leaf_index"] is None else int(r["leaf_index"]),
    )


class SubmissionStore:
    """Submissions beside the log they go into (same database, same transactions)."""

    def __init__(self, log: LogStore) -> None:
        self.log = log

    def accept(
        self,
        items: Sequence[NewSubmission],
        companions: Sequence[Companions] | None = None,
    ) -> list[Submission]:
        """Store new submissions durably; one already known keeps its first row (idempotent).

        ``companions[i]`` (if given) are rows written with item ``i`` when it is new (its row is
        the one stored, and not a repeat earlier in ``items``). Returns the stored row of every
        item, in order, once the transaction has committed.
        """
        return self.accept_new(items, companions)[0]

    def accept_new(
        self,
        items: Sequence[NewSubmission],
        companions: Sequence[Companions] | None = None,
    ) -> tuple[list[Submission], list[bool]]:
        """``accept``, and for each item whether it was new (its row is the one stored now).

        With companions, newness is what the insert itself reports (``RETURNING``): a repeat
        within the same second carries a byte-identical promise (the signature is
        deterministic), so comparing rows could not tell it from the first. An item refused
        for a claim (``accept_each``) raises its ``ConflictError`` once the others are stored.
        """
        outcomes, news = self.accept_each(items, companions)
        stored: list[Submission] = []
        for outcome in outcomes:
            if isinstance(outcome, ConflictError):
                raise outcome
            stored.append(outcome)
        return stored, news

    def accept_each(
        self,
        items: Sequence[NewSubmission],
        companions: Sequence[Companions] | None = None,
    ) -> tuple[list[Submission | ConflictError], list[bool]]:
        """``accept_new`` with each item's own outcome: its stored row, or the ``ConflictError``
        that refused it alone (a companion's claim taken, see ``Companions``): nothing of a
        refused item is stored, and every other item of the batch is."""
        if not items:
            return [], []
        # Rows are written in commitment order, not in the order they came (the queue's order is
        # the arrival order): where a database keeps insertion order (PostgreSQL's heap), it
        # shows nothing but the commitments' own order within a group.
        order = sorted(range(len(items)), key=lambda i: items[i].commitment)
        if order != list(range(len(items))):
            stored, news = self._accept_ordered(
                [items[i] for i in order],
                None if companions is None else [companions[i] for i in order],
            )
            result: list[Submission | ConflictError | None] = [None] * len(items)
            new_flags = [False] * len(items)
            for place, i in enumerate(order):
                result[i], new_flags[i] = stored[place], news[place]
            return [r for r in result if r is not None], new_flags
        return self._accept_ordered(items, companions)

    def _accept_ordered(
        self,
        items: Sequence[NewSubmission],
        companions: Sequence[Companions] | None,
    ) -> tuple[list[Submission | ConflictError], list[bool]]:
        if companions and any(companions):
            claims = [claims_of(extra) for extra in companions]
            if not any(claims):
                return self._accept_exact(items, companions, {})
            for attempt in range(_CLAIM_TRIES):
                try:
                    with self.log.transaction() as conn:
                        refused = refusals(conn, items, claims)
                        return self._accept_exact(items, companions, refused, conn)
                except StoreError as exc:
                    if not isinstance(exc.__cause__, IntegrityError):
                        raise
                    if attempt == _CLAIM_TRIES - 1:
                        raise StoreError(
                            "storing the tips failed: their claims kept colliding with other "
                            "writers'"
                        ) from exc
            raise AssertionError("unreachable")
        # Parameters built before the transaction, and the insert sent straight to the driver:
        # the write lock is held for as little time (and as little Python) as possible.
        rows = [
            (
                i.commitment,
                i.received_at,
                i.source,
                i.envelope,
                i.promise_signer,
                i.promise_signature,
                i.agency,
                i.routing_salt,
                i.case_key,
                i.grants,
            )
            for i in items
        ]
        distinct = len({i.commitment for i in items}) == len(items)
        with self.log.transaction() as conn:
            inserted = conn.exec_driver_sql(positional(conn, _ACCEPT_SQL), rows).rowcount
            if distinct and inserted == len(items):
                # every row is new: what was stored is exactly what was given
                return [Submission(**i.__dict__) for i in items], [True] * len(items)
            stored = self._get_many(conn, [i.commitment for i in items])
        rows_stored = [stored[i.commitment] for i in items]
        seen: set[bytes] = set()
        news: list[bool] = []
        for item, row in zip(items, rows_stored, strict=True):
            # without companions a same-second repeat may count as new: only statistics differ
            news.append(
                row.promise_signature == item.promise_signature and item.commitment not in seen
            )
            seen.add(item.commitment)
        return list(rows_stored), news

    def _accept_exact(
        self,
        items: Sequence[NewSubmission],
        companions: Sequence[Companions],
        refused: Mapping[int, ConflictError],
        conn: Connection | None = None,
    ) -> tuple[list[Submission | ConflictError], list[bool]]:
        """Items with companions, in ``conn``'s transaction (or a new one); the items in
        ``refused`` are left out whole."""
        if conn is None:
            with self.log.transaction() as own:
                return self._accept_exact(items, companions, refused, own)
        kept = [i for i in range(len(items)) if i not in refused]
        dialect_insert = (
            postgresql.insert if self.log.engine.dialect.name == "postgresql" else sqlite.insert
        )
        statement = (
            dialect_insert(submissions)
            .on_conflict_do_nothing(index_elements=[submissions.c.commitment])
            .returning(submissions.c.commitment)
        )
        params = [
            {
                "commitment": i.commitment,
                "received_at": i.received_at,
                "source": i.source,
                "envelope": i.envelope,
                "promise_signer": i.promise_signer,
                "promise_signature": i.promise_signature,
                "agency": i.agency,
                "routing_salt": i.routing_salt,
                "case_key": i.case_key,
                "grants": i.grants,
            }
            for i in (items[k] for k in kept)
        ]
        fresh = {bytes(c) for c in conn.execute(statement, params).scalars()} if params else set()
        seen: set[bytes] = set()
        news = [False] * len(items)
        for k in kept:
            commitment = items[k].commitment
            news[k] = commitment in fresh and commitment not in seen
            seen.add(commitment)
        _write_companions(conn, [extra for extra, new in zip(companions, news, strict=True) if new])
        known = self._get_many(conn, [items[k].commitment for k in kept if not news[k]])
        result: list[Submission | ConflictError] = []
        for k, item in enumerate(items):
            if k in refused:
                result.append(refused[k])
            else:
                result.append(Submission(**item.__dict__) if news[k] else known[item.commitment])
        return result, news

    def _get_many(self, conn: Connection, commitments: Sequence[bytes]) -> dict[bytes, Submission]:
        wanted = list(dict.fromkeys(commitments))
        found: dict[bytes, Submission] = {}
        for i in range(0, len(wanted), _IN_BATCH):
            rows = conn.execute(
                select(submissions).where(submissions.c.commitment.in_(wanted[i : i + _IN_BATCH]))
            )
            for row in rows:
                s = _row(row)
                found[s.commitment] = s
        return found

    def get(self, commitment: bytes) -> Submission | None:
        with connection(self.log.engine, "reading the submissions") as conn:
            return self._get_many(conn, [commitment]).get(commitment)

    def pending_count(self, before: int | None = None) -> int:
        """Submissions not yet in the log (only those received before ``before``, if given)."""
        t = submissions.c
        waiting: ColumnElement[bool] = t.leaf_index.is_(None)
        if before is not None:
            waiting = and_(waiting, t.received_at < before)
        with connection(self.log.engine, "reading the submissions") as conn:
            count = conn.scalar(select(func.count()).select_from(submissions).where(waiting))
        return int(count or 0)

    def standing(self, commitment: bytes) -> Submission | None:
        """The row of ``commitment`` without its envelope (where it stands, its promise)."""
        t = submissions.c
        with connection(self.log.engine, "reading the submissions") as conn:
            row = conn.execute(
                select(
                    t.commitment,
                    t.received_at,
                    t.source,
                    t.promise_signer,
                    t.promise_signature,
                    t.leaf_index,
                    t.agency,
                    t.routing_salt,
                    t.case_key,
                ).where(t.commitment == commitment)
            ).first()
        if row is None:
            return None
        return Submission(
            commitment=bytes(row.commitment),
            received_at=int(row.received_at),
            source=int(row.source),
            promise_signer=_opt_bytes(row.promise_signer),
            promise_signature=_opt_bytes(row.promise_signature),
            agency=bytes(row.agency),
            routing_salt=bytes(row.routing_salt),
            case_key=_opt_bytes(row.case_key),
            leaf_index=None if row.leaf_index is None else int(row.leaf_index),
        )

    def sealed_page(
        self,
        after: tuple[int, bytes] | None,
        size: int,
        held: ColumnElement[bool] | None = None,
    ) -> list[tuple[bytes, int, int | None]]:
        """Up to ``size`` submissions that hold a sealed copy for the desk, as
        ``(commitment, received_at, leaf_index)``, in ``(received_at, commitment)`` order after
        the key ``after``."""
        t = submissions.c
        query = select(t.commitment, t.received_at, t.leaf_index).where(
            t.source == SOURCE_API, t.envelope.is_not(None)
        )
        if held is not None:  # only the cases one agency holds (``CaseStore.held_by``)
            query = query.where(held)
        if after is not None:
            received_at, commitment = after
            query = query.where(
                or_(
                    t.received_at > received_at,
                    and_(t.received_at == received_at, t.commitment > commitment),
                )
            )
        query = query.order_by(t.received_at, t.commitment).limit(size)
        with connection(self.log.engine, "reading the submissions") as conn:
            return [
                (bytes(c), int(r), None if i is None else int(i))
                for c, r, i in conn.execute(query).all()
            ]

    def received_counts(self, start: int, end: int) -> list[tuple[int, int]]:
        """``(received_at, how many)`` of the entries ``start`` up to ``end`` (exclusive)."""
        t = submissions.c
        with connection(self.log.engine, "reading the submissions") as conn:
            rows = conn.execute(
                select(t.received_at, func.count())
                .where(t.leaf_index >= start, t.leaf_index < end)
                .group_by(t.received_at)
            ).all()
        return [(int(received_at), int(n)) for received_at, n in rows]

    def promises(self, start: int, end: int, limit: int) -> list[tuple[int, int, bytes, bytes]]:
        """``(leaf_index, received_at, promise_signer, promise_signature)`` of the entries
        ``start`` up to ``end`` (exclusive) that came through the API with a signed promise,
        at most ``limit`` of them, by leaf index (the oversight audit's arrival times)."""
        t = submissions.c
        query = (
            select(t.leaf_index, t.received_at, t.promise_signer, t.promise_signature)
            .where(
                t.leaf_index >= start,
                t.leaf_index < end,
                t.source == SOURCE_API,
                t.promise_signature.is_not(None),
                t.promise_signer.is_not(None),
            )
            .order_by(t.leaf_index)
            .limit(limit)
        )
        with connection(self.log.engine, "reading the submissions") as conn:
            return [
                (int(i), int(r), bytes(signer), bytes(signature))
                for i, r, signer, signature in conn.execute(query).all()
            ]

    def oldest_pending(self) -> int | None:
        """``received_at`` of the oldest submission not yet in the log (for maxMergeDelay)."""
        with connection(self.log.engine, "reading the submissions") as conn:
            value = conn.scalar(
                select(func.min(submissions.c.received_at)).where(
                    submissions.c.leaf_index.is_(None)
                )
            )
        return None if value is None else int(value)

    def sequence(self, limit: int, before: int | None = None) -> list[Appended]:
        """Give up to ``limit`` pending submissions their leaf indices, oldest second first.

        Within one second, order is by commitment: arrival order finer than a second is neither
        stored nor revealed by the log. ``before`` (a Unix second) leaves the API's submissions
        received at or after it pending (direct commitments carry the chain's time and the chain
        already shows their order).
        """
        t = submissions.c
        waiting: ColumnElement[bool] = t.leaf_index.is_(None)
        if before is not None:
            waiting = and_(waiting, or_(t.received_at < before, t.source == SOURCE_DIRECT))
        with self.log.transaction() as conn:
            self.log.lock_for_append(conn)  # before choosing: one sequencing at a time
            pending = [
                bytes(c)
                for c in conn.execute(
                    select(t.commitment)
                    .where(waiting)
                    .order_by(t.received_at, t.commitment)
                    .limit(limit)
                ).scalars()
            ]
            if not pending:
                return []
            # Pending rows are distinct (primary key) and not yet in the log (leaf_index NULL).
            appended = self.log.append_in(conn, pending, distinct_new=True)
            conn.exec_driver_sql(
                positional(conn, "UPDATE submissions SET leaf_index = ? WHERE commitment = ?"),
                [(a.leaf_index, a.commitment) for a in appended],
            )
            if conn.dialect.name == "postgresql":
                _rewrite_companions(conn, [a.commitment for a in appended])
        return appended


# PostgreSQL keeps, in every row version, the id of the transaction that wrote it (xmin: tips
# stored one by one get increasing ids) and writes versions in the heap in the order written.
# Sequencing rewrites a batch's rows (the UPDATE above, and these for the rows stored with a
# tip) in one transaction and in log order: the live versions then share one xmin and lie in
# log order, not arrival order. Old versions stay in the heap until (auto)vacuum (docs/DESIGN.md).
_COMPANION_REWRITES = (
    "UPDATE follow_ups SET secret_hash = secret_hash WHERE commitment = %s",
    "UPDATE vault_records SET nonce = nonce WHERE commitment = %s",
    "UPDATE vault_shares SET sealed = sealed WHERE record_id IN "
    "(SELECT record_id FROM vault_records WHERE commitment = %s)",
)


def _rewrite_companions(conn: Connection, commitments: Sequence[bytes]) -> None:
    for sql in _COMPANION_REWRITES:
        conn.exec_driver_sql(sql, [(c,) for c in commitments])


def _opt_bytes(value: object) -> bytes | None:
    return None if value is None else bytes(value)  # type: ignore[call-overload]
