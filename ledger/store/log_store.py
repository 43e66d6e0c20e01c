"""The persisted log: entries, their subtree hashes and the anchored checkpoints.

The in-memory ``MerkleTree`` is a cache of the ``log_nodes`` table. Every append runs in one
transaction that first takes the log's write lock (the ``log_size`` meta row), catches the cache
up with whatever another process appended, and then writes the new entries, the changed node
chunks and the new size together: a crash leaves either all of an append or none of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, insert, select, update

from ledger.core.merkle import HASH_SIZE
from ledger.core.tree import MerkleTree
from ledger.errors import ChainMismatchError, LogStateError
from ledger.store.database import positional, transaction
from ledger.store.schema import (
    TX_MINED,
    TX_PENDING,
    chain_tx_attempts,
    chain_txs,
    checkpoints,
    log_entries,
    log_nodes,
    meta,
)

NODES_PER_CHUNK = 256
_CHUNK_BYTES = NODES_PER_CHUNK * HASH_SIZE
_IN_BATCH = 500  # bound on bound parameters per IN (...) query


@dataclass(frozen=True)
class StoredCheckpoint:
    tree_size: int
    root_hash: bytes
    anchor_tx: bytes
    block_number: int
    block_timestamp: int


@dataclass(frozen=True)
class Appended:
    leaf_index: int
    commitment: bytes
    new: bool


class LogStore:
    """One log in one database. Safe to share between processes; one object per process."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._tree = MerkleTree()

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- the deployment this log belongs to --------------------------------------------------

    def bind_deployment(self, chain_id: int, contract: str) -> None:
        """Tie the store to one contract; refuse to be used with another (never fork a log)."""
        wanted = f"{chain_id}:{contract.lower()}"
        with self._begin() as conn:
            current = conn.scalar(select(meta.c.value).where(meta.c.key == "deployment"))
            if current is None:
                conn.execute(insert(meta).values(key="deployment", value=wanted))
            elif current != wanted:
                raise ChainMismatchError(
                    f"this log belongs to contract {current.split(':')[1]} on chain "
                    f"{current.split(':')[0]}, not {contract} on chain {chain_id}; refusing to "
                    "mix two logs (use another data directory or database)"
                )

    def move_to_deployment(self, chain_id: int, contract: str) -> int:
        """Bind this log to another contract (moving a deployment from before agencies to the
        contract with them): the checkpoints of the old contract are forgotten here (they stay
        on chain, where every receipt issued names its contract) and so are the old contract's
        deploy block, the direct-commitment cursor and anchor transactions not yet final. The
        sequencer then anchors the whole log on the new contract in its next step. Returns how
        many checkpoints were forgotten."""
        wanted = f"{chain_id}:{contract.lower()}"
        with self._begin() as conn:
            dropped = conn.execute(delete(checkpoints)).rowcount
            conn.execute(
                delete(meta).where(
                    meta.c.key.in_(
                        (
                            "deployment",
                            "deployment_block",
                            "backed_size",
                            "cursor:direct_commitments",
                        )
                    )
                )
            )
            conn.execute(insert(meta).values(key="deployment", value=wanted))
            open_txs = select(chain_txs.c.id).where(chain_txs.c.state.in_((TX_PENDING, TX_MINED)))
            conn.execute(
                delete(chain_tx_attempts).where(chain_tx_attempts.c.chain_tx_id.in_(open_txs))
            )
            conn.execute(delete(chain_txs).where(chain_txs.c.state.in_((TX_PENDING, TX_MINED))))
        return int(dropped or 0)

    def deployment(self) -> tuple[int, str] | None:
        with self._begin() as conn:
            value = conn.scalar(select(meta.c.value).where(meta.c.key == "deployment"))
        if value is None:
            return None
        chain, contract = value.split(":")
        return int(chain), contract

    def deployment_block(self) -> tuple[int, bytes] | None:
        """(number, hash) of the block the contract this log is anchored on was deployed in."""
        with self._begin() as conn:
            value = conn.scalar(select(meta.c.value).where(meta.c.key == "deployment_block"))
        if value is None:
            return None
        number, block_hash = value.split(":")
        return int(number), bytes.fromhex(block_hash)

    def remember_deployment_block(self, number: int, block_hash: bytes) -> tuple[int, bytes]:
        """Record the deploy block once (the first record stays); returns the one recorded."""
        with self._begin() as conn:
            current = conn.scalar(select(meta.c.value).where(meta.c.key == "deployment_block"))
            if current is None:
                value = f"{number}:{block_hash.hex()}"
                conn.execute(insert(meta).values(key="deployment_block", value=value))
                return number, block_hash
        stored_number, stored_hash = current.split(":")
        return int(stored_number), bytes.fromhex(stored_hash)

    # -- appending ---------------------------------------------------------------------------

    def append(self, commitments: Sequence[bytes]) -> list[Appended]:
        """Append commitments not yet in the log, in order; known ones map to their entry."""
        with self.transaction() as conn:
            return self.append_in(conn, commitments)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction; if it fails, the cached tree is dropped and reloaded later."""
        try:
            with self._begin() as conn:
                yield conn
        except BaseException:
            self._tree = MerkleTree()  # the cache may hold what was rolled back
            raise

    def append_in(
        self, conn: Connection, commitments: Sequence[bytes], *, distinct_new: bool = False
    ) -> list[Appended]:
        """``append`` inside the caller's ``transaction()``, so other writes commit with it.

        ``distinct_new`` skips the look-up of known commitments when the caller knows they are
        distinct and not in the log (the UNIQUE constraint still refuses a wrong promise).
        """
        size = self._lock_size(conn)
        tree = self._sync(conn, size)
        known = {} if distinct_new else self._indices_of(conn, commitments)
        result: list[Appended] = []
        fresh: list[bytes] = []
        for c in commitments:
            if c in known:
                result.append(Appended(known[c], c, False))
                continue
            known[c] = size + len(fresh)
            fresh.append(c)
            result.append(Appended(known[c], c, True))
        if fresh:
            tree.extend(fresh)
            conn.exec_driver_sql(
                positional(conn, "INSERT INTO log_entries (leaf_index, commitment) VALUES (?, ?)"),
                [(size + i, c) for i, c in enumerate(fresh)],
            )
            self._write_nodes(conn, size, tree)
            conn.execute(update(meta).where(meta.c.key == "log_size").values(value=str(tree.size)))
        return result

    def lock_for_append(self, conn: Connection) -> int:
        """Take the log's write lock in ``conn``'s transaction; returns the stored size."""
        return self._lock_size(conn)

    def _lock_size(self, conn: Connection) -> int:
        query = select(meta.c.value).where(meta.c.key == "log_size")
        if conn.dialect.name != "sqlite":  # SQLite holds the write lock since BEGIN IMMEDIATE
            query = query.with_for_update()
        value = conn.scalar(query)
        if value is None:
            conn.execute(insert(meta).values(key="log_size", value="0"))
            return 0
        return int(value)

    def _write_nodes(self, conn: Connection, old_size: int, tree: MerkleTree) -> None:
        rows: list[dict[str, object]] = []
        for level in range(tree.height):
            first_chunk = (old_size >> level) // NODES_PER_CHUNK
            data = tree.level_bytes(level, first_chunk * NODES_PER_CHUNK)
            if not data:
                continue
            conn.execute(
                delete(log_nodes).where(
                    log_nodes.c.level == level, log_nodes.c.chunk >= first_chunk
                )
            )
            rows.extend(
                {"level": level, "chunk": first_chunk + i, "hashes": data[off : off + _CHUNK_BYTES]}
                for i, off in enumerate(range(0, len(data), _CHUNK_BYTES))
            )
        if rows:
            conn.execute(insert(log_nodes), rows)

    # -- reading -----------------------------------------------------------------------------

    def tree(self) -> MerkleTree:
        """The tree as stored now (catches up with other writers first)."""
        with self._begin() as conn:
            size = int(conn.scalar(select(meta.c.value).where(meta.c.key == "log_size")) or 0)
            return self._sync(conn, size)

    def _sync(self, conn: Connection, size: int) -> MerkleTree:
        tree = self._tree
        if tree.size == size:
            return tree
        if tree.size > size:  # the database went backwards under us: start over
            tree = MerkleTree()
        # Reload only the chunks that may have changed since the cached size.
        levels = []
        for level in range(max(size.bit_length(), 1)):
            have = tree.level_bytes(level)
            first_chunk = (tree.size >> level) // NODES_PER_CHUNK
            chunks = conn.execute(
                select(log_nodes.c.hashes)
                .where(log_nodes.c.level == level, log_nodes.c.chunk >= first_chunk)
                .order_by(log_nodes.c.chunk)
            ).scalars()
            # A reader under READ COMMITTED may see nodes appended after it read the size:
            # complete-subtree hashes never change, so the ones for `size` are a prefix.
            data = have[: first_chunk * _CHUNK_BYTES] + b"".join(chunks)
            levels.append(data[: (size >> level) * HASH_SIZE])
        try:
            self._tree = MerkleTree.from_levels(levels)
        except Exception as exc:
            raise LogStateError(f"stored subtree hashes are inconsistent: {exc}") from exc
        if self._tree.size != size:
            raise LogStateError(
                f"the log says it has {size} entries but its hashes cover {self._tree.size}"
            )
        return self._tree

    def size(self) -> int:
        return self.tree().size

    def node_chunk(self, level: int, chunk: int, count: int) -> bytes | None:
        """The first ``count`` hashes of stored chunk ``chunk`` at tree level ``level`` (a log
        tile: 256 hashes a chunk), or None if fewer are stored. Reads one row, not the tree."""
        with self._begin() as conn:
            data = conn.scalar(
                select(log_nodes.c.hashes).where(
                    log_nodes.c.level == level, log_nodes.c.chunk == chunk
                )
            )
        if data is None or len(data) < count * HASH_SIZE:
            return None
        return bytes(data[: count * HASH_SIZE])

    def index_of(self, commitment: bytes) -> int | None:
        with self._begin() as conn:
            return self._indices_of(conn, [commitment]).get(commitment)

    def _indices_of(self, conn: Connection, commitments: Iterable[bytes]) -> dict[bytes, int]:
        wanted = list(dict.fromkeys(commitments))
        found: dict[bytes, int] = {}
        for i in range(0, len(wanted), _IN_BATCH):
            rows = conn.execute(
                select(log_entries.c.commitment, log_entries.c.leaf_index).where(
                    log_entries.c.commitment.in_(wanted[i : i + _IN_BATCH])
                )
            )
            found.update((bytes(c), int(ix)) for c, ix in rows)
        return found

    def entries(self, start: int, end: int) -> list[bytes]:
        with self._begin() as conn:
            rows = conn.execute(
                select(log_entries.c.commitment)
                .where(log_entries.c.leaf_index >= start, log_entries.c.leaf_index < end)
                .order_by(log_entries.c.leaf_index)
            ).scalars()
            return [bytes(c) for c in rows]

    # -- checkpoints -------------------------------------------------------------------------

    def record_checkpoint(self, cp: StoredCheckpoint) -> None:
        with self._begin() as conn:
            exists = conn.scalar(
                select(checkpoints.c.tree_size).where(checkpoints.c.tree_size == cp.tree_size)
            )
            if exists is None:
                conn.execute(insert(checkpoints).values(**cp.__dict__))

    def drop_checkpoints_above(self, tree_size: int) -> int:
        """Forget the checkpoints larger than ``tree_size`` (the chain no longer has them);
        returns how many were dropped."""
        with self._begin() as conn:
            result = conn.execute(delete(checkpoints).where(checkpoints.c.tree_size > tree_size))
            return int(result.rowcount or 0)

    def set_backed_size(self, tree_size: int | None) -> None:
        """Cap what readers call anchored at ``tree_size`` (the chain in use holds none of this
        log's anchors beyond it), or lift the cap (None); the checkpoints stay recorded."""
        with self._begin() as conn:
            conn.execute(delete(meta).where(meta.c.key == "backed_size"))
            if tree_size is not None:
                conn.execute(insert(meta).values(key="backed_size", value=str(tree_size)))

    def backed_checkpoint(self) -> StoredCheckpoint | None:
        """The latest checkpoint within the cap of ``set_backed_size`` (readers' view)."""
        with self._begin() as conn:
            cap = conn.scalar(select(meta.c.value).where(meta.c.key == "backed_size"))
            query = select(checkpoints).order_by(checkpoints.c.tree_size.desc()).limit(1)
            if cap is not None:
                query = query.where(checkpoints.c.tree_size <= int(cap))
            row = conn.execute(query).first()
        return None if row is None else _checkpoint(row)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with self._begin() as conn:
            row = conn.execute(
                select(checkpoints).order_by(checkpoints.c.tree_size.desc()).limit(1)
            ).first()
        return None if row is None else _checkpoint(row)

    def checkpoint_covering(self, leaf_index: int) -> StoredCheckpoint | None:
        """The first recorded checkpoint whose tree holds entry ``leaf_index`` (its batch's)."""
        with self._begin() as conn:
            row = conn.execute(
                select(checkpoints)
                .where(checkpoints.c.tree_size > leaf_index)
                .order_by(checkpoints.c.tree_size)
                .limit(1)
            ).first()
        return None if row is None else _checkpoint(row)

    def checkpoint(self, tree_size: int) -> StoredCheckpoint | None:
        with self._begin() as conn:
            row = conn.execute(
                select(checkpoints).where(checkpoints.c.tree_size == tree_size)
            ).first()
        return None if row is None else _checkpoint(row)

    # -- integrity ---------------------------------------------------------------------------

    def verify(self) -> None:
        """Recompute every stored hash from the entries; LogStateError on the first mismatch."""
        tree = self.tree()
        rebuilt = MerkleTree()
        start = 0
        while start < tree.size:
            rebuilt.extend(self.entries(start, start + 65536))
            start = rebuilt.size
        for level in range(max(tree.height, rebuilt.height)):
            if tree.level_bytes(level) != rebuilt.level_bytes(level):
                raise LogStateError(f"stored subtree hashes at level {level} do not match entries")

    def _begin(self) -> AbstractContextManager[Connection]:
        return transaction(self._engine, "the log store")


def _checkpoint(row: object) -> StoredCheckpoint:
    m = row._mapping  # type: ignore[attr-defined]
    return StoredCheckpoint(
        tree_size=int(m["tree_size"]),
        root_hash=bytes(m["root_hash"]),
        anchor_tx=bytes(m["anchor_tx"]),
        block_number=int(m["block_number"]),
        block_timestamp=int(m["block_timestamp"]),
    )
