"""Joins the identity vault (0006) and the follow-up (0007) branches: one head again.

Revision ID: 0008
Revises: 0006, 0007
"""

revision = "0008"
down_revision = ("0006", "0007")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
