"""Identity vault: custodians, custodian sets, identity records and their sealed shares,
disclosure requests with their decisions and re-sealed shares, and rotations.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vault_custodians",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("x25519_public", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("address", sa.String(42), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("registration_signature", sa.LargeBinary(65), nullable=False),
        sa.Column("registered_at", sa.BigInteger, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "vault_custodian_sets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("threshold", sa.Integer, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(42), nullable=False),
        sa.UniqueConstraint("kind", "version", name="uq_vault_custodian_sets_version"),
    )
    op.create_table(
        "vault_set_members",
        sa.Column("set_id", sa.Integer, sa.ForeignKey("vault_custodian_sets.id"), primary_key=True),
        sa.Column("share_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column(
            "custodian_key_id",
            sa.String(16),
            sa.ForeignKey("vault_custodians.key_id"),
            nullable=False,
        ),
        sa.UniqueConstraint("set_id", "custodian_key_id", name="uq_vault_set_members_custodian"),
    )
    op.create_table(
        "vault_records",
        sa.Column("record_id", sa.LargeBinary(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("threshold", sa.Integer, nullable=False),
        sa.Column("set_id", sa.Integer, sa.ForeignKey("vault_custodian_sets.id"), nullable=False),
        sa.Column("nonce", sa.LargeBinary(12), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column(
            "commitment",
            sa.LargeBinary(32),
            sa.ForeignKey("submissions.commitment"),
            nullable=True,
        ),
        sa.UniqueConstraint("commitment", "kind", name="uq_vault_records_tip_kind"),
    )
    op.create_index("ix_vault_records_set_id", "vault_records", ["set_id"])
    op.create_index("ix_vault_records_commitment", "vault_records", ["commitment"])
    op.create_table(
        "vault_shares",
        sa.Column(
            "record_id",
            sa.LargeBinary(32),
            sa.ForeignKey("vault_records.record_id"),
            primary_key=True,
        ),
        sa.Column("share_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("custodian_key_id", sa.String(16), nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("sealed", sa.LargeBinary(64), nullable=False),
    )
    op.create_index("ix_vault_shares_custodian_key_id", "vault_shares", ["custodian_key_id"])
    op.create_table(
        "vault_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_digest", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column(
            "record_id",
            sa.LargeBinary(32),
            sa.ForeignKey("vault_records.record_id"),
            nullable=False,
        ),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("investigator_key", sa.LargeBinary(32), nullable=False),
        sa.Column("requester", sa.String(42), nullable=False),
        sa.Column("filed_at", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("need", sa.Integer, nullable=False),
        sa.Column("recorded_tx", sa.LargeBinary(32), nullable=True),
        sa.Column("recorded_block", sa.BigInteger, nullable=True),
        sa.Column("recorded_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_vault_requests_record_id", "vault_requests", ["record_id"])
    op.create_table(
        "vault_decisions",
        sa.Column("request_id", sa.Integer, sa.ForeignKey("vault_requests.id"), primary_key=True),
        sa.Column(
            "custodian_key_id",
            sa.String(16),
            sa.ForeignKey("vault_custodians.key_id"),
            primary_key=True,
        ),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("approve", sa.Boolean, nullable=False),
        sa.Column("signature", sa.LargeBinary(65), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("decided_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "vault_resealed_shares",
        sa.Column("request_id", sa.Integer, sa.ForeignKey("vault_requests.id"), primary_key=True),
        sa.Column("share_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("custodian_key_id", sa.String(16), nullable=False),
        sa.Column("resealed", sa.LargeBinary(70), nullable=False),
        sa.Column("resealed_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "vault_rotations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "to_set_id", sa.Integer, sa.ForeignKey("vault_custodian_sets.id"), nullable=False
        ),
        sa.Column(
            "coordinator_key_id",
            sa.String(16),
            sa.ForeignKey("vault_custodians.key_id"),
            nullable=False,
        ),
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("finished_at", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "vault_rotation_records",
        sa.Column("rotation_id", sa.Integer, sa.ForeignKey("vault_rotations.id"), primary_key=True),
        sa.Column(
            "record_id",
            sa.LargeBinary(32),
            sa.ForeignKey("vault_records.record_id"),
            primary_key=True,
        ),
        sa.Column("epoch", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "vault_rotation_shares",
        sa.Column("rotation_id", sa.Integer, sa.ForeignKey("vault_rotations.id"), primary_key=True),
        sa.Column("record_id", sa.LargeBinary(32), primary_key=True),
        sa.Column("share_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("custodian_key_id", sa.String(16), nullable=False),
        sa.Column("resealed", sa.LargeBinary(70), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "vault_rotation_shares",
        "vault_rotation_records",
        "vault_rotations",
        "vault_resealed_shares",
        "vault_decisions",
        "vault_requests",
        "vault_shares",
        "vault_records",
        "vault_set_members",
        "vault_custodian_sets",
        "vault_custodians",
    ):
        op.drop_table(table)
