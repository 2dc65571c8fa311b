"""Real MLflow registries for the migration tests: `mlflow server` processes and tiny models.

Nothing here is a fake: the servers are MLflow's own, on SQLite and local folders.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import generate_password_hash

from support.mlflow_stores import mlflow_database
from support.models import STATED_REQUIREMENTS
from support.servers import free_port, stopped_at_exit, wait_until_answering

ADMIN = "admin"
ADMIN_PASSWORD = "admin-password-for-tests-1"


@dataclass(frozen=True)
class MlflowServer:
    url: str
    backend_uri: str
    artifacts: Path


@contextmanager
def credentials(username: str | None, password: str | None) -> Iterator[None]:
    """MLflow's client credentials (MLFLOW_TRACKING_USERNAME/PASSWORD) for the block."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    for key, value in zip(saved, (username, password), strict=True):
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def run_mlflow_server(folder: Path, *, basic_auth: bool = False) -> Iterator[MlflowServer]:
    """`mlflow server` on SQLite and a local artifact folder (clients write files directly).

    With `basic_auth` it runs MLflow's auth app with its own user database and the admin
    `ADMIN` / `ADMIN_PASSWORD`."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    backend = mlflow_database(folder / "mlflow.db")
    artifacts = folder / "artifacts"
    # Without MLflow's job runner: a process of its own (huey) for MLflow's own background jobs,
    # which a registry being migrated never runs.
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", backend,
        "--default-artifact-root", str(artifacts),
        "--no-serve-artifacts",
    ]  # fmt: skip
    if basic_auth:
        config = folder / "basic_auth.ini"
        config.write_text(
            "[mlflow]\n"
            "default_permission = READ\n"
            f"database_uri = sqlite:///{folder / 'auth.db'}\n"
            f"admin_username = {ADMIN}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        command += ["--app-name", "basic-auth"]
        env.update(
            MLFLOW_AUTH_CONFIG_PATH=str(config),
            MLFLOW_AUTH_ADMIN_PASSWORD=ADMIN_PASSWORD,
            MLFLOW_FLASK_SERVER_SECRET_KEY="modelcatalog-tests",
        )
    log_path = folder / "mlflow-server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    with stopped_at_exit(process):
        wait_until_answering(f"{url}/health", process, log_path, 120)
        if basic_auth:
            quick_password_checks(folder, {ADMIN: ADMIN_PASSWORD})
        yield MlflowServer(url, backend, artifacts)


def quick_password_checks(folder: Path, passwords: dict[str, str]) -> None:
    """Store these users' passwords in the auth app's database (in `folder`) hashed with a single
    PBKDF2 round. MLflow hashes with scrypt and checks the password of every request, tens of ms
    of CPU each; werkzeug's check reads the method from the stored hash, so the server checks
    the same passwords, only faster."""
    with sqlite3.connect(folder / "auth.db") as connection:
        for username, password in passwords.items():
            changed = connection.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?",
                (generate_password_hash(password, method="pbkdf2:sha256:1"), username),
            ).rowcount
            assert changed == 1, f"no user {username!r} in the auth database"


@dataclass(frozen=True)
class LoggedModel:
    """What `create_model_version` needs to register a logged model."""

    run_id: str
    source: str
    model_id: str

    def register(self, client: object, name: str) -> object:
        """A new version of `name` from this model (through any MLflow client)."""
        return client.create_model_version(  # type: ignore[attr-defined]
            name, self.source, self.run_id, model_id=self.model_id
        )


EXPERIMENT = "tiny-models"


def log_tiny_model(tracking_uri: str, signature: str) -> LoggedModel:
    """Log a two-feature logistic regression into the experiment `EXPERIMENT` (made if missing);
    `signature` is full, inputs or none."""
    import mlflow
    import numpy as np
    from mlflow.models import ModelSignature, infer_signature
    from sklearn.linear_model import LogisticRegression

    features = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.9, 0.1]])
    labels = np.array([0, 1, 0, 1])
    model = LogisticRegression().fit(features, labels)
    full = infer_signature(features, model.predict(features))
    chosen = {
        "full": full,
        "inputs": ModelSignature(inputs=full.inputs),
        "none": None,
    }[signature]
    mlflow.set_tracking_uri(tracking_uri)
    # By name, never by a remembered id: each test module logs into its own registry.
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model, name="model", signature=chosen, pip_requirements=STATED_REQUIREMENTS
        )
    return LoggedModel(run.info.run_id, info.model_uri, info.model_id)
