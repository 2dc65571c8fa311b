"""A generated MLflow source registry of any size: a SQLite registry seeded by SQL, and a tiny
artifact folder (an MLmodel with a signature and a small model file) for every version."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.2
  sklearn:
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.5.0
mlflow_version: 3.17.2
model_uuid: {uuid}
signature:
  inputs: '[{{"type": "double", "name": "x", "required": true}}]'
  outputs: '[{{"type": "long", "required": true}}]'
  params: null
utc_time_created: '2026-12-04 12:00:00.000000'
"""


def build(root: Path, models: int, versions: int) -> str:
    """A registry of `models` x `versions` READY versions; returns its URI."""
    # Deferred: MLflow creates its registry tables.
    from mlflow import MlflowClient

    root.mkdir(parents=True, exist_ok=True)
    database = root / "mlflow.db"
    uri = f"sqlite:///{database}"
    MlflowClient(tracking_uri=uri, registry_uri=uri)._get_registry_client().store  # noqa: B018
    now = int(time.time() * 1000)
    connection = sqlite3.connect(database)
    model_columns = _columns(connection, "registered_models")
    version_columns = _columns(connection, "model_versions")
    artifacts = root / "artifacts"
    model_rows, version_rows = [], []
    for m in range(models):
        name = f"model_{m:06d}"
        model_rows.append(
            _row(model_columns, workspace="default", name=name, creation_time=now,
                 last_updated_time=now, description=f"generated model {m}")
        )  # fmt: skip
        for v in range(1, versions + 1):
            folder = artifacts / name / str(v)
            folder.mkdir(parents=True)
            (folder / "MLmodel").write_text(MLMODEL.format(uuid=f"{m:06d}{v:06d}"))
            (folder / "model.pkl").write_bytes(b"\x80\x04generated model bytes\x94.")
            version_rows.append(
                _row(version_columns, workspace="default", name=name, version=v, creation_time=now,
                     last_updated_time=now, description="", user_id="bench",
                     current_stage="Production" if v == versions else "None",
                     source=str(folder), storage_location=str(folder), run_id=None,
                     run_link="", status="READY", status_message="")
            )  # fmt: skip
    _insert(connection, "registered_models", model_columns, model_rows)
    _insert(connection, "model_versions", version_columns, version_rows)
    connection.commit()
    connection.close()
    return uri


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]


def _row(columns: list[str], **values: object) -> tuple:
    return tuple(values.get(c) for c in columns)


def _insert(connection: sqlite3.Connection, table: str, columns: list[str], rows: list) -> None:
    marks = ", ".join("?" for _ in columns)
    connection.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
