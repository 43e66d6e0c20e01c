"""A database that fails under the read side answers 503 with a message (a ``StoreError``), never
a 500, and loses nothing: once the database is back, the tip is there with the same inclusion.

The failure is real: the ``submissions`` table is renamed away under the running service (on
SQLite and on PostgreSQL), then renamed back. This module has its own server (the fixture is per
module), so no other test sees the broken table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import create_engine, text

from .conftest import Server
from .test_api import submit, wait_anchored


@contextmanager
def submissions_table_gone(server: Server) -> Iterator[None]:
    engine = create_engine(server.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE submissions RENAME TO submissions_away"))
        try:
            yield
        finally:
            with engine.begin() as conn:
                conn.execute(text("ALTER TABLE submissions_away RENAME TO submissions"))
    finally:
        engine.dispose()


def test_a_failing_store_answers_503_and_loses_nothing(
    server: Server, client: httpx.Client
) -> None:
    tip = submit(client, b"a tip stored before the database fails")
    before = wait_anchored(client, tip["commitment"])
    with submissions_table_gone(server):
        receipt = client.get(f"/v1/tips/{tip['commitment']}/receipt")
        assert receipt.status_code == 503, receipt.text
        assert "reading the submissions failed" in receipt.json()["detail"]
        health = client.get("/healthz")
        assert health.status_code in (200, 503), health.text  # never a 500
    after = client.get(f"/v1/tips/{tip['commitment']}/receipt")
    assert after.status_code == 200, after.text
    assert after.json()["leaf_index"] == before["leaf_index"]
    assert after.json()["promise"] == before["promise"]
