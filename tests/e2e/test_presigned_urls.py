"""Presigned URLs: each one lets one method on one file of one version, until it expires.

The Files API (`/api/2.0/fs/create-upload-url`, `create-download-url`) hands them out; the
server serves them itself under /api/modelcatalog/presigned/, authenticated by signature alone.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from support.http import error_of, ok, unique
from support.models import SIGNED_MLMODEL, fit_tiny_model, log_tiny_model, mlflow_registry
from support.servers import run_server
from support.versions import (
    REGISTRY_2_0,
    create_model,
    create_version,
    files_path,
    finalize,
    put_file,
    ready_version,
    upload_url,
)


def _download_url(api: httpx.Client, name: str, version: str, relative: str) -> str:
    return ok(
        api.post(
            "/api/2.0/fs/create-download-url", json={"path": files_path(name, version, relative)}
        )
    )["url"]


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _with_path(url: str, old: str, new: str) -> str:
    parts = urlsplit(url)
    assert parts.path.endswith(old), parts.path
    return urlunsplit(parts._replace(path=parts.path[: -len(old)] + new))


@pytest.fixture
def ready(api: httpx.Client, schema: str) -> tuple[str, str]:
    """A READY version with two files, MLmodel and notes.txt."""
    name = f"{schema}.{unique()}"
    create_model(api, name)
    version = create_version(api, name)
    put_file(api, name, version, "MLmodel", SIGNED_MLMODEL)
    put_file(api, name, version, "notes.txt", "notes")
    ok(finalize(api, name, version))
    return name, version


@pytest.fixture
def pending(api: httpx.Client, schema: str) -> tuple[str, str]:
    name = f"{schema}.{unique()}"
    create_model(api, name)
    return name, create_version(api, name)


def test_download_url_serves_its_file(api: httpx.Client, ready: tuple[str, str]) -> None:
    url = _download_url(api, *ready, "MLmodel")
    assert httpx.get(url).text == SIGNED_MLMODEL


def test_download_url_cannot_be_used_to_put(api: httpx.Client, ready: tuple[str, str]) -> None:
    url = _download_url(api, *ready, "MLmodel")
    assert error_of(httpx.put(url, content=b"overwritten"), 403)["error_code"] == (
        "PERMISSION_DENIED"
    )
    assert httpx.get(url).text == SIGNED_MLMODEL


def test_upload_url_cannot_be_used_to_get(api: httpx.Client, pending: tuple[str, str]) -> None:
    name, version = pending
    url = upload_url(api, name, version, "MLmodel")
    assert httpx.put(url, content=SIGNED_MLMODEL.encode()).status_code == 200
    error_of(httpx.get(url), 403)


def test_url_for_one_file_cannot_read_another(api: httpx.Client, ready: tuple[str, str]) -> None:
    url = _download_url(api, *ready, "notes.txt")
    error_of(httpx.get(_with_path(url, "notes.txt", "MLmodel")), 403)


def test_upload_url_for_one_file_cannot_write_another(
    api: httpx.Client, pending: tuple[str, str]
) -> None:
    name, version = pending
    url = upload_url(api, name, version, "notes.txt")
    error_of(httpx.put(_with_path(url, "notes.txt", "MLmodel"), content=b"x"), 403)


@pytest.mark.parametrize(
    "tamper",
    [
        {"signature": "A" * 43},
        {"expires": "9999999999"},
        {"principal": "someone-else"},
        {"signature": ""},
    ],
    ids=["signature", "expires", "principal", "no-signature"],
)
def test_tampered_url_is_refused(
    api: httpx.Client, ready: tuple[str, str], tamper: dict[str, str]
) -> None:
    url = _download_url(api, *ready, "MLmodel")
    error_of(httpx.get(_with_query(url, **tamper)), 403)


@pytest.mark.parametrize(
    "relative",
    [
        "../escape_{marker}",
        "../../../escape_{marker}",
        "sub/../../escape_{marker}",
        "%2e%2e/escape_{marker}",
        "/etc/escape_{marker}",
        "..\\escape_{marker}",
        "sub\\..\\..\\escape_{marker}",
    ],
    ids=[
        "dotdot",
        "deep-dotdot",
        "inner-dotdot",
        "encoded-dotdot",
        "absolute",
        "backslash",
        "backslash-dotdot",
    ],
)
def test_path_escape_in_upload_path_is_refused_and_writes_nothing(
    api: httpx.Client, server: Any, pending: tuple[str, str], relative: str
) -> None:
    name, version = pending
    marker = uuid.uuid4().hex
    path = files_path(name, version, relative.format(marker=marker))
    if relative.startswith("/"):
        path = files_path(name, version, "") + relative.format(marker=marker)[1:]
        path = path.replace(f"/{version}/etc/", f"/{version}//etc/")
    response = api.post("/api/2.0/fs/create-upload-url", json={"path": path})
    if response.status_code == 200:
        # A path the server accepted must stay inside the version's folder.
        httpx.put(response.json()["url"], content=b"escaped")
        raise AssertionError(f"accepted {path!r}")
    body = error_of(response, 400)
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert not list(server.data_dir.parent.rglob(f"*escape_{marker}*"))


@pytest.mark.parametrize("escape", ["..", "%2e%2e", "%2E%2E", "..%5c.."])
def test_path_escape_in_presigned_url_is_refused_and_writes_nothing(
    api: httpx.Client, server: Any, pending: tuple[str, str], escape: str
) -> None:
    name, version = pending
    marker = uuid.uuid4().hex
    url = upload_url(api, name, version, "MLmodel")
    bad = _with_path(url, "MLmodel", f"{escape}/{escape}/escape_{marker}")
    response = httpx.put(bad, content=b"escaped")
    assert response.status_code in (403, 404), response.text
    assert not list(server.data_dir.parent.rglob(f"*escape_{marker}*"))


@pytest.mark.parametrize(
    "file_name",
    [
        "with space.txt",
        "hash#tag.txt",
        "what?.txt",
        "percent%41.txt",
        "caf\u00e9.txt",
        "plus+amp&.txt",
    ],
)
def test_file_names_needing_url_quoting_round_trip(
    api: httpx.Client, pending: tuple[str, str], file_name: str
) -> None:
    name, version = pending
    put_file(api, name, version, "MLmodel", SIGNED_MLMODEL)
    put_file(api, name, version, f"data/{file_name}", file_name)
    ok(finalize(api, name, version))
    manifest = ok(api.get(f"/api/modelcatalog/models/{name}/versions/{version}/manifest"))
    assert {f["path"] for f in manifest["files"]} == {"MLmodel", f"data/{file_name}"}
    assert httpx.get(_download_url(api, name, version, f"data/{file_name}")).text == file_name


CLASHES = [
    ("d1/f", "d1", "'d1' is already a folder of this version (it holds 'd1/f')"),
    ("d1", "d1/f", "'d1' is already a file of this version"),
    ("MLmodel", "MLmodel/x", "'MLmodel' is already a file of this version"),
    ("MLmodel/x", "MLmodel", "'MLmodel' is already a folder of this version"),
]
CLASH_IDS = ["folder-then-file", "file-then-inside", "mlmodel-then-inside", "inside-then-mlmodel"]


def put_clashing_pair(api: httpx.Client, name: str, version: str, first: str, second: str) -> Any:
    """Upload `first`, then try `second` through its own presigned URL; the refusal's body."""
    put_file(api, name, version, first, first)
    refused = httpx.put(upload_url(api, name, version, second), content=b"second")
    body = error_of(refused, 400)
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"  # the Files API dialect's code
    return body


@pytest.mark.parametrize(("first", "second", "why"), CLASHES, ids=CLASH_IDS)
def test_a_path_cannot_be_both_a_file_and_a_folder(
    api: httpx.Client, pending: tuple[str, str], first: str, second: str, why: str
) -> None:
    name, version = pending
    body = put_clashing_pair(api, name, version, first, second)
    assert body["message"].startswith(f"Cannot write '{second}': ")
    assert why in body["message"]
    assert "both a file and a folder" in body["message"]
    # What was there is untouched, and nothing of the refused file was kept.
    assert _files_of(api, name, version) == {first: len(first)}


def _files_of(api: httpx.Client, name: str, version: str, folder: str = "") -> dict[str, int]:
    """Every file of a version (path: size), walked through the Files API listing."""
    found: dict[str, int] = {}
    listing = ok(api.get(f"/api/2.0/fs/directories{files_path(name, version, folder)}"))
    for entry in listing["contents"]:
        path = f"{folder}{entry['name']}"
        if entry["is_directory"]:
            found.update(_files_of(api, name, version, path + "/"))
        else:
            found[path] = entry["file_size"]
    return found


def test_ready_version_refuses_new_upload_urls(api: httpx.Client, ready: tuple[str, str]) -> None:
    name, version = ready
    response = api.post(
        "/api/2.0/fs/create-upload-url", json={"path": files_path(name, version, "extra.txt")}
    )
    body = error_of(response, 400)
    assert "READY" in body["message"] and "PENDING_REGISTRATION" in body["message"]


def test_upload_url_from_pending_time_is_refused_after_finalize(
    api: httpx.Client, pending: tuple[str, str]
) -> None:
    name, version = pending
    early = upload_url(api, name, version, "MLmodel")
    assert httpx.put(early, content=SIGNED_MLMODEL.encode()).status_code == 200
    late_new_file = upload_url(api, name, version, "late.txt")
    ok(finalize(api, name, version))

    overwrite = httpx.put(early, content=b"replaced after finalize")
    assert overwrite.status_code in (400, 403), overwrite.text
    added = httpx.put(late_new_file, content=b"added after finalize")
    assert added.status_code in (400, 403), added.text
    assert httpx.get(_download_url(api, name, version, "MLmodel")).text == SIGNED_MLMODEL
    manifest = ok(api.get(f"/api/modelcatalog/models/{name}/versions/{version}/manifest"))
    assert [f["path"] for f in manifest["files"]] == ["MLmodel"]


def test_server_refuses_a_url_lifetime_out_of_range(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelcatalog",
            "server",
            "--data-dir",
            str(tmp_path),
            "--url-lifetime",
            "5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "url-lifetime" in result.stderr


def _refused_after(url: str, method: str, issued: float, limit: float) -> float:
    """Seconds after `issued` at which the URL was first refused (polling until `limit`)."""
    while True:
        response = httpx.request(method, url, content=b"late" if method == "PUT" else None)
        elapsed = time.monotonic() - issued
        if response.status_code == 403:
            assert "expired" in response.json()["message"]
            return elapsed
        assert response.status_code == 200, response.text
        assert elapsed < limit, f"URL still accepted {elapsed:.1f}s after it was issued"
        time.sleep(0.25)


def test_urls_expire_after_the_configured_lifetime(tmp_path: Path) -> None:
    lifetime = 3
    # Below the minimum of a real server (10 s), which test servers may lower.
    short_urls = {
        "MODELCATALOG_URL_LIFETIME_SECONDS": str(lifetime),
        "MODELCATALOG_TEST_MIN_URL_LIFETIME_SECONDS": "1",
    }
    with (
        run_server(tmp_path / "short-urls", extra_env=short_urls) as short,
        httpx.Client(base_url=short.url, headers=short.headers(), timeout=30) as api,
    ):
        catalog = unique("c")
        ok(api.post("/api/2.1/unity-catalog/catalogs", json={"name": catalog}))
        ok(api.post("/api/2.1/unity-catalog/schemas", json={"name": "s", "catalog_name": catalog}))
        name = f"{catalog}.s.m"
        create_model(api, name)
        done = create_version(api, name)
        put_file(api, name, done, "MLmodel", SIGNED_MLMODEL)
        ok(finalize(api, name, done))
        open_version = create_version(api, name)

        issued = time.monotonic()
        before = time.time()
        download = _download_url(api, name, done, "MLmodel")
        upload = upload_url(api, name, open_version, "MLmodel")
        credentials = ok(
            api.post(
                f"{REGISTRY_2_0}/model-versions/generate-temporary-credentials",
                json={"name": name, "version": done, "operation": "MODEL_VERSION_OPERATION_READ"},
            )
        )["credentials"]
        assert abs(credentials["expiration_time"] / 1000 - (before + lifetime)) < 3

        refused_get = _refused_after(download, "GET", issued, lifetime + 5)
        refused_put = _refused_after(upload, "PUT", issued, lifetime + 5)
        assert refused_get >= lifetime - 1.5 and refused_put >= lifetime - 1.5
        # A fresh URL for the same file works again.
        assert httpx.get(_download_url(api, name, done, "MLmodel")).text == SIGNED_MLMODEL


def test_directory_listing_of_a_file_path_is_empty(
    api: httpx.Client, ready: tuple[str, str]
) -> None:
    """MLflow lists a path to tell a file from a folder; a file has no children."""
    listed = api.get(f"/api/2.0/fs/directories{files_path(*ready, 'MLmodel')}")
    assert ok(listed) == {"contents": []}
    missing = api.get(f"/api/2.0/fs/directories{files_path(*ready, 'no-such')}")
    assert error_of(missing, 404)["message"].startswith("Directory ")


def test_mlflow_get_model_info_reads_a_version_through_the_modelcatalog_scheme(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema: str
) -> None:
    """MLflow lists `.../1/MLmodel` before downloading it; the empty listing lets it."""
    import mlflow

    name = f"{schema}.{unique()}"
    env = server.env(MODELCATALOG_CONFIG_DIR=str(tmp_path / "config"))
    registry = f"modelcatalog://{urlsplit(server.url).netloc}"
    with mlflow_registry(registry, tmp_path, monkeypatch, **env):
        log_tiny_model(fit_tiny_model(), name)
        info = mlflow.models.get_model_info(f"models:/{name}/1")
    assert {"sklearn", "python_function"} <= set(info.flavors)
    assert info.signature is not None and info.signature.outputs is not None


def test_files_api_missing_directory_speaks_databricks_not_found(
    api: httpx.Client, schema: str
) -> None:
    """MLflow's presigned-URL repository treats exactly NOT_FOUND as 'no such directory'."""
    name = f"{schema}.{unique()}"
    create_model(api, name)
    version = ready_version(api, name)
    missing = api.get(f"/api/2.0/fs/directories{files_path(name, version, 'no/such/dir')}")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "NOT_FOUND"
