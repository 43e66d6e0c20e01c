"""The sequencer lease: exactly one active sequencer among several service instances.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
        sa.Column("term", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leases")
