"""`modelcatalog restore`: a backup brought back into a new data folder and database.

Everything that can refuse the restore is checked before anything is written: the manifest and
every checksum, the schema revision, the kind of database, a target that already holds a
catalog (unless forced), the secret key the restored server will use, the PostgreSQL client
programs. Then the database, the secret key and the artifacts are written, the schema is
brought to this release's revision by the normal migrations, and the restored catalog is
checked: every stored version's files in its artifact store, every stored secret opened by its
key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from modelcatalog.backup import artifacts, database
from modelcatalog.backup.artifacts import ArtifactManifest, StoreCheck
from modelcatalog.backup.folder import (
    BackupFailed,
    BackupInputError,
    Manifest,
    Tracker,
    counted,
    open_backup,
)
from modelcatalog.backup.secret_key import (
    FROM_ENVIRONMENT,
    NONE,
    check_opens,
    current_key,
    describe,
    fingerprint,
    sealed_secrets,
    unopened,
)
from modelcatalog.backup.take import SECRET_KEY_FILE, local_root
from modelcatalog.config import ServerSettings
from modelcatalog.service.secrets import KEY_ENV
from modelcatalog.storage import open_store
from modelcatalog.store.database import create_database_engine, upgrade_schema


@dataclass
class RestoreReport:
    """What a restore (or a check) found."""

    manifest: Manifest
    store: StoreCheck
    notes: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.store.complete


def _artifact_manifest(backup: Path, manifest: Manifest) -> ArtifactManifest:
    name = str(manifest.artifacts.get("manifest") or artifacts.MANIFEST)
    manifest.entry(name)  # listed, hence checked
    return ArtifactManifest.from_json((backup / name).read_text())


def verify_backup(
    backup: Path, settings: ServerSettings, *, deep: bool, tracker: Tracker
) -> RestoreReport:
    """Check the backup's files and whether the artifact store these settings name holds every
    file the backup lists; change nothing."""
    manifest = open_backup(backup, tracker)
    listed = _artifact_manifest(backup, manifest)
    root = local_root(settings.storage_root)
    if root is not None and not root.is_dir():
        # Opening a local store makes its folder: a check changes nothing.
        return RestoreReport(manifest, artifacts.nothing_stored(listed))
    store = open_store(settings.storage_root)
    return RestoreReport(manifest, artifacts.check_store(store, listed, tracker, deep=deep))


def restore_backup(
    backup: Path,
    settings: ServerSettings,
    *,
    force: bool,
    accept_lost_secrets: bool,
    deep: bool,
    tracker: Tracker,
    pg_bin: Path | None = None,
) -> RestoreReport:
    """Restore the backup in `backup` to the data folder, database and store of `settings`."""
    manifest = open_backup(backup, tracker)
    listed = _artifact_manifest(backup, manifest)
    kind = str(manifest.database.get("kind"))
    _check_revision(manifest)
    target_kind = database.kind_of(settings.database_uri)
    if target_kind != kind:
        raise BackupInputError(
            f"the backup holds a {kind} database and --database-uri names a {target_kind} one; "
            f"restore it into {kind}"
        )
    with_artifacts = bool(manifest.artifacts.get("included"))
    _check_target(settings, with_artifacts, force)
    _check_key(manifest, settings, accept_lost_secrets)
    program = database.restore_program(
        kind, manifest.database.get("pg_dump_version"), settings.database_uri, pg_bin
    )
    # Listed in the manifest, hence checked.
    database_file = backup / manifest.entry(str(manifest.database.get("file"))).path
    key_file = manifest.entry(SECRET_KEY_FILE) if manifest.secret_key.get("included") else None
    notes: list[str] = []

    # Nothing was written until here.
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    database.restore(database_file, settings.database_uri, program, force=force, tracker=tracker)
    if key_file is not None:
        _write_key(backup / key_file.path, settings.secret_key_file)
    tracker.step("bringing the schema to this release's revision")
    engine = create_database_engine(settings.database_uri)
    try:
        upgrade_schema(engine)
        with engine.connect() as connection:
            secrets = sealed_secrets(connection)
    finally:
        engine.dispose()
    store = open_store(settings.storage_root)
    if with_artifacts:
        artifacts.copy_in(backup, listed, store, tracker)
    else:
        notes.append(
            "The artifact files are not in the backup (they were in "
            f"{manifest.artifacts.get('storage_root')}): {settings.storage_root} must hold them, "
            "copied or restored by the store's own means; the check below says whether it does."
        )
    check = artifacts.check_store(store, listed, tracker, deep=deep)
    deleted = [v.name for v in listed.versions if v.deleted_during_backup]
    if deleted:
        notes.append(
            f"deleted while the backup ran, after its database snapshot: "
            f"{counted(len(deleted), 'version')} ({', '.join(deleted[:5])}"
            f"{' ...' if len(deleted) > 5 else ''}), restored without files; delete them again "
            "(`modelcatalog versions delete`)."
        )
    key = current_key(settings.secret_key_file)
    lost = unopened(key.value, secrets)
    if lost and not accept_lost_secrets:
        # Checked before the restore began; reaching here means the key changed meanwhile.
        check_opens(key, secrets, "after the restore")
    if lost:
        notes.append(
            f"{counted(len(lost), 'stored secret')} cannot be opened ({describe(lost)}): set "
            "them again (`modelcatalog notifications create ... --secret-stdin`, "
            "`notifications smtp set`)."
        )
    return RestoreReport(manifest, check, notes)


def _check_revision(manifest: Manifest) -> None:
    revision = manifest.alembic_revision
    if not database.is_known_revision(revision):
        raise BackupFailed(
            f"the backup's database schema is at revision {revision!r}, which this release "
            f"does not know (its newest is {database.head_revision()!r}): the backup was made by "
            f"modelcatalog {manifest.product_version}; restore it with that release or a newer one"
        )


def _check_target(settings: ServerSettings, with_artifacts: bool, force: bool) -> None:
    """Refuse a target that holds a catalog already, unless forced."""
    if force:
        return
    held = database.occupied(settings.database_uri)
    if held is not None:
        raise BackupFailed(
            f"the target database is not empty ({held}); restore into a new, empty database, or "
            "give --force to replace what it holds (stop any server using it first)"
        )
    in_use = [
        path.name for path in (settings.secret_key_file, settings.admin_token_file) if path.exists()
    ]
    root = local_root(settings.storage_root)
    if with_artifacts and root is not None and root.is_dir():
        if any(path.is_file() for path in root.rglob("*")):
            in_use.append(f"files in {root}")
    if in_use:
        raise BackupFailed(
            f"the data folder {settings.data_dir} is in use ({', '.join(in_use)}); restore into "
            "a new folder, or give --force to replace what it holds"
        )


def _check_key(manifest: Manifest, settings: ServerSettings, accept_lost_secrets: bool) -> None:
    """Refuse a restore whose server would not open the stored secrets, unless accepted."""
    stored = int(manifest.secret_key.get("stored_secrets") or 0)
    expected = manifest.secret_key.get("fingerprint")
    source = manifest.secret_key.get("source")
    if stored == 0 or source == NONE or accept_lost_secrets:
        return
    given = os.environ.get(KEY_ENV, "").strip()
    if given and fingerprint(given.encode()) != expected:
        raise BackupFailed(
            f"{KEY_ENV} is set here to a key that is not the backup's (fingerprint "
            f"{fingerprint(given.encode())}, the backup's is {expected}): the restored server "
            f"would not open the {counted(stored, 'stored secret')}. "
            + (
                f"Unset {KEY_ENV} (the backup's key is restored to {settings.secret_key_file}) "
                if manifest.secret_key.get("included")
                else f"Set {KEY_ENV} to the key the backed-up server used "
            )
            + "or give --accept-lost-secrets"
        )
    if source == FROM_ENVIRONMENT and not given:
        raise BackupFailed(
            f"the backed-up server took its secret key from {KEY_ENV}, and the backup does not "
            f"hold it: set {KEY_ENV} to that key (fingerprint {expected}) for the restore and for "
            f"the restored server, or give --accept-lost-secrets to restore without the "
            f"{counted(stored, 'stored secret')}"
        )


def _write_key(source: Path, target: Path) -> None:
    """The key file, mode 600, written whole under another name and renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    draft = target.with_name(f".{target.name}.restoring-{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(source.read_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(draft, target)
    finally:
        draft.unlink(missing_ok=True)
