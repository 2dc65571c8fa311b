"""Stock MLflow's `databricks-uc` registry against the catalog, in both of its wire modes.

Default mode speaks the model-registry dialect (/api/2.0/mlflow/unity-catalog); with
MLFLOW_ENABLE_UC_NATIVE_MODEL_REGISTRY=true it speaks Unity Catalog REST (/api/2.1).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.store._unity_catalog.registry.rest_store import UcModelRegistryStore
from mlflow.store._unity_catalog.registry.uc_native_rest_store import UcNativeModelRegistryStore
from mlflow.tracking._model_registry.utils import _get_store

from support.http import ok
from support.models import (
    TinyModel,
    all_model_names,
    log_tiny_model,
    logged_model_dir,
    mlflow_registry,
    sha256_of_tree,
)

MODES = {
    "registry-2.0": (None, UcModelRegistryStore, "/api/2.0/mlflow/unity-catalog/"),
    "native-2.1": ("true", UcNativeModelRegistryStore, "/api/2.1/unity-catalog/"),
}


def _requests_by_prefix(api: httpx.Client, prefix: str) -> float:
    """Requests the server has answered on routes under prefix, from its Prometheus metrics."""
    total = 0.0
    for line in api.get("/metrics").text.splitlines():
        if line.startswith("modelcatalog_http_requests_total{") and f'route="{prefix}' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture(params=list(MODES))
def uc_mode(request: pytest.FixtureRequest) -> tuple[str | None, type, str]:
    return MODES[request.param]


@pytest.fixture
def databricks_uc(
    server: Any, uc_mode: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[mlflow.MlflowClient]:
    native, _, _ = uc_mode
    with mlflow_registry(
        "databricks-uc",
        tmp_path,
        monkeypatch,
        DATABRICKS_HOST=server.url,
        DATABRICKS_TOKEN=server.admin_token,
        MLFLOW_ENABLE_UC_NATIVE_MODEL_REGISTRY=native,
        DATABRICKS_CONFIG_PROFILE=None,
    ) as client:
        yield client


def test_log_alias_load_tag_search_describe_delete(
    databricks_uc: mlflow.MlflowClient,
    uc_mode: tuple,
    api: httpx.Client,
    schema: str,
    tiny_model: TinyModel,
    tmp_path: Path,
) -> None:
    _, store_class, dialect_prefix = uc_mode
    assert type(_get_store()) is store_class
    dialect_requests_before = _requests_by_prefix(api, dialect_prefix)
    client = databricks_uc
    name = f"{schema}.churn"

    info = log_tiny_model(tiny_model, name)
    assert str(info.registered_model_version) == "1"
    assert client.get_model_version(name, "1").status == "READY"

    manifest = ok(api.get(f"/api/modelcatalog/models/{name}/versions/1/manifest"))
    recorded = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert {"MLmodel", "requirements.txt"} <= set(recorded)
    assert recorded == sha256_of_tree(logged_model_dir(info))

    client.set_registered_model_alias(name, "champion", "1")
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    by_alias = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_array_equal(by_alias.predict(tiny_model.features), tiny_model.expected)
    by_number = mlflow.pyfunc.load_model(f"models:/{name}/1")
    np.testing.assert_array_equal(by_number.predict(tiny_model.features), tiny_model.expected)

    client.set_registered_model_tag(name, "team", "retention")
    client.set_model_version_tag(name, "1", "validated", "yes")
    assert client.get_registered_model(name).tags == {"team": "retention"}
    assert client.get_model_version(name, "1").tags == {"validated": "yes"}
    client.delete_registered_model_tag(name, "team")
    client.delete_model_version_tag(name, "1", "validated")
    assert client.get_registered_model(name).tags == {}
    assert client.get_model_version(name, "1").tags == {}

    assert name in all_model_names(client)
    assert [v.version for v in client.search_model_versions(f"name='{name}'")] == ["1"]

    client.update_registered_model(name, description="Churn **classifier**")
    client.update_model_version(name, "1", description="first fit")
    assert client.get_registered_model(name).description == "Churn **classifier**"
    assert client.get_model_version(name, "1").description == "first fit"

    client.delete_model_version(name, "1")
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST|NOT_FOUND"):
        client.get_model_version(name, "1")
    client.delete_registered_model(name)
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST|NOT_FOUND"):
        client.get_registered_model(name)

    # The calls above really went over this mode's dialect.
    assert _requests_by_prefix(api, dialect_prefix) > dialect_requests_before + 10
