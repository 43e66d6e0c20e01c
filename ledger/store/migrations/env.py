"""Alembic environment: the connection is always passed in by ``ledger.store.database``."""

from alembic import context

from ledger.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
