"""Tiny models and MLflow pointed at the catalog: a fitted model, a signed MLmodel text, and
stock MLflow clients reset after each use."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

from support.mlflow_stores import mlflow_database

#: The tiny models' requirements, stated when they are logged: without them MLflow infers them by
#: loading the model again in a child process, seconds per log that no test here is about (the
#: logged files are the same kinds either way, and the catalog reads none of them).
STATED_REQUIREMENTS = ["scikit-learn"]

SIGNED_MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.0
signature:
  inputs: '[{"type": "double", "name": "x", "required": true}]'
  outputs: '[{"type": "long", "required": true}]'
"""


@dataclass(frozen=True)
class TinyModel:
    """A fitted LogisticRegression with the data it was fitted on."""

    model: LogisticRegression
    features: np.ndarray
    labels: np.ndarray

    @property
    def expected(self) -> np.ndarray:
        return self.model.predict(self.features)

    def signature(self) -> Any:
        return infer_signature(self.features, self.expected)


def fit_tiny_model() -> TinyModel:
    rng = np.random.default_rng(11)
    features = rng.normal(size=(40, 3))
    labels = (features[:, 0] - features[:, 2] > 0).astype(int)
    return TinyModel(LogisticRegression().fit(features, labels), features, labels)


@contextmanager
def mlflow_registry(
    registry_uri: str, tracking_dir: Path, monkeypatch: pytest.MonkeyPatch, **env: str | None
) -> Iterator[mlflow.MlflowClient]:
    """Stock MLflow with tracking in a SQLite file and the given registry, reset afterwards."""
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    mlflow.set_tracking_uri(mlflow_database(tracking_dir / "mlflow.db"))
    # Run artifacts stay in the test's folder, not in ./mlruns of the working directory.
    experiment_id = mlflow.create_experiment(
        "e2e", artifact_location=(tracking_dir / "artifacts").as_uri()
    )
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", experiment_id)
    # Made active too: an earlier test in the process may have left another one active.
    mlflow.set_experiment(experiment_id=experiment_id)
    mlflow.set_registry_uri(registry_uri)
    try:
        yield mlflow.MlflowClient()
    finally:
        if mlflow.active_run():
            mlflow.end_run()
        mlflow.set_registry_uri("")
        mlflow.set_tracking_uri("")


def log_tiny_model(tiny: TinyModel, registered_name: str | None = None) -> Any:
    """Log (and register, when a name is given) the tiny model with its signature."""
    with mlflow.start_run():
        return mlflow.sklearn.log_model(
            tiny.model,
            name="model",
            signature=tiny.signature(),
            registered_model_name=registered_name,
            pip_requirements=STATED_REQUIREMENTS,
        )


def logged_model_dir(info: Any) -> Path:
    """The local folder MLflow logged a model's files into (before any registry saw them)."""
    from mlflow.utils.file_utils import local_file_uri_to_path

    return Path(local_file_uri_to_path(mlflow.get_logged_model(info.model_id).artifact_location))


def sha256_of_tree(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by POSIX path relative to root."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def all_model_names(client: mlflow.MlflowClient) -> set[str]:
    """Every model name a search returns, following its pages (other tests add models)."""
    names: set[str] = set()
    token = None
    while True:
        page = client.search_registered_models(max_results=100, page_token=token)
        names |= {m.name for m in page}
        token = page.token
        if not token:
            return names
