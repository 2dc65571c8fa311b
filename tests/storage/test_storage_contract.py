"""Behaviour every artifact store shares, run against a local folder and a real S3 server."""

from __future__ import annotations

import hashlib
import os

import pytest

from modelcatalog.storage import (
    ArtifactStore,
    InvalidPath,
    ObjectNotFound,
    ObjectTooLarge,
    PathConflict,
    StorageError,
    file_key,
    s3,
    version_prefix,
)

MODEL = "0123456789abcdef0123456789abcdef"
PREFIX = version_prefix(MODEL, 1)
MIB = 1024 * 1024


def key(path: str) -> str:
    return file_key(MODEL, 1, path)


def test_store_satisfies_the_protocol(store: ArtifactStore) -> None:
    assert isinstance(store, ArtifactStore)


def test_write_bytes_round_trips(store: ArtifactStore) -> None:
    data = b"flavors:\n  python_function: {}\n"
    written = store.write_bytes(key("MLmodel"), data)
    assert written.key == key("MLmodel")
    assert written.size == len(data)
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert store.read_bytes(key("MLmodel")) == data
    assert b"".join(store.iter_bytes(key("MLmodel"))) == data


def test_empty_object_round_trips(store: ArtifactStore) -> None:
    written = store.write_bytes(key("empty"), b"")
    assert written.size == 0
    assert written.sha256 == hashlib.sha256(b"").hexdigest()
    assert store.read_bytes(key("empty")) == b""
    assert list(store.iter_bytes(key("empty"))) == []
    assert store.stat(key("empty")).size == 0


def test_write_replaces_previous_object(store: ArtifactStore) -> None:
    store.write_bytes(key("a"), b"old contents")
    store.write_bytes(key("a"), b"new")
    assert store.read_bytes(key("a")) == b"new"


def test_streamed_20_mib_object_has_its_size_and_digest(store: ArtifactStore) -> None:
    digest = hashlib.sha256()
    with store.open_writer(key("model.bin")) as writer:
        for index in range(20):
            chunk = bytes([index]) * MIB
            digest.update(chunk)
            writer.write(chunk)
    assert writer.result.size == 20 * MIB
    assert writer.result.sha256 == digest.hexdigest()
    assert store.stat(key("model.bin")).size == 20 * MIB
    read_back = hashlib.sha256()
    for chunk in store.iter_bytes(key("model.bin")):
        read_back.update(chunk)
    assert read_back.hexdigest() == digest.hexdigest()


def test_one_large_write_call_is_split_into_parts(store: ArtifactStore) -> None:
    data = os.urandom(17 * MIB + 3)
    written = store.write_bytes(key("big"), data)
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert store.read_bytes(key("big")) == data


def test_exception_inside_writer_leaves_nothing(store: ArtifactStore) -> None:
    with pytest.raises(RuntimeError, match="client went away"):
        with store.open_writer(key("model.bin")) as writer:
            for _ in range(10):
                writer.write(b"x" * MIB)
            raise RuntimeError("client went away")
    assert store.list(PREFIX) == []
    with pytest.raises(ObjectNotFound):
        store.stat(key("model.bin"))
    with pytest.raises(StorageError, match="aborted"):
        _ = writer.result


def test_exception_inside_writer_keeps_the_previous_object(store: ArtifactStore) -> None:
    store.write_bytes(key("a"), b"committed")
    with pytest.raises(RuntimeError):
        with store.open_writer(key("a")) as writer:
            writer.write(b"half of the new")
            raise RuntimeError
    assert store.read_bytes(key("a")) == b"committed"


def test_writer_refuses_writes_after_commit(store: ArtifactStore) -> None:
    with store.open_writer(key("a")) as writer:
        writer.write(b"data")
    with pytest.raises(StorageError, match="committed"):
        writer.write(b"more")


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, None, b"0123456789"),
        (0, 0, b"0"),
        (2, 5, b"2345"),
        (7, None, b"789"),
        (9, 9, b"9"),
        (5, 100, b"56789"),
        (10, None, b""),
        (12, 20, b""),
    ],
    ids=["all", "first-byte", "middle", "open-end", "last-byte", "end-clamped", "at-end", "past"],
)
def test_iter_bytes_serves_inclusive_ranges(
    store: ArtifactStore, start: int, end: int | None, expected: bytes
) -> None:
    store.write_bytes(key("digits"), b"0123456789")
    assert b"".join(store.iter_bytes(key("digits"), start, end)) == expected


def test_iter_bytes_honours_chunk_size(store: ArtifactStore) -> None:
    store.write_bytes(key("digits"), b"0123456789")
    chunks = list(store.iter_bytes(key("digits"), 1, 8, chunk_size=3))
    assert b"".join(chunks) == b"12345678"
    assert all(len(chunk) <= 3 for chunk in chunks)


def test_iter_bytes_range_across_parts(store: ArtifactStore) -> None:
    data = os.urandom(9 * MIB)
    store.write_bytes(key("big"), data)
    start, end = 8 * MIB - 10, 8 * MIB + 10
    assert b"".join(store.iter_bytes(key("big"), start, end)) == data[start : end + 1]


@pytest.mark.parametrize(("start", "end"), [(-1, None), (5, 4)])
def test_iter_bytes_refuses_invalid_ranges(
    store: ArtifactStore, start: int, end: int | None
) -> None:
    store.write_bytes(key("digits"), b"0123456789")
    with pytest.raises(ValueError):
        store.iter_bytes(key("digits"), start, end)


def test_iter_bytes_raises_not_found_before_the_first_chunk(store: ArtifactStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.iter_bytes(key("missing"))


def test_read_bytes_limit(store: ArtifactStore) -> None:
    store.write_bytes(key("a"), b"12345")
    assert store.read_bytes(key("a"), limit=5) == b"12345"
    with pytest.raises(ObjectTooLarge, match="5 bytes, over the limit of 4"):
        store.read_bytes(key("a"), limit=4)


def test_missing_objects_raise_not_found(store: ArtifactStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.stat(key("missing"))
    with pytest.raises(ObjectNotFound):
        store.read_bytes(key("missing"))
    with pytest.raises(KeyError):  # ObjectNotFound is a KeyError for callers that expect one
        store.read_bytes(key("missing"))


def test_stat_describes_object(store: ArtifactStore) -> None:
    store.write_bytes(key("a"), b"12345")
    stored = store.stat(key("a"))
    assert stored.key == key("a")
    assert stored.size == 5
    assert stored.last_modified > 0


def test_a_folder_is_not_an_object(store: ArtifactStore) -> None:
    store.write_bytes(key("data/x.parquet"), b"x")
    with pytest.raises(ObjectNotFound):
        store.stat(key("data"))


@pytest.mark.parametrize(
    ("first", "second", "blocking", "is_folder"),
    [
        ("d1", "d1/f", "d1", False),
        ("a", "a/b/c", "a", False),
        ("MLmodel/x", "MLmodel", "MLmodel/x", True),
        ("data/b/1.bin", "data", "data/b/1.bin", True),
    ],
    ids=["file-then-file-inside", "file-then-deeper-file", "folder-then-file", "deep-folder"],
)
def test_a_path_is_never_both_a_file_and_a_folder(
    store: ArtifactStore, first: str, second: str, blocking: str, is_folder: bool
) -> None:
    store.write_bytes(key(first), b"first")
    with pytest.raises(PathConflict) as raised:
        store.write_bytes(key(second), b"second")
    conflict = raised.value
    assert (conflict.key, conflict.blocking, conflict.is_folder) == (
        key(second),
        key(blocking),
        is_folder,
    )
    assert [item.key for item in store.list(PREFIX)] == [key(first)]
    assert store.read_bytes(key(first)) == b"first"


def test_move_prefix_moves_every_object_and_leaves_none_behind(store: ArtifactStore) -> None:
    contents = {"MLmodel": b"m", "data/model.pkl": b"p" * 1000, "data/x/y": b"y"}
    for path, data in contents.items():
        store.write_bytes(key(path), data)
    store.write_bytes(file_key(MODEL, 2, "MLmodel"), b"another version")
    destination = "quarantine/" + PREFIX + "attempt-1/"
    assert store.move_prefix(PREFIX, destination) == 3
    assert store.list(PREFIX) == []
    assert {item.key[len(destination) :]: item.size for item in store.list(destination)} == {
        path: len(data) for path, data in contents.items()
    }
    assert store.read_bytes(destination + "data/model.pkl") == contents["data/model.pkl"]
    assert store.read_bytes(file_key(MODEL, 2, "MLmodel")) == b"another version"
    # Nothing left to move: moving again is a no-op that keeps what was moved.
    assert store.move_prefix(PREFIX, "quarantine/" + PREFIX + "attempt-2/") == 0
    assert len(store.list("quarantine/")) == 3


def test_place_moves_staged_folders_into_place(store: ArtifactStore) -> None:
    """Staged writes (not flushed one by one) land where they belong, whole, in one call."""
    staged = {1: {"MLmodel": b"m1", "data/model.pkl": b"p" * 1000}, 2: {"MLmodel": b"m2"}}
    for number, contents in staged.items():
        for path, data in contents.items():
            with store.open_writer(f"_import/call/{number}/{path}", durable=False) as writer:
                writer.write(data)
            assert writer.result.sha256 == hashlib.sha256(data).hexdigest()
    moves = [(f"_import/call/{n}/", version_prefix(MODEL, n)) for n in (1, 2, 3)]
    assert store.place(moves) == 3  # nothing was staged for version 3: nothing moves
    assert store.list("_import/") == []
    for number, contents in staged.items():
        found = store.list(version_prefix(MODEL, number))
        prefix = version_prefix(MODEL, number)
        assert {item.key[len(prefix) :]: item.size for item in found} == {
            path: len(data) for path, data in contents.items()
        }
    assert store.read_bytes(file_key(MODEL, 1, "data/model.pkl")) == b"p" * 1000
    with pytest.raises(ValueError):
        store.place([(PREFIX, PREFIX + "inner/")])


def test_move_prefix_refuses_overlapping_or_unconfined_prefixes(store: ArtifactStore) -> None:
    store.write_bytes(key("MLmodel"), b"m")
    for source, destination in [(PREFIX, PREFIX + "inner/"), (PREFIX, "../x/"), ("", "q/")]:
        with pytest.raises(ValueError):
            store.move_prefix(source, destination)
    assert [item.key for item in store.list(PREFIX)] == [key("MLmodel")]


def test_link_tree_mirrors_the_source_exactly_and_replaces_what_was_there(
    store: ArtifactStore,
) -> None:
    contents = {"MLmodel": b"m", "data/model.pkl": b"p" * 1000, "data/x/y": b"y"}
    for path, data in contents.items():
        store.write_bytes(key(path), data)
    mirror = "mirrors/" + PREFIX
    store.write_bytes(mirror + "stale.txt", b"stale")
    store.write_bytes(mirror + "MLmodel", b"old")
    assert store.link_tree(PREFIX, mirror) == 3
    assert {item.key[len(mirror) :]: item.size for item in store.list(mirror)} == {
        path: len(data) for path, data in contents.items()
    }
    assert store.read_bytes(mirror + "MLmodel") == b"m"
    store.delete_prefix(mirror)
    assert {item.key[len(PREFIX) :] for item in store.list(PREFIX)} == set(contents)


def test_link_tree_refuses_overlapping_prefixes(store: ArtifactStore) -> None:
    store.write_bytes(key("MLmodel"), b"m")
    for source, mirror in [(PREFIX, PREFIX), (PREFIX, PREFIX + "m/"), (PREFIX + "d/", PREFIX)]:
        with pytest.raises(ValueError, match="overlap"):
            store.link_tree(source, mirror)
    assert [item.key for item in store.list(PREFIX)] == [key("MLmodel")]


def test_has_folder_tells_a_folder_that_holds_objects(store: ArtifactStore) -> None:
    store.write_bytes(key("data/model.pkl"), b"p")
    assert store.has_folder(PREFIX)
    assert store.has_folder(PREFIX + "data/")
    assert not store.has_folder(version_prefix(MODEL, 2))
    assert not store.has_folder(PREFIX + "dat/")
    with pytest.raises(InvalidPath):
        store.has_folder(PREFIX[:-1])


def test_list_is_recursive_and_sorted(store: ArtifactStore) -> None:
    paths = ["z.txt", "MLmodel", "data/b/2.bin", "data/a.bin", "data/b/1.bin", "a b/ü.txt"]
    for path in paths:
        store.write_bytes(key(path), path.encode())
    listed = store.list(PREFIX)
    assert [item.key for item in listed] == sorted(key(path) for path in paths)
    assert {item.key: item.size for item in listed} == {
        key(path): len(path.encode()) for path in paths
    }
    assert [item.key for item in store.list(PREFIX + "data/b/")] == [
        key("data/b/1.bin"),
        key("data/b/2.bin"),
    ]


def test_list_does_not_match_sibling_versions(store: ArtifactStore) -> None:
    store.write_bytes(file_key(MODEL, 1, "a"), b"1")
    store.write_bytes(file_key(MODEL, 10, "a"), b"10")
    assert [item.key for item in store.list(version_prefix(MODEL, 1))] == [file_key(MODEL, 1, "a")]


def test_list_of_missing_prefix_is_empty(store: ArtifactStore) -> None:
    assert store.list(PREFIX) == []
    assert store.list("") == []


def test_list_everything(store: ArtifactStore) -> None:
    store.write_bytes(file_key(MODEL, 1, "a"), b"1")
    store.write_bytes(file_key(MODEL, 2, "a"), b"2")
    assert [item.key for item in store.list("")] == [
        file_key(MODEL, 1, "a"),
        file_key(MODEL, 2, "a"),
    ]


def test_delete_prefix_counts_and_is_idempotent(store: ArtifactStore) -> None:
    for path in ["MLmodel", "data/a", "data/b/c"]:
        store.write_bytes(key(path), b"x")
    store.write_bytes(file_key(MODEL, 2, "MLmodel"), b"kept")
    assert store.delete_prefix(PREFIX) == 3
    assert store.list(PREFIX) == []
    assert store.delete_prefix(PREFIX) == 0
    assert store.read_bytes(file_key(MODEL, 2, "MLmodel")) == b"kept"


def test_delete_prefix_in_batches(store: ArtifactStore, monkeypatch: pytest.MonkeyPatch) -> None:
    # S3 takes at most 1,000 keys a DeleteObjects request (its documented maximum); a batch of
    # four splits ten objects the same way (4 + 4 + 2) as 1,000 splits 2,005.
    assert s3.DELETE_BATCH == 1000
    monkeypatch.setattr(s3, "DELETE_BATCH", 4)
    for index in range(10):
        store.write_bytes(key(f"shards/{index:04d}"), b"")
    assert store.delete_prefix(PREFIX) == 10
    assert store.list("") == []


@pytest.mark.parametrize("prefix", ["", "/", MODEL, f"{MODEL}/1", "../", f"{MODEL}//"])
def test_delete_prefix_refuses_unconfined_prefixes(store: ArtifactStore, prefix: str) -> None:
    with pytest.raises(InvalidPath):
        store.delete_prefix(prefix)


UNCONFINED_KEYS = ["", "/etc/passwd", "../escape", f"{MODEL}/1/../../x", "a//b", "a\\b", "a\0b"]


@pytest.mark.parametrize("bad_key", UNCONFINED_KEYS)
def test_store_refuses_unconfined_keys(store: ArtifactStore, bad_key: str) -> None:
    with pytest.raises(InvalidPath):
        store.write_bytes(bad_key, b"x")
    with pytest.raises(InvalidPath):
        store.open_writer(bad_key)
    with pytest.raises(InvalidPath):
        store.read_bytes(bad_key)
    with pytest.raises(InvalidPath):
        store.iter_bytes(bad_key)
    with pytest.raises(InvalidPath):
        store.stat(bad_key)
    with pytest.raises(InvalidPath):
        store.local_path(bad_key)
    assert store.list("") == []


def test_location_uri_names_the_prefix(store: ArtifactStore) -> None:
    location = store.location_uri(PREFIX)
    assert location.startswith(store.uri + "/")
    assert location.endswith(f"/{MODEL}/1/")
    assert store.location_uri("") == store.uri


def test_recorded_sha256_is_the_writers_digest(store: ArtifactStore) -> None:
    written = store.write_bytes(key("model.pkl"), b"pickled bytes")
    assert store.recorded_sha256(key("model.pkl")) == written.sha256


def test_rewriting_an_object_records_the_new_digest(store: ArtifactStore) -> None:
    store.write_bytes(key("model.pkl"), b"first")
    store.write_bytes(key("model.pkl"), b"second")
    assert store.recorded_sha256(key("model.pkl")) == hashlib.sha256(b"second").hexdigest()


def test_recorded_sha256_of_a_missing_object_raises(store: ArtifactStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.recorded_sha256(key("absent"))
