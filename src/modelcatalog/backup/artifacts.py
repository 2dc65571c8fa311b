"""The artifact store in a backup: the manifest of every stored version's files, read from the
database snapshot itself (the catalog's own manifests, made at finalize), the files copied out
of a local store and back into any store, and the check that a store holds them all.

Only READY versions have files the catalog vouches for. A version still uploading when the
snapshot was taken is restored as it was, PENDING_REGISTRATION, without files: its client
uploads and finalizes again, as after any interrupted upload. A version deleted while the files
are copied (after the snapshot) has no files left to copy: the backup marks it, and restore
names it, so that it is deleted again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, select

from modelcatalog.backup.folder import (
    CHUNK,
    BackupFailed,
    Draft,
    FileEntry,
    Tracker,
    private_file,
)
from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.storage import (
    ArtifactStore,
    InvalidPath,
    ObjectNotFound,
    StorageError,
    file_key,
)
from modelcatalog.store import tables as t

MANIFEST = "artifacts.json"
FILES = "artifacts"


@dataclass(frozen=True)
class StoredFile:
    path: str
    size: int
    sha256: str


@dataclass
class StoredVersion:
    """A READY version and the files its manifest lists."""

    model: str
    model_id: str
    version: int
    files: list[StoredFile] = field(default_factory=list)
    #: Deleted from the catalog after the snapshot, before its files were copied.
    deleted_during_backup: bool = False

    @property
    def name(self) -> str:
        return f"{self.model} version {self.version}"

    def key(self, file: StoredFile) -> str:
        return file_key(self.model_id, self.version, file.path)


@dataclass
class ArtifactManifest:
    """Every READY version's files, as the catalog recorded them."""

    storage_root: str
    versions: list[StoredVersion]

    @property
    def file_count(self) -> int:
        return sum(len(v.files) for v in self.versions)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for v in self.versions for f in v.files)

    def to_json(self) -> str:
        return (
            json.dumps(
                {
                    "storage_root": self.storage_root,
                    "versions": [
                        {
                            "model": v.model,
                            "model_id": v.model_id,
                            "version": v.version,
                            **({"deleted_during_backup": True} if v.deleted_during_backup else {}),
                            "files": [
                                {"path": f.path, "size": f.size, "sha256": f.sha256}
                                for f in v.files
                            ],
                        }
                        for v in self.versions
                    ],
                },
                indent=1,
            )
            + "\n"
        )

    @classmethod
    def from_json(cls, text: str) -> ArtifactManifest:
        try:
            document = json.loads(text)
            manifest = cls(
                storage_root=str(document["storage_root"]),
                versions=[
                    StoredVersion(
                        model=str(v["model"]),
                        model_id=str(v["model_id"]),
                        version=int(v["version"]),
                        deleted_during_backup=bool(v.get("deleted_during_backup", False)),
                        files=[
                            StoredFile(str(f["path"]), int(f["size"]), str(f["sha256"]))
                            for f in v["files"]
                        ],
                    )
                    for v in document["versions"]
                ],
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise BackupFailed(f"{MANIFEST} is not an artifact manifest ({exc})") from None
        for version in manifest.versions:
            for file in version.files:
                try:
                    version.key(file)
                except InvalidPath as exc:
                    raise BackupFailed(
                        f"{MANIFEST} names a file outside its version: {exc}"
                    ) from None
        return manifest


def still_ready(connection: Connection, version: StoredVersion) -> bool:
    """Whether the version is READY in the database as this connection sees it now."""
    status = connection.scalar(
        select(t.ModelVersion.status).where(
            t.ModelVersion.model_id == version.model_id, t.ModelVersion.version == version.version
        )
    )
    return status == VersionStatus.READY


def read_manifest(connection: Connection, storage_root: str) -> ArtifactManifest:
    """The artifact manifest of the database as this connection sees it (one snapshot)."""
    rows = connection.execute(
        select(
            t.Catalog.name,
            t.Schema.name,
            t.RegisteredModel.name,
            t.ModelVersion.id,
            t.ModelVersion.model_id,
            t.ModelVersion.version,
        )
        .join(t.RegisteredModel, t.RegisteredModel.id == t.ModelVersion.model_id)
        .join(t.Schema, t.Schema.id == t.RegisteredModel.schema_id)
        .join(t.Catalog, t.Catalog.id == t.Schema.catalog_id)
        .where(t.ModelVersion.status == VersionStatus.READY)
        .order_by(t.Catalog.name, t.Schema.name, t.RegisteredModel.name, t.ModelVersion.version)
    ).all()
    files: dict[str, list[StoredFile]] = {}
    for version_id, path, size, sha256 in connection.execute(
        select(
            t.VersionFile.version_id, t.VersionFile.path, t.VersionFile.size, t.VersionFile.sha256
        )
        .join(t.ModelVersion, t.ModelVersion.id == t.VersionFile.version_id)
        .where(t.ModelVersion.status == VersionStatus.READY)
        .order_by(t.VersionFile.version_id, t.VersionFile.path)
    ):
        files.setdefault(version_id, []).append(StoredFile(path, size, sha256))
    return ArtifactManifest(
        storage_root=storage_root,
        versions=[
            StoredVersion(f"{c}.{s}.{m}", model_id, version, files.get(version_id, []))
            for c, s, m, version_id, model_id, version in rows
        ],
    )


def copy_out(
    store: ArtifactStore,
    manifest: ArtifactManifest,
    draft: Draft,
    tracker: Tracker,
    still_ready: Callable[[StoredVersion], bool],
) -> None:
    """Copy every listed file from `store` into the draft, checking each against the catalog's
    sha256 as it is read: a backup of bytes that differ from what was finalized is refused.

    A file that is gone belongs to a version deleted since the snapshot (`still_ready` asks the
    live database): that version is marked; any other missing file fails the backup."""
    tracker.step("copying the artifacts", manifest.total_bytes)
    for version in manifest.versions:
        first = len(draft.manifest_files)
        try:
            for file in version.files:
                _copy_file(store, version, file, draft, tracker)
        except ObjectNotFound as missing:
            if still_ready(version):
                raise BackupFailed(
                    f"{version.name}: {missing.key} is missing from the artifact store "
                    f"({store.uri}) although the version is READY"
                ) from None
            version.deleted_during_backup = True
            tracker.note(
                f"{version.name} was deleted while the backup ran: it is in the database "
                "snapshot without its files, and restore will name it"
            )
            for entry in draft.manifest_files[first:]:
                (draft.path / entry.path).unlink()
            del draft.manifest_files[first:]


def _copy_file(
    store: ArtifactStore, version: StoredVersion, file: StoredFile, draft: Draft, tracker: Tracker
) -> None:
    key = version.key(file)
    relative = f"{FILES}/{key}"
    digest = hashlib.sha256()
    size = 0
    try:
        with private_file(draft.path / relative) as handle:
            for chunk in store.iter_bytes(key, chunk_size=CHUNK):
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                tracker.advance(len(chunk))
            handle.flush()
            os.fsync(handle.fileno())
    except ObjectNotFound:
        (draft.path / relative).unlink(missing_ok=True)
        raise
    if (size, digest.hexdigest()) != (file.size, file.sha256):
        raise BackupFailed(
            f"{version.name}: {file.path} in the artifact store is not what was finalized "
            f"({size} bytes, sha256 differs from the catalog's manifest)"
        )
    draft.add_known(FileEntry(relative, size, file.sha256))


def copy_in(
    backup: Path, manifest: ArtifactManifest, store: ArtifactStore, tracker: Tracker
) -> None:
    """Write every file of the backup into `store` (each one atomically, under its key)."""
    tracker.step("restoring the artifacts", manifest.total_bytes)
    for version in manifest.versions:
        if version.deleted_during_backup:
            continue
        for file in version.files:
            key = version.key(file)
            with open(backup / FILES / key, "rb") as source, store.open_writer(key) as writer:
                while chunk := source.read(CHUNK):
                    writer.write(chunk)
                    tracker.advance(len(chunk))
            if writer.result.sha256 != file.sha256:
                raise BackupFailed(f"{FILES}/{key}: what was written differs from the manifest")


@dataclass
class StoreCheck:
    """What a store lacks of a manifest: files missing, and files that differ."""

    checked: int = 0
    missing: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.different


def nothing_stored(manifest: ArtifactManifest) -> StoreCheck:
    """The check of a store that does not exist: every listed file is missing."""
    names = [f"{v.name}: {f.path}" for v in manifest.versions for f in v.files]
    return StoreCheck(checked=len(names), missing=names)


def check_store(
    store: ArtifactStore, manifest: ArtifactManifest, tracker: Tracker, *, deep: bool = False
) -> StoreCheck:
    """Whether `store` holds every listed file: its size, and its sha256 where the store
    recorded one (every file when `deep`, reading the bytes)."""
    result = StoreCheck()
    tracker.step("checking the artifact store", manifest.file_count, unit="files")
    for version in manifest.versions:
        for file in version.files:
            key = version.key(file)
            name = f"{version.name}: {file.path}"
            if version.deleted_during_backup:
                name += " (the version was deleted while the backup ran: delete it again)"
            result.checked += 1
            tracker.advance(1)
            try:
                found = store.stat(key)
                if found.size != file.size:
                    result.different.append(f"{name} ({found.size} bytes, expected {file.size})")
                    continue
                digest = _read_digest(store, key) if deep else store.recorded_sha256(key)
            except ObjectNotFound:
                result.missing.append(name)
                continue
            except StorageError as exc:
                raise BackupFailed(f"reading {store.uri}: {exc}") from exc
            if digest is not None and digest != file.sha256:
                result.different.append(f"{name} (sha256 differs)")
    return result


def _read_digest(store: ArtifactStore, key: str) -> str:
    digest = hashlib.sha256()
    for chunk in store.iter_bytes(key, chunk_size=CHUNK):
        digest.update(chunk)
    return digest.hexdigest()
