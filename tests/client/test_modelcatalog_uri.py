"""`modelcatalog://` URIs: what MLflow builds from them and where they point."""

from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.tracking._model_registry.utils import _get_store

from modelcatalog.mlflow_plugin.artifacts import ModelCatalogArtifactRepository
from modelcatalog.mlflow_plugin.location import CatalogServer, VersionLocation
from modelcatalog.mlflow_plugin.registry import ModelCatalogRegistryStore


@pytest.fixture(autouse=True)
def no_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELCATALOG_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("MODELCATALOG_TOKEN", raising=False)


@pytest.mark.parametrize(
    ("uri", "url"),
    [
        ("modelcatalog://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("modelcatalog://Catalog.Example.com:8080/", "http://catalog.example.com:8080"),
        ("modelcatalog://catalog.example.com", "http://catalog.example.com"),
        ("modelcatalog://catalog.example.com:443?tls=true", "https://catalog.example.com:443"),
        ("modelcatalog://catalog.example.com?tls=1", "https://catalog.example.com"),
        ("modelcatalog://h:80?tls=false", "http://h:80"),
        ("modelcatalog+https://catalog.example.com:8443", "https://catalog.example.com:8443"),
        ("modelcatalog://[::1]:8080", "http://[::1]:8080"),
    ],
    ids=[
        "http",
        "case-and-slash",
        "no-port",
        "tls-query",
        "tls-1",
        "tls-false",
        "plus-https",
        "ipv6",
    ],
)
def test_registry_uri_names_server(uri: str, url: str) -> None:
    assert CatalogServer.from_uri(uri).url == url


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("modelcatalog://", "no host"),
        ("modelcatalog://h:notaport", "Port"),
        ("modelcatalog://h:1?tls=maybe", "neither true nor false"),
        ("modelcatalog://h:1?token=x", "unknown query parameter"),
        ("http://h:1", "scheme is 'http'"),
    ],
    ids=["no-host", "bad-port", "bad-tls", "unknown-query", "wrong-scheme"],
)
def test_bad_registry_uri_is_refused_with_reason(uri: str, message: str) -> None:
    with pytest.raises(MlflowException, match=message):
        CatalogServer.from_uri(uri)


@pytest.mark.parametrize(
    ("registry_uri", "version_uri"),
    [
        ("modelcatalog://h:8080", "modelcatalog://h:8080/models/c.s.m/versions/3"),
        ("modelcatalog+https://h:8443", "modelcatalog://h:8443/models/c.s.m/versions/3?tls=true"),
    ],
    ids=["http", "https"],
)
def test_version_uri_round_trips(registry_uri: str, version_uri: str) -> None:
    server = CatalogServer.from_uri(registry_uri)
    assert server.version_uri("c.s.m", 3) == version_uri
    location = VersionLocation.from_uri(version_uri)
    assert (location.server, location.full_name, location.version, location.path) == (
        server,
        "c.s.m",
        "3",
        "",
    )


def test_version_uri_may_name_a_path_inside_the_version() -> None:
    location = VersionLocation.from_uri("modelcatalog://h:1/models/c.s.m/versions/2/data/model.pkl")
    assert location.path == "data/model.pkl"


@pytest.mark.parametrize(
    "uri",
    [
        "modelcatalog://h:1",
        "modelcatalog://h:1/models/c.s.m",
        "modelcatalog://h:1/models/c.s/versions/1",
        "modelcatalog://h:1/models/c.s.m/versions/latest",
        "modelcatalog://h:1/runs/c.s.m/versions/1",
        "modelcatalog://h:1/models/c.s.m/versions/1/../../x",
    ],
    ids=["server-only", "no-version", "two-levels", "not-a-number", "wrong-root", "escapes"],
)
def test_non_version_uri_is_refused(uri: str) -> None:
    with pytest.raises(MlflowException, match="Invalid modelcatalog URI"):
        VersionLocation.from_uri(uri)


def test_mlflow_builds_our_registry_store_for_the_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELCATALOG_TOKEN", "t0ken")
    store = _get_store("modelcatalog://127.0.0.1:8080", "file:///tmp/mlruns")
    assert isinstance(store, ModelCatalogRegistryStore)
    creds = store.get_host_creds()
    assert (creds.host, creds.token) == ("http://127.0.0.1:8080", "t0ken")


def test_store_reads_token_from_login_file() -> None:
    from modelcatalog.client import credentials

    credentials.remember_token("http://127.0.0.1:8081", "from-login")
    store = ModelCatalogRegistryStore("modelcatalog://127.0.0.1:8081", None)
    assert store.get_host_creds().token == "from-login"


def test_store_without_token_says_how_to_get_one() -> None:
    store = ModelCatalogRegistryStore("modelcatalog://127.0.0.1:8082", None)
    with pytest.raises(MlflowException, match="MODELCATALOG_TOKEN or run `modelcatalog login"):
        store.get_host_creds()


def test_mlflow_opens_our_artifact_repository_for_version_uris(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELCATALOG_TOKEN", "t0ken")
    repo = get_artifact_repository("modelcatalog://h:8443/models/c.s.m/versions/4?tls=true")
    assert isinstance(repo, ModelCatalogArtifactRepository)
    # The Files API path MLflow's presigned-URL client uses for Unity Catalog default storage.
    assert repo.artifact_uri == "/Models/c/s/m/4"
    assert repo.db_creds.host == "https://h:8443"


def test_version_files_cannot_be_written(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODELCATALOG_TOKEN", "t0ken")
    repo = get_artifact_repository("modelcatalog://h:1/models/c.s.m/versions/4")
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(MlflowException, match="cannot change"):
        repo.log_artifact(str(tmp_path / "f.txt"))
