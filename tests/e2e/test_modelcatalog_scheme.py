"""Stock MLflow against a running catalog server through the `modelcatalog://` registry URI.

Needs the `server` fixture (tests/conftest.py): `.url`, `.admin_token`, `.env(**extra)`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

from modelcatalog.client import AlreadyExists, CatalogClient
from modelcatalog.client.http import UC_API
from support.mlflow_stores import mlflow_database
from support.models import (
    STATED_REQUIREMENTS,
    all_model_names,
    logged_model_dir,
    sha256_of_tree,
)


@pytest.fixture
def registry_uri(server: Any) -> str:
    return f"modelcatalog://{urlsplit(server.url).netloc}"


@pytest.fixture
def mlflow_env(
    server: Any, registry_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MlflowClient]:
    """MLflow with a local SQLite tracking store and the catalog as its registry."""
    for key, value in server.env(MODELCATALOG_CONFIG_DIR=str(tmp_path / "config")).items():
        monkeypatch.setenv(key, value)
    with CatalogClient(server.url, server.admin_token) as client:
        for path, body in [
            (f"{UC_API}/catalogs", {"name": "main"}),
            (f"{UC_API}/schemas", {"name": "default", "catalog_name": "main"}),
        ]:
            try:
                client.post(path, body)
            except AlreadyExists:
                pass
    mlflow.set_tracking_uri(mlflow_database(tmp_path / "mlflow.db"))
    # An experiment of this test's own, made active: an earlier test in the same process may have
    # left MLflow's active experiment pointing into another tracking store.
    experiment_id = mlflow.create_experiment(
        "scheme", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    mlflow.set_experiment(experiment_id=experiment_id)
    mlflow.set_registry_uri(registry_uri)
    try:
        yield MlflowClient()
    finally:
        mlflow.set_registry_uri("")
        mlflow.set_tracking_uri("")


@pytest.fixture
def churn_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    features = rng.normal(size=(60, 3))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    return features, labels


def _log_churn(
    data: tuple[np.ndarray, np.ndarray], name: str, *, signature: bool = True
) -> tuple[LogisticRegression, Any]:
    features, labels = data
    model = LogisticRegression().fit(features, labels)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(features, model.predict(features)) if signature else None,
            registered_model_name=name,
            pip_requirements=STATED_REQUIREMENTS,
        )
    return model, info


def _unique(prefix: str) -> str:
    return f"main.default.{prefix}_{uuid.uuid4().hex[:8]}"


def test_log_register_alias_load_predict_tag_search_delete(
    mlflow_env: MlflowClient, churn_data: tuple[np.ndarray, np.ndarray]
) -> None:
    client = mlflow_env
    name = "main.default.churn"
    model, info = _log_churn(churn_data, name)
    assert str(info.registered_model_version) == "1"

    version = client.get_model_version(name, "1")
    assert version.status == "READY"

    client.set_registered_model_alias(name, "champion", "1")
    assert client.get_model_version_by_alias(name, "champion").version == "1"

    features, _ = churn_data
    expected = model.predict(features)
    by_alias = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_array_equal(by_alias.predict(features), expected)
    by_number = mlflow.pyfunc.load_model(f"models:/{name}/1")
    np.testing.assert_array_equal(by_number.predict(features), expected)

    client.set_registered_model_tag(name, "team", "retention")
    client.set_model_version_tag(name, "1", "validated", "yes")
    assert client.get_registered_model(name).tags == {"team": "retention"}
    assert client.get_model_version(name, "1").tags == {"validated": "yes"}
    client.delete_model_version_tag(name, "1", "validated")
    assert client.get_model_version(name, "1").tags == {}

    client.update_registered_model(name, description="Churn **classifier**")
    client.update_model_version(name, "1", description="first fit")
    assert client.get_registered_model(name).description == "Churn **classifier**"
    assert client.get_model_version(name, "1").description == "first fit"

    assert name in all_model_names(client)
    found = client.search_model_versions(f"name='{name}'")
    assert [v.version for v in found] == ["1"]

    client.delete_registered_model_alias(name, "champion")
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias(name, "champion")
    client.delete_model_version(name, "1")
    client.delete_registered_model(name)
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST|NOT_FOUND"):
        client.get_registered_model(name)


def test_second_log_adds_a_version_and_alias_moves(
    mlflow_env: MlflowClient, churn_data: tuple[np.ndarray, np.ndarray]
) -> None:
    client = mlflow_env
    name = _unique("moves")
    _log_churn(churn_data, name)
    _, info = _log_churn(churn_data, name)
    assert str(info.registered_model_version) == "2"
    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "champion", "2")
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    assert client.get_registered_model(name).aliases == {"champion": "2"}


def test_deleting_a_model_deletes_its_versions_as_mlflow_means_it(
    mlflow_env: MlflowClient, churn_data: tuple[np.ndarray, np.ndarray]
) -> None:
    client = mlflow_env
    name = _unique("cascade")
    _log_churn(churn_data, name)
    _log_churn(churn_data, name)
    client.set_registered_model_alias(name, "champion", "2")
    client.delete_registered_model(name)
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST|NOT_FOUND"):
        client.get_registered_model(name)
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST|NOT_FOUND"):
        client.get_model_version(name, "1")


def test_model_without_signature_is_refused(
    mlflow_env: MlflowClient, churn_data: tuple[np.ndarray, np.ndarray]
) -> None:
    with pytest.raises(MlflowException, match="signature"):
        _log_churn(churn_data, _unique("unsigned"), signature=False)


def test_stages_and_latest_point_to_aliases(
    mlflow_env: MlflowClient, churn_data: tuple[np.ndarray, np.ndarray]
) -> None:
    client = mlflow_env
    name = _unique("stages")
    _log_churn(churn_data, name)
    for uri in (f"models:/{name}/Production", f"models:/{name}/latest"):
        with pytest.raises(MlflowException, match="alias"):
            mlflow.pyfunc.load_model(uri)
    with pytest.raises(MlflowException, match="alias"):
        client.transition_model_version_stage(name, "1", "Production")
    with pytest.raises(MlflowException, match="alias"):
        client.get_latest_versions(name)


def test_register_model_from_run_uri(
    mlflow_env: MlflowClient, churn_data: tuple[np.ndarray, np.ndarray]
) -> None:
    features, labels = churn_data
    model = LogisticRegression().fit(features, labels)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(features, model.predict(features)),
            pip_requirements=STATED_REQUIREMENTS,
        )
    name = _unique("registered")
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    assert version.version == "1"
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/1")
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))


def test_registering_a_local_run_twice_leaves_the_runs_files_as_they_were(
    mlflow_env: MlflowClient, churn_data: tuple[np.ndarray, np.ndarray]
) -> None:
    features, labels = churn_data
    model = LogisticRegression().fit(features, labels)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(features, model.predict(features)),
            pip_requirements=STATED_REQUIREMENTS,
        )
    files = logged_model_dir(info)
    before = sha256_of_tree(files)
    assert "MLmodel" in before
    source = f"runs:/{run.info.run_id}/model"

    first = mlflow.register_model(source, _unique("twice_a"))
    assert sha256_of_tree(files) == before
    second = mlflow.register_model(source, _unique("twice_b"))
    again = mlflow.register_model(source, first.name)
    assert (first.version, second.version, again.version) == ("1", "1", "2")
    assert sha256_of_tree(files) == before
    for uri in (f"models:/{second.name}/1", f"models:/{first.name}/2", info.model_uri):
        loaded = mlflow.pyfunc.load_model(uri)
        np.testing.assert_array_equal(loaded.predict(features), model.predict(features))


def test_copy_model_version_to_another_model(
    mlflow_env: MlflowClient, churn_data: tuple[np.ndarray, np.ndarray]
) -> None:
    client = mlflow_env
    source = _unique("copy_src")
    model, _ = _log_churn(churn_data, source)
    target = _unique("copy_dst")
    copied = client.copy_model_version(f"models:/{source}/1", target)
    assert (copied.name, copied.version) == (target, "1")
    features, _ = churn_data
    loaded = mlflow.pyfunc.load_model(f"models:/{target}/1")
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))


def test_a_version_without_logged_model_is_copied_to_another_catalog(
    mlflow_env: MlflowClient,
    server: Any,
    churn_data: tuple[np.ndarray, np.ndarray],
    tmp_path: Path,
) -> None:
    """A version registered from a folder (as before MLflow 3, or migrated) names no logged
    model: MLflow's own Unity Catalog store cannot copy it (it asks the tracking server for a
    logged model with an empty id); through `modelcatalog://` it is copied."""
    client = mlflow_env
    features, labels = churn_data
    model = LogisticRegression().fit(features, labels)
    folder = tmp_path / "saved"
    mlflow.sklearn.save_model(
        model,
        folder,
        signature=infer_signature(features, model.predict(features)),
        pip_requirements=STATED_REQUIREMENTS,
    )
    source = _unique("folder")
    client.create_registered_model(source)
    created = client.create_model_version(source, str(folder))
    assert created.model_id in ("", None)

    prod = f"prod_{uuid.uuid4().hex[:8]}"
    with CatalogClient(server.url, server.admin_token) as catalog:
        catalog.post(f"{UC_API}/catalogs", {"name": prod})
        catalog.post(f"{UC_API}/schemas", {"name": "ml", "catalog_name": prod})
    copied = client.copy_model_version(f"models:/{source}/{created.version}", f"{prod}.ml.churn")

    loaded = mlflow.pyfunc.load_model(f"models:/{prod}.ml.churn/{copied.version}")
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))
    with CatalogClient(server.url, server.admin_token) as catalog:
        shown = catalog.get(f"{UC_API}/models/{prod}.ml.churn/versions/{copied.version}")
    assert shown["lineage"]["copied_from"]["name"] == source


def test_unknown_version_load_reports_the_server_error(mlflow_env: MlflowClient) -> None:
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST|NOT_FOUND"):
        mlflow.pyfunc.load_model(f"models:/{_unique('absent')}/1")


def test_missing_token_is_explained(
    mlflow_env: MlflowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELCATALOG_TOKEN")
    with pytest.raises(MlflowException, match="MODELCATALOG_TOKEN or run `modelcatalog login"):
        mlflow_env.search_registered_models()


def test_token_saved_by_login_is_used(
    server: Any, mlflow_env: MlflowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelcatalog.client import credentials

    credentials.remember_token(server.url, server.admin_token)
    monkeypatch.delenv("MODELCATALOG_TOKEN")
    assert isinstance(mlflow_env.search_registered_models(), list)


def test_loading_in_a_fresh_process_needs_only_the_env(
    server: Any,
    registry_uri: str,
    mlflow_env: MlflowClient,
    churn_data: tuple[np.ndarray, np.ndarray],
    tmp_path: Path,
) -> None:
    """A serving process that only knows the registry URI and token loads by alias."""
    import subprocess
    import sys

    name = _unique("fresh")
    _log_churn(churn_data, name)
    mlflow_env.set_registered_model_alias(name, "prod", "1")
    script = (
        "import mlflow, numpy as np\n"
        f"mlflow.set_registry_uri({registry_uri!r})\n"
        f"m = mlflow.pyfunc.load_model('models:/{name}@prod')\n"
        "print(m.predict(np.zeros((1, 3))).tolist())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=server.env(MODELCATALOG_CONFIG_DIR=str(tmp_path / "child-config")),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in ("[0]", "[1]")
