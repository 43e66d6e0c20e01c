"""Verifying a receipt against the chain (PROTOCOL.md section 7).

The offline steps are ``ledger.core.verify``; this module asks the chain the rest, using only
the contract the receipt names and a JSON-RPC endpoint: never the service or its database. A
receipt anchored in a block the chain does not have (a reset chain) cannot be checked:
``MissingBlockError``, not a verdict.
"""

from __future__ import annotations

import time

from web3 import Web3

from ledger.chain.contract import TipLedgerContract
from ledger.chain.reader import ChainReader
from ledger.core.receipt import Receipt
from ledger.core.verify import Verdict, complete_verdict, verify_offline
from ledger.errors import MissingBlockError


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
