"""Durable transactions: persisted before they are sent, then awaited, resent or replaced.

The life of one transaction (one nonce):

1. ``prepare``: choose the nonce (the highest of what the database has persisted and what the
   node counts as pending, so nonces survive restarts and someone else's use of the key), price
   it, estimate its gas (a call that would revert is refused here, before anything is stored),
   sign it, and persist nonce, signed bytes, hash and fees in one committed database transaction.
2. ``send``: hand the signed bytes to the node.
3. ``progress``, called again and again (by the sequencer, every step, also after a restart):
   - mined: counts confirmations; final (or failed, if it reverted) once deep enough;
   - persisted but never sent (a crash in between): sent now;
   - unknown to the node (dropped from its mempool, or the node restarted): the same signed
     bytes are sent again, same nonce, same hash;
   - still pending ``stuck_after`` seconds after it was sent, or refused as underpriced: replaced
     by the same call at the same nonce with both fee fields raised by at least 12.5 % (and at
     least to the market's level), persisted before it is sent;
   - its nonce used by a transaction that is none of ours: lost (the caller decides again).

Only versions of one call ever share a nonce: the unique ``(chain, sender, nonce)`` row holds the
call, and replacements re-sign exactly its ``to``/``data``/``gas`` with other fees.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy import Connection
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

from ledger.chain.client import GAS_MARGIN, ErrorDecoder, chain_errors
from ledger.store.chain_txs import (
    TX_FAILED,
    TX_FINAL,
    TX_LOST,
    TX_MINED,
    TX_PENDING,
    NewAttempt,
    StoredTx,
    TxAttempt,
    TxStore,
)

__all__ = ["DEFAULT_STUCK_AFTER", "TxManager", "TxProgress", "bump_fee"]

log = logging.getLogger("tipledger.tx")

DEFAULT_STUCK_AFTER = 30.0

Action = Literal["sent", "resent", "replaced"]
_Outcome = Literal["accepted", "known", "nonce_used", "underpriced"]

_KNOWN = ("already known", "already imported", "known transaction", "alreadyknown")
_NONCE_USED = ("nonce too low", "nonce is too low", "oldnonce", "nonce has already been used")
_UNDERPRICED = (
    "underpriced",
    "less than block base fee",
    "fee cap less than",
    "feetoolow",
    "fee too low",
    "insufficient fee",
)


def bump_fee(value: int) -> int:
    """``value`` raised by at least 12.5 % (rounded up) and by at least 1 wei."""
    return max(-(-value * 9 // 8), value + 1)


@dataclass(frozen=True)
class TxProgress:
    tx: StoredTx  # as persisted after this check
    action: Action | None  # what was done to it in this check, if anything
    receipt: TxReceipt | None  # the receipt of whichever version was mined
    confirmations: int  # blocks on top of the one that mined it (0 while not mined)

    @property
    def state(self) -> str:
        return self.tx.state


class TxManager:
    """Sends ``account``'s transactions through ``w3``, durably in ``store``."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        store: TxStore,
        *,
        stuck_after: float = DEFAULT_STUCK_AFTER,
        decoder: ErrorDecoder | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.store = store
        self.stuck_after = stuck_after
        self.decoder = decoder
        self.clock = clock
        self._chain_id: int | None = None

    @property
    def sender(self) -> str:
        return str(self.account.address)

    @property
    def chain_id(self) -> int:
        """The node's chain id (asked once, when first needed)."""
        if self._chain_id is None:
            with chain_errors("reading the chain id"):
                self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    # -- new transactions --------------------------------------------------------------------

    def next_nonce(self) -> int:
        """max(one past the highest persisted nonce, the node's pending transaction count)."""
        with chain_errors("reading the account's nonce"):
            node = int(self.w3.eth.get_transaction_count(self.account.address, "pending"))
        return max(self.store.next_nonce(self.chain_id, self.sender), node)

    def prepare(
        self,
        *,
        to: str,
        data: bytes,
        purpose: str,
        tree_size: int | None = None,
        root_hash: bytes | None = None,
        guard: Callable[[Connection], None] | None = None,
        what: str = "transaction",
    ) -> StoredTx:
        """Price, estimate, sign and persist a transaction; nothing is sent yet.

        A call the chain would refuse raises ContractRevertedError (decoded) and persists
        nothing. ``guard(conn)`` runs inside the persisting database transaction.
        """
        nonce = self.next_nonce()
        params: dict[str, Any] = {
            "from": self.account.address,
            "to": Web3.to_checksum_address(to),
            "data": "0x" + data.hex(),
            "value": 0,
            "chainId": self.chain_id,
            "nonce": nonce,
        }
        with chain_errors(what, self.decoder):
            params.update(self._market_fees())
            params["gas"] = int(self.w3.eth.estimate_gas(params) * GAS_MARGIN)  # type: ignore[arg-type]
        attempt = self._sign(params)
        tx = self.store.create(
            chain_id=self.chain_id,
            sender=self.sender,
            nonce=nonce,
            purpose=purpose,
            to_address=params["to"],
            data=data,
            gas=params["gas"],
            attempt=attempt,
            created_at=self.clock(),
            tree_size=tree_size,
            root_hash=root_hash,
            guard=guard,
        )
        log.info("persisted %s 0x%s (nonce %d) before sending", what, attempt.tx_hash.hex(), nonce)
        return tx

    def send(self, tx: StoredTx) -> Action | None:
        """Send the current version of a persisted transaction (see ``progress`` for the rest)."""
        return self._send_attempt(tx, tx.current, "sent")

    def submit(self, **kwargs: Any) -> StoredTx:
        """``prepare`` then ``send``; returns the persisted transaction."""
        tx = self.prepare(**kwargs)
        self.send(tx)
        return self.store.get(tx.id)

    def open_transactions(self) -> list[StoredTx]:
        """This sender's transactions on this chain that are not final, failed or lost."""
        return self.store.open_transactions(self.chain_id, self.sender)

    # -- following a transaction -------------------------------------------------------------

    def progress(self, tx: StoredTx, confirmations: int = 0) -> TxProgress:
        """Check a persisted transaction once and do what it needs (see the module's doc)."""
        with chain_errors("following a transaction"):
            head = int(self.w3.eth.block_number)
        receipt = self._find_receipt(tx)
        if receipt is None and tx.state == TX_MINED:
            log.warning("transaction of nonce %d left the chain (reorganisation)", tx.nonce)
            tx = self.store.set_state(tx.id, TX_PENDING)
        if receipt is None:
            with chain_errors("reading the account's nonce"):
                used = int(self.w3.eth.get_transaction_count(self.account.address, "latest"))
            if used > tx.nonce:
                receipt = self._find_receipt(tx)  # mined between the two questions?
                if receipt is None:
                    log.warning(
                        "nonce %d of %s was used by a transaction that is not ours", tx.nonce,
                        self.sender,
                    )  # fmt: skip
                    return TxProgress(self.store.set_state(tx.id, TX_LOST), None, None, 0)
        if receipt is not None:
            block = int(receipt["blockNumber"])
            depth = max(0, head - block)
            if depth >= confirmations:
                state = TX_FINAL if receipt["status"] == 1 else TX_FAILED
            else:
                state = TX_MINED
            mined_hash = bytes(receipt["transactionHash"])
            if (state, block, mined_hash) != (tx.state, tx.block_number, tx.mined_hash):
                tx = self.store.set_state(tx.id, state, mined_hash=mined_hash, block_number=block)
            return TxProgress(tx, None, receipt, depth)
        current = tx.current
        action: Action | None
        if current.sent_at is None:
            action = self._send_attempt(tx, current, "sent")
        elif not self._known_to_node(current.tx_hash):
            log.warning(
                "transaction 0x%s (nonce %d) is no longer known to the node: sending it again",
                current.tx_hash.hex(),
                tx.nonce,
            )
            action = self._send_attempt(tx, current, "resent")
        elif self.clock() - current.sent_at >= self.stuck_after:
            log.warning(
                "transaction 0x%s (nonce %d) not mined after %.0f s: replacing it with higher fees",
                current.tx_hash.hex(),
                tx.nonce,
                self.clock() - current.sent_at,
            )
            action = self._replace(tx)
        else:
            action = None
        return TxProgress(self.store.get(tx.id), action, None, 0)

    # -- internals ---------------------------------------------------------------------------

    def _find_receipt(self, tx: StoredTx) -> TxReceipt | None:
        """The receipt of whichever version of ``tx`` was mined, newest first."""
        with chain_errors("reading a transaction receipt"):
            for attempt in reversed(tx.attempts):
                try:
                    return self.w3.eth.get_transaction_receipt(HexBytes(attempt.tx_hash))
                except TransactionNotFound:
                    continue
        return None

    def _known_to_node(self, tx_hash: bytes) -> bool:
        with chain_errors("looking up a transaction"):
            try:
                self.w3.eth.get_transaction(HexBytes(tx_hash))
            except TransactionNotFound:
                return False
        return True

    def _send_attempt(self, tx: StoredTx, attempt: TxAttempt, action: Action) -> Action | None:
        outcome = self._broadcast(attempt.raw_tx)
        if outcome in ("accepted", "known"):
            self.store.mark_sent(attempt.tx_hash, self.clock())
            return action
        if outcome == "underpriced":
            log.warning("node refused nonce %d as underpriced: replacing it", tx.nonce)
            return self._replace(tx)
        return None  # nonce already used: the next check finds the receipt or calls it lost

    def _broadcast(self, raw: bytes) -> _Outcome:
        with chain_errors("sending a transaction", self.decoder):
            try:
                self.w3.eth.send_raw_transaction(raw)
            except Web3RPCError as exc:
                message = str(exc.message).lower()
                if any(k in message for k in _KNOWN):
                    return "known"
                if any(k in message for k in _NONCE_USED):
                    return "nonce_used"
                if any(k in message for k in _UNDERPRICED):
                    return "underpriced"
                raise
        return "accepted"

    def _replace(self, tx: StoredTx) -> Action | None:
        """Persist, then send, the same call at the same nonce with bumped fees."""
        old = tx.current
        with chain_errors("pricing a replacement transaction"):
            market = self._market_fees()
        fees: dict[str, int]
        if old.gas_price is not None:
            fees = {"gasPrice": max(bump_fee(old.gas_price), market.get("gasPrice", 0))}
        else:
            assert old.max_fee_per_gas is not None
            assert old.max_priority_fee_per_gas is not None
            tip = max(bump_fee(old.max_priority_fee_per_gas), market.get("maxPriorityFeePerGas", 0))
            fee = max(bump_fee(old.max_fee_per_gas), market.get("maxFeePerGas", 0), tip)
            fees = {"maxFeePerGas": fee, "maxPriorityFeePerGas": tip}
        params: dict[str, Any] = {
            "from": self.account.address,
            "to": Web3.to_checksum_address(tx.to_address),
            "data": "0x" + tx.data.hex(),
            "value": 0,
            "chainId": tx.chain_id,
            "nonce": tx.nonce,
            "gas": tx.gas,
            **fees,
        }
        attempt = self._sign(params)
        tx = self.store.add_attempt(tx.id, attempt, self.clock())
        log.info(
            "replacement 0x%s for nonce %d persisted (fees %s)",
            attempt.tx_hash.hex(),
            tx.nonce,
            ", ".join(f"{k}={v}" for k, v in fees.items()),
        )
        outcome = self._broadcast(attempt.raw_tx)
        if outcome in ("accepted", "known"):
            self.store.mark_sent(attempt.tx_hash, self.clock())
        return "replaced"

    def _market_fees(self) -> dict[str, int]:
        """EIP-1559 fees where the chain has a base fee, else a legacy gas price."""
        base_fee = self.w3.eth.get_block("latest").get("baseFeePerGas")
        if base_fee is None:
            return {"gasPrice": int(self.w3.eth.gas_price)}
        tip = int(self.w3.eth.max_priority_fee)
        return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * int(base_fee) + tip}

    def _sign(self, params: dict[str, Any]) -> NewAttempt:
        fields = {k: v for k, v in params.items() if k != "from"}
        signed = self.account.sign_transaction(fields)
        return NewAttempt(
            tx_hash=bytes(signed.hash),
            raw_tx=bytes(signed.raw_transaction),
            max_fee_per_gas=params.get("maxFeePerGas"),
            max_priority_fee_per_gas=params.get("maxPriorityFeePerGas"),
            gas_price=params.get("gasPrice"),
        )
