"""Submissions on SQLite and PostgreSQL: durable acceptance, idempotence, sequencing order."""

from __future__ import annotations

import os

from sqlalchemy import Engine, inspect

from ledger.core import merkle
from ledger.store import LogStore
from ledger.store.submissions import SOURCE_DIRECT, NewSubmission, SubmissionStore


def new(received_at: int = 1_764_200_000, **kw: object) -> NewSubmission:
    return NewSubmission(commitment=os.urandom(32), received_at=received_at, **kw)  # type: ignore[arg-type]


def test_accept_is_idempotent_and_keeps_the_first_row(engine: Engine) -> None:
    store = SubmissionStore(LogStore(engine))
    a = new(envelope=b"first")
    [stored] = store.accept([a])
    assert stored.envelope == b"first"
    assert stored.leaf_index is None
    again = NewSubmission(a.commitment, a.received_at + 5, envelope=b"second")
    [stored_again] = store.accept([again])
    assert stored_again.envelope == b"first"
    assert stored_again.received_at == a.received_at
    assert store.pending_count() == 1


def test_sequence_orders_by_second_then_commitment_and_is_atomic(engine: Engine) -> None:
    log = LogStore(engine)
    store = SubmissionStore(log)
    late = [new(received_at=20) for _ in range(5)]
    early = [new(received_at=10) for _ in range(5)]
    store.accept(late + early)
    assert store.oldest_pending() == 10
    appended = store.sequence(limit=7)
    order = sorted(early, key=lambda s: s.commitment) + sorted(late, key=lambda s: s.commitment)
    assert [a.commitment for a in appended] == [s.commitment for s in order[:7]]
    assert [a.leaf_index for a in appended] == list(range(7))
    assert store.pending_count() == 3
    assert store.get(order[3].commitment).leaf_index == 3  # type: ignore[union-attr]
    store.sequence(limit=100)
    assert store.sequence(limit=100) == []
    assert log.tree().root() == merkle.root([s.commitment for s in order])


def test_a_direct_commitment_already_submitted_maps_to_its_entry(engine: Engine) -> None:
    log = LogStore(engine)
    store = SubmissionStore(log)
    a = new()
    store.accept([a])
    store.sequence(10)
    store.accept([NewSubmission(a.commitment, a.received_at + 1, source=SOURCE_DIRECT)])
    assert store.sequence(10) == []
    assert log.size() == 1


def test_no_column_records_arrival_order(engine: Engine) -> None:
    columns = {c["name"] for c in inspect(engine).get_columns("submissions")}
    assert columns == {
        "commitment",
        "received_at",
        "source",
        "envelope",
        "promise_signer",
        "promise_signature",
        "leaf_index",
    }
