"""No arrival order kept: tip tables without rowid (SQLite), thread positions instead of a
global message sequence (both databases).

SQLite's implicit rowid of ``submissions``, ``follow_ups``, ``vault_records`` and ``vault_shares``
numbered rows in the order they were written, so it gave the order in which tips arrived inside
a second. Each is rebuilt ``WITHOUT ROWID`` (a B-tree keyed by its primary key alone): create
each again from its own DDL, its rows put back in key order, its indexes recreated. Foreign keys
stay on and are checked at commit (``defer_foreign_keys``), when every parent is back.
``follow_up_messages.seq`` was one sequence over every thread; a message is now keyed by its
thread and its position in it (0, 1, ...).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Parents before children (a child's rows go back once its parent's are back).
_TABLES = ("submissions", "follow_ups", "vault_records", "vault_shares")
_MESSAGES = "follow_up_messages"


def _sqlite_rebuild(conn: sa.Connection, table: str, create: str | None = None) -> None:
    """Rebuild ``table`` WITHOUT ROWID (or as ``create`` says, for a new shape)."""
    (ddl,) = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).one()
    indexes = [
        sql
        for (sql,) in conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            (table,),
        )
    ]
    # Rows wait in a temporary copy while the table is dropped and created again under its own
    # name: putting a parent's rows back clears the deferred violations its drop counted.
    copy = f"_copy_{table}"
    if create is None:
        head, rest = ddl.split("(", 1)
        assert head.split()[-1].strip('"') == table, head
        create = f"{head}({rest} WITHOUT ROWID"
        # names from _TABLES, not input
        conn.exec_driver_sql(f"CREATE TEMP TABLE {copy} AS SELECT * FROM {table}")  # noqa: S608
        put_back = f"INSERT INTO {table} SELECT * FROM {copy} ORDER BY 1"  # noqa: S608
    else:  # follow_up_messages: each thread numbered from 0 in its old order
        conn.exec_driver_sql(
            "CREATE TEMP TABLE _copy_follow_up_messages AS SELECT commitment, "
            "row_number() OVER (PARTITION BY commitment ORDER BY seq) - 1 AS position, id, "
            "sender, sent_at, reviewer, to_reporter, to_desk FROM follow_up_messages"
        )
        put_back = (
            "INSERT INTO follow_up_messages (commitment, position, id, sender, sent_at, "
            "reviewer, to_reporter, to_desk) SELECT * FROM _copy_follow_up_messages "
            "ORDER BY commitment, position"
        )
        # the primary key (commitment, position) serves lookups by thread
        indexes = [sql for sql in indexes if "ix_follow_up_messages_commitment" not in sql]
    conn.exec_driver_sql(f"DROP TABLE {table}")
    conn.exec_driver_sql(create)
    conn.exec_driver_sql(put_back)
    conn.exec_driver_sql(f"DROP TABLE {copy}")
    for sql in indexes:
        conn.exec_driver_sql(sql)


_MESSAGES_DDL = (
    "CREATE TABLE follow_up_messages ("
    "commitment BLOB NOT NULL REFERENCES follow_ups (commitment), "
    "position INTEGER NOT NULL, "
    "id BLOB NOT NULL UNIQUE, "
    "sender INTEGER NOT NULL, "
    "sent_at BIGINT NOT NULL, "
    "reviewer VARCHAR(42), "
    "to_reporter BLOB NOT NULL, "
    "to_desk BLOB NOT NULL, "
    "PRIMARY KEY (commitment, position)"
    ") WITHOUT ROWID"
)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        # Inside the migration's transaction foreign_keys cannot be switched off; deferred, they
        # are checked once, at commit, when every table is back under its own name.
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        for table in _TABLES:
            _sqlite_rebuild(conn, table)
        _sqlite_rebuild(conn, _MESSAGES, _MESSAGES_DDL)
        return
    # PostgreSQL: no rowid, but a sequence (seq's SERIAL) numbered every message of every thread.
    op.add_column(_MESSAGES, sa.Column("position", sa.Integer, nullable=True))
    conn.exec_driver_sql(
        "UPDATE follow_up_messages m SET position = n.p FROM (SELECT seq, row_number() OVER "
        "(PARTITION BY commitment ORDER BY seq) - 1 AS p FROM follow_up_messages) n "
        "WHERE m.seq = n.seq"
    )
    op.drop_index("ix_follow_up_messages_commitment", _MESSAGES)
    op.drop_column(_MESSAGES, "seq")  # drops its sequence with it
    op.alter_column(_MESSAGES, "position", nullable=False)
    op.create_primary_key("follow_up_messages_pkey", _MESSAGES, ["commitment", "position"])


def downgrade() -> None:
    raise NotImplementedError("0009 is not reversible: the arrival order is gone by design")
