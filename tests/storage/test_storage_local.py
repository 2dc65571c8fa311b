"""What only the local store does: atomic renames, temporary files, hard-linked mirrors."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modelcatalog.storage import (
    ObjectNotFound,
    PathConflict,
    StorageError,
    file_key,
    version_prefix,
)
from modelcatalog.storage.local import DIGEST_ATTRIBUTE, TEMP_PREFIX, LocalArtifactStore

MODEL = "0123456789abcdef0123456789abcdef"
SOURCE = version_prefix(MODEL, 1)
MIRROR = "mirrors/abc/"


def key(path: str) -> str:
    return file_key(MODEL, 1, path)


def files_under(root: Path) -> list[str]:
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


def test_objects_are_plain_files_below_root(local_store: LocalArtifactStore) -> None:
    local_store.write_bytes(key("data/x.bin"), b"x")
    path = local_store.root / MODEL / "1" / "data" / "x.bin"
    assert path.read_bytes() == b"x"
    assert local_store.local_path(key("data/x.bin")) == path
    assert local_store.uri == local_store.root.as_uri()
    assert local_store.location_uri(SOURCE) == (local_store.root / MODEL / "1").as_uri() + "/"


def test_local_path_of_missing_object_raises(local_store: LocalArtifactStore) -> None:
    with pytest.raises(ObjectNotFound):
        local_store.local_path(key("missing"))


def test_exception_inside_writer_leaves_no_file_at_all(local_store: LocalArtifactStore) -> None:
    with pytest.raises(OSError):
        with local_store.open_writer(key("model.bin")) as writer:
            writer.write(b"partial")
            raise OSError("disk full")
    assert not (local_store.root / key("model.bin")).exists()
    assert files_under(local_store.root) == []


def test_file_appears_under_its_name_only_on_commit(local_store: LocalArtifactStore) -> None:
    final = local_store.root / key("model.bin")
    with local_store.open_writer(key("model.bin")) as writer:
        writer.write(b"partial")
        assert not final.exists()
        assert local_store.list(SOURCE) == []
    assert final.read_bytes() == b"partial"


def test_fsync_precedes_the_rename(
    local_store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync")
        real_fsync(fd)

    def replace(source: str, target: str) -> None:
        events.append("replace")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    local_store.write_bytes(key("a"), b"a")
    assert events[:2] == ["fsync", "replace"]


def test_process_killed_mid_write_leaves_only_a_hidden_temp_file(
    local_store: LocalArtifactStore,
) -> None:
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from modelcatalog.storage.local import LocalArtifactStore
        writer = LocalArtifactStore(Path({str(local_store.root)!r})).open_writer({key("m")!r})
        writer.write(b"half a model")
        writer._file.flush()
        os._exit(9)  # no cleanup of any kind, like a power cut after the bytes hit the disk
        """
    )
    result = subprocess.run([sys.executable, "-c", script], check=False)
    assert result.returncode == 9
    leftovers = files_under(local_store.root)
    assert len(leftovers) == 1
    assert Path(leftovers[0]).name.startswith(TEMP_PREFIX)
    with pytest.raises(ObjectNotFound):
        local_store.stat(key("m"))
    assert local_store.list("") == []

    assert local_store.sweep_temp(older_than_seconds=3600) == 0  # too recent: may be in flight
    assert local_store.sweep_temp(older_than_seconds=-1) == 1
    assert files_under(local_store.root) == []


def test_committed_files_are_read_only(local_store: LocalArtifactStore) -> None:
    local_store.write_bytes(key("a"), b"a")
    mode = (local_store.root / key("a")).stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_symlink_is_not_an_object(local_store: LocalArtifactStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"secret")
    folder = local_store.root / MODEL / "1"
    folder.mkdir(parents=True)
    (folder / "link").symlink_to(outside)
    with pytest.raises(ObjectNotFound):
        local_store.read_bytes(key("link"))
    with pytest.raises(ObjectNotFound):
        local_store.stat(key("link"))
    assert local_store.list("") == []


def test_a_key_that_becomes_a_folder_while_written_is_a_conflict(
    local_store: LocalArtifactStore,
) -> None:
    writer = local_store.open_writer(key("MLmodel"))
    writer.write(b"flavors: {}")
    local_store.write_bytes(key("MLmodel/x"), b"x")  # a concurrent writer wins the path
    with pytest.raises(PathConflict) as raised:
        writer.commit()
    assert (raised.value.blocking, raised.value.is_folder) == (key("MLmodel/x"), True)
    assert local_store.read_bytes(key("MLmodel/x")) == b"x"
    assert [item.key for item in local_store.list(SOURCE)] == [key("MLmodel/x")]


def write_source(store: LocalArtifactStore) -> dict[str, bytes]:
    contents = {"MLmodel": b"flavors: {}", "data/model.pkl": b"\x00" * 1000, "data/x/y": b"y"}
    for path, data in contents.items():
        store.write_bytes(key(path), data)
    return contents


def test_link_tree_mirrors_with_hard_links(local_store: LocalArtifactStore) -> None:
    contents = write_source(local_store)
    assert local_store.link_tree(SOURCE, MIRROR) == 3
    for path, data in contents.items():
        mirrored = local_store.root / MIRROR / path
        assert mirrored.read_bytes() == data
        assert mirrored.stat().st_ino == (local_store.root / key(path)).stat().st_ino


def test_deleting_the_mirror_keeps_the_original(local_store: LocalArtifactStore) -> None:
    contents = write_source(local_store)
    local_store.link_tree(SOURCE, MIRROR)
    shutil.rmtree(local_store.root / MIRROR)
    for path, data in contents.items():
        assert local_store.read_bytes(key(path)) == data


def test_mirror_files_cannot_be_rewritten_in_place(local_store: LocalArtifactStore) -> None:
    write_source(local_store)
    local_store.link_tree(SOURCE, MIRROR)
    mirrored = local_store.root / MIRROR / "MLmodel"
    assert not mirrored.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    if os.geteuid() != 0:  # root ignores file permissions; the mode above is what we control
        with pytest.raises(PermissionError):
            mirrored.write_bytes(b"tampered")


def test_link_tree_replaces_what_was_there(local_store: LocalArtifactStore) -> None:
    write_source(local_store)
    local_store.write_bytes(MIRROR + "stale.txt", b"stale")
    local_store.write_bytes(MIRROR + "MLmodel", b"old")
    local_store.link_tree(SOURCE, MIRROR)
    assert files_under(local_store.root / MIRROR) == ["MLmodel", "data/model.pkl", "data/x/y"]
    assert (local_store.root / MIRROR / "MLmodel").read_bytes() == b"flavors: {}"
    assert files_under(local_store.root / "mirrors") == [
        f"abc/{path}" for path in ["MLmodel", "data/model.pkl", "data/x/y"]
    ]


def test_link_tree_copies_when_hard_links_are_refused(
    local_store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    contents = write_source(local_store)

    def refuse(source: object, target: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", refuse)
    assert local_store.link_tree(SOURCE, MIRROR) == 3
    for path, data in contents.items():
        mirrored = local_store.root / MIRROR / path
        assert mirrored.read_bytes() == data
        assert mirrored.stat().st_ino != (local_store.root / key(path)).stat().st_ino
    shutil.rmtree(local_store.root / MIRROR)
    assert local_store.read_bytes(key("MLmodel")) == contents["MLmodel"]


def test_link_tree_failure_leaves_no_staging_folder(
    local_store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_source(local_store)

    def fail(source: object, target: object) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "link", fail)
    with pytest.raises(StorageError, match="I/O error"):
        local_store.link_tree(SOURCE, MIRROR)
    assert list((local_store.root / "mirrors").iterdir()) == []


def test_link_tree_of_empty_source_makes_empty_mirror(local_store: LocalArtifactStore) -> None:
    assert local_store.link_tree(SOURCE, MIRROR) == 0
    assert (local_store.root / MIRROR).is_dir()
    assert local_store.list(MIRROR) == []


@pytest.mark.parametrize(
    ("source", "mirror"),
    [(SOURCE, SOURCE), (SOURCE, SOURCE + "mirror/"), (SOURCE + "data/", SOURCE)],
    ids=["same", "mirror-inside-source", "source-inside-mirror"],
)
def test_link_tree_refuses_overlapping_prefixes(
    local_store: LocalArtifactStore, source: str, mirror: str
) -> None:
    with pytest.raises(ValueError, match="overlap"):
        local_store.link_tree(source, mirror)


def test_staging_folders_are_not_listed_and_are_swept(local_store: LocalArtifactStore) -> None:
    staging = local_store.root / "mirrors" / f"{TEMP_PREFIX}abc"
    staging.mkdir(parents=True)
    (staging / "MLmodel").write_bytes(b"x")
    assert local_store.list("") == []
    assert local_store.sweep_temp(older_than_seconds=-1) == 1
    assert not staging.exists()


def test_hands_out_folders_and_an_empty_folder_is_a_folder(
    local_store: LocalArtifactStore,
) -> None:
    assert local_store.hands_out_folders is True
    assert local_store.link_tree(SOURCE, MIRROR) == 0
    assert local_store.has_folder(MIRROR)
    (local_store.root / "elsewhere").mkdir()
    (local_store.root / "link").symlink_to(local_store.root / "elsewhere")
    assert not local_store.has_folder("link/")


def test_root_is_created(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    assert store.list("") == []


def test_a_file_changed_behind_the_store_has_no_recorded_digest(
    local_store: LocalArtifactStore,
) -> None:
    key = file_key(MODEL, 1, "weights.bin")
    local_store.write_bytes(key, b"original")
    path = local_store.root / key
    written = path.stat().st_mtime_ns
    os.chmod(path, 0o644)
    with open(path, "r+b") as handle:  # same size, other bytes, written in place
        handle.write(b"ORIGINAL")
    # An edit made later; the kernel's coarse clock could give one made in the same tick the
    # same time, so the test states the time instead of depending on the tick.
    os.utime(path, ns=(written + 10**9, written + 10**9))
    assert local_store.recorded_sha256(key) is None


def test_a_forged_digest_needs_the_files_own_size_and_time(
    local_store: LocalArtifactStore,
) -> None:
    key = file_key(MODEL, 1, "weights.bin")
    local_store.write_bytes(key, b"original")
    path = local_store.root / key
    os.setxattr(path, DIGEST_ATTRIBUTE, b"0" * 64 + b" 8 1")
    assert local_store.recorded_sha256(key) is None


def test_a_file_system_without_user_attributes_records_nothing(
    local_store: LocalArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(os, "setxattr", unsupported)
    key = file_key(MODEL, 1, "MLmodel")
    local_store.write_bytes(key, b"flavors: {}\n")
    assert local_store.read_bytes(key) == b"flavors: {}\n"
    assert local_store.recorded_sha256(key) is None


def test_move_prefix_is_one_rename_of_the_folder(local_store: LocalArtifactStore) -> None:
    local_store.write_bytes(key("MLmodel"), b"m")
    moved_inode = (local_store.root / key("MLmodel")).stat().st_ino
    assert local_store.move_prefix(SOURCE, "quarantine/a/") == 1
    assert not (local_store.root / SOURCE).exists()
    assert (local_store.root / "quarantine/a/MLmodel").stat().st_ino == moved_inode


def test_place_renames_and_never_merges_into_an_existing_folder(
    local_store: LocalArtifactStore,
) -> None:
    with local_store.open_writer("_import/a/1/MLmodel", durable=False) as writer:
        writer.write(b"m")
    inode = (local_store.root / "_import/a/1/MLmodel").stat().st_ino
    local_store.write_bytes(key("MLmodel"), b"already there")
    with pytest.raises(StorageError):
        local_store.place([("_import/a/1/", SOURCE)])
    assert local_store.read_bytes(key("MLmodel")) == b"already there"
    local_store.delete_prefix(SOURCE)
    assert local_store.place([("_import/a/1/", SOURCE)]) == 1
    assert (local_store.root / key("MLmodel")).stat().st_ino == inode
    assert local_store.recorded_sha256(key("MLmodel")) is not None


def test_move_prefix_never_merges_into_an_existing_folder(
    local_store: LocalArtifactStore,
) -> None:
    local_store.write_bytes(key("MLmodel"), b"m")
    local_store.write_bytes("quarantine/a/other", b"o")
    with pytest.raises(StorageError):
        local_store.move_prefix(SOURCE, "quarantine/a/")
    assert local_store.read_bytes(key("MLmodel")) == b"m"
