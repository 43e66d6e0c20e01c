"""Submissions on SQLite and PostgreSQL: durable acceptance, idempotence, sequencing order."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import Column, Engine, LargeBinary, MetaData, String, Table, inspect, select

from ledger.core import merkle
from ledger.errors import StoreError
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
        "agency",
        "routing_salt",
        "case_key",
        "grants",
    }


def _companion_table(engine: Engine) -> Table:
    table = Table(
        "test_companions",
        MetaData(),
        Column("commitment", LargeBinary(32), primary_key=True),
        Column("note", String(32), nullable=False),
    )
    table.create(engine)
    return table


def test_companions_are_written_with_new_submissions_only(engine: Engine) -> None:
    table = _companion_table(engine)
    store = SubmissionStore(LogStore(engine))
    a, b = new(promise_signature=b"a" * 65), new(promise_signature=b"b" * 65)
    store.accept([a, b], [[(table, {"commitment": a.commitment, "note": "a"})], []])
    # again, and twice within one batch: the repeats are not new, so nothing more is written
    a2 = NewSubmission(a.commitment, a.received_at, promise_signature=b"c" * 65)
    c = new(promise_signature=b"d" * 65)
    c2 = NewSubmission(c.commitment, c.received_at, promise_signature=b"e" * 65)
    store.accept(
        [a2, c, c2],
        [
            [(table, {"commitment": a.commitment, "note": "again"})],
            [(table, {"commitment": c.commitment, "note": "c"})],
            [(table, {"commitment": c.commitment, "note": "repeat"})],
        ],
    )
    with engine.connect() as conn:
        rows = dict(conn.execute(select(table.c.commitment, table.c.note)).all())
    assert rows == {a.commitment: "a", c.commitment: "c"}


def test_a_failing_companion_stores_nothing_of_its_transaction(engine: Engine) -> None:
    table = _companion_table(engine)
    store = SubmissionStore(LogStore(engine))
    a, b = new(), new()
    clash = [
        (table, {"commitment": b"x" * 32, "note": "1"}),
        (table, {"commitment": b"x" * 32, "note": "2"}),
    ]
    with pytest.raises(StoreError, match=r"(?i)unique|duplicate"):
        store.accept([a, b], [clash[:1], clash[1:]])
    assert store.get(a.commitment) is None
    assert store.get(b.commitment) is None
    assert store.pending_count() == 0


def test_a_byte_identical_repeat_is_not_new_and_writes_no_companions(engine: Engine) -> None:
    # The promise signature is deterministic: the same tip in the same second is byte-identical.
    table = _companion_table(engine)
    store = SubmissionStore(LogStore(engine))
    a = new(promise_signature=b"s" * 65)
    row = [(table, {"commitment": a.commitment, "note": "first"})]
    _, first = store.accept_new([a], [row])
    _, second = store.accept_new([a], [row])  # a PK clash here would fail the whole batch
    _, both = store.accept_new([a, a], [row, row])
    assert (first, second, both) == ([True], [False], [False, False])
    with engine.connect() as conn:
        assert conn.execute(select(table.c.note)).scalars().all() == ["first"]
