"""Table definitions (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
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
# (random-looking), there is no sequence column nor (SQLite) rowid, a group commit writes its
# rows in commitment order, and the sequencer orders a second's submissions by commitment.
# ``envelope`` is the HPKE ciphertext for the review desk; direct commitments (``source`` 2, from
# the chain) have none.
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
    # Agencies (migration 0010, PROTOCOL.md 16): the agency the tip was routed to and its
    # routing salt (every row has both; tips from before agencies went to the intake desk), the
    # case public key the envelope is sealed to and the grants of its private half to the
    # agency's members at intake (89 bytes each, concatenated; NULL before agencies).
    Column("agency", LargeBinary(32), nullable=False, index=True),
    Column("routing_salt", LargeBinary(32), nullable=False),
    Column("case_key", LargeBinary(32), nullable=True),
    Column("grants", LargeBinary, nullable=True),
    sqlite_with_rowid=False,  # a rowid would number rows in arrival order (migration 0009)
)

# Attachments sealed on the reporter's device (migration 0011, PROTOCOL.md 17.2): each one's
# sealed stream, at its position in the tip document's list. Stored with the tip in its
# transaction; nothing here is readable without the case key.
tip_attachments = Table(
    "tip_attachments",
    metadata,
    Column("commitment", LargeBinary(32), ForeignKey("submissions.commitment"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("stream", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)

# Who holds a case after referrals: a row overrides the submission's own agency for that
# (case, agency) pair (``holds`` 0 once it referred the case away without keeping access).
case_holders = Table(
    "case_holders",
    metadata,
    Column("commitment", LargeBinary(32), ForeignKey("submissions.commitment"), primary_key=True),
    Column("agency", LargeBinary(32), primary_key=True),
    Column("holds", Integer, nullable=False),
    Index("ix_case_holders_agency", "agency", "holds"),
    sqlite_with_rowid=False,
)
# Grants made after intake (a referral, a member added later): one per member key and case.
case_grants = Table(
    "case_grants",
    metadata,
    Column("commitment", LargeBinary(32), ForeignKey("submissions.commitment"), primary_key=True),
    Column("member_key_id", LargeBinary(8), primary_key=True),
    Column("agency", LargeBinary(32), nullable=False),
    Column("grant", LargeBinary(89), nullable=False),
    sqlite_with_rowid=False,
)
# The service's copy of each case's on-chain referrals, in their order on chain.
case_referrals = Table(
    "case_referrals",
    metadata,
    Column("commitment", LargeBinary(32), ForeignKey("submissions.commitment"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("from_agency", LargeBinary(32), nullable=False),
    Column("to_agency", LargeBinary(32), nullable=False),
    Column("keep_access", Integer, nullable=False),
    Column("referred_by", String(42), nullable=False),
    Column("tx_hash", LargeBinary(32), nullable=False, unique=True),
    Column("block_number", BigInteger, nullable=False),
    sqlite_with_rowid=False,
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

# Follow-up: a reporter who asked for it holds a secret (in the receipt) that lets them read the
# review status and talk with the desk without revealing who they are. Kept: only the secret's
# Argon2id hash and an X25519 public key derived from it (questions are sealed to it). Every
# message is stored twice, HPKE-sealed to the reporter's key and to the review desk's key; the
# service can open neither without the reporter's secret or the desk's private key.
LOCATOR_TAKEN = (
    "this code's first six symbols are taken: make a new code on the device and send again"
)
FOLLOW_UP_FROM_REVIEWER = 1
FOLLOW_UP_FROM_REPORTER = 2
follow_ups = Table(
    "follow_ups",
    metadata,
    Column("commitment", LargeBinary(32), ForeignKey("submissions.commitment"), primary_key=True),
    Column("secret_hash", String(255), nullable=False),
    Column("reporter_key", LargeBinary(32), nullable=False),
    # A tip whose reporter keeps a code (migration 0012, PROTOCOL.md 17.8): the code's first six
    # symbols, which find the tip, and the tag that pins its case key; NULL for other tips.
    Column("locator", String(6), nullable=True),
    Column("case_key_tag", LargeBinary(16), nullable=True),
    # Unique: a locator finds one tip. A new tip whose locator is taken is refused on its own
    # (``SubmissionStore``, claims), with this line for its sender.
    Index(
        "ux_follow_ups_locator",
        "locator",
        unique=True,
        info={"taken": LOCATOR_TAKEN},
    ),
    sqlite_with_rowid=False,
)
# A message's key is its thread and its place in it (0, 1, ...): no sequence across threads.
follow_up_messages = Table(
    "follow_up_messages",
    metadata,
    Column("commitment", LargeBinary(32), ForeignKey("follow_ups.commitment"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("id", LargeBinary(16), nullable=False, unique=True),
    Column("sender", Integer, nullable=False),
    Column("sent_at", BigInteger, nullable=False),
    Column("reviewer", String(42), nullable=True),  # the signed-in reviewer who asked
    Column("to_reporter", LargeBinary, nullable=False),
    Column("to_desk", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)

# Identity vault (ledger.vault, migration 0006). The server keeps ciphertexts and sealed shares,
# never K nor an identity. Custodians register their public keys (with a signature proving they
# hold both); a custodian set is an immutable version per record kind (``share_index`` is the
# member's share of every record sealed to it); a record points at the set its shares are sealed
# to. A disclosure request collects decisions; re-sealed shares are accepted only once it is
# recorded on chain. A rotation collects k shares of each old record, re-sealed to the
# coordinating custodian, who re-shares client-side and replaces the records and their shares.
vault_custodians = Table(
    "vault_custodians",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("x25519_public", LargeBinary(32), nullable=False, unique=True),
    Column("address", String(42), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("registration_signature", LargeBinary(65), nullable=False),
    Column("registered_at", BigInteger, nullable=False),
    Column("active", Boolean, nullable=False),
)
vault_custodian_sets = Table(
    "vault_custodian_sets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("threshold", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(42), nullable=False),
    UniqueConstraint("kind", "version", name="uq_vault_custodian_sets_version"),
)
vault_set_members = Table(
    "vault_set_members",
    metadata,
    Column("set_id", Integer, ForeignKey("vault_custodian_sets.id"), primary_key=True),
    Column("share_index", Integer, primary_key=True, autoincrement=False),
    Column("custodian_key_id", String(16), ForeignKey("vault_custodians.key_id"), nullable=False),
    UniqueConstraint("set_id", "custodian_key_id", name="uq_vault_set_members_custodian"),
)
vault_records = Table(
    "vault_records",
    metadata,
    Column("record_id", LargeBinary(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("epoch", BigInteger, nullable=False),
    Column("threshold", Integer, nullable=False),
    Column("set_id", Integer, ForeignKey("vault_custodian_sets.id"), nullable=False, index=True),
    Column("nonce", LargeBinary(12), nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    # At most one record of each kind per tip: a repeat submission stores no companions (the
    # intake knows exactly which rows its insert made), and two racing add_identity calls
    # cannot both win.
    Column(
        "commitment",
        LargeBinary(32),
        ForeignKey("submissions.commitment"),
        nullable=True,
        index=True,
    ),
    UniqueConstraint("commitment", "kind", name="uq_vault_records_tip_kind"),
    sqlite_with_rowid=False,
)
vault_shares = Table(
    "vault_shares",
    metadata,
    Column("record_id", LargeBinary(32), ForeignKey("vault_records.record_id"), primary_key=True),
    Column("share_index", Integer, primary_key=True, autoincrement=False),
    Column("custodian_key_id", String(16), nullable=False, index=True),
    Column("epoch", BigInteger, nullable=False),
    Column("sealed", LargeBinary(64), nullable=False),
    sqlite_with_rowid=False,
)
# Request states: pending (collecting decisions), approved (enough approvals to record on chain),
# declined (too many declines for a quorum), recorded (recordDisclosure seen on chain),
# superseded (the record was rotated before the disclosure completed: file a new request).
vault_requests = Table(
    "vault_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_digest", LargeBinary(32), nullable=False, unique=True),
    Column(
        "record_id",
        LargeBinary(32),
        ForeignKey("vault_records.record_id"),
        nullable=False,
        index=True,
    ),
    Column("epoch", BigInteger, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("investigator_key", LargeBinary(32), nullable=False),
    Column("requester", String(42), nullable=False),
    Column("filed_at", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("need", Integer, nullable=False),
    Column("recorded_tx", LargeBinary(32), nullable=True),
    Column("recorded_block", BigInteger, nullable=True),
    Column("recorded_at", BigInteger, nullable=True),
)
vault_decisions = Table(
    "vault_decisions",
    metadata,
    Column("request_id", Integer, ForeignKey("vault_requests.id"), primary_key=True),
    Column("custodian_key_id", String(16), ForeignKey("vault_custodians.key_id"), primary_key=True),
    Column("address", String(42), nullable=False),
    Column("approve", Boolean, nullable=False),
    Column("signature", LargeBinary(65), nullable=True),
    Column("reason", Text, nullable=True),
    Column("decided_at", BigInteger, nullable=False),
)
vault_resealed_shares = Table(
    "vault_resealed_shares",
    metadata,
    Column("request_id", Integer, ForeignKey("vault_requests.id"), primary_key=True),
    Column("share_index", Integer, primary_key=True, autoincrement=False),
    Column("custodian_key_id", String(16), nullable=False),
    Column("resealed", LargeBinary(70), nullable=False),
    Column("resealed_at", BigInteger, nullable=False),
)
vault_rotations = Table(
    "vault_rotations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("to_set_id", Integer, ForeignKey("vault_custodian_sets.id"), nullable=False),
    Column("coordinator_key_id", String(16), ForeignKey("vault_custodians.key_id"), nullable=False),
    Column("digest", LargeBinary(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # open, done, cancelled
    Column("finished_at", BigInteger, nullable=True),
)
vault_rotation_records = Table(
    "vault_rotation_records",
    metadata,
    Column("rotation_id", Integer, ForeignKey("vault_rotations.id"), primary_key=True),
    Column("record_id", LargeBinary(32), ForeignKey("vault_records.record_id"), primary_key=True),
    Column("epoch", BigInteger, nullable=False),
)
vault_rotation_shares = Table(
    "vault_rotation_shares",
    metadata,
    Column("rotation_id", Integer, ForeignKey("vault_rotations.id"), primary_key=True),
    Column("record_id", LargeBinary(32), primary_key=True),
    Column("share_index", Integer, primary_key=True, autoincrement=False),
    Column("custodian_key_id", String(16), nullable=False),
    Column("resealed", LargeBinary(70), nullable=False),
)
