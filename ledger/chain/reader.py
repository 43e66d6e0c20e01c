"""Reading the node's own state: chain id, blocks, code, balances, transactions, receipts, logs.

The one way code outside ``ledger.chain`` reads the chain apart from the contract's functions
and events (``TipLedgerContract``). Every read is wrapped with ``chain_errors(what)``; ``what``
defaults to a plain description and callers pass their own where the message names their step.
"""

from __future__ import annotations

from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import BlockNotFound, TimeExhausted
from web3.types import BlockIdentifier, FilterParams, LogReceipt, TxData, TxReceipt

from ledger.chain.client import chain_errors
from ledger.errors import MissingBlockError

__all__ = ["ChainReader"]


class ChainReader:
    """Typed, error-wrapped reads through one ``Web3``."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3

    def chain_id(self, what: str = "reading the chain id") -> int:
        with chain_errors(what):
            return int(self.w3.eth.chain_id)

    def head_block(self, what: str = "reading the block number") -> int:
        """The number of the latest block."""
        with chain_errors(what):
            return int(self.w3.eth.block_number)

    def require_block(self, number: int, what: str = "reading the block number") -> int:
        """The head, after checking the chain has block ``number``: reading state at a block
        beyond it fails on the node with an unhelpful message ("invalid block tag")."""
        head = self.head_block(what)
        if number > head:
            raise MissingBlockError(
                f"the chain does not contain block {number} (its head is {head})"
            )
        return head

    def block_hash(self, number: int, what: str | None = None) -> bytes | None:
        """The hash of block ``number``, or None if the chain has no such block."""
        with chain_errors(what or f"reading block {number}"):
            try:
                block = self.w3.eth.get_block(number)
            except BlockNotFound:
                return None
        return bytes(block["hash"])

    def transaction_count(self, address: ChecksumAddress, what: str | None = None) -> int:
        """How many of ``address``'s transactions the latest block includes (its next nonce)."""
        with chain_errors(what or f"reading the nonce of {address}"):
            return int(self.w3.eth.get_transaction_count(address, "latest"))

    def code_at(self, address: ChecksumAddress, what: str | None = None) -> bytes:
        """The code deployed at ``address`` (empty if none)."""
        with chain_errors(what or f"reading code at {address}"):
            return bytes(self.w3.eth.get_code(address))

    def balance(self, address: ChecksumAddress, what: str | None = None) -> int:
        """``address``'s balance in wei, at the latest block."""
        with chain_errors(what or f"reading the balance of {address}"):
            return int(self.w3.eth.get_balance(address))

    def block_timestamp(self, block: BlockIdentifier, what: str | None = None) -> int:
        with chain_errors(what or f"reading block {block!r}"):
            return int(self.w3.eth.get_block(block)["timestamp"])

    def get_transaction(self, tx_hash: bytes, what: str | None = None) -> TxData:
        with chain_errors(what or f"reading transaction 0x{bytes(tx_hash).hex()}"):
            return self.w3.eth.get_transaction(HexBytes(tx_hash))

    def logs(self, params: FilterParams, what: str | None = None) -> list[LogReceipt]:
        """``eth_getLogs``: a node refusing a range (too wide, too many results) is a
        ChainError, an unreachable one a ChainUnavailableError."""
        with chain_errors(what or "reading logs"):
            return list(self.w3.eth.get_logs(params))

    def wait_for_receipt(
        self,
        tx_hash: bytes,
        timeout: float,
        *,
        poll_latency: float = 0.1,
        what: str | None = None,
    ) -> TxReceipt | None:
        """The transaction's receipt once mined, or None if it was not within ``timeout``
        seconds (callers that only wait briefly treat that as "not yet")."""
        with chain_errors(what or f"waiting for the receipt of 0x{bytes(tx_hash).hex()}"):
            try:
                return self.w3.eth.wait_for_transaction_receipt(
                    HexBytes(tx_hash), timeout=timeout, poll_latency=poll_latency
                )
            except TimeExhausted:
                return None
