"""Outgoing transactions, persisted before they are sent, and the chain cursors the sequencer keeps.

A transaction is written here (nonce, the exact signed bytes, their hash, fees) in a committed
database transaction *before* it goes to the node. So after a crash at any moment the service
knows every transaction it may have sent, awaits it, resends it or replaces it (same nonce,
same call, higher fees), and never reuses its nonce for anything else: ``(chain_id, sender,
nonce)`` is unique.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ledger.errors import StoreError
from ledger.store.database import connection, transaction
from ledger.store.schema import (
    TX_FAILED,
    TX_FINAL,
    TX_LOST,
    TX_MINED,
    TX_PENDING,
    chain_tx_attempts,
    chain_txs,
    meta,
)

__all__ = [
    "OPEN_STATES",
    "TX_FAILED",
    "TX_FINAL",
    "TX_LOST",
    "TX_MINED",
    "TX_PENDING",
    "ChainCursor",
    "NewAttempt",
    "NonceTakenError",
    "StoredTx",
    "TxAttempt",
    "TxStore",
]

OPEN_STATES = (TX_PENDING, TX_MINED)


class NonceTakenError(StoreError):
    """A transaction with this (chain, sender, nonce) is already persisted."""


@dataclass(frozen=True)
class NewAttempt:
    tx_hash: bytes
    raw_tx: bytes
    max_fee_per_gas: int | None
    max_priority_fee_per_gas: int | None
    gas_price: int | None


@dataclass(frozen=True)
class TxAttempt(NewAttempt):
    created_at: float
    sent_at: float | None  # None: persisted, not known to have reached the node


@dataclass(frozen=True)
class StoredTx:
    id: int
    chain_id: int
    sender: str
    nonce: int
    purpose: str
    tree_size: int | None
    root_hash: bytes | None
    to_address: str
    data: bytes
    gas: int
    state: str
    created_at: float
    mined_hash: bytes | None
    block_number: int | None
    attempts: tuple[TxAttempt, ...]  # oldest first; the last one is the current version

    @property
    def current(self) -> TxAttempt:
        return self.attempts[-1]

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class TxStore:
    """The ``chain_txs`` tables of one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def next_nonce(self, chain_id: int, sender: str) -> int:
        """One past the highest nonce ever persisted for ``sender`` on ``chain_id`` (0 if none)."""
        with self._begin() as conn:
            value = conn.scalar(
                select(func.max(chain_txs.c.nonce)).where(
                    chain_txs.c.chain_id == chain_id, chain_txs.c.sender == sender
                )
            )
        return 0 if value is None else int(value) + 1

    def create(
        self,
        *,
        chain_id: int,
        sender: str,
        nonce: int,
        purpose: str,
        to_address: str,
        data: bytes,
        gas: int,
        attempt: NewAttempt,
        created_at: float,
        tree_size: int | None = None,
        root_hash: bytes | None = None,
        guard: Callable[[Connection], None] | None = None,
    ) -> StoredTx:
        """Persist a new transaction and its first signed version, in one database transaction.

        ``guard(conn)`` runs first in that transaction (e.g. a lease check) and may raise to
        refuse. NonceTakenError if the nonce is already persisted.
        """
        try:
            with self._begin() as conn:
                if guard is not None:
                    guard(conn)
                tx_id = conn.scalar(
                    insert(chain_txs)
                    .values(
                        chain_id=chain_id,
                        sender=sender,
                        nonce=nonce,
                        purpose=purpose,
                        tree_size=tree_size,
                        root_hash=root_hash,
                        to_address=to_address,
                        data=data,
                        gas=gas,
                        state=TX_PENDING,
                        created_at=created_at,
                    )
                    .returning(chain_txs.c.id)
                )
                assert tx_id is not None
                self._insert_attempt(conn, int(tx_id), attempt, created_at)
                return self._load(conn, int(tx_id))
        except StoreError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise NonceTakenError(
                    f"nonce {nonce} of {sender} on chain {chain_id} is already taken"
                ) from exc.__cause__
            raise

    def add_attempt(self, tx_id: int, attempt: NewAttempt, created_at: float) -> StoredTx:
        """Persist a replacement (same nonce, same call, other fees) before it is sent."""
        with self._begin() as conn:
            self._insert_attempt(conn, tx_id, attempt, created_at)
            return self._load(conn, tx_id)

    def mark_sent(self, tx_hash: bytes, at: float) -> None:
        """The node accepted this version (first time only: the stuck timer runs from there)."""
        with self._begin() as conn:
            conn.execute(
                update(chain_tx_attempts)
                .where(
                    chain_tx_attempts.c.tx_hash == tx_hash, chain_tx_attempts.c.sent_at.is_(None)
                )
                .values(sent_at=at)
            )

    def set_state(
        self,
        tx_id: int,
        state: str,
        *,
        mined_hash: bytes | None = None,
        block_number: int | None = None,
    ) -> StoredTx:
        with self._begin() as conn:
            conn.execute(
                update(chain_txs)
                .where(chain_txs.c.id == tx_id)
                .values(state=state, mined_hash=mined_hash, block_number=block_number)
            )
            return self._load(conn, tx_id)

    def reopen_from(self, chain_id: int, sender: str, nonce: int, purpose: str) -> int:
        """Make ``purpose`` transactions from ``nonce`` on that were final or failed pending
        again (the chain lost the blocks that held them), so they are sent again as signed;
        returns how many."""
        with self._begin() as conn:
            result = conn.execute(
                update(chain_txs)
                .where(
                    chain_txs.c.chain_id == chain_id,
                    chain_txs.c.sender == sender,
                    chain_txs.c.purpose == purpose,
                    chain_txs.c.nonce >= nonce,
                    chain_txs.c.state.in_((TX_FINAL, TX_FAILED)),
                )
                .values(state=TX_PENDING, mined_hash=None, block_number=None)
            )
            return int(result.rowcount or 0)

    def open_transactions(self, chain_id: int, sender: str) -> list[StoredTx]:
        """Transactions not yet final, failed or lost, lowest nonce first."""
        with self._begin() as conn:
            ids = conn.execute(
                select(chain_txs.c.id)
                .where(
                    chain_txs.c.chain_id == chain_id,
                    chain_txs.c.sender == sender,
                    chain_txs.c.state.in_(OPEN_STATES),
                )
                .order_by(chain_txs.c.nonce)
            ).scalars()
            return [self._load(conn, int(i)) for i in list(ids)]

    def get(self, tx_id: int) -> StoredTx:
        with self._begin() as conn:
            return self._load(conn, tx_id)

    def all(self, chain_id: int | None = None) -> list[StoredTx]:
        """Every persisted transaction (for audits and tests), lowest id first."""
        with self._begin() as conn:
            query = select(chain_txs.c.id).order_by(chain_txs.c.id)
            if chain_id is not None:
                query = query.where(chain_txs.c.chain_id == chain_id)
            return [self._load(conn, int(i)) for i in list(conn.execute(query).scalars())]

    # -- internals ---------------------------------------------------------------------------

    def _insert_attempt(
        self, conn: Connection, tx_id: int, attempt: NewAttempt, created_at: float
    ) -> None:
        number = conn.scalar(
            select(func.count())
            .select_from(chain_tx_attempts)
            .where(chain_tx_attempts.c.chain_tx_id == tx_id)
        )
        conn.execute(
            insert(chain_tx_attempts).values(
                tx_hash=attempt.tx_hash,
                chain_tx_id=tx_id,
                attempt=int(number or 0),
                raw_tx=attempt.raw_tx,
                max_fee_per_gas=attempt.max_fee_per_gas,
                max_priority_fee_per_gas=attempt.max_priority_fee_per_gas,
                gas_price=attempt.gas_price,
                created_at=created_at,
                sent_at=None,
            )
        )

    def _load(self, conn: Connection, tx_id: int) -> StoredTx:
        row = conn.execute(select(chain_txs).where(chain_txs.c.id == tx_id)).first()
        if row is None:
            raise StoreError(f"no persisted transaction with id {tx_id}")
        m = row._mapping
        attempts = tuple(
            TxAttempt(
                tx_hash=bytes(a.tx_hash),
                raw_tx=bytes(a.raw_tx),
                max_fee_per_gas=_opt_int(a.max_fee_per_gas),
                max_priority_fee_per_gas=_opt_int(a.max_priority_fee_per_gas),
                gas_price=_opt_int(a.gas_price),
                created_at=float(a.created_at),
                sent_at=None if a.sent_at is None else float(a.sent_at),
            )
            for a in conn.execute(
                select(chain_tx_attempts)
                .where(chain_tx_attempts.c.chain_tx_id == tx_id)
                .order_by(chain_tx_attempts.c.attempt)
            )
        )
        return StoredTx(
            id=int(m["id"]),
            chain_id=int(m["chain_id"]),
            sender=str(m["sender"]),
            nonce=int(m["nonce"]),
            purpose=str(m["purpose"]),
            tree_size=_opt_int(m["tree_size"]),
            root_hash=None if m["root_hash"] is None else bytes(m["root_hash"]),
            to_address=str(m["to_address"]),
            data=bytes(m["data"]),
            gas=int(m["gas"]),
            state=str(m["state"]),
            created_at=float(m["created_at"]),
            mined_hash=None if m["mined_hash"] is None else bytes(m["mined_hash"]),
            block_number=_opt_int(m["block_number"]),
            attempts=attempts,
        )

    def _begin(self) -> AbstractContextManager[Connection]:
        return transaction(self.engine, "the transaction store")


def _opt_int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


class ChainCursor:
    """A block number kept in the ``meta`` table: the next block to read events from."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.key = f"cursor:{name}"

    def get(self, default: int) -> int:
        with connection(self.engine, "reading the chain cursor") as conn:
            value = conn.scalar(select(meta.c.value).where(meta.c.key == self.key))
        return default if value is None else int(value)

    def set(self, block: int) -> None:
        with transaction(self.engine, "moving the chain cursor") as conn:
            done = conn.execute(
                update(meta)
                .where(meta.c.key == self.key)
                .values(value=str(block))
                .returning(meta.c.key)
            ).first()
            if done is None:
                conn.execute(insert(meta).values(key=self.key, value=str(block)))
