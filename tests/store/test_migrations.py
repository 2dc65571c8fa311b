"""The Alembic migrations build exactly the tables the code declares, on SQLite and PostgreSQL,
and upgrade a database that holds data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, select

from modelcatalog.store.database import MIGRATIONS, create_database_engine, upgrade_schema
from modelcatalog.store.tables import Base
from support.servers import postgres_database

pytestmark = pytest.mark.both_databases


def _on(backend: str, tmp_path: Path, check: Callable[[Engine], None]) -> None:
    """Run `check` on a new, empty database of `backend`."""

    def on_uri(uri: str) -> None:
        engine = create_database_engine(uri)
        try:
            check(engine)
        finally:
            engine.dispose()

    if backend == "postgresql":
        with postgres_database() as uri:
            on_uri(uri)
    else:
        on_uri(f"sqlite:///{tmp_path / 'catalog.db'}")


def _upgrade_to(engine: Engine, revision: str) -> None:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_migrations_match_the_declared_tables(backend: str, tmp_path: Path) -> None:
    def check(engine: Engine) -> None:
        upgrade_schema(engine)
        upgrade_schema(engine)  # a second start finds nothing to do
        with engine.connect() as connection:
            drift = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert drift == []

    _on(backend, tmp_path, check)


MODEL, RUN = "m" * 32, "r" * 32
STAMPED = {
    "owner": "ana",
    "created_at": 1,
    "created_by": "ana",
    "updated_at": 1,
    "updated_by": "ana",
}


def _task_token(task_name: str, attempt: int, **values: object) -> dict[str, object]:
    """A token as the release before 0004 made it for a task attempt (found by its comment)."""
    return {
        "id": f"{task_name}-{attempt}-token".ljust(32, "x"),
        "principal_id": 1,
        "token_hash": f"{task_name}{attempt}".ljust(64, "0"),
        "comment": f"deployment run {RUN}, task {task_name}, attempt {attempt}",
        "created_at": 1,
        "scope_model_id": MODEL,
        **values,
    }


ROWS_AT_0003: dict[str, list[dict[str, object]]] = {
    "principals": [{"id": 1, "name": "ana", "kind": "user", "is_admin": False, "created_at": 1}],
    "catalogs": [{"id": "c" * 32, "name": "c", **STAMPED}],
    "schemas": [{"id": "s" * 32, "catalog_id": "c" * 32, "name": "s", **STAMPED}],
    "registered_models": [
        {"id": MODEL, "schema_id": "s" * 32, "name": "m", "last_version": 1, **STAMPED}
    ],
    "job_runs": [
        {
            "id": RUN,
            "job_id": "j" * 32,
            "job_name": "j",
            "model_id": MODEL,
            "model_name": "c.s.m",
            "version": 1,
            "definition": "{}",
            "state": "RUNNING",
            "cause": "MODEL_VERSION_READY",
            "created_at": 1,
            "created_by": "ana",
        }
    ],
    "task_runs": [
        {"id": "1" * 32, "run_id": RUN, "task_name": "train", "state": "RUNNING", "attempt": 2},
        {"id": "2" * 32, "run_id": RUN, "task_name": "t_st", "state": "RUNNING", "attempt": 1},
    ],
    "task_attempts": [
        {"task_run_id": "1" * 32, "attempt": 1, "started_at": 1, "ended_at": 2},
        {"task_run_id": "1" * 32, "attempt": 2, "started_at": 3},
        {"task_run_id": "2" * 32, "attempt": 1, "started_at": 3},
    ],
    "tokens": [
        _task_token("train", 1, revoked_at=2),
        _task_token("train", 2),
        # Neither belongs to attempt 1 of "t_st": another task's (a LIKE pattern would match
        # it), and a personal token whose comment merely reads like a task's.
        _task_token("test", 1),
        _task_token("t_st", 1, id="p" * 32, token_hash="p" * 64, scope_model_id=None),
    ],
}


def test_the_upgrade_links_each_running_attempt_to_its_live_task_token(
    backend: str, tmp_path: Path
) -> None:
    def check(engine: Engine) -> None:
        _upgrade_to(engine, "0003")
        tables = MetaData()
        tables.reflect(engine)
        with engine.begin() as connection:
            for name, rows in ROWS_AT_0003.items():
                for row in rows:
                    connection.execute(tables.tables[name].insert(), row)
        upgrade_schema(engine)
        attempts = Base.metadata.tables["task_attempts"]
        with engine.connect() as connection:
            linked = connection.execute(
                select(attempts.c.task_run_id, attempts.c.attempt, attempts.c.token_id).order_by(
                    attempts.c.task_run_id, attempts.c.attempt
                )
            ).all()
        assert [tuple(row) for row in linked] == [
            ("1" * 32, 1, None),  # finished: its token was revoked when it ended
            ("1" * 32, 2, _task_token("train", 2)["id"]),
            ("2" * 32, 1, None),
        ]

    _on(backend, tmp_path, check)
