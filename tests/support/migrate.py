"""Source registries built with MLflow itself (SQLite and a local artifact folder), and
`modelcatalog migrate` driven against a running catalog server."""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import yaml
from mlflow import MlflowClient
from mlflow.models import ModelSignature, infer_signature
from sklearn.linear_model import LogisticRegression

from support.cli import run_cli
from support.mlflow_stores import mlflow_database
from support.models import STATED_REQUIREMENTS

LONG_DESCRIPTION = ("Modèle de détection de fraude — 日本語の説明 — ñandú. " * 400).strip()
BAD_TAG_KEYS = ("mlflow.note", "team-owner", "x/y:z", "a b")


@dataclass
class SourceFixture:
    """A source registry and what was put in it."""

    root: Path
    uri: str
    features: np.ndarray
    #: (model, version) -> expected prediction on `features`.
    predictions: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)


def _fit(seed: int) -> tuple[LogisticRegression, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(30, 3))
    labels = (features[:, 0] * (1 if seed % 2 else -1) + features[:, 2] > 0).astype(int)
    return LogisticRegression().fit(features, labels), features


def _log(
    source: SourceFixture,
    experiment_id: str,
    name: str,
    seed: int,
    *,
    signature: str = "full",
    example: bool = False,
    extra_bytes: int = 0,
) -> int:
    """Log and register one tiny model; returns its version number."""
    model, features = _fit(seed)
    sig: Any = None
    if signature == "full":
        sig = infer_signature(features, model.predict(features))
    elif signature == "inputs":
        sig = ModelSignature(inputs=infer_signature(features).inputs)
    with mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=sig,
            input_example=features[:3] if example else None,
            registered_model_name=name,
            pip_requirements=STATED_REQUIREMENTS,
        )
    folder = Path(mlflow.get_logged_model(info.model_id).artifact_location.removeprefix("file://"))
    if signature == "none":
        # Old MLflow releases logged no signature even with an input example; so does this.
        mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
        mlmodel.pop("signature", None)
        (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    if extra_bytes:
        with open(folder / "weights.bin", "wb") as handle:
            handle.write(np.random.default_rng(seed).bytes(extra_bytes))
    version = int(info.registered_model_version)
    source.predictions[(name, version)] = model.predict(source.features)
    return version


def build_source(root: Path, *, big_bytes: int = 0) -> SourceFixture:
    """The registry the migration tests move: every stage, gaps, bad tags, >50 tags, unsigned
    and inputs-only versions, long non-ASCII descriptions."""
    root.mkdir(parents=True, exist_ok=True)
    uri = mlflow_database(root / "mlflow.db")
    source = SourceFixture(root, uri, np.random.default_rng(99).normal(size=(8, 3)))
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    warnings.filterwarnings("ignore", category=FutureWarning)
    try:
        client = source.client()
        experiment = client.create_experiment(
            "source", artifact_location=(root / "artifacts").as_uri()
        )
        # Churn Model: several versions per stage, an archived one, the newest per stage aliased.
        stages = {1: "Archived", 2: "Production", 3: "Production", 4: "Staging", 5: "None"}
        for number, stage in stages.items():
            assert _log(source, experiment, "Churn Model", number) == number
            if stage != "None":
                client.transition_model_version_stage("Churn Model", str(number), stage)
        client.update_registered_model("Churn Model", description="Predicts churn.\n\nOwned by CX.")
        client.update_model_version("Churn Model", "3", description=LONG_DESCRIPTION)
        for key in BAD_TAG_KEYS:
            client.set_model_version_tag("Churn Model", "3", key, f"value of {key}")
        client.set_model_version_tag("Churn Model", "3", "ok_key", "fine")
        client.set_registered_model_alias("Churn Model", "champion", 3)

        # fraud: a gap (version 2 deleted), unsigned with an example, inputs-only, 60 tags.
        _log(source, experiment, "fraud", 11)
        _log(source, experiment, "fraud", 12)
        _log(source, experiment, "fraud", 13, signature="none", example=True)
        _log(source, experiment, "fraud", 14, signature="inputs")
        _log(source, experiment, "fraud", 15)
        client.delete_model_version("fraud", "2")
        client.transition_model_version_stage("fraud", "5", "Production")
        client.transition_model_version_stage("fraud", "3", "Staging")
        for i in range(60):
            client.set_registered_model_tag("fraud", f"feature_{i:02d}", f"v{i}")
        if big_bytes:
            _log(source, experiment, "bulky", 21, extra_bytes=big_bytes)
            _log(source, experiment, "bulky", 22, extra_bytes=big_bytes)
            client.transition_model_version_stage("bulky", "2", "Production")
    finally:
        mlflow.set_tracking_uri(previous)
        mlflow.set_registry_uri("")
    return source


@contextmanager
def _mlflow_uris_unset() -> Iterator[None]:
    """MLflow's tracking and registry URIs unset for the block, as a new process has them (its
    environment then decides), and put back afterwards. The fixtures here set them while they
    build source registries and reset them to "", which MLflow reads as the ./mlruns file
    store: a command must inherit neither. MLflow has no public way to unset them."""
    from mlflow.tracking._model_registry import utils as registry
    from mlflow.tracking._tracking_service import utils as tracking

    saved = tracking._tracking_uri, registry._registry_uri
    tracking._tracking_uri = registry._registry_uri = None
    try:
        yield
    finally:
        tracking._tracking_uri, registry._registry_uri = saved


def migrate(
    *args: str, env: dict[str, str], cwd: Path, check: int | None = 0
) -> subprocess.CompletedProcess[str]:
    """Run `modelcatalog migrate ...` in this process (`support.cli.run_cli`); check its exit
    code. The tests that kill a run start it as a process of its own instead."""
    with _mlflow_uris_unset():
        result = run_cli("migrate", *args, env=env, cwd=cwd)
    if check is not None:
        assert result.returncode == check, (
            f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


FRAUD_INPUTS = '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}]'
FRAUD_OUTPUTS = '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'


def write_migration_config(folder: Path) -> Path:
    """The migration.yaml both end-to-end migrations use: inferred signatures, one supplied,
    a principal renamed, and permissions for a group and a user."""
    path = folder / "migration.yaml"
    path.write_text(
        "signatures:\n"
        "  policy: infer\n"
        "  supplied:\n"
        f"    fraud: {{inputs: '{FRAUD_INPUTS}', outputs: '{FRAUD_OUTPUTS}', versions: [4]}}\n"
        "principals: {alice@corp.com: alice}\n"
        "permissions:\n"
        "  - {model: fraud, principal: data-team, level: CAN_EDIT, kind: group}\n"
        "  - {model: fraud, principal: alice@corp.com, level: CAN_READ}\n"
    )
    return path
