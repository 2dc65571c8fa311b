"""A version's files in the store: where they live for each status (the managed folder, the
read-only mirror of a READY version, the quarantine of a FAILED_REGISTRATION one), the signature
check and the manifest made at finalize, and their removal.

Where clients write to the store directly (a bucket, see `ArtifactStore.direct`), a PENDING
version's files are uploaded under `_uploads/<model>/<version>/`, the only prefix its write
credentials and URLs reach. Finalize seals them: a server-side copy into the version's own
folder, which no client can ever write, so that a READY version's files cannot change whatever
was issued before; the store computes each copy's sha256 as it copies."""

from __future__ import annotations

import hashlib

import yaml
from sqlalchemy import select

from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.stamps import new_id
from modelcatalog.service.views import ManifestEntry
from modelcatalog.storage import keys
from modelcatalog.storage.base import ArtifactStore, ObjectNotFound
from modelcatalog.store import tables as t
from modelcatalog.store.database import Database

__all__ = ["ManifestEntry"]

MIRROR_ROOT = "_mirror"
QUARANTINE_ROOT = "_quarantine"
UPLOAD_ROOT = "_uploads"
MAX_MLMODEL_BYTES = 10 * 1024 * 1024
SIGNATURE_RULE = (
    "All models in the Unity Catalog must be logged with a model signature containing both "
    "input and output type specifications. See "
    "https://mlflow.org/docs/latest/model/signatures.html#how-to-log-models-with-signatures "
    "for details on how to log a model with a signature"
)
# libyaml's loader when PyYAML was built with it: the same safe subset, several times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _mirror_prefix(model_id: str, version: int) -> str:
    return f"{MIRROR_ROOT}/{keys.version_prefix(model_id, version)}"


def upload_prefix(ctx: ServiceContext, model_id: str, version: int) -> str:
    """Where clients write a PENDING version's files: its upload folder where they write to the
    store directly, else the version's own folder (written through the catalog)."""
    if ctx.store.direct is not None:
        return f"{UPLOAD_ROOT}/{keys.version_prefix(model_id, version)}"
    return keys.version_prefix(model_id, version)


def version_location(ctx: ServiceContext, model_id: str, version: int, status: str) -> str:
    """The storage location reported for a version.

    Where clients open locations themselves (a local store), a READY version is reported at its
    hard-linked mirror: MLflow's `uc:` client may delete a folder it was handed, and deleting
    the mirror must never lose managed bytes. A FAILED_REGISTRATION version has no location:
    its files are in quarantine, and a client that wants to read them must ask for
    credentials, which are refused with the reason."""
    if status == VersionStatus.FAILED_REGISTRATION:
        return ""
    if status == VersionStatus.READY and ctx.store.hands_out_folders:
        return ctx.store.location_uri(_mirror_prefix(model_id, version))
    if status == VersionStatus.PENDING_REGISTRATION:
        return ctx.store.location_uri(upload_prefix(ctx, model_id, version))
    return ctx.store.location_uri(keys.version_prefix(model_id, version))


def _quarantine_root(model_id: str, version: int | None = None) -> str:
    if version is None:
        return f"{QUARANTINE_ROOT}/{model_id}/"
    return f"{QUARANTINE_ROOT}/{keys.version_prefix(model_id, version)}"


def quarantine_folder(model_id: str, version: int) -> str:
    """A new folder of the quarantine for a version's files (each move takes a new one)."""
    return f"{_quarantine_root(model_id, version)}{new_id()}/"


def quarantine_version(ctx: ServiceContext, model_id: str, version: int) -> int:
    """Move a FAILED_REGISTRATION version's files out of the folder they were written to, so
    that no path serves them any more, not even a direct read of its old `file:` location.

    Each call moves what is there to a new folder of the quarantine, so it can always be run
    again: after a crash, or after a client wrote into the old folder once more."""
    moved = 0
    prefixes = [keys.version_prefix(model_id, version)]
    if ctx.store.direct is not None:
        prefixes.append(upload_prefix(ctx, model_id, version))
    for prefix in prefixes:
        if ctx.store.list(prefix):
            moved += ctx.store.move_prefix(prefix, quarantine_folder(model_id, version))
    return moved


def seal_uploads(ctx: ServiceContext, model_id: str, version: int) -> int:
    """Copy a PENDING version's uploads into its own folder, server-side, where clients write
    to the store directly (no byte passes through the catalog); return how many files. Done
    before the checks and the manifest, which therefore see exactly what will be served."""
    if ctx.store.direct is None:
        return 0
    return ctx.store.direct.seal(
        upload_prefix(ctx, model_id, version), keys.version_prefix(model_id, version)
    )


def layout_problem(ctx: ServiceContext, model_id: str, version: int) -> str | None:
    """Why the uploaded files cannot be a version: a path that is both a file and a folder,
    which a bucket accepts from direct uploads but no folder of files can hold."""
    if ctx.store.direct is None:
        return None  # written through the catalog, which refuses such a path at once
    prefix = keys.version_prefix(model_id, version)
    paths = {obj.key[len(prefix) :] for obj in ctx.store.list(prefix)}
    for path in sorted(paths):
        for folder in keys.folders_of(path):
            if folder in paths:
                return (
                    f"The uploaded files cannot be registered: '{folder}' is a file and also a "
                    f"folder (it holds '{path}'); a path cannot be both."
                )
    return None


def publish_version(ctx: ServiceContext, model_id: str, version: int, status: str) -> None:
    """Make (or remake) the read-only mirror of a READY version, where clients open locations
    themselves; a version in any other status is never mirrored. Where clients write to the
    store directly, the uploads (sealed already) are discarded instead."""
    if status == VersionStatus.READY and ctx.store.direct is not None:
        ctx.store.delete_prefix(upload_prefix(ctx, model_id, version))
        return
    if status == VersionStatus.READY and ctx.store.hands_out_folders:
        ctx.store.link_tree(
            keys.version_prefix(model_id, version), _mirror_prefix(model_id, version)
        )


def settle_for_reading(ctx: ServiceContext, model_id: str, version: int, status: str) -> None:
    """Make a version's files what its status promises before the version is handed to a
    client that may open its location itself (only where the store hands out folders).

    A READY version's mirror is made again if a client deleted it; a FAILED_REGISTRATION
    version's files leave their folder if its finalize was cut short between its commit and
    the move. A mirror made for a version deleted meanwhile is removed again, so that no
    version that is not READY keeps one."""
    if not ctx.store.hands_out_folders:
        return
    if status == VersionStatus.FAILED_REGISTRATION:
        if ctx.store.has_folder(keys.version_prefix(model_id, version)):
            quarantine_version(ctx, model_id, version)
        return
    if status != VersionStatus.READY or ctx.store.has_folder(_mirror_prefix(model_id, version)):
        return
    publish_version(ctx, model_id, version, status)
    with ctx.db.read() as session:
        current = session.scalar(
            select(t.ModelVersion.status).where(
                t.ModelVersion.model_id == model_id, t.ModelVersion.version == version
            )
        )
    if current != VersionStatus.READY:
        ctx.store.delete_prefix(_mirror_prefix(model_id, version))


def signature_problem(ctx: ServiceContext, model_id: str, version: int) -> str | None:
    """Why the uploaded model may not become READY, in MLflow's own words; None if it may."""
    key = keys.version_prefix(model_id, version) + "MLmodel"
    try:
        raw = ctx.store.read_bytes(key, limit=MAX_MLMODEL_BYTES)
    except ObjectNotFound:
        raw = None
    return mlmodel_problem(raw)


def mlmodel_problem(raw: bytes | None) -> str | None:
    """Why a model whose MLmodel file holds `raw` (None: it has none) may not become READY, in
    MLflow's own words; None if it may."""
    if raw is None:
        return (
            "Model passed for registration has no MLmodel file at the root of its files, "
            "so it carries no signature metadata. " + SIGNATURE_RULE
        )
    try:
        document = yaml.load(raw, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        return f"The model's MLmodel file is not valid YAML ({exc}). " + SIGNATURE_RULE
    signature = document.get("signature") if isinstance(document, dict) else None
    if not isinstance(signature, dict) or not signature.get("inputs"):
        return (
            "Model passed for registration did not contain any signature metadata. "
            + SIGNATURE_RULE
        )
    if not signature.get("outputs") or signature.get("outputs") in ("null", "[]"):
        return (
            "Model passed for registration contained a signature that includes only "
            "inputs. " + SIGNATURE_RULE
        )
    return None


def compute_manifest(ctx: ServiceContext, model_id: str, version: int) -> list[ManifestEntry]:
    """Path, size and sha256 of every file of a version.

    A digest the store computed itself while writing the file (and still vouches for) is used
    as it is; any other file is read back and hashed."""
    prefix = keys.version_prefix(model_id, version)
    entries = []
    for obj in ctx.store.list(prefix):
        recorded = ctx.store.recorded_sha256(obj.key)
        if recorded is not None:
            entries.append(ManifestEntry(obj.key[len(prefix) :], obj.size, recorded))
            continue
        digest = hashlib.sha256()
        size = 0
        for chunk in ctx.store.iter_bytes(obj.key):
            digest.update(chunk)
            size += len(chunk)
        entries.append(ManifestEntry(obj.key[len(prefix) :], size, digest.hexdigest()))
    return entries


def sweep_uploads(store: ArtifactStore, db: Database) -> int:
    """Delete the upload folders of versions that are no longer PENDING (READY ones were sealed,
    FAILED ones quarantined, deleted ones are gone): what clients wrote with URLs or
    credentials issued before, or what a finalize cut short left. A PENDING version's uploads
    stay while it may still be finalized; deleting the version removes them. Returns how many
    folders went."""
    if store.direct is None:
        return 0
    found: set[tuple[str, int]] = set()
    for obj in store.list(f"{UPLOAD_ROOT}/"):
        parts = obj.key.split("/", 3)
        if len(parts) == 4 and parts[2].isdigit() and int(parts[2]) > 0:
            found.add((parts[1], int(parts[2])))
    removed = 0
    for model_id, version in sorted(found):
        try:
            prefix = f"{UPLOAD_ROOT}/{keys.version_prefix(model_id, version)}"
        except keys.InvalidPath:
            continue  # not a folder this catalog made
        with db.read() as session:
            status = session.scalar(
                select(t.ModelVersion.status).where(
                    t.ModelVersion.model_id == model_id, t.ModelVersion.version == version
                )
            )
        if status == VersionStatus.PENDING_REGISTRATION:
            continue
        store.delete_prefix(prefix)
        removed += 1
    return removed


def remove_version_files(ctx: ServiceContext, model_id: str, version: int) -> None:
    ctx.store.delete_prefix(f"{UPLOAD_ROOT}/{keys.version_prefix(model_id, version)}")
    ctx.store.delete_prefix(_mirror_prefix(model_id, version))
    ctx.store.delete_prefix(_quarantine_root(model_id, version))
    ctx.store.delete_prefix(keys.version_prefix(model_id, version))


def remove_model_files(ctx: ServiceContext, model_id: str) -> None:
    ctx.store.delete_prefix(f"{UPLOAD_ROOT}/{model_id}/")
    ctx.store.delete_prefix(f"{MIRROR_ROOT}/{model_id}/")
    ctx.store.delete_prefix(_quarantine_root(model_id))
    ctx.store.delete_prefix(f"{model_id}/")
