"""Shared fixtures: databases for every storage test, on SQLite and (when enabled) PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from ledger.store.database import open_database

# pytest-xdist workers (scripts/test runs several) are given COLUMNS=80 and LINES=24: rich would
# fix the CLI's consoles at that size when ledger.cli is imported, whatever width a test's own
# environment asks for later.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

POSTGRES_ENV = "TIPLEDGER_TEST_POSTGRES_URL"
POSTGRES_HINT = (
    f"PostgreSQL tests are off: set {POSTGRES_ENV}=postgresql+psycopg://USER@HOST:5432/DB "
    "(.ci/run sets it) to run every storage test on PostgreSQL too"
)


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get(POSTGRES_ENV)
    return f"postgresql: {url}" if url else POSTGRES_HINT


@contextmanager
def fresh_database_url(kind: str, directory: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file in ``directory``, or a private schema in
    PostgreSQL (dropped afterwards; skipped unless POSTGRES_ENV is set)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'ledger.sqlite3'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(POSTGRES_HINT)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def make_database_url() -> Callable[[str, Path], AbstractContextManager[str]]:
    """``fresh_database_url`` for fixtures of a wider scope than ``database_url``'s."""
    return fresh_database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each database kind (see ``fresh_database_url``)."""
    with fresh_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = open_database(database_url)
    yield eng
    eng.dispose()


# Properties check behaviour, not speed: on a shared, loaded machine one slow example must not
# fail a test (hypothesis's default deadline is 200 ms per example).
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("tipledger", deadline=None)
_hypothesis_settings.load_profile("tipledger")
