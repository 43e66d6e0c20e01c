"""Accepted submissions, awaiting or holding their leaf index.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("commitment", sa.LargeBinary(32), primary_key=True),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("source", sa.Integer, nullable=False),
        sa.Column("envelope", sa.LargeBinary, nullable=True),
        sa.Column("promise_signer", sa.LargeBinary(20), nullable=True),
        sa.Column("promise_signature", sa.LargeBinary(65), nullable=True),
        sa.Column("leaf_index", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_submissions_leaf_index", "submissions", ["leaf_index"])


def downgrade() -> None:
    op.drop_index("ix_submissions_leaf_index", "submissions")
    op.drop_table("submissions")
