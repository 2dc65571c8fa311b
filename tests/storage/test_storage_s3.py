"""What only the S3 store does: part sizes, aborted uploads, its prefix inside the bucket."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from modelcatalog.storage import file_key, version_prefix
from modelcatalog.storage.s3 import PART_SIZE, S3ArtifactStore, default_client

MODEL = "0123456789abcdef0123456789abcdef"
PREFIX = version_prefix(MODEL, 1)
MIB = 1024 * 1024


def key(path: str) -> str:
    return file_key(MODEL, 1, path)


@pytest.fixture
def calls(s3_store: S3ArtifactStore) -> Counter[str]:
    """Names of the S3 operations the store sends, counted."""
    seen: Counter[str] = Counter()

    def record(model: Any, **_: Any) -> None:
        seen[model.name] += 1

    s3_store._client.meta.events.register("before-call.s3", record)
    return seen


def test_small_object_is_one_put(s3_store: S3ArtifactStore, calls: Counter[str]) -> None:
    with s3_store.open_writer(key("a")) as writer:
        writer.write(b"x" * (PART_SIZE - 1))
        writer.write(b"x")  # exactly one part's worth: still a single request
    # The one other request checks that no file is in the way of the path (see below).
    assert calls == Counter({"ListObjectsV2": 1, "PutObject": 1})


def test_the_path_check_looks_at_each_folder_of_the_relative_path_only(
    s3_store: S3ArtifactStore, calls: Counter[str]
) -> None:
    s3_store.write_bytes(key("data/b/1.bin"), b"1")
    # data and data/b may be files; the model's and the version's folders never are.
    assert calls == Counter({"HeadObject": 2, "ListObjectsV2": 1, "PutObject": 1})


def test_large_object_streams_as_8_mib_parts(
    s3_store: S3ArtifactStore, calls: Counter[str]
) -> None:
    with s3_store.open_writer(key("a")) as writer:
        for _ in range(20):
            writer.write(b"y" * MIB)
            # Never more than one part held in memory, whatever has been written so far.
            assert len(writer._buffer) <= PART_SIZE  # type: ignore[attr-defined]
    assert calls == Counter(
        {
            "ListObjectsV2": 1,
            "CreateMultipartUpload": 1,
            "UploadPart": 3,
            "CompleteMultipartUpload": 1,
        }
    )
    assert s3_store.stat(key("a")).size == 20 * MIB


def test_exception_aborts_the_multipart_upload(
    s3_store: S3ArtifactStore, s3_endpoint: str, calls: Counter[str]
) -> None:
    with pytest.raises(RuntimeError):
        with s3_store.open_writer(key("a")) as writer:
            writer.write(b"z" * (PART_SIZE + 1))
            raise RuntimeError
    assert calls["AbortMultipartUpload"] == 1
    uploads = default_client(s3_endpoint).list_multipart_uploads(Bucket=s3_store.bucket)
    assert uploads.get("Uploads", []) == []


def test_objects_live_below_the_store_prefix(s3_store: S3ArtifactStore, s3_endpoint: str) -> None:
    s3_store.write_bytes(key("MLmodel"), b"m")
    listed = default_client(s3_endpoint).list_objects_v2(Bucket=s3_store.bucket)
    assert [item["Key"] for item in listed["Contents"]] == [f"artifacts/{key('MLmodel')}"]
    assert s3_store.uri == f"s3://{s3_store.bucket}/artifacts"
    assert s3_store.location_uri(PREFIX) == f"s3://{s3_store.bucket}/artifacts/{PREFIX}"


def test_foreign_keys_are_not_listed_but_are_deleted(
    s3_store: S3ArtifactStore, s3_endpoint: str
) -> None:
    client = default_client(s3_endpoint)
    client.put_object(Bucket=s3_store.bucket, Key=f"artifacts/{PREFIX}folder/", Body=b"")
    client.put_object(Bucket=s3_store.bucket, Key=f"artifacts/{PREFIX}a//b", Body=b"")
    s3_store.write_bytes(key("real"), b"r")
    assert [item.key for item in s3_store.list(PREFIX)] == [key("real")]
    assert s3_store.delete_prefix(PREFIX) == 3
    assert client.list_objects_v2(Bucket=s3_store.bucket).get("Contents", []) == []


def test_store_without_prefix_uses_bucket_root(s3_endpoint: str, s3_bucket: str) -> None:
    store = S3ArtifactStore(s3_bucket, endpoint_url=s3_endpoint)
    store.write_bytes(key("a"), b"a")
    listed = default_client(s3_endpoint).list_objects_v2(Bucket=s3_bucket)
    assert [item["Key"] for item in listed["Contents"]] == [key("a")]
    assert store.uri == f"s3://{s3_bucket}"


def test_has_no_local_path(s3_store: S3ArtifactStore) -> None:
    s3_store.write_bytes(key("a"), b"a")
    assert s3_store.local_path(key("a")) is None


def test_hands_out_no_folder_and_leaves_nothing_to_sweep(s3_store: S3ArtifactStore) -> None:
    with pytest.raises(RuntimeError), s3_store.open_writer(key("big")) as writer:
        writer.write(b"x" * (PART_SIZE + 1))  # a multipart upload, aborted by the failure
        raise RuntimeError("interrupted")
    assert s3_store.hands_out_folders is False
    assert s3_store.sweep_temp(older_than_seconds=-1) == 0
    assert s3_store.list("") == []


@pytest.mark.parametrize("prefix", ["../x", "a//b", "a\\b"])
def test_refuses_unconfined_store_prefix(prefix: str) -> None:
    with pytest.raises(ValueError):
        S3ArtifactStore("bucket", prefix, client=object())


def test_a_multipart_object_has_no_recorded_digest(s3_store: S3ArtifactStore) -> None:
    key = file_key(MODEL, 1, "big.bin")
    with s3_store.open_writer(key) as writer:
        writer.write(b"m" * (PART_SIZE + 1))
    assert s3_store.recorded_sha256(key) is None
