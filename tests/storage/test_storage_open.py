"""open_store: which store a location names."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelcatalog.storage import LocalArtifactStore, open_store
from modelcatalog.storage.s3 import S3ArtifactStore


def test_plain_path_opens_a_local_store_and_creates_it(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "new" / "artifacts"))
    assert isinstance(store, LocalArtifactStore)
    assert (tmp_path / "new" / "artifacts").is_dir()


def test_file_uri_opens_a_local_store(tmp_path: Path) -> None:
    folder = tmp_path / "with space"
    store = open_store(folder.as_uri())
    assert isinstance(store, LocalArtifactStore)
    assert store.root == folder
    assert store.uri == folder.as_uri()


def test_file_uri_with_localhost(tmp_path: Path) -> None:
    store = open_store(f"file://localhost{tmp_path}")
    assert isinstance(store, LocalArtifactStore)
    assert store.root == tmp_path


def test_s3_uri_opens_an_s3_store(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELCATALOG_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:10")
    store = open_store("s3://bucket/some/prefix/")
    assert isinstance(store, S3ArtifactStore)
    assert (store.bucket, store.prefix, store.uri) == (
        "bucket",
        "some/prefix",
        "s3://bucket/some/prefix",
    )
    assert store._client.meta.endpoint_url == "http://127.0.0.1:9"


def test_s3_uri_falls_back_to_aws_endpoint(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:10")
    store = open_store("s3://bucket")
    assert isinstance(store, S3ArtifactStore)
    assert (store.prefix, store.uri) == ("", "s3://bucket")
    assert store._client.meta.endpoint_url == "http://127.0.0.1:10"


def test_s3_store_opened_by_uri_works(
    s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELCATALOG_S3_ENDPOINT_URL", s3_endpoint)
    store = open_store(f"s3://{s3_bucket}/root")
    store.write_bytes("a/b", b"x")
    assert store.read_bytes("a/b") == b"x"


@pytest.mark.parametrize(
    "location",
    [
        "",
        "gs://bucket/x",
        "http://host/x",
        "s3://",
        "s3:///prefix",
        "file://otherhost/x",
        "s3://b/x?y=1",
    ],
)
def test_unsupported_locations_are_refused(location: str) -> None:
    with pytest.raises(ValueError):
        open_store(location)


def test_error_names_the_allowed_forms() -> None:
    with pytest.raises(ValueError, match=r"file:///absolute/path, or s3://bucket\[/prefix\]"):
        open_store("gs://bucket")
