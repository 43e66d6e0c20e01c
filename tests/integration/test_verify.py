"""Receipt verification against a real chain (PROTOCOL.md section 7), beside the CLI tests."""

from __future__ import annotations

import time

from ledger.core.commitment import ZERO_AUTHOR, commitment, content_digest, new_salt
from ledger.core.eip712 import Signer
from ledger.core.receipt import Receipt
from ledger.log.anchoring import Anchorer
from ledger.log.receipts import inclusion_for, make_promise
from ledger.store import LogStore, open_database
from ledger.store.submissions import NewSubmission, SubmissionStore
from ledger.verify import verify_receipt

from .chain_support import DeployedLedger, add_intake


def anchored_receipt(deployed: DeployedLedger, tmp_path, document: bytes, chain_id: int) -> Receipt:  # type: ignore[no-untyped-def]
    add_intake(deployed.contract, deployed.admin, deployed.reviewers[0])
    store = LogStore(open_database(f"sqlite:///{tmp_path / 'ledger.sqlite3'}"))
    salt = new_salt()
    entry = commitment(salt, content_digest(document), ZERO_AUTHOR)
    SubmissionStore(store).accept([NewSubmission(entry, int(time.time()))])  # to intake
    SubmissionStore(store).sequence(1)
    outcome = Anchorer(store, deployed.contract, deployed.anchorer).anchor()
    assert outcome is not None
    address = deployed.deployment.address
    return Receipt.create(
        chain_id=chain_id,
        contract=address,
        commitment=entry,
        salt=salt,
        content_digest=content_digest(document),
        author=ZERO_AUTHOR,
        promise=make_promise(
            Signer(deployed.anchorer.key), chain_id, address, entry, int(time.time())
        ),
        inclusion=inclusion_for(store, entry, outcome.checkpoint),
    )


def test_a_receipt_verifies_against_its_chain(deployed: DeployedLedger, tmp_path) -> None:  # type: ignore[no-untyped-def]
    receipt = anchored_receipt(deployed, tmp_path, b"tip", deployed.deployment.chain_id)
    verdict = verify_receipt(receipt, b"tip", deployed.w3)
    assert verdict.ok, verdict.summary()
    assert verdict.proven_time == receipt.inclusion.block_timestamp  # type: ignore[union-attr]


def test_a_receipt_for_another_chain_is_invalid_not_an_error(
    deployed: DeployedLedger,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    receipt = anchored_receipt(deployed, tmp_path, b"tip", chain_id=1)
    verdict = verify_receipt(receipt, b"tip", deployed.w3)
    assert not verdict.ok
    failed = {c.name for c in verdict.failures}
    assert "chain_id" in failed
