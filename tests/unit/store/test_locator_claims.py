"""A code's locator is claimed by the tip stored with it (SQLite and PostgreSQL): a new tip whose
locator another tip holds, stored before or earlier in the same group commit, is refused alone
with the 409 line, nothing of it stored, and every other tip of the batch is stored. Two writers
racing for one locator: the one that commits second is refused, not failed as a whole batch.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from ledger.errors import ConflictError
from ledger.store import LogStore
from ledger.store.followups import LOCATOR_TAKEN, FollowUpStore
from ledger.store.schema import follow_ups, submissions
from ledger.store.submissions import Companions, NewSubmission, SubmissionStore

SECOND = 1_764_200_000


def code_rows(commitment: bytes, locator: str) -> Companions:
    return FollowUpStore.code_companion_rows(
        commitment, os.urandom(32), os.urandom(32), locator, os.urandom(16)
    )


def plain_rows(commitment: bytes) -> Companions:
    return FollowUpStore.device_companion_rows(commitment, os.urandom(32), os.urandom(32))


def count(engine: Engine, table: Any, commitment: bytes) -> int:
    with engine.connect() as conn:
        found = conn.scalar(
            select(func.count()).select_from(table).where(table.c.commitment == commitment)
        )
    return int(found or 0)


def tip() -> NewSubmission:
    return NewSubmission(os.urandom(32), SECOND)


def test_a_taken_locator_refuses_only_its_tip(engine: Engine) -> None:
    store = SubmissionStore(LogStore(engine))
    first, second, other, later = tip(), tip(), tip(), tip()
    outcomes, news = store.accept_each(
        [first, second, other],
        [
            code_rows(first.commitment, "7KQM4T"),
            code_rows(second.commitment, "7KQM4T"),
            plain_rows(other.commitment),
        ],
    )
    # the batch is written in commitment order: the lower commitment holds the locator
    winner, loser = sorted([first, second], key=lambda t: t.commitment)
    by_commitment = {
        t.commitment: (o, n) for t, o, n in zip([first, second, other], outcomes, news, strict=True)
    }
    refused, refused_new = by_commitment[loser.commitment]
    assert isinstance(refused, ConflictError)
    assert str(refused) == LOCATOR_TAKEN
    assert refused_new is False
    assert by_commitment[winner.commitment][1] is True
    assert by_commitment[other.commitment][1] is True
    assert count(engine, submissions, loser.commitment) == 0
    assert count(engine, follow_ups, loser.commitment) == 0
    for kept in (winner, other):
        assert count(engine, submissions, kept.commitment) == 1
        assert count(engine, follow_ups, kept.commitment) == 1
    reader = FollowUpStore(engine)
    assert reader.by_locator("7KQM4T") == winner.commitment
    row = reader.get(winner.commitment)
    assert row is not None
    assert row.version == 3
    assert row.locator == "7KQM4T"
    assert row.verifier is not None
    assert row.case_key_tag is not None

    # stored before: a later tip with it is refused, a repeat of the holder is not
    (again,), (again_new,) = store.accept_each([later], [code_rows(later.commitment, "7KQM4T")])
    assert isinstance(again, ConflictError)
    assert count(engine, submissions, later.commitment) == 0
    assert again_new is False
    (repeat,), (repeat_new,) = store.accept_each([winner], [code_rows(winner.commitment, "7KQM4T")])
    assert not isinstance(repeat, ConflictError)
    assert repeat.commitment == winner.commitment
    assert repeat_new is False
    with pytest.raises(ConflictError, match="first six symbols are taken"):
        store.accept_new([later], [code_rows(later.commitment, "7KQM4T")])


def _waiting_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            )
        )


def test_two_writers_racing_for_one_locator(engine: Engine) -> None:
    """Writer A stores a tip with locator L and has not committed; writer B's batch claims L
    too, beside a tip without a code. A commits: B's tip with L is refused, its other stored."""
    store = SubmissionStore(LogStore(engine))
    held, racer, bystander = tip(), tip(), tip()
    outcome: dict[str, Any] = {}

    def writer_b() -> None:
        try:
            outcome["b"] = store.accept_each(
                [racer, bystander],
                [code_rows(racer.commitment, "RACE00"), plain_rows(bystander.commitment)],
            )
        except BaseException as exc:  # pragma: no cover - shown by the assertion below
            outcome["b"] = exc

    first = SubmissionStore(LogStore(engine))
    with first.log.transaction() as conn:
        first._accept_exact([held], [code_rows(held.commitment, "RACE00")], {}, conn)
        b = threading.Thread(target=writer_b)
        b.start()
        if engine.dialect.name == "postgresql":
            # B has checked (it cannot see A's row) and waits on A's unique index entry
            deadline = time.monotonic() + 30
            while not _waiting_on_a_lock(engine):
                assert time.monotonic() < deadline, "writer B never waited on writer A"
                time.sleep(0.02)
        # SQLite: B waits at BEGIN IMMEDIATE for A's write lock, then checks after A commits
    b.join(60)
    assert not b.is_alive()
    assert not isinstance(outcome["b"], BaseException), outcome["b"]
    (refused, stored), (refused_new, stored_new) = outcome["b"]
    assert isinstance(refused, ConflictError)
    assert str(refused) == LOCATOR_TAKEN
    assert refused_new is False
    assert stored_new is True
    assert stored.commitment == bystander.commitment
    assert count(engine, submissions, racer.commitment) == 0
    assert count(engine, follow_ups, racer.commitment) == 0
    assert count(engine, follow_ups, bystander.commitment) == 1
    assert FollowUpStore(engine).by_locator("RACE00") == held.commitment
