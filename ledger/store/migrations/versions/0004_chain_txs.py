"""Durable outgoing transactions: persisted (nonce, signed bytes, fees, state) before sending.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_txs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("sender", sa.String(42), nullable=False),
        sa.Column("nonce", sa.BigInteger, nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("tree_size", sa.BigInteger, nullable=True),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("to_address", sa.String(42), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("gas", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("mined_hash", sa.LargeBinary(32), nullable=True),
        sa.Column("block_number", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("chain_id", "sender", "nonce", name="uq_chain_txs_nonce"),
    )
    op.create_table(
        "chain_tx_attempts",
        sa.Column("tx_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("chain_tx_id", sa.Integer, sa.ForeignKey("chain_txs.id"), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("raw_tx", sa.LargeBinary, nullable=False),
        sa.Column("max_fee_per_gas", sa.BigInteger, nullable=True),
        sa.Column("max_priority_fee_per_gas", sa.BigInteger, nullable=True),
        sa.Column("gas_price", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("sent_at", sa.Double, nullable=True),
        sa.UniqueConstraint("chain_tx_id", "attempt", name="uq_chain_tx_attempts_attempt"),
    )


def downgrade() -> None:
    op.drop_table("chain_tx_attempts")
    op.drop_table("chain_txs")
