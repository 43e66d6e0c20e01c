"""The persisted log on SQLite and PostgreSQL: appends, deduplication, reloads, integrity."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import Engine, update

from ledger.core import merkle
from ledger.errors import ChainMismatchError, LogStateError
from ledger.store import LogStore, StoredCheckpoint
from ledger.store.schema import log_nodes


def commitments(n: int) -> list[bytes]:
    return [os.urandom(32) for _ in range(n)]


def test_append_assigns_dense_indices_and_persists(engine: Engine) -> None:
    store = LogStore(engine)
    first = commitments(700)
    got = store.append(first)
    assert [a.leaf_index for a in got] == list(range(700))
    assert all(a.new for a in got)
    more = commitments(5)
    assert [a.leaf_index for a in store.append(more)] == list(range(700, 705))
    # A second process opening the same database sees exactly the same tree.
    other = LogStore(engine)
    assert other.size() == 705
    assert other.tree().root() == merkle.root(first + more)
    assert other.entries(698, 702) == (first + more)[698:702]
    assert other.index_of(more[2]) == 702
    assert other.index_of(os.urandom(32)) is None


def test_a_commitment_submitted_twice_maps_to_its_existing_entry(engine: Engine) -> None:
    store = LogStore(engine)
    a, b = commitments(2)
    store.append([a])
    got = store.append([b, a, b])
    assert [(x.leaf_index, x.new) for x in got] == [(1, True), (0, False), (1, False)]
    assert store.size() == 2


def test_a_reader_catches_up_with_another_writer(engine: Engine) -> None:
    writer, reader = LogStore(engine), LogStore(engine)
    entries = commitments(300)
    writer.append(entries[:100])
    assert reader.tree().root() == merkle.root(entries[:100])
    writer.append(entries[100:])
    assert reader.tree().inclusion_proof(250) == merkle.inclusion_proof(entries, 250)
    # And the reader can write next without forking the log.
    extra = commitments(1)
    assert reader.append(extra)[0].leaf_index == 300
    assert writer.tree().root() == merkle.root(entries + extra)


def test_verify_catches_a_tampered_subtree_hash(engine: Engine) -> None:
    store = LogStore(engine)
    store.append(commitments(40))
    store.verify()
    with engine.begin() as conn:
        conn.execute(
            update(log_nodes).where(log_nodes.c.level == 2).values(hashes=os.urandom(32 * 10))
        )
    with pytest.raises(LogStateError):
        LogStore(engine).verify()


def test_checkpoints_are_recorded_once(engine: Engine) -> None:
    store = LogStore(engine)
    assert store.latest_checkpoint() is None
    cp = StoredCheckpoint(5, os.urandom(32), os.urandom(32), 7, 1_764_200_000)
    store.record_checkpoint(cp)
    store.record_checkpoint(cp)
    store.record_checkpoint(StoredCheckpoint(9, os.urandom(32), os.urandom(32), 8, 1_764_200_009))
    assert store.checkpoint(5) == cp
    assert store.latest_checkpoint().tree_size == 9  # type: ignore[union-attr]
    assert store.checkpoint(6) is None


def test_a_store_is_bound_to_one_deployment(engine: Engine) -> None:
    store = LogStore(engine)
    contract = "0x" + "ab" * 20
    store.bind_deployment(31337, contract)
    store.bind_deployment(31337, contract)
    assert store.deployment() == (31337, contract)
    with pytest.raises(ChainMismatchError, match="refusing to mix"):
        store.bind_deployment(31337, "0x" + "cd" * 20)
    with pytest.raises(ChainMismatchError):
        store.bind_deployment(1, contract)


def test_a_reader_that_sees_newer_nodes_than_its_size_keeps_to_its_size(engine: Engine) -> None:
    # Under READ COMMITTED a reader may read the size, then nodes another append committed
    # after: the tree it builds must still be exactly the tree of the size it read.
    entries = commitments(600)
    LogStore(engine).append(entries)
    reader = LogStore(engine)
    with engine.connect() as conn:
        tree = reader._sync(conn, 257)
    assert tree.size == 257
    assert tree.root() == merkle.root(entries[:257])


def test_processes_starting_at_once_migrate_one_at_a_time(database_url: str) -> None:
    # serve --workers N starts several processes on a fresh database together.
    import concurrent.futures

    from ledger.store.database import open_database as open_db

    def open_one(_: int) -> int:
        engine = open_db(database_url)
        try:
            return LogStore(engine).size()
        finally:
            engine.dispose()

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        assert list(pool.map(open_one, range(6))) == [0] * 6
