"""Stock MLflow's `uc:` registry store (the Unity Catalog OSS client) against the catalog.

MLflow reads the token from MLFLOW_UC_OSS_TOKEN (mlflow/utils/oss_registry_utils.py) and speaks
/api/2.1/unity-catalog with bare RegisteredModelInfo / ModelVersionInfo answers.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.store._unity_catalog.registry.uc_oss_rest_store import UnityCatalogOssStore
from mlflow.tracking._model_registry.utils import _get_store

from support.http import error_of, ok, unique
from support.models import (
    SIGNED_MLMODEL,
    STATED_REQUIREMENTS,
    TinyModel,
    all_model_names,
    log_tiny_model,
    mlflow_registry,
)
from support.versions import (
    REGISTRY_2_0,
    UC_2_1,
    create_model,
    create_version,
    files_path,
    finalize,
    put_file,
)


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


def _local_path(file_uri: str) -> Path:
    return Path(unquote(urlsplit(file_uri).path))


def _files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _quarantined(api: httpx.Client, name: str, version: str) -> list[Path]:
    """The quarantine folders of a version (one per move), found from the model's location."""
    model_folder = _local_path(ok(api.get(f"{UC_2_1}/models/{name}"))["storage_location"])
    return sorted((model_folder.parent / "_quarantine" / model_folder.name / version).glob("*"))


def _refusals_of_every_url(api: httpx.Client, name: str, version: str) -> None:
    catalog, schema, model = name.split(".")
    for refused in (
        api.post(
            "/api/2.0/fs/create-download-url", json={"path": files_path(name, version, "MLmodel")}
        ),
        api.get(f"/api/2.0/fs/directories{files_path(name, version)}"),
        api.post(
            f"{REGISTRY_2_0}/model-versions/generate-temporary-credentials",
            json={"name": name, "version": version, "operation": "MODEL_VERSION_OPERATION_READ"},
        ),
        api.post(
            f"{UC_2_1}/temporary-model-version-credentials",
            json={
                "catalog_name": catalog,
                "schema_name": schema,
                "model_name": model,
                "version": int(version),
                "operation": "READ_MODEL_VERSION",
            },
        ),
    ):
        assert "FAILED_REGISTRATION" in error_of(refused, 400)["message"]


def test_a_failed_versions_files_leave_its_location_and_a_load_says_why(
    uc_oss: mlflow.MlflowClient, api: httpx.Client, schema: str, tiny_model: TinyModel
) -> None:
    name = f"{schema}.unsigned"
    # The uc: store checks no signature itself: it writes the files straight into the version's
    # file: location, and the server's own check at finalize fails the version.
    with pytest.raises(MlflowException, match="signature"):
        with mlflow.start_run():
            mlflow.sklearn.log_model(
                tiny_model.model,
                name="model",
                registered_model_name=name,
                pip_requirements=STATED_REQUIREMENTS,
            )
    version = ok(api.get(f"{UC_2_1}/models/{name}/versions/1"))
    assert version["status"] == "FAILED_REGISTRATION"
    assert version["storage_location"] == ""
    model_folder = _local_path(ok(api.get(f"{UC_2_1}/models/{name}"))["storage_location"])
    assert _files_under(model_folder / "1") == []  # where the uc: store wrote them
    [quarantine] = _quarantined(api, name, "1")
    assert "MLmodel" in _files_under(quarantine)  # moved, not lost

    with pytest.raises(MlflowException, match="FAILED_REGISTRATION") as raised:
        mlflow.pyfunc.load_model(f"models:/{name}/1")
    assert "only READY versions serve their files" in str(raised.value)
    _refusals_of_every_url(api, name, "1")


def test_a_quarantine_cut_short_is_finished_by_a_rerun_or_a_read(
    api: httpx.Client, schema: str
) -> None:
    name = f"{schema}.{unique()}"
    create_model(api, name)
    version = create_version(api, name)
    location = ok(api.get(f"{UC_2_1}/models/{name}/versions/{version}"))["storage_location"]
    folder = _local_path(location)
    unsigned = SIGNED_MLMODEL.split("signature:")[0]
    put_file(api, name, version, "MLmodel", unsigned)
    put_file(api, name, version, "data/model.pkl", b"\x80\x04N.")
    error_of(finalize(api, name, version), 400)
    assert _files_under(folder) == []

    def crash_before_the_move() -> None:
        # The state a server killed between committing FAILED_REGISTRATION and moving the
        # files leaves: the files still in the version's own folder.
        for moved in _quarantined(api, name, version):
            os.rename(moved, folder)
        assert _files_under(folder) == ["MLmodel", "data/model.pkl"]

    crash_before_the_move()
    again = error_of(finalize(api, name, version), 400)
    assert "failed registration" in again["message"]
    assert _files_under(folder) == []

    crash_before_the_move()
    # Reading the version the way the uc: store does, before it reads the files, finishes it too.
    assert ok(api.get(f"{UC_2_1}/models/{name}/versions/{version}"))["storage_location"] == ""
    assert _files_under(folder) == []
    [quarantine] = _quarantined(api, name, version)
    assert _files_under(quarantine) == ["MLmodel", "data/model.pkl"]
    _refusals_of_every_url(api, name, version)

    ok(api.delete(f"{UC_2_1}/models/{name}/versions/{version}"))
    assert _quarantined(api, name, version) == []
