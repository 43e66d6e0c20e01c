"""Table definitions (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

# Key/value facts about this store: the deployment it belongs to, the log size.
meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
)

# The log itself: one row a leaf, dense from 0.
log_entries = Table(
    "log_entries",
    metadata,
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    Column("commitment", LargeBinary(32), nullable=False, unique=True),
)

# Complete-subtree hashes, NODES_PER_CHUNK a row, packed 32 bytes each (see ledger.core.tree).
log_nodes = Table(
    "log_nodes",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("chunk", BigInteger, primary_key=True, autoincrement=False),
    Column("hashes", LargeBinary, nullable=False),
)

# Checkpoints this store anchored (or saw anchored) on chain.
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("anchor_tx", LargeBinary(32), nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("block_timestamp", BigInteger, nullable=False),
)

# Accepted tips. No arrival order finer than the second is kept: the key is the commitment
# (random-looking), there is no sequence column, and the sequencer orders a second's
# submissions by commitment. ``envelope`` is the HPKE ciphertext for the review desk; direct
# commitments (``source`` 2, from the chain) have none.
SOURCE_API = 1
SOURCE_DIRECT = 2
submissions = Table(
    "submissions",
    metadata,
    Column("commitment", LargeBinary(32), primary_key=True),
    Column("received_at", BigInteger, nullable=False),
    Column("source", Integer, nullable=False),
    Column("envelope", LargeBinary, nullable=True),
    Column("promise_signer", LargeBinary(20), nullable=True),
    Column("promise_signature", LargeBinary(65), nullable=True),
    Column("leaf_index", BigInteger, nullable=True, index=True),
)
