"""Verifying a receipt against the chain (PROTOCOL.md sections 7 and 18).

The offline steps are ``ledger.core.verify``; this module asks the chain the rest, using only
the contract the receipt names and a JSON-RPC endpoint: never the service or its database. A
receipt anchored in a block the chain does not have (a reset chain) cannot be checked:
``MissingBlockError``, not a verdict.

``verify_receipt`` asks the chain for the receipt's own checkpoint (the service's POST /v1/verify
uses it: the service already knows the receipt). ``verify_receipt_uniformly`` is what
``tipledger verify`` does: it asks only what every verifier of the same block window asks, and
the log's tiles on the leaf's path (section 18).
"""

from __future__ import annotations

import time
from dataclasses import replace

from web3 import Web3

from ledger.chain.contract import TipLedgerContract
from ledger.chain.reader import ChainReader
from ledger.core.commitment import commitment
from ledger.core.names import role_id
from ledger.core.receipt import Receipt
from ledger.core.tiles import tiles_for_inclusion
from ledger.core.uniform import (
    RoleChange,
    WindowAnchor,
    anchor_of,
    block_window,
    held_at,
    latest_inclusion_check,
)
from ledger.core.verify import Verdict, complete_verdict, verify_offline
from ledger.errors import MissingBlockError, NoTileSourceError
from ledger.log.tile_fetch import TileFetcher


def verify_receipt(receipt: Receipt, document: bytes | None, w3: Web3) -> Verdict:
    offline = verify_offline(receipt, document)
    query = offline.query
    reader = ChainReader(w3)
    chain_id = reader.chain_id()
    root: bytes | None = None
    timestamp: int | None = None
    signer_is_anchorer = max_merge_delay = None
    if chain_id != query.chain_id and query.tree_size is not None:
        # Another chain cannot confirm this checkpoint: the chain_id check fails, and so must
        # the checkpoint checks (nothing read from a foreign chain could count).
        root, timestamp = b"\x00" * 32, 0
    if chain_id == query.chain_id:
        if query.block_number is not None:
            try:
                reader.require_block(query.block_number, "checking the receipt's block")
            except MissingBlockError as exc:
                raise MissingBlockError(
                    f"{exc}: this receipt's anchor is not on this chain (was the chain reset, "
                    "or did it lose history?); cannot check it here"
                ) from None
        contract = TipLedgerContract(w3, query.contract)
        if query.tree_size is not None:
            cp = contract.checkpoint(query.tree_size)
            root, timestamp = cp.root_hash, cp.timestamp
        if query.promise_signer is not None:
            # Read the role at the anchoring block: a key rotated out later stays valid for
            # the receipts it signed while it held the role.
            signer_is_anchorer = contract.has_role(
                "ANCHORER_ROLE", query.promise_signer, block=query.block_number
            )
            max_merge_delay = contract.max_merge_delay()
    return complete_verdict(
        offline,
        chain_id=chain_id,
        checkpoint_root=root,
        checkpoint_timestamp=timestamp,
        signer_is_anchorer=signer_is_anchorer,
        max_merge_delay=max_merge_delay,
        now=int(time.time()),
    )


def verify_receipt_uniformly(
    receipt: Receipt, document: bytes | None, w3: Web3, tiles: TileFetcher
) -> Verdict:
    """Verify as PROTOCOL.md 18 says, asking only what every verifier of the same window asks.

    The chain: ``eth_chainId``, the contract's code, the head, ``latest()``,
    ``maxMergeDelay()``, one ``eth_getLogs`` (Anchored and role events) over the receipt's
    aligned block window and ``hasRole`` at the window's end. The log: the tiles on the leaf's
    path to the latest tree. Nothing asked names the receipt's tree size, leaf, block or
    commitment; the promise signer is the service's anchorer key, the same for its receipts.
    """
    offline = verify_offline(receipt, document)
    query = offline.query
    reader = ChainReader(w3)
    chain_id = reader.chain_id()
    if chain_id != query.chain_id:
        # As in verify_receipt: nothing read from a foreign chain could count.
        anchored = query.tree_size is not None
        return complete_verdict(
            offline,
            chain_id=chain_id,
            checkpoint_root=b"\x00" * 32 if anchored else None,
            checkpoint_timestamp=0 if anchored else None,
            signer_is_anchorer=None,
            max_merge_delay=None,
            now=int(time.time()),
        )
    contract = TipLedgerContract(w3, query.contract)
    head = reader.head_block()
    latest = contract.latest()
    max_merge_delay = contract.max_merge_delay()
    inclusion = receipt.inclusion
    if inclusion is None:  # pending: nothing anchored to check, only the promise's key
        signer_ok = (
            None
            if query.promise_signer is None
            else contract.has_role("ANCHORER_ROLE", query.promise_signer)
        )
        return complete_verdict(
            offline,
            chain_id=chain_id,
            checkpoint_root=None,
            checkpoint_timestamp=None,
            signer_is_anchorer=signer_ok,
            max_merge_delay=max_merge_delay,
            now=int(time.time()),
        )
    if inclusion.block_number > head:
        raise MissingBlockError(
            f"the chain does not contain block {inclusion.block_number} (its head is {head}): "
            "this receipt's anchor is not on this chain (was the chain reset, or did it lose "
            "history?); cannot check it here"
        )
    start, end = block_window(inclusion.block_number, head)
    events, role_events = contract.window_events(start, end)
    signer_ok = None
    if query.promise_signer is not None:
        anchorer = role_id("ANCHORER_ROLE")
        signer = query.promise_signer.lower()
        changes = [
            RoleChange(e.block_number, e.log_index, e.granted)
            for e in role_events
            if e.role == anchorer and e.account.lower() == signer
        ]
        at_end = contract.has_role("ANCHORER_ROLE", query.promise_signer, block=end)
        signer_ok = held_at(inclusion.block_number, at_end, changes)
    try:
        bodies = (
            {
                ref: tiles.fetch(ref)
                for ref in tiles_for_inclusion(inclusion.leaf_index, latest.tree_size)
            }
            if inclusion.leaf_index < latest.tree_size
            else {}
        )
    except NoTileSourceError:
        bodies = None  # the chain alone still proves the receipt (its proof, its checkpoint)
    found = anchor_of(
        [WindowAnchor(e.tree_size, e.root_hash, e.timestamp, e.block_number) for e in events],
        inclusion.tree_size,
    )
    verdict = complete_verdict(
        offline,
        chain_id=chain_id,
        checkpoint_root=found.root_hash if found else b"\x00" * 32,
        checkpoint_timestamp=found.timestamp if found else 0,
        signer_is_anchorer=signer_ok,
        max_merge_delay=max_merge_delay,
        now=int(time.time()),
    )
    if bodies is None:
        return replace(
            verdict,
            warnings=(
                *verdict.warnings,
                "the log's tiles were not read (no log URL is known: --log-url or "
                "TIPLEDGER_LOG_URL), so the entry was checked against its own checkpoint on "
                "chain, not against the latest one",
            ),
        )
    recomputed = commitment(receipt.salt_bytes, receipt.content_digest_bytes, receipt.author_bytes)
    check = latest_inclusion_check(
        recomputed,
        inclusion.leaf_index,
        latest.tree_size,
        latest.root_hash,
        inclusion.tree_size,
        bodies,
    )
    return replace(verdict, checks=(*verdict.checks, check))
