"""The reporter's code (PROTOCOL.md 17.8): a follow-up row's locator (the code's first six
symbols, unique: it finds the tip) and case key tag; both NULL for the tips without a code.

Two nullable columns added in place (SQLite adds them to the WITHOUT ROWID table as it is) and a
unique index: NULLs are distinct in both databases, so every older row keeps its NULL.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("follow_ups", sa.Column("locator", sa.String(6), nullable=True))
    op.add_column("follow_ups", sa.Column("case_key_tag", sa.LargeBinary(16), nullable=True))
    op.create_index("ux_follow_ups_locator", "follow_ups", ["locator"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_follow_ups_locator", table_name="follow_ups")
    # SQLite 3.35+ drops a column in place (a batch rebuild would lose WITHOUT ROWID).
    for column in ("case_key_tag", "locator"):
        op.execute(f"ALTER TABLE follow_ups DROP COLUMN {column}")
