"""Fault-test fixtures: a whole system (Anvil, TipLedger, the service process) per test, on
SQLite and on PostgreSQL (through the ``database_url`` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import System, build_system

# Short enough for a quick takeover after kill -9, long enough for a loaded machine.
LEASE_SECONDS = 2


@pytest.fixture
def system(database_url: str, tmp_path: Path) -> Iterator[System]:
    home = tmp_path / "home"
    home.mkdir()
    built = build_system(home, database_url, lease_seconds=LEASE_SECONDS, tx_stuck_seconds=10)
    try:
        yield built
    finally:
        built.service.stop()
        built.chain.stop()
