"""The Alembic migrations build exactly the schema ``ledger.store.schema`` declares (SQLite and
PostgreSQL): an empty database, migrated, compared with the metadata by Alembic's autogenerate
comparison, tables, columns, types, nullability, server defaults, indexes, unique and foreign
keys. A migration that forgets a column, or a schema change without its migration, fails here.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, Integer, MetaData, Table

from ledger.store.database import MIGRATIONS, open_database
from ledger.store.schema import metadata

# Types and server defaults are compared too (Alembic leaves server defaults out by default).
OPTIONS: dict[str, Any] = {"compare_type": True, "compare_server_default": True}


def differences(engine: Engine, target: MetaData) -> list[Any]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts=OPTIONS), target))


def test_the_migrated_schema_is_the_declared_one(database_url: str) -> None:
    engine = open_database(database_url)
    try:
        assert differences(engine, metadata) == []
    finally:
        engine.dispose()


def test_the_database_is_at_every_head(database_url: str) -> None:
    engine = open_database(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
        assert current == set(ScriptDirectory.from_config(config).get_heads())
    finally:
        engine.dispose()


def test_the_comparison_sees_a_difference(database_url: str) -> None:
    # An empty answer means something only if the comparison looks at the migrated tables
    # (on PostgreSQL: the test's schema, through search_path).
    engine = open_database(database_url)
    target = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(target)
    Table("never_migrated", target, Column("id", Integer, primary_key=True))
    try:
        found = differences(engine, target)
    finally:
        engine.dispose()
    assert [(d[0], d[1].name) for d in found] == [("add_table", "never_migrated")]
