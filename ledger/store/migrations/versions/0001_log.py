"""The log: entries, subtree hashes, checkpoints, meta.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )
    op.create_table(
        "log_entries",
        sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("commitment", sa.LargeBinary(32), nullable=False, unique=True),
    )
    op.create_table(
        "log_nodes",
        sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("chunk", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hashes", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("anchor_tx", sa.LargeBinary(32), nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("block_timestamp", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("checkpoints", "log_nodes", "log_entries", "meta"):
        op.drop_table(table)
