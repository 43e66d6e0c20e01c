"""Typed access to a deployed TipLedger contract (PROTOCOL.md sections 4 and 16).

Reads return plain dataclasses, writes sign locally with an eth-account ``LocalAccount`` and wait
for the receipt, events come back as dataclasses. The ABI is the committed artifact's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import BlockIdentifier, EventData, FilterParams, TxParams, TxReceipt

from ledger.chain.client import ErrorDecoder, TxResult, chain_errors, send_transaction, tx_result
from ledger.chain.reader import ChainReader
from ledger.chain.solc import load_artifact
from ledger.core.agency import agency_slug
from ledger.core.encoding import to_hex
from ledger.core.names import ROLES, role_id
from ledger.core.routing import RoutingProof, pack_counts, unpack_counts
from ledger.errors import (
    AgencyError,
    ChainError,
    ChainUnavailableError,
    DeploymentError,
    ProtocolError,
)

__all__ = [
    "ROLES",
    "AgencyEvent",
    "AgencyInfo",
    "AnchorResult",
    "AnchoredEvent",
    "CaseOpenedEvent",
    "Checkpoint",
    "DirectCommitmentEvent",
    "DisclosureEvent",
    "Member",
    "MemberEvent",
    "ReferredEvent",
    "Review",
    "ReviewEvent",
    "RoleEvent",
    "RoutedEvent",
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


def _uint32(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise ProtocolError(f"{name} must be an integer in 0..2^32-1, got {value!r}")
    return value


def _proof_arg(proof: RoutingProof | None) -> tuple[int, int, bytes, list[bytes]]:
    """The ``RoutingProof`` tuple; None is the empty proof (treeSize 0), for an open case."""
    if proof is None:
        return (0, 0, bytes(32), [])
    return (
        proof.tree_size,
        proof.index,
        _bytes32(proof.salt, "routing salt"),
        [_bytes32(p, "routing path node") for p in proof.path],
    )


def _agency_name(agency: bytes) -> str:
    """The slug for a message, or the hex of an id that spells none."""
    try:
        return agency_slug(agency)
    except AgencyError:
        return to_hex(agency)


@dataclass(frozen=True)
class _AgencyOrder:
    """``agencyIds()`` as last read: the agencies by index, and each one's index."""

    ids: tuple[bytes, ...]
    index: Mapping[bytes, int]


_E = TypeVar("_E", bound="_Event")


def _ordered(events: Sequence[_E]) -> list[_E]:
    """Events of several kinds merged in chain order."""
    return sorted(events, key=lambda e: (e.block_number, e.log_index))


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
    agency: bytes  # 32 bytes (PROTOCOL.md 16.1)


@dataclass(frozen=True)
class AgencyInfo:
    agency: bytes  # 32 bytes
    active: bool
    name_th: str
    name_en: str
    member_count: int


@dataclass(frozen=True)
class Member:
    agency: bytes
    address: ChecksumAddress
    encryption_key: bytes  # the raw X25519 public key, 32 bytes


@dataclass(frozen=True)
class AgencyEvent(_Event):
    """``AgencyAdded`` (kind "added", names set) or ``AgencyActiveSet`` (kind "active")."""

    kind: Literal["added", "active"]
    agency: bytes
    active: bool  # True for "added"
    name_th: str  # "" for "active"
    name_en: str


@dataclass(frozen=True)
class MemberEvent(_Event):
    kind: Literal["added", "removed"]
    agency: bytes
    member: ChecksumAddress
    encryption_key: bytes | None  # None for "removed"


@dataclass(frozen=True)
class RoutedEvent(_Event):
    """A batch's routing; ``agencies`` (ids) and ``counts`` side by side, in the order the
    event lists them (the agencies' index order, the order they were added)."""

    tree_size: int
    routing_root: bytes
    previous_size: int
    agencies: tuple[bytes, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True)
class CaseOpenedEvent(_Event):
    commitment: bytes
    agency: bytes
    tree_size: int
    index: int


@dataclass(frozen=True)
class ReferredEvent(_Event):
    commitment: bytes
    from_agency: bytes
    to_agency: bytes
    keep_access: bool
    by: ChecksumAddress
    timestamp: int


@dataclass(frozen=True)
class DisclosureEvent(_Event):
    record_id: bytes
    request_digest: bytes
    requester: ChecksumAddress
    timestamp: int


@dataclass(frozen=True)
class RoleEvent(_Event):
    role: bytes
    account: ChecksumAddress
    granted: bool  # RoleGranted; False: RoleRevoked


# The events a verifier reads in its block window, asked for in one eth_getLogs.
_WINDOW_EVENTS = {
    keccak(text="Anchored(uint64,bytes32,uint64)"): "Anchored",
    keccak(text="RoleGranted(bytes32,address,address)"): "RoleGranted",
    keccak(text="RoleRevoked(bytes32,address,address)"): "RoleRevoked",
}


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
        # Agencies are append-only, so a cached list only ever lacks the newest: re-read on a
        # miss. Replaced whole, never mutated, so threads sharing the binding see one list.
        self._agency_order = _AgencyOrder((), {})
        self._names: dict[bytes, tuple[str, str]] = {}  # immutable once added

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

    def review_of(self, commitment: bytes, block: BlockIdentifier | None = None) -> Review:
        """The latest review of the case by any agency (zeros if never reviewed)."""
        status, ts, reviewer = self._call(
            "reviewOf", _bytes32(commitment, "commitment"), block=block
        )
        return Review(int(status), int(ts), Web3.to_checksum_address(reviewer))

    def review_by(
        self, commitment: bytes, agency: bytes, block: BlockIdentifier | None = None
    ) -> Review:
        """``agency``'s latest review of the case, kept after it referred the case away."""
        status, ts, reviewer = self._call(
            "reviewBy", _bytes32(commitment, "commitment"), _bytes32(agency, "agency"), block=block
        )
        return Review(int(status), int(ts), Web3.to_checksum_address(reviewer))

    def routing_of(self, tree_size: int, block: BlockIdentifier | None = None) -> tuple[bytes, int]:
        """(routing root, previous size) of the batch anchored at ``tree_size``; zeros if none."""
        root, previous = self._call("routingOf", tree_size, block=block)
        return bytes(root), int(previous)

    # -------------------------------------------------------------- agencies (PROTOCOL.md 16)

    def agency_ids(self, block: BlockIdentifier | None = None) -> list[bytes]:
        """Every agency ever added, in the order added (inactive ones included): an agency's
        position here is its index in the anchor's routing counts."""
        return [bytes(a) for a in self._call("agencyIds", block=block)]

    def _reread_agencies(self) -> _AgencyOrder:
        ids = tuple(self.agency_ids())
        self._agency_order = _AgencyOrder(ids, {a: i for i, a in enumerate(ids)})
        return self._agency_order

    def agency_indexes(self, agencies: Sequence[bytes]) -> list[int]:
        """Each agency's index (its position in ``agency_ids()``); ProtocolError for an id that
        is no agency on chain."""
        ids = [_bytes32(a, "agency") for a in agencies]
        order = self._agency_order
        if any(a not in order.index for a in ids):
            order = self._reread_agencies()
        unknown = [a for a in ids if a not in order.index]
        if unknown:
            raise ProtocolError(f"there is no agency {_agency_name(unknown[0])} on chain")
        return [order.index[a] for a in ids]

    def agencies_at(self, indexes: Sequence[int]) -> list[bytes]:
        """The agency ids at these indexes; ChainError for an index past every agency (the
        contract refuses to anchor one, so the chain read is not this contract's)."""
        order = self._agency_order
        if any(i >= len(order.ids) for i in indexes):
            order = self._reread_agencies()
        past = [i for i in indexes if i >= len(order.ids)]
        if past:
            raise ChainError(
                f"routing names agency index {past[0]}, but {self.address} has "
                f"{len(order.ids)} agencies"
            )
        return [order.ids[i] for i in indexes]

    def agency_info(self, agency: bytes, block: BlockIdentifier | None = None) -> AgencyInfo | None:
        """The agency, or None if no agency has that id."""
        raw = _bytes32(agency, "agency")
        exists, active, count = self._call("agencyInfo", raw, block=block)
        if not exists:
            return None
        name_th, name_en = self.agency_names(raw)
        return AgencyInfo(raw, bool(active), name_th, name_en, int(count))

    def agency_names(self, agency: bytes) -> tuple[str, str]:
        """(Thai, English) names of an agency, from its ``AgencyAdded`` event: the contract
        keeps no names in storage (they never change), so they are read once and kept."""
        raw = _bytes32(agency, "agency")
        cached = self._names.get(raw)
        if cached is not None:
            return cached
        with chain_errors("reading AgencyAdded", self._decoder):
            logs = self.contract.events.AgencyAdded().get_logs(
                from_block=0, to_block="latest", argument_filters={"agency": raw}
            )
        if not logs:
            raise ChainError(f"agency 0x{raw.hex()} exists but the chain shows no AgencyAdded")
        names = (str(logs[0]["args"]["nameTh"]), str(logs[0]["args"]["nameEn"]))
        self._names[raw] = names
        return names

    def members(self, agency: bytes, block: BlockIdentifier | None = None) -> list[Member]:
        """The agency's current members (none for an unknown agency), in the contract's order."""
        raw = _bytes32(agency, "agency")
        accounts, keys = self._call("members", raw, block=block)
        return [
            Member(raw, Web3.to_checksum_address(a), bytes(k))
            for a, k in zip(accounts, keys, strict=True)
        ]

    def is_member(self, agency: bytes, address: str, block: BlockIdentifier | None = None) -> bool:
        return bool(
            self._call(
                "isMember", _bytes32(agency, "agency"), _address(address, "address"), block=block
            )
        )

    def memberships_of(self, address: str, block: BlockIdentifier | None = None) -> list[bytes]:
        """The agencies ``address`` is a member of, in the order they were added."""
        return [
            bytes(a) for a in self._call("membershipsOf", _address(address, "address"), block=block)
        ]

    def holds(self, commitment: bytes, agency: bytes, block: BlockIdentifier | None = None) -> bool:
        """Whether ``agency`` holds the case now (may review and refer it)."""
        return bool(
            self._call(
                "holds", _bytes32(commitment, "commitment"), _bytes32(agency, "agency"), block=block
            )
        )

    def case_opened(self, commitment: bytes, block: BlockIdentifier | None = None) -> bool:
        """Whether the case was opened on chain (its first review or referral)."""
        return bool(self._call("caseOpened", _bytes32(commitment, "commitment"), block=block))

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

    def _anchor_args(
        self,
        tree_size: int,
        root_hash: bytes,
        proof: Sequence[bytes],
        routing_root: bytes,
        agencies: Sequence[bytes],
        counts: Sequence[int],
    ) -> list[Any]:
        """The ``anchor`` arguments, the counts packed by agency index (PROTOCOL.md 16.4)."""
        if len(agencies) != len(counts):
            raise ProtocolError(f"{len(agencies)} agencies for {len(counts)} routing counts")
        checked = [_uint32(n, "count") for n in counts]
        entries = sorted(zip(self.agency_indexes(agencies), checked, strict=True))
        return [
            tree_size,
            _bytes32(root_hash, "root_hash"),
            [_bytes32(p, "proof node") for p in proof],
            _bytes32(routing_root, "routing_root"),
            pack_counts([i for i, _ in entries], [n for _, n in entries]),
        ]

    def anchor(
        self,
        account: LocalAccount,
        tree_size: int,
        root_hash: bytes,
        proof: Sequence[bytes],
        routing_root: bytes,
        agencies: Sequence[bytes],
        counts: Sequence[int],
    ) -> AnchorResult:
        """Anchor with the batch's routing: ``agencies`` (ids, each once, in any order) and
        ``counts`` beside them summing to the batch (``ledger.core.routing.agency_counts``
        makes both); the binding writes them by agency index, as the contract takes them."""
        args = self._anchor_args(tree_size, root_hash, proof, routing_root, agencies, counts)
        receipt = self._transact(account, "anchor", *args)
        # The Anchored event carries the block timestamp: no extra get_block round trip.
        logs = self.contract.events.Anchored().process_receipt(receipt, errors=DISCARD)
        timestamp = int(logs[0]["args"]["timestamp"])
        return AnchorResult(
            tx_hash=bytes(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
            block_timestamp=timestamp,
            gas_used=int(receipt["gasUsed"]),
        )

    def encode_anchor(
        self,
        tree_size: int,
        root_hash: bytes,
        proof: Sequence[bytes],
        routing_root: bytes,
        agencies: Sequence[bytes],
        counts: Sequence[int],
    ) -> bytes:
        """The calldata of ``anchor(...)``, for callers that sign and send transactions
        themselves (the sequencer's durable transactions)."""
        args = self._anchor_args(tree_size, root_hash, proof, routing_root, agencies, counts)
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
        self,
        sender: str,
        tree_size: int,
        root_hash: bytes,
        proof: Sequence[bytes],
        routing_root: bytes,
        agencies: Sequence[bytes],
        counts: Sequence[int],
    ) -> None:
        """Dry-run ``anchor`` as an eth_call from ``sender``: raises ContractRevertedError if the
        contract would refuse it, sends nothing."""
        args = self._anchor_args(tree_size, root_hash, proof, routing_root, agencies, counts)
        with chain_errors("anchor() dry run", self._decoder):
            self.contract.functions.anchor(*args).call({"from": _address(sender, "sender")})

    def commit(self, account: LocalAccount, commitment: bytes) -> TxResult:
        return tx_result(self._transact(account, "commit", _bytes32(commitment, "commitment")))

    def record_review(
        self,
        account: LocalAccount,
        commitment: bytes,
        agency: bytes,
        status: int,
        note_digest: bytes,
        proof: RoutingProof | None,
    ) -> TxResult:
        """Review as a member of ``agency``; ``proof`` opens the case (None once it is open)."""
        return tx_result(
            self._transact(
                account,
                "recordReview",
                _bytes32(commitment, "commitment"),
                _bytes32(agency, "agency"),
                status,
                _bytes32(note_digest, "note_digest"),
                _proof_arg(proof),
            )
        )

    def refer(
        self,
        account: LocalAccount,
        commitment: bytes,
        from_agency: bytes,
        to_agency: bytes,
        keep_access: bool,
        proof: RoutingProof | None,
    ) -> TxResult:
        """Refer the case on as a member of ``from_agency``; ``proof`` as for record_review."""
        return tx_result(
            self._transact(
                account,
                "refer",
                _bytes32(commitment, "commitment"),
                _bytes32(from_agency, "from_agency"),
                _bytes32(to_agency, "to_agency"),
                bool(keep_access),
                _proof_arg(proof),
            )
        )

    def add_agency(
        self, admin: LocalAccount, agency: bytes, name_th: str, name_en: str
    ) -> TxResult:
        return tx_result(
            self._transact(admin, "addAgency", _bytes32(agency, "agency"), name_th, name_en)
        )

    def set_agency_active(self, admin: LocalAccount, agency: bytes, active: bool) -> TxResult:
        return tx_result(
            self._transact(admin, "setAgencyActive", _bytes32(agency, "agency"), bool(active))
        )

    def add_member(
        self, admin: LocalAccount, agency: bytes, address: str, encryption_key: bytes
    ) -> TxResult:
        return tx_result(
            self._transact(
                admin,
                "addMember",
                _bytes32(agency, "agency"),
                _address(address, "member"),
                _bytes32(encryption_key, "encryption_key"),
            )
        )

    def remove_member(self, admin: LocalAccount, agency: bytes, address: str) -> TxResult:
        return tx_result(
            self._transact(
                admin, "removeMember", _bytes32(agency, "agency"), _address(address, "member")
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

    def window_events(
        self, from_block: int, to_block: int
    ) -> tuple[list[AnchoredEvent], list[RoleEvent]]:
        """Every Anchored, RoleGranted and RoleRevoked event in blocks ``from_block`` to
        ``to_block``, from ONE ``eth_getLogs`` filtered by event only: whoever asks for a window
        asks the same (PROTOCOL.md 18), whatever checkpoint or key they care about."""
        params: FilterParams = {
            "address": self.address,
            "fromBlock": from_block,
            "toBlock": to_block,
            "topics": [["0x" + t.hex() for t in _WINDOW_EVENTS]],
        }
        anchored: list[AnchoredEvent] = []
        roles: list[RoleEvent] = []
        for raw in self.chain.logs(params, f"reading events in blocks {from_block}-{to_block}"):
            name = _WINDOW_EVENTS.get(bytes(raw["topics"][0])) if raw["topics"] else None
            if name is None:
                continue
            with chain_errors(f"decoding a {name} event", self._decoder):
                log = self.contract.events[name]().process_log(raw)
            args = log["args"]
            if name == "Anchored":
                anchored.append(
                    AnchoredEvent(
                        **_where(log),
                        tree_size=int(args["treeSize"]),
                        root_hash=bytes(args["rootHash"]),
                        timestamp=int(args["timestamp"]),
                    )
                )
            else:
                roles.append(
                    RoleEvent(
                        **_where(log),
                        role=bytes(args["role"]),
                        account=_address(args["account"], "account"),
                        granted=name == "RoleGranted",
                    )
                )
        return anchored, roles

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
                agency=bytes(log["args"]["agency"]),
            )
            for log in self._logs("ReviewRecorded", from_block, to_block)
        ]

    def agency_events(self, from_block: int = 0, to_block: ToBlock = "latest") -> list[AgencyEvent]:
        """``AgencyAdded`` and ``AgencyActiveSet``, in chain order."""
        added = [
            AgencyEvent(
                **_where(log),
                kind="added",
                agency=bytes(log["args"]["agency"]),
                active=True,
                name_th=str(log["args"]["nameTh"]),
                name_en=str(log["args"]["nameEn"]),
            )
            for log in self._logs("AgencyAdded", from_block, to_block)
        ]
        active = [
            AgencyEvent(
                **_where(log),
                kind="active",
                agency=bytes(log["args"]["agency"]),
                active=bool(log["args"]["active"]),
                name_th="",
                name_en="",
            )
            for log in self._logs("AgencyActiveSet", from_block, to_block)
        ]
        return _ordered([*added, *active])

    def member_events(self, from_block: int = 0, to_block: ToBlock = "latest") -> list[MemberEvent]:
        """``MemberAdded`` and ``MemberRemoved``, in chain order."""
        added = [
            MemberEvent(
                **_where(log),
                kind="added",
                agency=bytes(log["args"]["agency"]),
                member=Web3.to_checksum_address(log["args"]["member"]),
                encryption_key=bytes(log["args"]["encryptionKey"]),
            )
            for log in self._logs("MemberAdded", from_block, to_block)
        ]
        removed = [
            MemberEvent(
                **_where(log),
                kind="removed",
                agency=bytes(log["args"]["agency"]),
                member=Web3.to_checksum_address(log["args"]["member"]),
                encryption_key=None,
            )
            for log in self._logs("MemberRemoved", from_block, to_block)
        ]
        return _ordered([*added, *removed])

    def routed_event(
        self, args: Mapping[str, Any], *, block_number: int, tx_hash: bytes, log_index: int
    ) -> RoutedEvent:
        """A decoded ``Routed`` log's arguments as a RoutedEvent, agency indexes mapped to ids
        (for readers that decode logs themselves, as the audit does)."""
        entries = unpack_counts(bytes(args["counts"]))
        return RoutedEvent(
            block_number=block_number,
            tx_hash=tx_hash,
            log_index=log_index,
            tree_size=int(args["treeSize"]),
            routing_root=bytes(args["routingRoot"]),
            previous_size=int(args["previousSize"]),
            agencies=tuple(self.agencies_at([i for i, _ in entries])),
            counts=tuple(n for _, n in entries),
        )

    def routed_events(self, from_block: int = 0, to_block: ToBlock = "latest") -> list[RoutedEvent]:
        return [
            self.routed_event(log["args"], **_where(log))
            for log in self._logs("Routed", from_block, to_block)
        ]

    def case_opened_events(
        self, from_block: int = 0, to_block: ToBlock = "latest"
    ) -> list[CaseOpenedEvent]:
        return [
            CaseOpenedEvent(
                **_where(log),
                commitment=bytes(log["args"]["commitment"]),
                agency=bytes(log["args"]["agency"]),
                tree_size=int(log["args"]["treeSize"]),
                index=int(log["args"]["index"]),
            )
            for log in self._logs("CaseOpened", from_block, to_block)
        ]

    def referred_events(
        self, from_block: int = 0, to_block: ToBlock = "latest"
    ) -> list[ReferredEvent]:
        return [
            ReferredEvent(
                **_where(log),
                commitment=bytes(log["args"]["commitment"]),
                from_agency=bytes(log["args"]["fromAgency"]),
                to_agency=bytes(log["args"]["toAgency"]),
                keep_access=bool(log["args"]["keepAccess"]),
                by=Web3.to_checksum_address(log["args"]["by"]),
                timestamp=int(log["args"]["timestamp"]),
            )
            for log in self._logs("Referred", from_block, to_block)
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
