"""`modelcatalog backup`: one consistent backup of a running (or stopped) catalog."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from modelcatalog import __version__
from modelcatalog.backup import artifacts, database
from modelcatalog.backup.artifacts import ArtifactManifest, StoredVersion
from modelcatalog.backup.folder import (
    BackupInputError,
    Draft,
    Manifest,
    Tracker,
    counted,
    draft_folder,
    private_file,
)
from modelcatalog.backup.secret_key import (
    FROM_ENVIRONMENT,
    FROM_FILE,
    check_opens,
    current_key,
)
from modelcatalog.config import ServerSettings
from modelcatalog.service.secrets import KEY_ENV
from modelcatalog.storage import open_store
from modelcatalog.store.database import create_database_engine

SECRET_KEY_FILE = "secret-key"
S3_NOTE = (
    "the files in {root} are not copied: back the bucket up by its own means (versioning, "
    "replication); the backup lists every file with its size and sha256, and `modelcatalog "
    "restore --verify-only` checks a bucket against that list"
)


def local_root(storage_root: str) -> Path | None:
    """The folder of a local artifact store (None for a bucket), found without creating it."""
    if "://" not in storage_root:
        return Path(storage_root).expanduser().absolute()
    parts = urlsplit(storage_root)
    return Path(unquote(parts.path)) if parts.scheme == "file" else None


def is_local_store(storage_root: str) -> bool:
    return local_root(storage_root) is not None


def take_backup(
    settings: ServerSettings,
    to: Path,
    *,
    with_artifacts: bool,
    tracker: Tracker,
    pg_bin: Path | None = None,
) -> Manifest:
    """Write a backup of the catalog these settings name into the new folder `to`."""
    local = is_local_store(settings.storage_root)
    if with_artifacts and not local:
        raise BackupInputError(
            "--with-artifacts copies a local artifact folder; "
            + S3_NOTE.format(root=settings.storage_root)
        )
    key = current_key(settings.secret_key_file)
    with draft_folder(to) as draft:
        snapshot = database.snapshot(
            settings.database_uri, settings.storage_root, draft, tracker, pg_bin
        )
        # A backup whose key cannot open the stored secrets would lose them on restore: refused
        # now, while the server that knows the right key is still there.
        check_opens(key, snapshot.secrets, "cannot back up the secret key")
        if key.source == FROM_FILE and key.value is not None:
            with private_file(draft.path / SECRET_KEY_FILE) as handle:
                handle.write(key.value + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            draft.add(SECRET_KEY_FILE)
        elif key.source == FROM_ENVIRONMENT:
            tracker.note(
                f"The secret key comes from {KEY_ENV} and is not in the backup: keep it safe. "
                f"Restore needs it in {KEY_ENV} to open what is stored encrypted "
                f"({counted(len(snapshot.secrets), 'secret')} now; the backup records the key's "
                f"fingerprint {key.fingerprint})."
            )
        if with_artifacts:
            _copy_artifacts(settings, snapshot.artifacts, draft, tracker)
        elif not local:
            tracker.note(S3_NOTE.format(root=settings.storage_root).capitalize() + ".")
        # Written after the copy, which marks the versions deleted while it ran.
        with private_file(draft.path / artifacts.MANIFEST) as handle:
            handle.write(snapshot.artifacts.to_json().encode())
        draft.add(artifacts.MANIFEST)
        manifest = Manifest(
            product_version=__version__,
            alembic_revision=snapshot.revision,
            database=snapshot.describe(),
            secret_key={
                "source": key.source,
                "included": key.source == FROM_FILE,
                "file": SECRET_KEY_FILE if key.source == FROM_FILE else None,
                "fingerprint": key.fingerprint,
                "stored_secrets": len(snapshot.secrets),
            },
            artifacts={
                "storage_root": settings.storage_root,
                "store": "local" if local else "s3",
                "manifest": artifacts.MANIFEST,
                "included": with_artifacts,
                "versions": len(snapshot.artifacts.versions),
                "files": snapshot.artifacts.file_count,
                "bytes": snapshot.artifacts.total_bytes,
                "deleted_during_backup": sum(
                    v.deleted_during_backup for v in snapshot.artifacts.versions
                ),
            },
        )
        tracker.step("writing the manifest")
        draft.publish(manifest)
    return manifest


def _copy_artifacts(
    settings: ServerSettings, listed: ArtifactManifest, draft: Draft, tracker: Tracker
) -> None:
    """Copy the listed files, asking the live database about any that went missing meanwhile."""
    engine = create_database_engine(settings.database_uri, for_writes=False)
    try:

        def still_ready(version: StoredVersion) -> bool:
            with engine.connect() as connection:
                return artifacts.still_ready(connection, version)

        artifacts.copy_out(open_store(settings.storage_root), listed, draft, tracker, still_ready)
    finally:
        engine.dispose()
