"""`tipledger verify` on a receipt anchored in a block the chain no longer has (the chain was
rolled back under it): exit 2 and one line naming the block and the chain's head, never a
node's "invalid block tag"."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.chain.anvil import rpc_request
from ledger.core.commitment import ZERO_AUTHOR, commitment, content_digest, new_salt
from ledger.core.eip712 import Signer
from ledger.core.receipt import Receipt
from ledger.errors import MissingBlockError
from ledger.log.anchoring import Anchorer
from ledger.log.receipts import inclusion_for, make_promise
from ledger.store import LogStore, open_database
from ledger.store.submissions import NewSubmission, SubmissionStore
from ledger.verify import verify_receipt

from ..chain_support import DeployedLedger, add_intake

pytestmark = pytest.mark.chain

TIP = b"a tip anchored in a block the chain then lost"


def test_verify_says_the_chain_lacks_the_receipts_block(
    deployed: DeployedLedger, tmp_path: Path
) -> None:
    url = deployed.devchain.rpc_url
    chain_id = deployed.deployment.chain_id
    address = deployed.deployment.address
    add_intake(deployed.contract, deployed.admin, deployed.reviewers[0])
    before = rpc_request(url, "evm_snapshot")  # after the deploy: the contract stays
    store = LogStore(open_database(f"sqlite:///{tmp_path / 'ledger.sqlite3'}"))
    salt = new_salt()
    entry = commitment(salt, content_digest(TIP), ZERO_AUTHOR)
    SubmissionStore(store).accept([NewSubmission(entry, int(time.time()))])  # to intake
    SubmissionStore(store).sequence(1)
    outcome = Anchorer(store, deployed.contract, deployed.anchorer).anchor()
    assert outcome is not None
    receipt = Receipt.create(
        chain_id=chain_id,
        contract=address,
        commitment=entry,
        salt=salt,
        content_digest=content_digest(TIP),
        author=ZERO_AUTHOR,
        promise=make_promise(
            Signer(deployed.anchorer.key), chain_id, address, entry, int(time.time())
        ),
        inclusion=inclusion_for(store, entry, outcome.checkpoint),
    )
    assert verify_receipt(receipt, TIP, deployed.w3).ok
    block = outcome.checkpoint.block_number
    rpc_request(url, "evm_revert", [before])  # the anchoring block is gone
    head = deployed.w3.eth.block_number
    assert head < block

    with pytest.raises(MissingBlockError, match=f"does not contain block {block} "):
        verify_receipt(receipt, TIP, deployed.w3)
    path = tmp_path / "receipt.json"
    path.write_text(receipt.to_json())
    env = {**os.environ, "TIPLEDGER_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    env["COLUMNS"] = "400"  # one line as printed, not wrapped by the terminal width
    done = subprocess.run(
        [
            sys.executable, "-m", "ledger.cli", "verify", str(path), "--rpc", url,
            "--text", TIP.decode(),
        ],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(
        f"error: the chain does not contain block {block} (its head is {head}): "
    ), lines[0]
    assert "invalid block tag" not in done.stderr
    assert "Traceback" not in done.stderr
