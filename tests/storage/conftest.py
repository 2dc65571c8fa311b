"""Fixtures: a real S3-compatible server (moto) per session, and a store of each kind per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelcatalog.storage.local import LocalArtifactStore
from modelcatalog.storage.s3 import S3ArtifactStore, default_client
from support.servers import run_moto

_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_AWS_ENV_CLEARED = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "MODELCATALOG_S3_ENDPOINT_URL")


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a moto S3 server running in its own process on 127.0.0.1."""
    with run_moto(tmp_path_factory.mktemp("moto")) as endpoint:
        yield endpoint


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials, and no user AWS configuration leaking into the test."""
    for name, value in _AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in _AWS_ENV_CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture
def s3_bucket(s3_endpoint: str, aws_env: None) -> str:
    """A fresh, empty bucket on the moto server."""
    name = f"test-{uuid.uuid4().hex}"
    default_client(s3_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_store(s3_endpoint: str, s3_bucket: str) -> S3ArtifactStore:
    """An S3 store below a prefix, so that prefix handling is exercised too."""
    return S3ArtifactStore(s3_bucket, "artifacts", endpoint_url=s3_endpoint)


@pytest.fixture
def local_store(tmp_path: Path) -> LocalArtifactStore:
    """A local store in a folder that does not exist yet."""
    return LocalArtifactStore(tmp_path / "artifacts")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> LocalArtifactStore | S3ArtifactStore:
    """Each store kind in turn, for the behaviour every store shares."""
    return request.getfixturevalue(f"{request.param}_store")
