"""Agencies (PROTOCOL.md 16): each tip's agency, routing salt, case key and grants; the case
holders, later grants and referrals.

Tips stored before agencies go to the intake desk (``intake``), each with a fresh routing salt
(from the operating system's CSPRNG, written here row by row): the first anchor after the
upgrade routes them there. Their envelopes stay sealed straight to the old desk key, which the
deployment registers as the intake desk's member key (README, "Moving to agencies").

Revision ID: 0010
Revises: 0009
"""

import re
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_INTAKE = b"intake".ljust(32, b"\x00")
_BATCH = 1000


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    # SQLite adds a NOT NULL column only with a default; PostgreSQL gets it after the fill.
    op.add_column(
        "submissions",
        sa.Column(
            "agency",
            sa.LargeBinary(32),
            nullable=False,
            server_default=sa.text(
                "x'" + _INTAKE.hex() + "'" if sqlite else "'\\x" + _INTAKE.hex() + "'::bytea"
            ),
        ),
    )
    op.add_column(
        "submissions",
        sa.Column(
            "routing_salt",
            sa.LargeBinary(32),
            nullable=not sqlite,
            server_default=sa.text("x'" + "00" * 32 + "'") if sqlite else None,
        ),
    )
    op.add_column("submissions", sa.Column("case_key", sa.LargeBinary(32), nullable=True))
    op.add_column("submissions", sa.Column("grants", sa.LargeBinary, nullable=True))
    commitments = [bytes(c) for (c,) in conn.exec_driver_sql("SELECT commitment FROM submissions")]
    update = (
        "UPDATE submissions SET routing_salt = ? WHERE commitment = ?"
        if sqlite
        else "UPDATE submissions SET routing_salt = %s WHERE commitment = %s"
    )
    for i in range(0, len(commitments), _BATCH):
        conn.exec_driver_sql(
            update, [(secrets.token_bytes(32), c) for c in commitments[i : i + _BATCH]]
        )
    if sqlite:
        _drop_sqlite_defaults(conn)
    else:
        op.alter_column("submissions", "routing_salt", nullable=False)
        op.alter_column("submissions", "agency", server_default=None)
    op.create_index("ix_submissions_agency", "submissions", ["agency"])

    fk = sa.ForeignKey("submissions.commitment")
    without_rowid = {"sqlite_with_rowid": False}
    op.create_table(
        "case_holders",
        sa.Column("commitment", sa.LargeBinary(32), fk, primary_key=True),
        sa.Column("agency", sa.LargeBinary(32), primary_key=True),
        sa.Column("holds", sa.Integer, nullable=False),
        **without_rowid,
    )
    op.create_table(
        "case_grants",
        sa.Column(
            "commitment",
            sa.LargeBinary(32),
            sa.ForeignKey("submissions.commitment"),
            primary_key=True,
        ),
        sa.Column("member_key_id", sa.LargeBinary(8), primary_key=True),
        sa.Column("agency", sa.LargeBinary(32), nullable=False),
        sa.Column("grant", sa.LargeBinary(89), nullable=False),
        **without_rowid,
    )
    op.create_table(
        "case_referrals",
        sa.Column(
            "commitment",
            sa.LargeBinary(32),
            sa.ForeignKey("submissions.commitment"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("from_agency", sa.LargeBinary(32), nullable=False),
        sa.Column("to_agency", sa.LargeBinary(32), nullable=False),
        sa.Column("keep_access", sa.Integer, nullable=False),
        sa.Column("referred_by", sa.String(42), nullable=False),
        sa.Column("tx_hash", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        **without_rowid,
    )
    op.create_index("ix_case_holders_agency", "case_holders", ["agency", "holds"])


def _drop_sqlite_defaults(conn: sa.Connection) -> None:
    """Rebuild ``submissions`` from its own DDL minus the two defaults the ADD COLUMNs needed
    (every writer gives both values; a default would hide one that forgot its salt)."""
    (ddl,) = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'submissions'"
    ).one()
    create = re.sub(r" DEFAULT \(x'[0-9a-f]+'\)", "", ddl)
    assert create != ddl, ddl
    assert "WITHOUT ROWID" in create, ddl
    indexes = [
        sql
        for (sql,) in conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'submissions' "
            "AND sql IS NOT NULL"
        )
    ]
    # Foreign keys cannot be switched off inside the migration's transaction: deferred, they
    # are checked at commit, when submissions is back under its own name (as in 0009).
    conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    conn.exec_driver_sql("CREATE TEMP TABLE _copy_submissions AS SELECT * FROM submissions")
    conn.exec_driver_sql("DROP TABLE submissions")
    conn.exec_driver_sql(create)
    conn.exec_driver_sql("INSERT INTO submissions SELECT * FROM _copy_submissions ORDER BY 1")
    conn.exec_driver_sql("DROP TABLE _copy_submissions")
    for sql in indexes:
        conn.exec_driver_sql(sql)


def downgrade() -> None:
    raise NotImplementedError("agencies cannot be undone: the chain routes by them")
