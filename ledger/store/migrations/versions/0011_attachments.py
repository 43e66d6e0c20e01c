"""Attachments sealed on the reporter's device (PROTOCOL.md 17.2): one sealed stream per
attachment, keyed by its tip and its position in the tip document's list, without rowid (no
arrival order, as migration 0009).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tip_attachments",
        sa.Column(
            "commitment",
            sa.LargeBinary(32),
            sa.ForeignKey("submissions.commitment"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("stream", sa.LargeBinary, nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("tip_attachments")
