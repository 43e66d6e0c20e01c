"""A lease in the database: exactly one holder at a time, taken over only once it has expired.

Several service instances share one PostgreSQL database; each runs a sequencer, and only the
holder of the ``sequencer`` lease acts. The holder renews the lease every step; if it dies, the
lease expires after ``seconds`` and the next instance to try takes it over.

Time is the database's clock, never the instances' (their clocks may disagree): every check is
one compare-and-set ``UPDATE … WHERE holder = me OR expires_at < now()``, atomic on SQLite (one
writer at a time) and on PostgreSQL (the row lock makes a concurrent UPDATE re-check its WHERE).
``term`` grows by one whenever the holder changes, so a write can be fenced by the term it was
decided under. Locally, the holder also keeps a conservative deadline measured on its own
monotonic clock from *before* it asked, so ``held()`` never claims more than the database gave.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

from sqlalchemy import Connection, Double, Engine, case, cast, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from ledger.errors import LeaseLostError, StoreError
from ledger.store.database import transaction
from ledger.store.schema import leases

__all__ = ["Lease", "db_now"]

DEFAULT_SECONDS = 5.0


def db_now(dialect: str) -> ColumnElement[float]:
    """The database server's current time as Unix seconds (float), as an SQL expression."""
    if dialect == "postgresql":
        # clock_timestamp(), not now(): the time of this statement, not of the transaction.
        return cast(func.extract("epoch", func.clock_timestamp()), Double)
    if dialect == "sqlite":
        return (func.julianday("now") - literal(2440587.5)) * literal(86400.0)
    raise StoreError(f"leases are not supported on {dialect}")


class Lease:
    """The lease ``name`` in ``engine``'s database, tried for by ``holder``."""

    def __init__(
        self,
        engine: Engine,
        name: str = "sequencer",
        holder: str | None = None,
        seconds: float = DEFAULT_SECONDS,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if seconds <= 0:
            raise ValueError("a lease must last a positive number of seconds")
        self.engine = engine
        self.name = name
        self.holder = holder or uuid.uuid4().hex
        self.seconds = float(seconds)
        self._monotonic = monotonic
        self._deadline = 0.0  # local monotonic time until which we surely hold it
        self._term: int | None = None

    @property
    def term(self) -> int | None:
        """The term under which we last held the lease (None if we never did)."""
        return self._term

    def held(self) -> bool:
        """Whether we surely hold the lease now, without asking the database."""
        return self._monotonic() < self._deadline

    def try_acquire(self) -> bool:
        """Acquire the lease, or renew it if we hold it; False if someone else holds it."""
        started = self._monotonic()
        with self._begin() as conn:
            now = db_now(conn.dialect.name)
            # RETURNING rather than rowcount: psycopg reports -1 for INSERT … ON CONFLICT.
            term = conn.scalar(
                update(leases)
                .where(
                    leases.c.name == self.name,
                    or_(leases.c.holder == self.holder, leases.c.expires_at < now),
                )
                .values(
                    holder=self.holder,
                    expires_at=now + self.seconds,
                    term=case(
                        (leases.c.holder == self.holder, leases.c.term), else_=leases.c.term + 1
                    ),
                )
                .returning(leases.c.term)
            )
            if term is None:
                insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
                term = conn.scalar(
                    insert(leases)
                    .values(
                        name=self.name, holder=self.holder, expires_at=now + self.seconds, term=1
                    )
                    .on_conflict_do_nothing(index_elements=["name"])
                    .returning(leases.c.term)
                )
            if term is None:
                self._deadline = 0.0
                return False
            self._term = int(term)
        self._deadline = started + self.seconds
        return True

    def release(self) -> None:
        """Give the lease up at once (if we hold it), so another instance need not wait."""
        self._deadline = 0.0
        with self._begin() as conn:
            conn.execute(
                update(leases)
                .where(leases.c.name == self.name, leases.c.holder == self.holder)
                .values(expires_at=db_now(conn.dialect.name) - 1.0)
            )

    def current(self) -> tuple[str, float] | None:
        """(holder, seconds until it expires; negative once expired), or None if never taken."""
        with self._begin() as conn:
            row = conn.execute(
                select(leases.c.holder, leases.c.expires_at - db_now(conn.dialect.name)).where(
                    leases.c.name == self.name
                )
            ).first()
        return None if row is None else (str(row[0]), float(row[1]))

    def check_in(self, conn: Connection) -> None:
        """Fence a write: raise LeaseLostError unless we hold the lease, inside ``conn``'s
        transaction. On PostgreSQL the lease row stays locked until that transaction ends, so
        no one can take the lease over between this check and the commit."""
        now = db_now(conn.dialect.name)
        query = select(leases.c.holder, leases.c.term, leases.c.expires_at > now).where(
            leases.c.name == self.name
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None or row[0] != self.holder or not row[2] or row[1] != self._term:
            self._deadline = 0.0
            raise LeaseLostError(
                f"this instance ({self.holder[:8]}) no longer holds the {self.name} lease"
            )

    def _begin(self) -> AbstractContextManager[Connection]:
        return transaction(self.engine, f"the {self.name} lease")

    def __repr__(self) -> str:
        return f"Lease({self.name!r}, holder={self.holder[:8]}, {self.seconds:g} s)"
