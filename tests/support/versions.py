"""Model versions made by hand through the public HTTP surface, as MLflow's client makes them:
create, upload files through presigned URLs, finalize."""

from __future__ import annotations

import httpx

from support.http import ok
from support.models import SIGNED_MLMODEL

REGISTRY_2_0 = "/api/2.0/mlflow/unity-catalog"
UC_2_1 = "/api/2.1/unity-catalog"


def files_path(full_name: str, version: int | str, relative: str = "") -> str:
    """The Files API path of a version's file."""
    catalog, schema, model = full_name.split(".")
    return f"/Models/{catalog}/{schema}/{model}/{version}/{relative}"


def create_model(api: httpx.Client, full_name: str) -> dict:
    return ok(api.post(f"{REGISTRY_2_0}/registered-models/create", json={"name": full_name}))[
        "registered_model"
    ]


def create_version(api: httpx.Client, full_name: str) -> str:
    """A new PENDING version; returns its number (a string, as the 2.0 dialect has it)."""
    body = ok(
        api.post(
            f"{REGISTRY_2_0}/model-versions/create",
            json={"name": full_name, "source": "local://nowhere"},
        )
    )
    return body["model_version"]["version"]


def upload_url(api: httpx.Client, full_name: str, version: str, relative: str) -> str:
    body = ok(
        api.post(
            "/api/2.0/fs/create-upload-url", json={"path": files_path(full_name, version, relative)}
        )
    )
    return body["url"]


def put_file(
    api: httpx.Client, full_name: str, version: str, relative: str, data: bytes | str
) -> None:
    """Upload one file through a presigned URL, as MLflow's client does."""
    url = upload_url(api, full_name, version, relative)
    content = data.encode() if isinstance(data, str) else data
    response = httpx.put(url, content=content, timeout=30)
    assert response.status_code in (200, 201, 204), response.text


def finalize(api: httpx.Client, full_name: str, version: str) -> httpx.Response:
    return api.post(
        f"{REGISTRY_2_0}/model-versions/finalize", json={"name": full_name, "version": version}
    )


def ready_version(api: httpx.Client, full_name: str, mlmodel: str = SIGNED_MLMODEL) -> str:
    """A READY version made by hand: create, upload a signed MLmodel, finalize."""
    version = create_version(api, full_name)
    put_file(api, full_name, version, "MLmodel", mlmodel)
    body = ok(finalize(api, full_name, version))
    assert body["model_version"]["status"] == "READY", body
    return version
