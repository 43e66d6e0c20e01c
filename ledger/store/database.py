"""Open a database by URL and bring its schema up to date with Alembic."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 0x7469706C65646772  # "tipledgr": the advisory lock key for migrations


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # WAL lets readers (proofs, receipts) run beside the one writer; FULL makes a commit durable
    # before we acknowledge it, even on power loss.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_query_only(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def _sqlite_begin(conn: object) -> None:
    # Take the write lock at BEGIN, so two writers serialise instead of failing on upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")  # type: ignore[attr-defined]


def _sqlite_begin_read(conn: object) -> None:
    # A deferred read transaction: one WAL snapshot for all its statements, no write lock.
    conn.exec_driver_sql("BEGIN")  # type: ignore[attr-defined]


def open_database(url: str, *, migrate: bool = True, read_only: bool = False) -> Engine:
    """An engine for ``url`` (``sqlite:///…`` or ``postgresql+psycopg://…``), schema migrated.

    ``read_only`` gives an engine for readers beside the writers (the API's proofs and receipts):
    each transaction reads one consistent snapshot (SQLite: a deferred ``BEGIN`` on the WAL, not
    ``BEGIN IMMEDIATE``, so readers never wait for the write lock; PostgreSQL: ``REPEATABLE
    READ``, so a multi-statement read never mixes two commits), and writing is refused.
    """
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            if read_only:
                event.listen(engine, "connect", _sqlite_query_only)
            # Let SQLAlchemy stop emitting its own BEGIN so ours (IMMEDIATE) is the one used.
            event.listen(
                engine,
                "connect",
                lambda dbapi_conn, _rec: setattr(dbapi_conn, "isolation_level", None),
            )
            event.listen(engine, "begin", _sqlite_begin_read if read_only else _sqlite_begin)
        elif read_only:
            engine = create_engine(
                url,
                pool_pre_ping=True,
                isolation_level="REPEATABLE READ",
                execution_options={"postgresql_readonly": True},
            )
        else:
            engine = create_engine(url, pool_pre_ping=True)
        if migrate:
            upgrade(engine)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot open the database at {_redact(url)}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}"
        ) from exc
    return engine


def upgrade(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several processes start at once (serve --workers N, instances): one migrates at a
            # time, the others then find the schema current. (SQLite: BEGIN IMMEDIATE does it.)
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        # "heads": features add their tables on branches of their own (merged when released).
        command.upgrade(config, "heads")


def _redact(url: str) -> str:
    # Never print a password that may sit in a database URL.
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return url


def positional(conn: Connection, sql: str) -> str:
    """Constant ``sql`` written with ``?`` placeholders, in the driver's own paramstyle.

    For the few bulk statements sent with ``exec_driver_sql``: SQLAlchemy's per-row parameter
    processing costs more than the statement itself on a 65,536-row batch.
    """
    return sql if conn.dialect.paramstyle == "qmark" else sql.replace("?", "%s")


@contextlib.contextmanager
def transaction(engine: Engine, what: str = "the database") -> Iterator[Connection]:
    """One write transaction; any database failure is a ``StoreError`` saying what failed."""
    try:
        with engine.begin() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise StoreError(f"{what} failed: {_reason(exc)}") from exc


@contextlib.contextmanager
def connection(engine: Engine, what: str = "reading the database") -> Iterator[Connection]:
    """A connection for reads; any database failure is a ``StoreError`` saying what failed."""
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise StoreError(f"{what} failed: {_reason(exc)}") from exc


def _reason(exc: SQLAlchemyError) -> str:
    # The first line names the driver's error; the rest is SQL and parameters, never shown.
    return (
        f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
        if str(exc)
        else (exc.__class__.__name__)
    )


class WriterLock:
    """An exclusive ``flock`` on a file beside a SQLite database, taken around each group commit.

    Several worker processes each commit their own groups; SQLite lets one writer in at a time
    and makes the others retry on a sleeping back-off (1, 2, 5, 10 ms ...), which wastes most of
    the lock's time under load. Waiting on ``flock`` instead hands the lock over the moment it is
    released.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._mutex = threading.Lock()

    def __enter__(self) -> None:
        self._mutex.acquire()
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._mutex.release()


def writer_lock(url: str) -> WriterLock | None:
    """The file lock group commits take on a SQLite database file (None for others)."""
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    return WriterLock(Path(url.removeprefix("sqlite:///") + ".intake-lock"))
