"""Table definitions (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
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

# The sequencer lease: one row per lease name. Whoever holds an unexpired row is the one active
# sequencer; ``expires_at`` is in the database's clock (Unix seconds), so instances on several
# hosts agree on it. ``term`` grows by one at every change of holder (a fencing token).
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("term", BigInteger, nullable=False),
)

# Transactions this service sends (anchors), persisted before they are sent. One row per nonce
# (``chain_txs``) and one per signed version of it (``chain_tx_attempts``: the first, and
# replacements with bumped fees of the very same call).
TX_PENDING = "pending"  # persisted; sent or not, not (yet) mined
TX_MINED = "mined"  # in a block, not yet final (fewer confirmations than configured)
TX_FINAL = "final"  # mined and confirmed, succeeded
TX_FAILED = "failed"  # mined and confirmed, reverted
TX_LOST = "lost"  # its nonce was used by a transaction that is not one of ours
chain_txs = Table(
    "chain_txs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chain_id", BigInteger, nullable=False),
    Column("sender", String(42), nullable=False),
    Column("nonce", BigInteger, nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("tree_size", BigInteger, nullable=True),
    Column("root_hash", LargeBinary(32), nullable=True),
    Column("to_address", String(42), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("gas", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("mined_hash", LargeBinary(32), nullable=True),
    Column("block_number", BigInteger, nullable=True),
    UniqueConstraint("chain_id", "sender", "nonce", name="uq_chain_txs_nonce"),
)
chain_tx_attempts = Table(
    "chain_tx_attempts",
    metadata,
    Column("tx_hash", LargeBinary(32), primary_key=True),
    Column("chain_tx_id", Integer, ForeignKey("chain_txs.id"), nullable=False),
    Column("attempt", Integer, nullable=False),  # 0 for the first version, then 1, 2, ...
    Column("raw_tx", LargeBinary, nullable=False),
    Column("max_fee_per_gas", BigInteger, nullable=True),
    Column("max_priority_fee_per_gas", BigInteger, nullable=True),
    Column("gas_price", BigInteger, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("sent_at", Double, nullable=True),
    UniqueConstraint("chain_tx_id", "attempt", name="uq_chain_tx_attempts_attempt"),
)

# Sign-in (EIP-4361) for reviewers, custodians and administrators. Nonces are single-use and
# short-lived; a session is a bearer token kept only as its SHA-256 (a database read does not
# give a usable token). Roles are not stored: every privileged request asks the chain (cached for
# seconds), so a role granted or revoked on chain takes effect without a restart.
auth_nonces = Table(
    "auth_nonces",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("expires_at", BigInteger, nullable=False, index=True),
)
auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("token_hash", LargeBinary(32), primary_key=True),
    Column("address", String(42), nullable=False, index=True),
    Column("issued_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
)
