"""Model files straight between stock MLflow and S3 (a real local moto server): the catalog
authorizes and hands out presigned URLs or scoped STS credentials, and moves no model bytes.

Two servers share one bucket: one with a role to issue credentials from (MLflow's `databricks-uc`
in both wire modes and `uc:` then read and write with boto3, multipart included), one without
(`databricks-uc` then goes through the Files API's S3 presigned URLs, one PUT per file).

moto enforces neither session policies nor the expiry of presigned URLs; the policy documents,
and expiry against a store that enforces it (s3rver), are tested in
tests/storage/test_storage_s3_direct.py.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature

from support.http import ok
from support.models import STATED_REQUIREMENTS, mlflow_registry
from support.process_io import io_bytes
from support.servers import RunningServer, run_server
from support.versions import UC_2_1, create_model, create_version, files_path, finalize

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
ROLE_ARN = "arn:aws:iam::123456789012:role/modelcatalog-clients"
MIB = 1024 * 1024
CHUNK = 5 * MIB
"""MLflow's multipart chunk size here (S3's smallest part); larger files go up in parts."""
BIG = CHUNK + MIB + 123
"""The model's large file: over the multipart threshold, so it goes up in two parts."""


class Weights(mlflow.pyfunc.PythonModel):
    """Predicts the byte sum of its weights file for every input row."""

    def load_context(self, context: Any) -> None:
        self.total = sum(Path(context.artifacts["weights"]).read_bytes()[:4096])

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
        return np.full(len(model_input), self.total, dtype=np.int64)


@pytest.fixture(scope="module")
def bucket(moto_endpoint: str) -> Any:
    s3 = boto3.resource("s3", endpoint_url=moto_endpoint, region_name="us-east-1", **_keys())
    return s3.create_bucket(Bucket=f"direct-{uuid.uuid4().hex[:12]}")


def _keys() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    }


def _server(
    moto_endpoint: str, bucket: Any, data_dir: Path, root: str, **env: str
) -> Iterator[RunningServer]:
    extra_env = {**AWS_ENV, "MODELCATALOG_S3_ENDPOINT_URL": moto_endpoint, **env}
    with run_server(
        data_dir, storage_root=f"s3://{bucket.name}/{root}", extra_env=extra_env
    ) as server:
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
            ok(api.post(f"{UC_2_1}/catalogs", json={"name": "ml"}))
            ok(api.post(f"{UC_2_1}/schemas", json={"name": "s", "catalog_name": "ml"}))
        yield server


@pytest.fixture(scope="module")
def credentials_server(
    moto_endpoint: str, bucket: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """Issues STS credentials (a role is configured)."""
    yield from _server(
        moto_endpoint,
        bucket,
        tmp_path_factory.mktemp("credentials"),
        "sts",
        MODELCATALOG_S3_ROLE_ARN=ROLE_ARN,
        MODELCATALOG_URL_LIFETIME_SECONDS="1200",
    )


@pytest.fixture(scope="module")
def url_server(
    moto_endpoint: str, bucket: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """Hands out presigned URLs only (no role)."""
    yield from _server(moto_endpoint, bucket, tmp_path_factory.mktemp("urls"), "urls")


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("weights")
    (folder / "weights.bin").write_bytes(np.random.default_rng(5).bytes(BIG))
    return folder / "weights.bin"


def _client_env(moto_endpoint: str) -> dict[str, str | None]:
    return {
        **AWS_ENV,
        # Where MLflow's boto3 reaches the bucket: Unity Catalog answers never carry an endpoint.
        "MLFLOW_S3_ENDPOINT_URL": moto_endpoint,
        "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE": str(CHUNK),
        "DATABRICKS_CONFIG_PROFILE": None,
    }


def _log_register_load(
    registry: str, server: RunningServer, model_files: Path, tmp_path: Path, mp: Any, **env: Any
) -> tuple[str, np.ndarray]:
    name = f"ml.s.m_{uuid.uuid4().hex[:8]}"
    features = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    with mlflow_registry(registry, tmp_path, mp, **env):
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=Weights(),
                artifacts={"weights": str(model_files)},
                signature=infer_signature(features, np.zeros(3, dtype=np.int64)),
                registered_model_name=name,
                pip_requirements=STATED_REQUIREMENTS,
            )
        assert str(info.registered_model_version) == "1"
        loaded = mlflow.pyfunc.load_model(f"models:/{name}/1")
        predicted = loaded.predict(features)
    return name, predicted


def _expected(model_files: Path) -> int:
    return sum(model_files.read_bytes()[:4096])


def _sealed_objects(bucket: Any, root: str, name_model_id: str) -> dict[str, Any]:
    return {
        o.key: o
        for o in bucket.objects.filter(Prefix=f"{root}/{name_model_id}/1/")
        if not o.key.endswith("/")
    }


def _check_stored(api: httpx.Client, bucket: Any, root: str, name: str, big: Path) -> str:
    """The manifest lists every file with its size and sha256, the sealed copies match it, and
    nothing is left in the upload folder; returns the model's id."""
    version = ok(api.get(f"{UC_2_1}/models/{name}/versions/1"))
    location = version["storage_location"]
    assert location.startswith(f"s3://{bucket.name}/{root}/") and "/_uploads/" not in location
    model_id = location.rstrip("/").split("/")[-2]
    manifest = ok(api.get(f"/api/modelcatalog/models/{name}/versions/1/manifest"))["files"]
    paths = {entry["path"] for entry in manifest}
    assert "MLmodel" in paths and "artifacts/weights.bin" in paths and len(paths) >= 4
    objects = _sealed_objects(bucket, root, model_id)
    for entry in manifest:
        data = objects[f"{root}/{model_id}/1/{entry['path']}"].get()["Body"].read()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["size"], entry["sha256"])
    weights = next(e for e in manifest if e["path"] == "artifacts/weights.bin")
    assert weights["sha256"] == hashlib.sha256(big.read_bytes()).hexdigest()
    assert not list(bucket.objects.filter(Prefix=f"{root}/_uploads/{model_id}/"))
    return model_id


DATABRICKS_MODES = {"registry-2.0": None, "native-2.1": "true"}


@pytest.mark.parametrize("mode", list(DATABRICKS_MODES))
@pytest.mark.parametrize("access", ["credentials", "presigned-urls"])
def test_databricks_uc_logs_and_loads_through_s3_and_the_server_moves_no_bytes(
    mode: str,
    access: str,
    moto_log_dir: Path,
    credentials_server: RunningServer,
    url_server: RunningServer,
    moto_endpoint: str,
    bucket: Any,
    model_files: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = credentials_server if access == "credentials" else url_server
    before = io_bytes(server.process.pid)
    name, predicted = _log_register_load(
        "databricks-uc",
        server,
        model_files,
        tmp_path,
        monkeypatch,
        DATABRICKS_HOST=server.url,
        DATABRICKS_TOKEN=server.admin_token,
        MLFLOW_ENABLE_UC_NATIVE_MODEL_REGISTRY=DATABRICKS_MODES[mode],
        **_client_env(moto_endpoint),
    )
    moved = io_bytes(server.process.pid) - before
    assert list(predicted) == [_expected(model_files)] * 3
    # Relaying the model would have read and written every byte of it, twice (up and down).
    assert moved.read < BIG and moved.written < BIG, moved
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
        model_id = _check_stored(
            api, bucket, "sts" if access == "credentials" else "urls", name, model_files
        )
    uploads = _weights_uploads(moto_log_dir, model_id)
    if access == "credentials":
        # boto3's multipart upload, with the STS session: two parts of the large file.
        assert sorted(u["partNumber"] for u in uploads) == ["1", "2"], uploads
        assert all(u["X-Amz-Security-Token"] for u in uploads)
    else:
        # One presigned PUT of the whole file, signed with the server's key for 900 s.
        assert len(uploads) == 1 and uploads[0]["X-Amz-Expires"] == "900", uploads
        assert "partNumber" not in uploads[0]


def _weights_uploads(moto_log_dir: Path, model_id: str) -> list[dict[str, str]]:
    """The query of every PUT of the large file into the version's upload folder, from moto's
    request log."""
    found = []
    for line in (moto_log_dir / "moto.log").read_text().splitlines():
        marker = f"/_uploads/{model_id}/1/artifacts/weights.bin?"
        if '"PUT ' in line and marker in line:
            query = line.split(marker, 1)[1].split(" ", 1)[0]
            found.append({k: v[0] for k, v in parse_qs(query).items()})
    return found


def test_uc_oss_logs_and_loads_through_sts_credentials_and_moves_no_bytes(
    credentials_server: RunningServer,
    moto_log_dir: Path,
    moto_endpoint: str,
    bucket: Any,
    model_files: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = credentials_server
    before = io_bytes(server.process.pid)
    name, predicted = _log_register_load(
        f"uc:{server.url}",
        server,
        model_files,
        tmp_path,
        monkeypatch,
        MLFLOW_UC_OSS_TOKEN=server.admin_token,
        **_client_env(moto_endpoint),
    )
    moved = io_bytes(server.process.pid) - before
    assert list(predicted) == [_expected(model_files)] * 3
    assert moved.read < BIG and moved.written < BIG, moved
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
        model_id = _check_stored(api, bucket, "sts", name, model_files)
    uploads = _weights_uploads(moto_log_dir, model_id)
    assert sorted(u["partNumber"] for u in uploads) == ["1", "2"], uploads


def _credentials(api: httpx.Client, name: str, version: str, operation: str) -> dict[str, Any]:
    catalog, schema, model = name.split(".")
    return ok(
        api.post(
            f"{UC_2_1}/temporary-model-version-credentials",
            json={
                "catalog_name": catalog,
                "schema_name": schema,
                "model_name": model,
                "version": int(version),
                "operation": operation,
            },
        )
    )


def _s3_with(found: dict[str, Any], moto_endpoint: str) -> Any:
    creds = found["aws_temp_credentials"]
    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["access_key_id"],
        aws_secret_access_key=creds["secret_access_key"],
        aws_session_token=creds["session_token"],
    )


def _split(location: str) -> tuple[str, str]:
    parts = urlsplit(location)
    return parts.netloc, parts.path.lstrip("/")


SIGNED = (
    "artifact_path: model\nflavors: {}\nsignature:\n"
    '  inputs: \'[{"type": "double", "name": "x"}]\'\n'
    '  outputs: \'[{"type": "long"}]\'\n'
)


def test_credentials_are_sts_sessions_scoped_and_old_ones_cannot_change_a_ready_version(
    credentials_server: RunningServer, moto_endpoint: str, bucket: Any
) -> None:
    server = credentials_server
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
        name = f"ml.s.scoped_{uuid.uuid4().hex[:8]}"
        create_model(api, name)
        version = create_version(api, name)
        pending = ok(api.get(f"{UC_2_1}/models/{name}/versions/{version}"))["storage_location"]
        bucket_name, upload_prefix = _split(pending)
        assert bucket_name == bucket.name and upload_prefix.startswith("sts/_uploads/")
        written = _credentials(api, name, version, "READ_WRITE_MODEL_VERSION")
        # The 2.0 dialect carries the same credentials, wrapped.
        wrapped = ok(
            api.post(
                "/api/2.0/mlflow/unity-catalog/model-versions/generate-temporary-credentials",
                json={
                    "name": name,
                    "version": version,
                    "operation": "MODEL_VERSION_OPERATION_READ_WRITE",
                },
            )
        )["credentials"]
        assert set(wrapped["aws_temp_credentials"]) == {
            "access_key_id",
            "secret_access_key",
            "session_token",
        }
        assert written["expiration_time"] > 0 and "storage_mode" not in written
        s3 = _s3_with(written, moto_endpoint)
        s3.put_object(Bucket=bucket.name, Key=upload_prefix + "MLmodel", Body=SIGNED.encode())
        s3.put_object(Bucket=bucket.name, Key=upload_prefix + "data/w.bin", Body=b"first")
        ready = ok(finalize(api, name, version))["model_version"]
        assert ready["status"] == "READY"
        sealed = ok(api.get(f"{UC_2_1}/models/{name}/versions/{version}"))["storage_location"]
        _, sealed_prefix = _split(sealed)
        assert "_uploads" not in sealed_prefix
        manifest_before = ok(
            api.get(f"/api/modelcatalog/models/{name}/versions/{version}/manifest")
        )["files"]

        # Write credentials issued before READY reach only the upload folder, which is never
        # served again: what they write there changes nothing the version serves.
        s3.put_object(Bucket=bucket.name, Key=upload_prefix + "data/w.bin", Body=b"changed")
        read = _credentials(api, name, version, "READ_MODEL_VERSION")
        body = _s3_with(read, moto_endpoint).get_object(
            Bucket=bucket.name, Key=sealed_prefix + "data/w.bin"
        )["Body"]
        assert body.read() == b"first"
        assert (
            ok(api.get(f"/api/modelcatalog/models/{name}/versions/{version}/manifest"))["files"]
            == manifest_before
        )
        # A READY version refuses write credentials.
        refused = api.post(
            f"{UC_2_1}/temporary-model-version-credentials",
            json={
                "catalog_name": "ml",
                "schema_name": "s",
                "model_name": name.split(".")[2],
                "version": int(version),
                "operation": "READ_WRITE_MODEL_VERSION",
            },
        )
        assert refused.status_code == 400, refused.text


def test_files_api_answers_presigned_s3_urls_with_their_expiry(
    url_server: RunningServer, bucket: Any
) -> None:
    with httpx.Client(base_url=url_server.url, headers=url_server.headers(), timeout=60) as api:
        name = f"ml.s.urls_{uuid.uuid4().hex[:8]}"
        create_model(api, name)
        version = create_version(api, name)
        answer = ok(
            api.post(
                "/api/2.0/fs/create-upload-url",
                json={"path": files_path(name, version, "MLmodel")},
            )
        )
        url = urlsplit(answer["url"])
        assert url.netloc != urlsplit(url_server.url).netloc  # the bucket, not the catalog
        assert url.path.startswith(f"/{bucket.name}/urls/_uploads/")
        assert url.path.endswith(f"/{version}/MLmodel")
        query = parse_qs(url.query)
        # SigV4: the expiry is part of what is signed, so S3 refuses the URL after 900 s (the
        # server's URL lifetime) and refuses it altered.
        assert query["X-Amz-Expires"] == ["900"] and query["X-Amz-Signature"]
        assert answer["headers"] == []
        httpx.put(answer["url"], content=SIGNED.encode(), timeout=30).raise_for_status()
        assert ok(finalize(api, name, version))["model_version"]["status"] == "READY"
        download = ok(
            api.post(
                "/api/2.0/fs/create-download-url",
                json={"path": files_path(name, version, "MLmodel")},
            )
        )["url"]
        assert "/_uploads/" not in download
        assert httpx.get(download, timeout=30).raise_for_status().content == SIGNED.encode()


def test_a_failed_version_is_quarantined_and_a_file_folder_clash_fails_it(
    url_server: RunningServer, bucket: Any
) -> None:
    with httpx.Client(base_url=url_server.url, headers=url_server.headers(), timeout=60) as api:
        name = f"ml.s.clash_{uuid.uuid4().hex[:8]}"
        create_model(api, name)
        version = create_version(api, name)
        for path, data in (("MLmodel", SIGNED), ("d", "file"), ("d/x", "inside")):
            url = ok(
                api.post(
                    "/api/2.0/fs/create-upload-url",
                    json={"path": files_path(name, version, path)},
                )
            )["url"]
            httpx.put(url, content=data.encode(), timeout=30).raise_for_status()
        refused = finalize(api, name, version)
        assert refused.status_code == 400, refused.text
        assert "'d' is a file and also a folder (it holds 'd/x')" in refused.json()["message"]
        found = ok(api.get(f"{UC_2_1}/models/{name}/versions/{version}"))
        assert found["status"] == "FAILED_REGISTRATION" and found["storage_location"] == ""
        model_id = ok(api.get(f"{UC_2_1}/models/{name}"))["id"].replace("-", "")
    # Out of the upload folder and of the version's own folder alike: nothing serves them.
    keys = [o.key for o in bucket.objects.filter(Prefix="urls/") if model_id in o.key]
    names = sorted(k.rsplit("/", 1)[-1] for k in keys)
    assert names == ["MLmodel", "MLmodel", "d", "d", "x", "x"], keys  # sealed copies and uploads
    assert all(k.startswith(f"urls/_quarantine/{model_id}/{version}/") for k in keys), keys


def test_server_start_sweeps_the_uploads_of_versions_no_longer_pending(
    moto_endpoint: str, bucket: Any, tmp_path: Path
) -> None:
    env = {**AWS_ENV, "MODELCATALOG_S3_ENDPOINT_URL": moto_endpoint}
    data_dir = tmp_path / "sweep"
    root = f"sweep{uuid.uuid4().hex[:6]}"
    admin = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", **_keys())
    with run_server(data_dir, storage_root=f"s3://{bucket.name}/{root}", extra_env=env) as server:
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as api:
            ok(api.post(f"{UC_2_1}/catalogs", json={"name": "ml"}))
            ok(api.post(f"{UC_2_1}/schemas", json={"name": "s", "catalog_name": "ml"}))
            create_model(api, "ml.s.swept")
            done, waiting = create_version(api, "ml.s.swept"), create_version(api, "ml.s.swept")
            locations = {}
            for number in (done, waiting):
                found = ok(api.get(f"{UC_2_1}/models/ml.s.swept/versions/{number}"))
                locations[number] = _split(found["storage_location"])[1]
                admin.put_object(
                    Bucket=bucket.name, Key=locations[number] + "MLmodel", Body=SIGNED.encode()
                )
            assert ok(finalize(api, "ml.s.swept", done))["model_version"]["status"] == "READY"
            assert not list(bucket.objects.filter(Prefix=locations[done]))
            # Written with credentials issued before READY, after the version was sealed.
            admin.put_object(Bucket=bucket.name, Key=locations[done] + "late.bin", Body=b"late")
    with run_server(data_dir, storage_root=f"s3://{bucket.name}/{root}", extra_env=env):
        deadline = time.monotonic() + 30
        while list(bucket.objects.filter(Prefix=locations[done])):
            assert time.monotonic() < deadline, "the leftover upload was not removed"
            time.sleep(0.05)
    left = sorted(o.key for o in bucket.objects.filter(Prefix=f"{root}/_uploads/"))
    assert left == [locations[waiting] + "MLmodel"], left  # a PENDING version keeps its uploads
