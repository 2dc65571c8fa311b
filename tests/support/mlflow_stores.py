"""Empty MLflow SQLite databases for the tests' tracking stores and source registries.

MLflow makes the schema of a new database by running its whole chain of Alembic migrations,
seconds per database on a small machine. `mlflow_database` copies one that was made that way
once per test process: MLflow finds every table there and opens it as it opens its own.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path


@functools.cache
def _template() -> Path:
    """A database with MLflow's schema and no rows, made once per process by MLflow itself."""
    # The registry store makes the same tables as the tracking store without adding the Default
    # experiment, whose artifact location would name this folder; each copy gets its own
    # Default experiment from the first tracking store that opens it.
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    path = Path(tempfile.mkdtemp(prefix="mlflow-schema-")) / "mlflow.db"
    SqlAlchemyStore(f"sqlite:///{path}").engine.dispose()
    return path


def mlflow_database(path: Path) -> str:
    """The `sqlite:///` URI of `path`, made an empty MLflow database if it does not exist."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_template(), path)
    return f"sqlite:///{path}"
