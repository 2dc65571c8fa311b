"""Stock MLflow's `uc:` registry store (the Unity Catalog OSS client) against the catalog.

MLflow reads the token from MLFLOW_UC_OSS_TOKEN (mlflow/utils/oss_registry_utils.py) and speaks
/api/2.1/unity-catalog with bare RegisteredModelInfo / ModelVersionInfo answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
from e2e_support import TinyModel, all_model_names, files_path, log_tiny_model, mlflow_registry, ok
from mlflow.exceptions import MlflowException
from mlflow.store._unity_catalog.registry.uc_oss_rest_store import UnityCatalogOssStore
from mlflow.tracking._model_registry.utils import _get_store


@pytest.fixture
def uc_oss(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[mlflow.MlflowClient]:
    with mlflow_registry(
        f"uc:{server.url}", tmp_path, monkeypatch, MLFLOW_UC_OSS_TOKEN=server.admin_token
    ) as client:
        assert type(_get_store()) is UnityCatalogOssStore
        yield client


def _verify_manifest(api: httpx.Client, name: str, version: str) -> None:
    """Every file the manifest recorded still downloads with the recorded size and sha256."""
    manifest = ok(api.get(f"/api/modelcatalog/models/{name}/versions/{version}/manifest"))
    assert manifest["files"]
    for entry in manifest["files"]:
        url = ok(
            api.post(
                "/api/2.0/fs/create-download-url",
                json={"path": files_path(name, version, entry["path"])},
            )
        )["url"]
        data = httpx.get(url, timeout=30).raise_for_status().content
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["size"], entry["sha256"])


def test_create_register_load_search_delete(
    uc_oss: mlflow.MlflowClient, schema: str, tiny_model: TinyModel
) -> None:
    client = uc_oss
    name = f"{schema}.churn"
    created = client.create_registered_model(name, description="made by the uc: store")
    assert created.name == name

    info = log_tiny_model(tiny_model, name)
    assert str(info.registered_model_version) == "1"
    assert client.get_model_version(name, "1").status == "READY"

    loaded = mlflow.pyfunc.load_model(f"models:/{name}/1")
    np.testing.assert_array_equal(loaded.predict(tiny_model.features), tiny_model.expected)

    assert name in all_model_names(client)
    assert [str(v.version) for v in client.search_model_versions(f"name='{name}'")] == ["1"]
    assert client.get_registered_model(name).description == "made by the uc: store"

    client.delete_model_version(name, "1")
    client.delete_registered_model(name)
    with pytest.raises(MlflowException, match="NOT_FOUND|RESOURCE_DOES_NOT_EXIST"):
        client.get_registered_model(name)


def test_client_deleting_the_folder_it_was_handed_loses_no_catalog_data(
    uc_oss: mlflow.MlflowClient, api: httpx.Client, schema: str, tiny_model: TinyModel
) -> None:
    name = f"{schema}.kept"
    log_tiny_model(tiny_model, name)
    mlflow.pyfunc.load_model(f"models:/{name}/1")
    # Copying from a models:/ source makes the uc: store download the version's storage
    # location and then delete the folder it downloaded into.
    copy = f"{schema}.kept_copy"
    uc_oss.copy_model_version(f"models:/{name}/1", copy)
    _verify_manifest(api, name, "1")
    _verify_manifest(api, copy, "1")

    again = mlflow.pyfunc.load_model(f"models:/{name}/1")
    np.testing.assert_array_equal(again.predict(tiny_model.features), tiny_model.expected)
    copied = mlflow.pyfunc.load_model(f"models:/{copy}/1")
    np.testing.assert_array_equal(copied.predict(tiny_model.features), tiny_model.expected)
