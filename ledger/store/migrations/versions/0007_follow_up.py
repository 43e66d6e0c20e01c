"""Follow-up: the reporter's secret (as an Argon2id hash) and the sealed message thread.

Revision ID: 0007
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"  # a branch of its own beside the vault's 0006; upgraded to "heads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follow_ups",
        sa.Column(
            "commitment",
            sa.LargeBinary(32),
            sa.ForeignKey("submissions.commitment"),
            primary_key=True,
        ),
        sa.Column("secret_hash", sa.String(255), nullable=False),
        sa.Column("reporter_key", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "follow_up_messages",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.LargeBinary(16), nullable=False, unique=True),
        sa.Column(
            "commitment",
            sa.LargeBinary(32),
            sa.ForeignKey("follow_ups.commitment"),
            nullable=False,
        ),
        sa.Column("sender", sa.Integer, nullable=False),
        sa.Column("sent_at", sa.BigInteger, nullable=False),
        sa.Column("reviewer", sa.String(42), nullable=True),
        sa.Column("to_reporter", sa.LargeBinary, nullable=False),
        sa.Column("to_desk", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_follow_up_messages_commitment", "follow_up_messages", ["commitment"])


def downgrade() -> None:
    op.drop_table("follow_up_messages")
    op.drop_table("follow_ups")
