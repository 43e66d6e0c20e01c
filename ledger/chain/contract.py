"""Typed access to a deployed TipLedger contract (PROTOCOL.md section 4).

Reads return plain dataclasses, writes sign locally with an eth-account ``LocalAccount`` and wait
for the receipt, events come back as dataclasses. The ABI is the committed artifact's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import BlockIdentifier, EventData, TxParams, TxReceipt

from ledger.chain.client import ErrorDecoder, TxResult, chain_errors, send_transaction, tx_result
from ledger.chain.reader import ChainReader
from ledger.chain.solc import load_artifact
from ledger.core.names import ROLES, role_id
from ledger.errors import ChainError, ChainUnavailableError, DeploymentError, ProtocolError

__all__ = [
    "ROLES",
    "AnchorResult",
    "AnchoredEvent",
    "Checkpoint",
    "DirectCommitmentEvent",
    "DisclosureEvent",
    "Review",
    "ReviewEvent",
    "TipLedgerContract",
    "role_id",
]

BATCH_SIZE = 500  # JSON-RPC calls per batch request

ReviewStatus = Literal[1, 2, 3, 4, 5]
ToBlock = int | Literal["latest", "safe", "finalized"]


def _address(value: str, name: str) -> ChecksumAddress:
    if not isinstance(value, str) or not Web3.is_address(value):
        raise ProtocolError(f"{name} must be a 0x-prefixed 20-byte address, got {value!r}")
    return Web3.to_checksum_address(value)


def _bytes32(value: bytes, name: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != 32:
        raise ProtocolError(f"{name} must be 32 bytes")
    return bytes(value)


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: bytes
    timestamp: int
    block_number: int

    @property
    def anchored(self) -> bool:
        """False for a size never anchored (the contract returns zeros)."""
        return self.timestamp != 0


@dataclass(frozen=True)
class Review:
    status: int
    timestamp: int
    reviewer: ChecksumAddress


@dataclass(frozen=True)
class AnchorResult:
    tx_hash: bytes
    block_number: int
    block_timestamp: int
    gas_used: int


@dataclass(frozen=True)
class _Event:
    block_number: int
    tx_hash: bytes
    log_index: int


@dataclass(frozen=True)
class AnchoredEvent(_Event):
    tree_size: int
    root_hash: bytes
    timestamp: int


@dataclass(frozen=True)
class DirectCommitmentEvent(_Event):
    commitment: bytes
    sender: ChecksumAddress
    timestamp: int


@dataclass(frozen=True)
class ReviewEvent(_Event):
    commitment: bytes
    status: int
    note_digest: bytes
    reviewer: ChecksumAddress
    timestamp: int


@dataclass(frozen=True)
class DisclosureEvent(_Event):
    record_id: bytes
    request_digest: bytes
    requester: ChecksumAddress
    timestamp: int


def _where(log: EventData) -> dict[str, Any]:
    return {
        "block_number": int(log["blockNumber"]),
        "tx_hash": bytes(log["transactionHash"]),
        "log_index": int(log["logIndex"]),
    }


class TipLedgerContract:
    """A TipLedger at ``address``; raises DeploymentError if no code is there."""

    def __init__(self, w3: Web3, address: str, abi: Sequence[dict[str, Any]] | None = None):
        self.w3 = w3
        self.chain = ChainReader(w3)
        if not Web3.is_address(address):
            raise DeploymentError(f"not an address: {address!r}")
        self.address: ChecksumAddress = _address(address, "address")
        abi = list(abi) if abi is not None else load_artifact()["abi"]
        self._decoder = ErrorDecoder(abi)
        code = self.chain.code_at(self.address)
        if not code:
            raise DeploymentError(f"no contract code at {self.address} on this chain")
        self.code_hash = keccak(code)
        self.contract: Contract = w3.eth.contract(address=self.address, abi=abi)

    @property
    def error_decoder(self) -> ErrorDecoder:
        """Decodes this contract's revert data (for callers sending raw transactions)."""
        return self._decoder

    # ------------------------------------------------------------------ reads

    # ``block`` reads state as of that block (number, hash or tag); None means the latest.

    def _call(self, fn_name: str, *args: Any, block: BlockIdentifier | None = None) -> Any:
        with chain_errors(f"{fn_name}()", self._decoder):
            fn = self.contract.functions[fn_name](*args)
            return fn.call() if block is None else fn.call(block_identifier=block)

    def latest(self, block: BlockIdentifier | None = None) -> Checkpoint:
        size, root, ts, number = self._call("latest", block=block)
        return Checkpoint(int(size), bytes(root), int(ts), int(number))

    def checkpoint(self, tree_size: int, block: BlockIdentifier | None = None) -> Checkpoint:
        root, ts, number = self._call("checkpoint", tree_size, block=block)
        return Checkpoint(tree_size, bytes(root), int(ts), int(number))

    def checkpoints(self, sizes: Sequence[int], what: str) -> list[Checkpoint]:
        """``checkpoint(n)`` for every size, in order, read in JSON-RPC batches (one call at a
        time from a node that refuses batches)."""
        results: list[Any] = []
        for i in range(0, len(sizes), BATCH_SIZE):
            chunk = sizes[i : i + BATCH_SIZE]
            try:
                with chain_errors(what), self.w3.batch_requests() as batch:
                    for n in chunk:
                        batch.add(self.contract.functions.checkpoint(n))
                    results.extend(batch.execute())
            except ChainUnavailableError:
                raise
            except ChainError:
                with chain_errors(what):
                    results.extend(self.contract.functions.checkpoint(n).call() for n in chunk)
        return [
            Checkpoint(n, bytes(root), int(ts), int(number))
            for n, (root, ts, number) in zip(sizes, results, strict=True)
        ]

    def max_merge_delay(self) -> int:
        return int(self._call("maxMergeDelay"))

    def disclosure_threshold(self) -> int:
        return int(self._call("disclosureThreshold"))

    def has_role(
        self, role: str | bytes, address: str, block: BlockIdentifier | None = None
    ) -> bool:
        """Whether ``address`` holds ``role`` (a name like "ANCHORER_ROLE" or the bytes32 id)."""
        return bool(self._call("hasRole", role_id(role), _address(address, "address"), block=block))

    def review_of(self, commitment: bytes) -> Review:
        status, ts, reviewer = self._call("reviewOf", _bytes32(commitment, "commitment"))
        return Review(int(status), int(ts), Web3.to_checksum_address(reviewer))

    def is_disclosed(self, record_id: bytes, request_digest: bytes) -> bool:
        return bool(
            self._call(
                "isDisclosed",
                _bytes32(record_id, "record_id"),
                _bytes32(request_digest, "request_digest"),
            )
        )

    def disclosure_digest(self, record_id: bytes, request_digest: bytes, requester: str) -> bytes:
        """The EIP-712 digest custodians sign, as the contract computes it."""
        return bytes(
            self._call(
                "disclosureDigest",
                _bytes32(record_id, "record_id"),
                _bytes32(request_digest, "request_digest"),
                _address(requester, "requester"),
            )
        )

    # ------------------------------------------------------------------ writes

    def _transact(self, account: LocalAccount, fn_name: str, *args: Any) -> TxReceipt:
        what = f"{fn_name}()"
        with chain_errors(what, self._decoder):
            data = self.contract.encode_abi(fn_name, args=list(args))
        tx: TxParams = {"to": self.address, "data": data}
        return send_transaction(self.w3, account, tx, what=what, decoder=self._decoder)

    def anchor(
        self, account: LocalAccount, tree_size: int, root_hash: bytes, proof: Sequence[bytes]
    ) -> AnchorResult:
        proof_args = [_bytes32(p, "proof node") for p in proof]
        receipt = self._transact(
            account, "anchor", tree_size, _bytes32(root_hash, "root_hash"), proof_args
        )
        # The Anchored event carries the block timestamp: no extra get_block round trip.
        logs = self.contract.events.Anchored().process_receipt(receipt, errors=DISCARD)
        timestamp = int(logs[0]["args"]["timestamp"])
        return AnchorResult(
            tx_hash=bytes(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
            block_timestamp=timestamp,
            gas_used=int(receipt["gasUsed"]),
        )

    def encode_anchor(self, tree_size: int, root_hash: bytes, proof: Sequence[bytes]) -> bytes:
        """The calldata of ``anchor(treeSize, rootHash, consistencyProof)``, for callers that
        sign and send transactions themselves (the sequencer's durable transactions)."""
        args = [tree_size, _bytes32(root_hash, "root_hash"), [_bytes32(p, "proof") for p in proof]]
        with chain_errors("encoding anchor()", self._decoder):
            return bytes.fromhex(self.contract.encode_abi("anchor", args=args)[2:])

    def anchored_in(self, receipt: TxReceipt) -> AnchoredEvent | None:
        """The Anchored event a mined transaction emitted, if any."""
        logs = self.contract.events.Anchored().process_receipt(receipt, errors=DISCARD)
        if not logs:
            return None
        log = logs[0]
        return AnchoredEvent(
            **_where(log),
            tree_size=int(log["args"]["treeSize"]),
            root_hash=bytes(log["args"]["rootHash"]),
            timestamp=int(log["args"]["timestamp"]),
        )

    def simulate_anchor(
        self, sender: str, tree_size: int, root_hash: bytes, proof: Sequence[bytes]
    ) -> None:
        """Dry-run ``anchor`` as an eth_call from ``sender``: raises ContractRevertedError if the
        contract would refuse it, sends nothing."""
        args = (tree_size, _bytes32(root_hash, "root_hash"), [_bytes32(p, "proof") for p in proof])
        with chain_errors("anchor() dry run", self._decoder):
            self.contract.functions.anchor(*args).call({"from": _address(sender, "sender")})

    def commit(self, account: LocalAccount, commitment: bytes) -> TxResult:
        return tx_result(self._transact(account, "commit", _bytes32(commitment, "commitment")))

    def record_review(
        self, account: LocalAccount, commitment: bytes, status: int, note_digest: bytes
    ) -> TxResult:
        return tx_result(
            self._transact(
                account,
                "recordReview",
                _bytes32(commitment, "commitment"),
                status,
                _bytes32(note_digest, "note_digest"),
            )
        )

    def record_disclosure(
        self,
        account: LocalAccount,
        record_id: bytes,
        request_digest: bytes,
        requester: str,
        signatures: Sequence[bytes],
    ) -> TxResult:
        return tx_result(
            self._transact(
                account,
                "recordDisclosure",
                _bytes32(record_id, "record_id"),
                _bytes32(request_digest, "request_digest"),
                _address(requester, "requester"),
                [bytes(s) for s in signatures],
            )
        )

    def grant_role(self, admin: LocalAccount, role: str | bytes, address: str) -> TxResult:
        return tx_result(
            self._transact(admin, "grantRole", role_id(role), _address(address, "address"))
        )

    def revoke_role(self, admin: LocalAccount, role: str | bytes, address: str) -> TxResult:
        return tx_result(
            self._transact(admin, "revokeRole", role_id(role), _address(address, "address"))
        )

    def set_disclosure_threshold(self, admin: LocalAccount, threshold: int) -> TxResult:
        return tx_result(self._transact(admin, "setDisclosureThreshold", threshold))

    # ------------------------------------------------------------------ events

    def _logs(self, event: str, from_block: BlockIdentifier, to_block: ToBlock) -> list[EventData]:
        with chain_errors(f"reading {event} events", self._decoder):
            return list(
                self.contract.events[event]().get_logs(from_block=from_block, to_block=to_block)
            )

    def anchored_events(
        self, from_block: int = 0, to_block: ToBlock = "latest"
    ) -> list[AnchoredEvent]:
        return [
            AnchoredEvent(
                **_where(log),
                tree_size=int(log["args"]["treeSize"]),
                root_hash=bytes(log["args"]["rootHash"]),
                timestamp=int(log["args"]["timestamp"]),
            )
            for log in self._logs("Anchored", from_block, to_block)
        ]

    def direct_commitments(
        self, from_block: int = 0, to_block: ToBlock = "latest"
    ) -> list[DirectCommitmentEvent]:
        return [
            DirectCommitmentEvent(
                **_where(log),
                commitment=bytes(log["args"]["commitment"]),
                sender=Web3.to_checksum_address(log["args"]["sender"]),
                timestamp=int(log["args"]["timestamp"]),
            )
            for log in self._logs("DirectCommitment", from_block, to_block)
        ]

    def review_events(self, from_block: int = 0, to_block: ToBlock = "latest") -> list[ReviewEvent]:
        return [
            ReviewEvent(
                **_where(log),
                commitment=bytes(log["args"]["commitment"]),
                status=int(log["args"]["status"]),
                note_digest=bytes(log["args"]["noteDigest"]),
                reviewer=Web3.to_checksum_address(log["args"]["reviewer"]),
                timestamp=int(log["args"]["timestamp"]),
            )
            for log in self._logs("ReviewRecorded", from_block, to_block)
        ]

    def disclosure_events(
        self, from_block: int = 0, to_block: ToBlock = "latest"
    ) -> list[DisclosureEvent]:
        return [
            DisclosureEvent(
                **_where(log),
                record_id=bytes(log["args"]["recordId"]),
                request_digest=bytes(log["args"]["requestDigest"]),
                requester=Web3.to_checksum_address(log["args"]["requester"]),
                timestamp=int(log["args"]["timestamp"]),
            )
            for log in self._logs("DisclosureApproved", from_block, to_block)
        ]

    def __repr__(self) -> str:
        return f"TipLedgerContract({self.address})"
