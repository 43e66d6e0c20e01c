"""Persistence: SQLAlchemy over SQLite (default, WAL) or PostgreSQL, migrated by Alembic."""

from ledger.store.database import open_database
from ledger.store.log_store import LogStore, StoredCheckpoint

__all__ = ["LogStore", "StoredCheckpoint", "open_database"]
