"""The Alembic migrations build exactly the tables the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from modelcatalog.store.database import create_database_engine, upgrade_schema
from modelcatalog.store.tables import Base
from support.servers import BACKENDS, postgres_database


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_the_declared_tables(backend: str, tmp_path: Path) -> None:
    def check(uri: str) -> None:
        engine = create_database_engine(uri)
        try:
            upgrade_schema(engine)
            upgrade_schema(engine)  # a second start finds nothing to do
            with engine.connect() as connection:
                drift = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        finally:
            engine.dispose()
        assert drift == []

    if backend == "postgresql":
        with postgres_database() as uri:
            check(uri)
    else:
        check(f"sqlite:///{tmp_path / 'catalog.db'}")
