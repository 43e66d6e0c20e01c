"""The sequencer lease on SQLite and PostgreSQL: one holder, renewal, expiry takeover, release,
fencing, and a race of many contenders."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine

from ledger.errors import LeaseLostError
from ledger.store.database import open_database
from ledger.store.lease import Lease


def test_one_holder_at_a_time_and_renewal(engine: Engine) -> None:
    a = Lease(engine, holder="a", seconds=30)
    b = Lease(engine, holder="b", seconds=30)
    assert a.try_acquire()
    assert a.held()
    assert not b.try_acquire()
    assert not b.held()
    assert a.try_acquire()  # renewal keeps the term
    assert a.term == 1
    holder, left = a.current()  # type: ignore[misc]
    assert holder == "a"
    assert 25 < left <= 30
    assert not b.try_acquire()


def test_takeover_only_after_expiry(engine: Engine) -> None:
    a = Lease(engine, holder="a", seconds=0.6)
    b = Lease(engine, holder="b", seconds=0.6)
    assert a.try_acquire()
    assert not b.try_acquire()
    time.sleep(0.3)
    assert a.try_acquire()  # renewed: the expiry moves on
    time.sleep(0.4)
    assert not b.try_acquire()  # 0.7 s after a's first take, but only 0.4 s after its renewal
    time.sleep(0.4)
    assert not a.held()  # a knows, on its own clock, that it may have lost it
    assert b.try_acquire()
    assert b.term == 2  # a change of holder is a new term
    assert not a.try_acquire()
    with engine.begin() as conn, pytest.raises(LeaseLostError):
        a.check_in(conn)


def test_release_hands_over_at_once(engine: Engine) -> None:
    a = Lease(engine, holder="a", seconds=60)
    b = Lease(engine, holder="b", seconds=60)
    assert a.try_acquire()
    b.release()  # releasing a lease one does not hold changes nothing
    assert not b.try_acquire()
    a.release()
    assert not a.held()
    assert b.try_acquire()
    assert not a.try_acquire()


def test_check_in_fences_writes_to_the_current_term(engine: Engine) -> None:
    a = Lease(engine, holder="a", seconds=60)
    assert a.try_acquire()
    with engine.begin() as conn:
        a.check_in(conn)  # held: no error
    a.release()
    with engine.begin() as conn, pytest.raises(LeaseLostError):
        a.check_in(conn)
    assert a.try_acquire()  # taken again by the same holder: a new term, fenced as such
    with engine.begin() as conn:
        a.check_in(conn)


def test_many_contenders_in_separate_engines_get_exactly_one_holder(database_url: str) -> None:
    engines = [open_database(database_url) for _ in range(6)]
    try:
        leases = [Lease(e, holder=f"h{i}", seconds=30) for i, e in enumerate(engines)]
        start = threading.Barrier(len(leases))
        won: list[str] = []

        def contend(lease: Lease) -> None:
            start.wait()
            for _ in range(5):
                if lease.try_acquire():
                    won.append(lease.holder)

        threads = [threading.Thread(target=contend, args=(lease,)) for lease in leases]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(won)) == 1
        assert len(won) == 5  # the winner renewed on every try
    finally:
        for e in engines:
            e.dispose()
