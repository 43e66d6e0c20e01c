"""The intake: per-tip work, group commit, duplicates, and the receipt it answers with (on SQLite
and PostgreSQL through the ``engine`` fixture)."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import Engine

from ledger.chain.agencies import Recipients
from ledger.chain.contract import AgencyInfo, Member
from ledger.core.casekey import grant_member_key_id, open_grant
from ledger.core.commitment import ZERO_AUTHOR, commitment, content_digest
from ledger.core.eip712 import Signer, recover_promise_signer
from ledger.core.hpke import key_id, key_id_bytes, public_bytes
from ledger.core.receipt import Receipt
from ledger.desk.envelope import open_tip
from ledger.desk.keys import generate_desk_keypair
from ledger.errors import AgencyRefusedError, ProtocolError
from ledger.log.intake import INTAKE_ID, Intake, IntakeClosedError
from ledger.log.receipts import ReceiptBuilder
from ledger.store import LogStore
from ledger.store.cases import split_grants
from ledger.store.submissions import SubmissionStore

CHAIN_ID = 31337
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
AUTHOR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


class OneAgency:
    """The intake's chain boundary, fixed: two members of the intake desk (the chain-backed
    directory is tested against Anvil in tests/integration)."""

    def __init__(self, *members: X25519PrivateKey) -> None:
        info = AgencyInfo(INTAKE_ID, True, "ศูนย์รับเรื่อง", "Intake", len(members))
        self.recipients_ = Recipients(
            info,
            tuple(
                Member(INTAKE_ID, AUTHOR, public_bytes(m.public_key()))
                for m in members  # type: ignore[arg-type]
            ),
            tuple(m.public_key() for m in members),
        )

    def recipients(self, agency: bytes) -> Recipients:
        if agency != INTAKE_ID:
            raise AgencyRefusedError("there is no such agency on this channel")
        return self.recipients_


@pytest.fixture
def setup(engine: Engine):  # type: ignore[no-untyped-def]
    store = SubmissionStore(LogStore(engine))
    desk = generate_desk_keypair()
    other = generate_desk_keypair()
    signer = Signer(os.urandom(32))
    notified: list[int] = []
    intake = Intake(
        store,
        signer,
        OneAgency(desk, other),
        chain_id=CHAIN_ID,
        contract=CONTRACT,
        on_accepted=notified.append,
        clock=lambda: 1_764_200_000.9,
    )
    intake.start()
    yield intake, store, desk, signer, notified
    intake.close()


def test_a_tip_is_stored_sealed_and_promised(setup) -> None:  # type: ignore[no-untyped-def]
    intake, store, desk, signer, notified = setup
    document = b"fraud at office X"
    accepted = intake.submit(document, author=AUTHOR)
    assert accepted.new
    assert accepted.received_at == 1_764_200_000  # whole seconds only
    assert accepted.commitment == commitment(accepted.salt, content_digest(document), AUTHOR)
    signer_address = recover_promise_signer(
        CHAIN_ID, CONTRACT, accepted.commitment, 1_764_200_000, accepted.promise_signature or b""
    )
    assert signer_address == signer.address
    row = store.get(accepted.commitment)
    assert row is not None
    assert row.envelope is not None
    assert document not in row.envelope
    assert row.agency == INTAKE_ID
    assert row.case_key is not None
    assert len(row.routing_salt) == 32
    grants = split_grants(row.grants)
    assert len(grants) == 2  # one per member
    assert grant_member_key_id(grants[0]) == key_id(desk.public_key())
    case = open_grant(desk, grants[0], accepted.commitment, key_id_bytes(row.case_key))
    opened = open_tip(case, row.envelope, accepted.commitment)
    assert (opened.document, opened.salt) == (document, accepted.salt)
    assert notified == [1]


def test_an_unknown_agency_is_refused_and_nothing_is_stored(setup) -> None:  # type: ignore[no-untyped-def]
    intake, store, *_ = setup
    with pytest.raises(AgencyRefusedError, match="no such agency"):
        intake.submit(b"tip", agency=b"nacc".ljust(32, b"\x00"))
    assert store.pending_count() == 0


def test_the_fast_receipt_equals_the_model(setup) -> None:  # type: ignore[no-untyped-def]
    intake, *_ = setup
    for author in (None, AUTHOR):
        accepted = intake.submit(b"tip", author=author)
        fast = ReceiptBuilder(CHAIN_ID, CONTRACT).issued(accepted)
        assert fast == ReceiptBuilder(CHAIN_ID, CONTRACT).receipt(accepted).to_dict()
        assert Receipt.from_dict(fast).inclusion is None
    assert ReceiptBuilder(CHAIN_ID, CONTRACT).receipt(accepted).author == AUTHOR


def test_a_repeat_keeps_the_first_row_and_promise(setup) -> None:  # type: ignore[no-untyped-def]
    intake, _store, _desk, _signer, notified = setup
    salt = os.urandom(32)
    first = intake.submit(b"same", salt=salt)
    intake._clock = lambda: 1_764_200_100.0  # a later second: a new promise would differ
    again = intake.submit(b"same", salt=salt)
    assert again.commitment == first.commitment
    assert not again.new
    assert (again.received_at, again.promise_signature) == (
        first.received_at,
        first.promise_signature,
    )
    assert intake.stats.duplicates == 1
    assert notified == [1]


def test_concurrent_submissions_share_transactions(setup) -> None:  # type: ignore[no-untyped-def]
    intake, store, *_ = setup

    async def many() -> list[bytes]:
        results = await asyncio.gather(*(intake.submit_async(os.urandom(40)) for _ in range(300)))
        return [r.commitment for r in results]

    commitments = asyncio.run(many())
    assert len(set(commitments)) == 300
    assert intake.stats.accepted == 300
    assert intake.stats.batches < 300
    assert store.pending_count() == 300

    # threads too
    out: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: out.append(intake.submit(os.urandom(8)).commitment))
        for _ in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 20


def test_bad_input_and_a_closed_intake(setup) -> None:  # type: ignore[no-untyped-def]
    intake, *_ = setup
    with pytest.raises(ProtocolError, match="salt must be 32 bytes"):
        intake.submit(b"x", salt=b"short")
    with pytest.raises(ProtocolError, match="author"):
        intake.submit(b"x", author="0x1234")
    with pytest.raises(ProtocolError, match="bytes"):
        intake.submit("text, not bytes")  # type: ignore[arg-type]
    accepted = intake.submit(b"before closing")
    assert accepted.author == ZERO_AUTHOR
    intake.close()
    with pytest.raises(IntakeClosedError):
        intake.submit(b"after closing")
