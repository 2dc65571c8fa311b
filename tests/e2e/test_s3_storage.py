"""A catalog whose model files live in S3 (a real local moto server), used by stock MLflow."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import mlflow
import numpy as np
import pytest

from support.http import error_of, ok
from support.models import TinyModel, log_tiny_model, mlflow_registry
from support.servers import run_server
from support.versions import UC_2_1, create_model, create_version, finalize, put_file

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def bucket(moto_endpoint: str) -> Any:
    s3 = boto3.resource("s3", endpoint_url=moto_endpoint, **_boto_credentials())
    return s3.create_bucket(Bucket=f"models-{uuid.uuid4().hex[:12]}")


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS_ENV["AWS_DEFAULT_REGION"],
    }


@pytest.fixture(scope="module")
def s3_server(
    moto_endpoint: str, bucket: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """One server for the module; each test works in a catalog of its own."""
    extra_env = {**AWS_ENV, "MODELCATALOG_S3_ENDPOINT_URL": moto_endpoint}
    with run_server(
        tmp_path_factory.mktemp("s3-server"),
        storage_root=f"s3://{bucket.name}/catalog",
        extra_env=extra_env,
    ) as server:
        yield server


def _fresh_schema(api: httpx.Client) -> str:
    catalog = f"c_{uuid.uuid4().hex[:10]}"
    ok(api.post(f"{UC_2_1}/catalogs", json={"name": catalog}))
    ok(api.post(f"{UC_2_1}/schemas", json={"name": "s3", "catalog_name": catalog}))
    return f"{catalog}.s3"


def _model_id(api: httpx.Client, name: str) -> str:
    """The id that names the model's folders in the bucket."""
    return str(ok(api.get(f"{UC_2_1}/models/{name}"))["id"]).replace("-", "")


def test_log_alias_load_with_files_in_s3(
    s3_server: Any,
    bucket: Any,
    tiny_model: TinyModel,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with httpx.Client(base_url=s3_server.url, headers=s3_server.headers(), timeout=60) as api:
        name = _fresh_schema(api) + ".churn"
        with mlflow_registry(
            "databricks-uc",
            tmp_path,
            monkeypatch,
            DATABRICKS_HOST=s3_server.url,
            DATABRICKS_TOKEN=s3_server.admin_token,
            MLFLOW_ENABLE_UC_NATIVE_MODEL_REGISTRY=None,
        ) as client:
            info = log_tiny_model(tiny_model, name)
            assert str(info.registered_model_version) == "1"
            client.set_registered_model_alias(name, "champion", "1")
            loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
            np.testing.assert_array_equal(loaded.predict(tiny_model.features), tiny_model.expected)
        manifest = ok(api.get(f"/api/modelcatalog/models/{name}/versions/1/manifest"))["files"]
        model_id = _model_id(api, name)

    objects = {o.key: o for o in bucket.objects.filter(Prefix="catalog/") if model_id in o.key}
    assert objects, "no object was written to the bucket"
    for entry in manifest:
        matches = [k for k in objects if k.endswith(f"/1/{entry['path']}")]
        assert matches, f"{entry['path']} is not in the bucket: {sorted(objects)}"
        data = objects[matches[0]].get()["Body"].read()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert any(k.endswith("/1/MLmodel") for k in objects)
    assert not (s3_server.data_dir / "artifacts").exists()


@pytest.mark.parametrize(
    ("first", "second", "clash"),
    [
        ("d1/f", "d1", "'d1' is a file and also a folder (it holds 'd1/f')"),
        ("MLmodel", "MLmodel/x", "'MLmodel' is a file and also a folder (it holds 'MLmodel/x')"),
    ],
    ids=["folder-then-file", "file-then-inside"],
)
def test_a_path_is_never_both_a_file_and_a_folder_in_s3_either(
    s3_server: Any, bucket: Any, first: str, second: str, clash: str
) -> None:
    # Clients upload straight to the bucket, which takes both; finalize refuses the version.
    with httpx.Client(base_url=s3_server.url, headers=s3_server.headers(), timeout=60) as api:
        name = _fresh_schema(api) + ".clash"
        create_model(api, name)
        version = create_version(api, name)
        put_file(api, name, version, first, b"first")
        put_file(api, name, version, second, b"second")
        put_file(api, name, version, "MLmodel" if first != "MLmodel" else "m", b"x")
        body = error_of(finalize(api, name, version), 400)
        model_id = _model_id(api, name)
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert clash in body["message"]
    keys = [o.key for o in bucket.objects.filter(Prefix="catalog/") if model_id in o.key]
    assert keys and all(k.startswith("catalog/_quarantine/") for k in keys), keys
