"""Reading one TipLedger's whole history from the chain, once.

Every log the contract emitted between two blocks is fetched with ``eth_getLogs`` in block ranges
(halved when a node refuses a range as too large) and decoded against the contract ABI, so the
audit makes one pass over the chain whatever it checks. Role membership and the disclosure
threshold are then replayed from their events (``ledger.audit.history``): nothing needs state at
old blocks, so any node will do, not only an archive node.

Agency events (members, routing, cases opened, referrals) are kept as they come
(``AgencyHistory``) for ``ledger.audit.agencies``.

Besides the logs, the audit reads: the latest block (its time is the audit's "now"),
``maxMergeDelay()`` (immutable), ``checkpoint(n)`` for every anchored size (JSON-RPC batches),
the deploy transaction (the constructor's disclosure threshold) and each disclosure's transaction
(the custodian signatures it carried). Anchor transactions are read only to narrow down an entry
that differs (``AnchorProofReader``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_typing import ChecksumAddress
from eth_utils.crypto import keccak
from web3 import Web3
from web3.types import FilterParams, LogReceipt

from ledger.audit.history import (
    AgencyHistory,
    ChainHistory,
    Disclosure,
    RoleChange,
    RoleHistory,
    ThresholdChange,
    ThresholdHistory,
)
from ledger.chain.client import chain_errors
from ledger.chain.contract import (
    AgencyEvent,
    AnchoredEvent,
    CaseOpenedEvent,
    Checkpoint,
    DirectCommitmentEvent,
    DisclosureEvent,
    MemberEvent,
    ReferredEvent,
    ReviewEvent,
    RoutedEvent,
    TipLedgerContract,
)
from ledger.chain.reader import ChainReader
from ledger.chain.solc import load_artifact
from ledger.core.encoding import to_hex
from ledger.errors import ChainError, ChainUnavailableError

__all__ = ["AnchorProofReader", "EventCodec", "read_history"]

DEFAULT_CHUNK_BLOCKS = 10_000

Advance = Callable[[int], None]


@dataclass(frozen=True)
class _EventAbi:
    name: str
    indexed: list[tuple[str, str]]
    data: list[tuple[str, str]]


class EventCodec:
    """Decodes raw logs of one contract ABI by their first topic."""

    def __init__(self, abi: Sequence[Mapping[str, Any]]) -> None:
        self._events: dict[bytes, _EventAbi] = {}
        for item in abi:
            if item.get("type") != "event" or item.get("anonymous"):
                continue
            inputs = item.get("inputs", [])
            signature = f"{item['name']}({','.join(i['type'] for i in inputs)})"
            self._events[keccak(text=signature)] = _EventAbi(
                item["name"],
                [(i["name"], i["type"]) for i in inputs if i.get("indexed")],
                [(i["name"], i["type"]) for i in inputs if not i.get("indexed")],
            )

    def decode(self, log: LogReceipt) -> tuple[str, dict[str, Any]] | None:
        """``(event name, arguments)``, or None for a log this ABI does not know."""
        topics = [bytes(t) for t in log["topics"]]
        if not topics or topics[0] not in self._events:
            return None
        event = self._events[topics[0]]
        if len(topics) - 1 != len(event.indexed):
            return None
        args: dict[str, Any] = {}
        for (name, kind), topic in zip(event.indexed, topics[1:], strict=True):
            args[name] = abi_decode([kind], topic)[0]
        values = abi_decode([k for _, k in event.data], bytes(log["data"]))
        args.update((name, v) for (name, _), v in zip(event.data, values, strict=True))
        return event.name, args


def read_logs(
    chain: ChainReader,
    address: ChecksumAddress,
    from_block: int,
    to_block: int,
    *,
    chunk_blocks: int = DEFAULT_CHUNK_BLOCKS,
    advance: Advance | None = None,
) -> list[LogReceipt]:
    """Every log of ``address`` in ``[from_block, to_block]``, in chain order.

    A range the node refuses (too many results, range too wide) is retried halved, down to
    one block; an unreachable node is an error at once.
    """
    logs: list[LogReceipt] = []
    start, chunk = from_block, max(1, chunk_blocks)
    while start <= to_block:
        end = min(to_block, start + chunk - 1)
        params: FilterParams = {"address": address, "fromBlock": start, "toBlock": end}
        try:
            logs.extend(chain.logs(params, f"reading logs of blocks {start}-{end}"))
        except ChainUnavailableError:
            raise
        except ChainError:
            if chunk == 1:
                raise
            chunk = max(1, chunk // 2)
            continue
        if advance is not None:
            advance(end - start + 1)
        start = end + 1
    return logs


def _where(log: LogReceipt) -> dict[str, Any]:
    return {
        "block_number": int(log["blockNumber"]),
        "tx_hash": bytes(log["transactionHash"]),
        "log_index": int(log["logIndex"]),
    }


class AnchorProofReader:
    """The consistency proof an anchor transaction carried (its calldata), or None."""

    def __init__(self, contract: TipLedgerContract) -> None:
        self.contract = contract

    def __call__(self, anchor: AnchoredEvent) -> list[bytes] | None:
        try:
            what = f"reading anchor transaction {to_hex(anchor.tx_hash)}"
            with chain_errors(what):  # decoding raises web3 errors too
                tx = self.contract.chain.get_transaction(anchor.tx_hash, what)
                fn, params = self.contract.contract.decode_function_input(tx["input"])
        except (ChainError, ValueError):
            return None
        if fn.fn_name != "anchor":
            return None
        return [bytes(p) for p in params["consistencyProof"]]


def read_history(
    contract: TipLedgerContract,
    *,
    from_block: int = 0,
    to_block: int | None = None,
    deploy_tx: bytes | None = None,
    chunk_blocks: int = DEFAULT_CHUNK_BLOCKS,
    read_stored: bool = True,
    advance: Advance | None = None,
    set_total: Callable[[int], None] | None = None,
) -> ChainHistory:
    """Everything the audit needs from the chain, as of ``to_block`` (default: the latest)."""
    chain = contract.chain
    chain_id = chain.chain_id("reading the chain head")
    if to_block is None:
        to_block = chain.head_block("reading the chain head")
    head_timestamp = chain.block_timestamp(to_block, "reading the chain head")
    if set_total is not None:
        set_total(max(0, to_block - from_block + 1))
    abi = load_artifact()["abi"]
    codec = EventCodec(abi)
    raw = read_logs(
        chain, contract.address, from_block, to_block, chunk_blocks=chunk_blocks, advance=advance
    )
    anchors: list[AnchoredEvent] = []
    directs: list[DirectCommitmentEvent] = []
    reviews: list[ReviewEvent] = []
    disclosure_events: list[DisclosureEvent] = []
    role_changes: list[RoleChange] = []
    threshold_changes: list[ThresholdChange] = []
    agency_log = _AgencyLog(contract)
    for log in raw:
        decoded = codec.decode(log)
        if decoded is None:
            continue
        name, args = decoded
        where = _where(log)
        if agency_log.add(name, args, where):
            continue
        if name == "Anchored":
            anchors.append(
                AnchoredEvent(
                    **where,
                    tree_size=int(args["treeSize"]),
                    root_hash=bytes(args["rootHash"]),
                    timestamp=int(args["timestamp"]),
                )
            )
        elif name == "DirectCommitment":
            directs.append(
                DirectCommitmentEvent(
                    **where,
                    commitment=bytes(args["commitment"]),
                    sender=Web3.to_checksum_address(args["sender"]),
                    timestamp=int(args["timestamp"]),
                )
            )
        elif name == "ReviewRecorded":
            reviews.append(
                ReviewEvent(
                    **where,
                    commitment=bytes(args["commitment"]),
                    status=int(args["status"]),
                    note_digest=bytes(args["noteDigest"]),
                    reviewer=Web3.to_checksum_address(args["reviewer"]),
                    timestamp=int(args["timestamp"]),
                    agency=bytes(args["agency"]),
                )
            )
        elif name == "DisclosureApproved":
            disclosure_events.append(
                DisclosureEvent(
                    **where,
                    record_id=bytes(args["recordId"]),
                    request_digest=bytes(args["requestDigest"]),
                    requester=Web3.to_checksum_address(args["requester"]),
                    timestamp=int(args["timestamp"]),
                )
            )
        elif name in ("RoleGranted", "RoleRevoked"):
            role_changes.append(
                RoleChange(
                    role=bytes(args["role"]),
                    account=Web3.to_checksum_address(args["account"]),
                    granted=name == "RoleGranted",
                    block_number=where["block_number"],
                    log_index=where["log_index"],
                    tx_hash=where["tx_hash"],
                )
            )
        elif name == "DisclosureThresholdChanged":
            threshold_changes.append(
                ThresholdChange(
                    previous=int(args["previous"]),
                    current=int(args["current"]),
                    block_number=where["block_number"],
                    log_index=where["log_index"],
                    tx_hash=where["tx_hash"],
                )
            )

    notes: list[str] = []
    deploy_block: int | None = None
    deploy_timestamp: int | None = None
    if raw:
        # The constructor grants DEFAULT_ADMIN_ROLE: the contract's first log is its deployment.
        deploy_block = int(raw[0]["blockNumber"])
        if deploy_tx is None:
            deploy_tx = bytes(raw[0]["transactionHash"])
        deploy_timestamp = chain.block_timestamp(deploy_block, "reading the deploy block")
    initial, how = _initial_threshold(contract, deploy_tx, threshold_changes)
    if how:
        notes.append(how)
    with chain_errors("reading maxMergeDelay"):
        max_merge_delay = contract.max_merge_delay()
    stored: dict[int, Checkpoint] = {}
    if read_stored and anchors:
        sizes = [a.tree_size for a in anchors]
        for cp in contract.checkpoints(sizes, "reading checkpoint(n) of every anchor"):
            stored[cp.tree_size] = cp
    disclosures = [_disclosure(contract, e) for e in disclosure_events]
    return ChainHistory(
        chain_id=chain_id,
        contract=contract.address,
        from_block=from_block,
        to_block=to_block,
        head_timestamp=head_timestamp,
        max_merge_delay=max_merge_delay,
        anchors=anchors,
        direct_commitments=directs,
        reviews=reviews,
        disclosures=disclosures,
        roles=RoleHistory(role_changes),
        thresholds=ThresholdHistory(initial, threshold_changes),
        stored=stored,
        deploy_block=deploy_block,
        deploy_timestamp=deploy_timestamp,
        notes=notes,
        agencies=agency_log.history(),
    )


class _AgencyLog:
    """Collects the agency events (PROTOCOL.md 16.5) as the logs are decoded."""

    def __init__(self, contract: TipLedgerContract) -> None:
        self.contract = contract  # maps Routed's agency indexes to ids
        self.agencies: list[AgencyEvent] = []
        self.members: list[MemberEvent] = []
        self.routed: list[RoutedEvent] = []
        self.opened: list[CaseOpenedEvent] = []
        self.referrals: list[ReferredEvent] = []

    def add(self, name: str, args: Mapping[str, Any], where: dict[str, Any]) -> bool:
        """Keep the event if it is an agency event; False for any other."""
        if name in ("AgencyAdded", "AgencyActiveSet"):
            added = name == "AgencyAdded"
            self.agencies.append(
                AgencyEvent(
                    **where,
                    kind="added" if added else "active",
                    agency=bytes(args["agency"]),
                    active=True if added else bool(args["active"]),
                    name_th=str(args["nameTh"]) if added else "",
                    name_en=str(args["nameEn"]) if added else "",
                )
            )
        elif name in ("MemberAdded", "MemberRemoved"):
            added = name == "MemberAdded"
            self.members.append(
                MemberEvent(
                    **where,
                    kind="added" if added else "removed",
                    agency=bytes(args["agency"]),
                    member=Web3.to_checksum_address(args["member"]),
                    encryption_key=bytes(args["encryptionKey"]) if added else None,
                )
            )
        elif name == "Routed":
            self.routed.append(self.contract.routed_event(args, **where))
        elif name == "CaseOpened":
            self.opened.append(
                CaseOpenedEvent(
                    **where,
                    commitment=bytes(args["commitment"]),
                    agency=bytes(args["agency"]),
                    tree_size=int(args["treeSize"]),
                    index=int(args["index"]),
                )
            )
        elif name == "Referred":
            self.referrals.append(
                ReferredEvent(
                    **where,
                    commitment=bytes(args["commitment"]),
                    from_agency=bytes(args["fromAgency"]),
                    to_agency=bytes(args["toAgency"]),
                    keep_access=bool(args["keepAccess"]),
                    by=Web3.to_checksum_address(args["by"]),
                    timestamp=int(args["timestamp"]),
                )
            )
        else:
            return False
        return True

    def history(self) -> AgencyHistory:
        return AgencyHistory(
            agencies=self.agencies,
            members=self.members,
            routed=self.routed,
            opened=self.opened,
            referrals=self.referrals,
        )


_CONSTRUCTOR_TYPES = ["address", "address", "address[]", "address[]", "uint64", "uint8"]


def _initial_threshold(
    contract: TipLedgerContract,
    deploy_tx: bytes | None,
    changes: Sequence[ThresholdChange],
) -> tuple[int, str | None]:
    """The constructor's disclosure threshold: decoded from the deploy transaction's arguments
    (what the contract was created with, whatever its storage says now); failing that, the
    first change's previous value, or the current value. The second item notes a fallback."""
    if deploy_tx is not None:
        bytecode = bytes.fromhex(load_artifact()["bytecode"].removeprefix("0x"))
        try:
            tx = contract.chain.get_transaction(deploy_tx, "reading the deploy transaction")
            data = bytes(tx["input"])
            if tx.get("to") is None and data.startswith(bytecode):
                args = abi_decode(_CONSTRUCTOR_TYPES, data[len(bytecode) :])
                return int(args[5]), None
        except (ChainError, ValueError):
            pass
    ordered = sorted(changes, key=lambda c: c.position)
    if ordered:
        return ordered[0].previous, (
            "the constructor's disclosure threshold was taken from the first "
            "DisclosureThresholdChanged event (the deploy transaction could not be decoded)"
        )
    return contract.disclosure_threshold(), (
        "the constructor's disclosure threshold is assumed to be the current one (the deploy "
        "transaction could not be decoded and it never changed)"
    )


def _disclosure(contract: TipLedgerContract, event: DisclosureEvent) -> Disclosure:
    """The event with the signatures its transaction passed to ``recordDisclosure``."""
    tx = contract.chain.get_transaction(
        event.tx_hash, f"reading disclosure transaction {to_hex(event.tx_hash)}"
    )
    try:
        fn, params = contract.contract.decode_function_input(tx["input"])
    except ValueError:
        return Disclosure(event, None, "its transaction does not call recordDisclosure directly")
    if fn.fn_name != "recordDisclosure":
        return Disclosure(event, None, "its transaction does not call recordDisclosure directly")
    if (
        bytes(params["recordId"]) != event.record_id
        or bytes(params["requestDigest"]) != event.request_digest
        or Web3.to_checksum_address(params["requester"]) != event.requester
    ):
        return Disclosure(event, None, "its transaction's arguments differ from the event")
    return Disclosure(event, tuple(bytes(s) for s in params["signatures"]))
