"""The intake with no desk key (the local ``tipledger submit`` on a machine without one): the tip
is stored and promised like any other, with no sealed copy for a desk."""

from __future__ import annotations

import os

from sqlalchemy import Engine

from ledger.core.eip712 import Signer, recover_promise_signer
from ledger.log.intake import Intake
from ledger.store import LogStore
from ledger.store.submissions import SubmissionStore

CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def test_without_a_desk_key_a_tip_is_stored_and_promised_but_not_sealed(engine: Engine) -> None:
    store = SubmissionStore(LogStore(engine))
    signer = Signer(os.urandom(32))
    intake = Intake(store, signer, None, chain_id=CHAIN_ID, contract=CONTRACT, linger=0.0)
    intake.start()
    try:
        accepted = intake.submit(b"a tip for the log alone")
    finally:
        intake.close()
    assert accepted.new
    row = store.get(accepted.commitment)
    assert row is not None
    assert row.envelope is None
    assert row.leaf_index is None  # pending: the sequencer gives it its leaf
    assert accepted.promise_signature is not None
    recovered = recover_promise_signer(
        CHAIN_ID, CONTRACT, accepted.commitment, accepted.received_at, accepted.promise_signature
    )
    assert recovered == signer.address
