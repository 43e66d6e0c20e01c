"""No arrival order inside a second is kept by either database (issue 14, point 3).

Tips stored one by one (each its own transaction, as the intake does for tips sent one after
another) and in one group commit: afterwards every hidden order a database keeps is read
(SQLite: rowid, and the order of a scan without ORDER BY; PostgreSQL: heap order of the live
rows (ctid), the writing transaction (xmin), sequences) and must be the commitments' own order
or one shared value, never the order in which the tips came. Plus the follow-up thread's
per-thread positions and migration 0009 on a database holding rows.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, func, insert, select, text
from sqlalchemy.exc import OperationalError

from ledger.errors import ProtocolError
from ledger.store import LogStore
from ledger.store.database import MIGRATIONS, open_database
from ledger.store.followups import FollowUpStore, StoredMessage
from ledger.store.schema import (
    follow_up_messages,
    follow_ups,
    metadata,
    vault_custodian_sets,
    vault_records,
    vault_shares,
)
from ledger.store.submissions import Companions, NewSubmission, SubmissionStore


def differences(engine: Engine) -> list[Any]:
    """Alembic's comparison of the migrated schema with the declared one (as test_migrations)."""
    options = {"compare_type": True, "compare_server_default": True}
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts=options), metadata))


SECOND = 1_764_200_000
TIP_TABLES = ("submissions", "follow_ups", "vault_records", "vault_shares", "follow_up_messages")


def vault_set(engine: Engine) -> int:
    with engine.begin() as conn:
        conn.execute(
            insert(vault_custodian_sets).values(
                kind="identity", version=1, threshold=1, created_at=SECOND, created_by="0x0"
            )
        )
        return int(conn.scalar(select(func.max(vault_custodian_sets.c.id))) or 0)


def companions(commitment: bytes, set_id: int) -> Companions:
    record = os.urandom(32)
    return [
        (follow_ups, {"commitment": commitment, "secret_hash": "h", "reporter_key": bytes(32)}),
        (
            vault_records,
            {
                "record_id": record,
                "kind": "identity",
                "epoch": 0,
                "threshold": 1,
                "set_id": set_id,
                "nonce": bytes(12),
                "ciphertext": b"c",
                "commitment": commitment,
            },
        ),
        (
            vault_shares,
            {
                "record_id": record,
                "share_index": 1,
                "custodian_key_id": "k",
                "epoch": 0,
                "sealed": bytes(64),
            },
        ),
    ]


def hidden_order(engine: Engine, table: str, key: str) -> list[tuple[bytes, Any]]:
    """``(key, writer)`` of every row of ``table`` in the order the database keeps them:
    SQLite's scan order (and no rowid may exist), PostgreSQL's heap order with each live row's
    xmin."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            with pytest.raises(OperationalError, match="rowid"):
                conn.exec_driver_sql(f"SELECT rowid FROM {table}")
            rows = conn.exec_driver_sql(f"SELECT {key} FROM {table}").all()
            return [(bytes(r[0]), None) for r in rows]
        rows = conn.exec_driver_sql(f"SELECT {key}, xmin::text, ctid::text FROM {table}").all()

    def place(ctid: str) -> tuple[int, int]:
        page, item = ctid.strip("()").split(",")
        return int(page), int(item)

    return [(bytes(k), x) for k, x, _ in sorted(rows, key=lambda r: place(r[2]))]


def assert_no_order(engine: Engine, commitments: list[bytes]) -> None:
    for table in ("submissions", "follow_ups", "vault_records"):
        rows = hidden_order(engine, table, "commitment")
        assert [k for k, _ in rows] == sorted(commitments), table
        assert len({x for _, x in rows}) == 1, f"{table}: rows written by several transactions"
    shares = hidden_order(engine, "vault_shares", "record_id")
    assert len(shares) == len(commitments)
    assert len({x for _, x in shares}) == 1


def test_tips_stored_one_by_one_in_a_second_leave_no_order(engine: Engine) -> None:
    store = SubmissionStore(LogStore(engine))
    set_id = vault_set(engine)
    sent = [os.urandom(32) for _ in range(10)]
    assert sent != sorted(sent)
    for c in sent:  # one transaction each, in sending order
        store.accept([NewSubmission(c, SECOND)], [companions(c, set_id)])
    appended = store.sequence(100, before=SECOND + 1)
    assert [a.commitment for a in appended] == sorted(sent)  # the log: commitment order
    assert_no_order(engine, sent)


def test_a_group_commit_writes_its_rows_in_commitment_order(engine: Engine) -> None:
    store = SubmissionStore(LogStore(engine))
    set_id = vault_set(engine)
    sent = [os.urandom(32) for _ in range(10)]
    items = [NewSubmission(c, SECOND) for c in sent]
    stored, news = store.accept_new(items, [companions(c, set_id) for c in sent])
    assert [s.commitment for s in stored] == sent  # answered in the caller's order
    assert news == [True] * 10
    # Before sequencing: one transaction wrote them all, in commitment order.
    assert_no_order(engine, sent)
    plain = [NewSubmission(os.urandom(32), SECOND + 1) for _ in range(10)]
    assert [s.commitment for s in store.accept(plain)] == [p.commitment for p in plain]


def test_sequencing_whole_seconds_leaves_the_current_second_pending(engine: Engine) -> None:
    store = SubmissionStore(LogStore(engine))
    store.accept([NewSubmission(os.urandom(32), SECOND + s) for s in (0, 1, 1, 2)])
    assert len(store.sequence(100, before=SECOND + 2)) == 3
    assert store.pending_count() == 1
    assert len(store.sequence(100)) == 1


def test_tip_tables_have_no_rowid_nor_sequence(engine: Engine) -> None:
    with engine.connect() as conn:
        for table in TIP_TABLES:
            if engine.dialect.name == "sqlite":
                with pytest.raises(OperationalError, match="rowid"):
                    conn.exec_driver_sql(f"SELECT rowid FROM {table}")
                continue
            defaults = conn.execute(
                text(
                    "SELECT column_name, column_default FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = :t"
                ),
                {"t": table},
            ).all()
            assert defaults, table
            assert [d for d in defaults if d[1] is not None] == [], table


def message(n: int) -> StoredMessage:
    return StoredMessage(os.urandom(16), 1, SECOND + n, None, b"r%d" % n, b"d%d" % n)


def test_messages_are_numbered_within_their_thread(engine: Engine) -> None:
    store = SubmissionStore(LogStore(engine))
    a, b = os.urandom(32), os.urandom(32)
    for c in (a, b):
        store.accept([NewSubmission(c, SECOND)], [FollowUpStore.companion_rows(c, "h", bytes(32))])
    threads = FollowUpStore(engine)
    sent: dict[bytes, list[StoredMessage]] = {a: [], b: []}
    for n, c in enumerate([a, b, b, a, a, b]):
        m = message(n)
        threads.add_message(c, m)
        sent[c].append(m)
    for c in (a, b):
        assert threads.messages(c) == sent[c]
    t = follow_up_messages.c
    with engine.connect() as conn:
        rows = conn.execute(select(t.commitment, t.position)).all()
    assert sorted((bytes(c), p) for c, p in rows) == sorted(
        (c, p) for c in (a, b) for p in range(3)
    )
    with pytest.raises(ProtocolError, match="already used"):
        threads.add_message(a, sent[a][0])


def alembic(engine: Engine, target: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, target)


def test_migration_0009_keeps_every_row_and_drops_the_order(database_url: str) -> None:
    old = open_database(database_url, migrate=False)
    if old.dialect.name == "sqlite":
        # as open_database sets it up, but without migrating: foreign keys on
        old.dispose()
        old = create_engine(database_url)
        with old.connect() as conn:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
    alembic(old, "0008")
    set_id = vault_set(old)
    tips = [os.urandom(32) for _ in range(4)]
    with old.begin() as conn:
        if old.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        for c in tips:
            conn.execute(
                text("INSERT INTO submissions (commitment, received_at, source) VALUES (:c, 1, 1)"),
                {"c": c},
            )
            for table, values in companions(c, set_id):
                conn.execute(insert(table), values)
        # seq numbered the messages of every thread together: 1, 2, 3 ... across both threads
        for n, c in enumerate([tips[0], tips[1], tips[0]]):
            conn.execute(
                text(
                    "INSERT INTO follow_up_messages (id, commitment, sender, sent_at, "
                    "to_reporter, to_desk) VALUES (:i, :c, 1, :n, :r, x'00')"
                    if old.dialect.name == "sqlite"
                    else "INSERT INTO follow_up_messages (id, commitment, sender, sent_at, "
                    "to_reporter, to_desk) VALUES (:i, :c, 1, :n, :r, '\\x00')"
                ),
                {"i": os.urandom(16), "c": c, "n": n, "r": b"m%d" % n},
            )
    old.dispose()

    engine = open_database(database_url)  # migrates to every head
    try:
        assert differences(engine) == []
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            got = {
                table: sorted(
                    bytes(r[0]) for r in conn.exec_driver_sql(f"SELECT {key} FROM {table}")
                )
                for table, key in (
                    ("submissions", "commitment"),
                    ("follow_ups", "commitment"),
                    ("vault_records", "commitment"),
                )
            }
        assert got == {t: sorted(tips) for t in got}
        threads = FollowUpStore(engine)
        assert [m.to_reporter for m in threads.messages(tips[0])] == [b"m0", b"m2"]
        assert [m.to_reporter for m in threads.messages(tips[1])] == [b"m1"]
        threads.add_message(tips[1], message(9))  # the next position of that thread
        assert [m.to_reporter for m in threads.messages(tips[1])] == [b"m1", b"r9"]
        test_tip_tables_have_no_rowid_nor_sequence(engine)
    finally:
        engine.dispose()
