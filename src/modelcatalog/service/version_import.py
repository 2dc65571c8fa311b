"""Importing migrated versions: one streamed request creates, writes and finalizes small
versions of one model, in one transaction.

The body is an uncompressed tar stream:

- `versions.json` first: `{"versions": [{"version": 3, "origin": {...}, "source": ...,
  "run_id": ..., "comment": ..., "tags": {...}, "signature_waiver": ...}, ...]}`, the fields
  of the migration path (`POST /migration/versions`) without the model's name;
- each version's files, under its number (`3/MLmodel`, `3/model.pkl`, ...);
- `sha256.json` last: `{"3": {"MLmodel": "<sha256>", ...}, ...}`, the digest of every file the
  client sent, which it computes as it sends them.

The model is looked up and the caller authorized once, before any byte is written (ownership
of or MANAGE on the model, as for the migration path, which covers CREATE MODEL VERSION). Each
file is streamed into a staging folder of the request, hashed by the store on its way in. When
the stream has ended, the files received must be exactly those declared, each with the declared
sha256; then one transaction locks the model, creates each version (or finishes a PENDING one
of the same origin), checks its signature, records its manifest, emits its event, starts its
deployment run, writes the audit records of the call and of every version in one batch, and
moves each version's files into place before it commits.

A version already READY (or FAILED_REGISTRATION) with the same origin is answered as it is and
its files in the stream are skipped, so a rerun creates nothing twice; a version of another
origin refuses the whole call. Anything that fails before the commit creates no version: the
staging folder is removed (after a crash, swept an hour later with the other leftovers of
interrupted writes) and the versions are sent again.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelcatalog.domain import events as ev
from modelcatalog.domain import rules, text
from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.errors import Conflict, InvalidParameter, NotFound
from modelcatalog.service import audit, file_access, files, lookup, measures
from modelcatalog.service import events as model_events
from modelcatalog.service.audit import audited
from modelcatalog.service.bulk_files import refuse_clash
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments import jobs as deployment_jobs
from modelcatalog.service.migration_path import (
    ImportedFields,
    foreign_version,
    imported_fields,
    new_version_row,
    raise_last_version,
    same_origin,
)
from modelcatalog.service.operations import needed
from modelcatalog.service.stamps import new_id, now_ms
from modelcatalog.service.tags import change_tags
from modelcatalog.service.versions import version_views
from modelcatalog.service.views import ManifestEntry, VersionView
from modelcatalog.storage import keys
from modelcatalog.storage.base import ArtifactStore, PathConflict, StorageError
from modelcatalog.storage.tar_stream import FILE, TarFormatError, TarMember, TarReader
from modelcatalog.store import queries
from modelcatalog.store import tables as t
from modelcatalog.store.database import after_commit

FIELD = "body"
VERSIONS_MEMBER = "versions.json"
DIGESTS_MEMBER = "sha256.json"
MAX_DESCRIPTION_BYTES = 8 << 20
"""Largest `versions.json` or `sha256.json` accepted."""
MAX_VERSIONS = 1000
"""Versions one call may carry."""
MAX_DEPTH = 64
STAGING_ROOT = "_import"
"""Where a call's files wait for its transaction: `_import/<call id>/<version>/<path>`."""
ABANDONED_STAGING_SECONDS = 3600
"""A staging folder untouched this long belongs to a call that was killed."""

CREATED, RESUMED, PRESENT = "created", "resumed", "present"


@dataclass
class _Received:
    """What the stream brought for one version."""

    files: list[ManifestEntry] = field(default_factory=list)
    mlmodel: bytes | None = None
    mlmodel_too_large: bool = False


@dataclass(frozen=True)
class ImportedVersion:
    """One version of the call, as it stands after it."""

    outcome: str
    """"created", "resumed" (a PENDING version of the same origin finished) or "present" (it
    was READY or FAILED_REGISTRATION before the call, and left alone)."""
    version: VersionView
    manifest: list[ManifestEntry]
    """The files recorded for a READY version, by path; empty otherwise."""


@audited("importModelVersions", "registered_model", needs="manage_model")
def import_versions(
    ctx: ServiceContext, caller: Caller, full_name: object, body: BinaryIO
) -> list[ImportedVersion]:
    """Create, write and finalize the versions a tar stream carries (see the module's text);
    answers each version in the order `versions.json` lists them."""
    name = rules.model_name(full_name)
    reader = TarReader(body)
    members = iter(reader)
    wanted = _read_versions(reader, members)
    numbers = [f.number for f in wanted]
    audit.describe(versions=numbers)
    with ctx.db.read() as session:
        model = lookup.model_row(ctx, session, caller, name, needed())
        model_id = model.id
        found = _versions_of(session, model_id, numbers)
        for fields in wanted:
            row = found.get(fields.number)
            if row is not None and not same_origin(row, fields):
                raise foreign_version(name.full, fields.number)
        pending = VersionStatus.PENDING_REGISTRATION
        finished = {n for n, row in found.items() if row.status != pending}
    staging = f"{STAGING_ROOT}/{new_id()}/"
    try:
        received = _receive(ctx, reader, members, staging, wanted, finished)
        audit.describe(
            files=sum(len(r.files) for r in received.values()),
            bytes=sum(e.size for r in received.values() for e in r.files),
        )
        imported = _commit(ctx, caller, name, model_id, wanted, finished, received, staging)
    finally:
        ctx.store.delete_prefix(staging)  # whatever was not moved into place
    for item in imported:
        if item.outcome != PRESENT:
            files.publish_version(ctx, model_id, item.version.version, item.version.status)
    if any(i.outcome != PRESENT and i.version.status == VersionStatus.READY for i in imported):
        ctx.wake_engine()
    return imported


def sweep_abandoned(store: ArtifactStore, older_than_seconds: float) -> int:
    """Remove the staging folders of calls killed before they finished (nothing in them was
    ever part of a version); returns how many went."""
    cutoff = time.time() - older_than_seconds
    newest: dict[str, float] = {}
    for stored in store.list(f"{STAGING_ROOT}/"):
        folder = "/".join(stored.key.split("/")[:2]) + "/"
        newest[folder] = max(newest.get(folder, 0.0), stored.last_modified)
    old = [folder for folder, at in newest.items() if at < cutoff]
    for folder in old:
        store.delete_prefix(folder)
    return len(old)


# Reading the stream ---------------------------------------------------------------------------


def _read_versions(reader: TarReader, members: Iterator[TarMember]) -> list[ImportedFields]:
    """The first member, `versions.json`, checked field by field."""
    try:
        first = next(members, None)
        if first is None or first.name != VERSIONS_MEMBER or first.kind != FILE:
            raise TarFormatError(
                f"the archive must begin with the file '{VERSIONS_MEMBER}' describing the "
                "versions it carries"
            )
        document = _json_member(reader, first)
    except TarFormatError as exc:
        raise InvalidParameter(f"{exc}; no version was imported.", FIELD) from None
    listed = document.get("versions") if isinstance(document, dict) else None
    if not isinstance(listed, list) or not listed or len(listed) > MAX_VERSIONS:
        raise InvalidParameter(
            f"'{VERSIONS_MEMBER}' must be an object whose 'versions' lists 1 to {MAX_VERSIONS} "
            "versions.",
            "versions",
        )
    wanted: list[ImportedFields] = []
    for index, entry in enumerate(listed):
        prefix = f"versions[{index}]."
        if not isinstance(entry, dict):
            raise InvalidParameter(f"'versions[{index}]' must be an object.", f"versions[{index}]")
        unknown = sorted(set(entry) - _VERSION_FIELDS)
        if unknown:
            raise InvalidParameter(
                f"'versions[{index}]' has unknown fields {unknown}; allowed: "
                f"{', '.join(sorted(_VERSION_FIELDS))}.",
                f"versions[{index}]",
            )
        wanted.append(
            imported_fields(
                entry.get("version"),
                origin=entry.get("origin"),
                source=entry.get("source"),
                run_id=entry.get("run_id"),
                comment=entry.get("comment"),
                tags=entry.get("tags"),
                signature_waiver=entry.get("signature_waiver"),
                prefix=prefix,
            )
        )
    seen: set[int] = set()
    for fields in wanted:
        if fields.number in seen:
            raise InvalidParameter(
                f"'{VERSIONS_MEMBER}' lists version {fields.number} twice.", "versions"
            )
        seen.add(fields.number)
    return wanted


_VERSION_FIELDS = {
    "version",
    "origin",
    "source",
    "run_id",
    "comment",
    "tags",
    "signature_waiver",
}


def _json_member(reader: TarReader, member: TarMember) -> Any:
    if member.size > MAX_DESCRIPTION_BYTES:
        raise TarFormatError(
            f"member {member.index} '{member.name}' is {member.size} bytes long; the limit is "
            f"{MAX_DESCRIPTION_BYTES}"
        )
    raw = b"".join(reader.chunks(member))
    try:
        document = json.loads(raw)
    except RecursionError:
        raise TarFormatError(
            f"member {member.index} '{member.name}' nests deeper than {MAX_DEPTH} levels"
        ) from None
    except ValueError as exc:
        raise TarFormatError(f"member {member.index} '{member.name}' is not JSON: {exc}") from None
    problem = text.first_problem(document, member.name, max_depth=MAX_DEPTH)
    if problem is not None:
        raise TarFormatError(f"member {member.index}: {problem}")
    return document


def _receive(
    ctx: ServiceContext,
    reader: TarReader,
    members: Iterator[TarMember],
    staging: str,
    wanted: list[ImportedFields],
    finished: set[int],
) -> dict[int, _Received]:
    """Stream every version's files into the staging folder (skipping those of versions already
    finished), then check them against `sha256.json`; by version number."""
    received = {f.number: _Received() for f in wanted if f.number not in finished}
    seen: dict[int, set[str]] = {f.number: set() for f in wanted}
    folders: dict[int, set[str]] = {f.number: set() for f in wanted}
    declared: Any = None
    try:
        for member in members:
            if declared is not None:
                raise TarFormatError(
                    f"member {member.index} '{member.name}' follows '{DIGESTS_MEMBER}', which "
                    "must be the last member"
                )
            if member.name == DIGESTS_MEMBER and member.kind == FILE:
                declared = _json_member(reader, member)
                continue
            number, path = _member_path(member, seen)
            if member.kind != FILE:
                folders[number].add(path)
                continue
            refuse_clash(member.index, path, seen[number], folders[number])
            if number in received:
                _write(ctx, reader, member, f"{staging}{number}/", path, received[number])
        if declared is None:
            raise TarFormatError(
                f"the archive ended without '{DIGESTS_MEMBER}', the sha256 of every file sent"
            )
    except TarFormatError as exc:
        raise InvalidParameter(f"{exc}; no version was imported.", FIELD) from None
    _check_digests(declared, received)
    return received


def _member_path(member: TarMember, seen: dict[int, set[str]]) -> tuple[int, str]:
    """The version number and confined path a member's name holds (`<version>/<path>`)."""
    head, slash, rest = member.name.partition("/")
    number = int(head) if head.isascii() and head.isdigit() else None
    if number not in seen or not slash:
        listed = ", ".join(str(n) for n in seen)
        raise TarFormatError(
            f"member {member.index} '{member.name}' is not under the number of a version "
            f"'{VERSIONS_MEMBER}' lists ({listed}); a file is named '<version>/<path>'"
        )
    assert number is not None
    try:
        return number, keys.confine(rest)
    except keys.InvalidPath as exc:
        raise TarFormatError(f"member {member.index} '{member.name}': {exc}") from None


def _write(
    ctx: ServiceContext,
    reader: TarReader,
    member: TarMember,
    folder: str,
    path: str,
    into: _Received,
) -> None:
    keep = path == "MLmodel"
    if keep and member.size > files.MAX_MLMODEL_BYTES:
        keep, into.mlmodel_too_large = False, True
    kept: list[bytes] = []
    try:
        # Staged unflushed: `place` flushes the files of every version together.
        with ctx.store.open_writer(folder + path, durable=False) as writer:
            for chunk in reader.chunks(member):
                writer.write(chunk)
                if keep:
                    kept.append(chunk)
    except PathConflict as exc:
        message = file_access.path_conflict_message(exc)
        raise TarFormatError(f"member {member.index}: {message}") from None
    if keep:
        into.mlmodel = b"".join(kept)
    into.files.append(ManifestEntry(path, writer.result.size, writer.result.sha256))


def _check_digests(declared: Any, received: dict[int, _Received]) -> None:
    """The files received must be exactly those the client declared, with the same sha256."""
    if not isinstance(declared, dict) or not all(isinstance(v, dict) for v in declared.values()):
        raise InvalidParameter(
            f"'{DIGESTS_MEMBER}' must map each version's number to an object of path to sha256.",
            DIGESTS_MEMBER,
        )
    for number, got in received.items():
        expected = declared.get(str(number))
        if expected is None:
            raise InvalidParameter(
                f"'{DIGESTS_MEMBER}' has no entry for version {number}; no version was imported.",
                DIGESTS_MEMBER,
            )
        actual = {e.path: e.sha256 for e in got.files}
        lost = sorted(set(expected) - set(actual))
        if lost:
            raise InvalidParameter(
                f"Version {number}: the files {lost} are declared in '{DIGESTS_MEMBER}' but "
                "were not in the archive; no version was imported.",
                DIGESTS_MEMBER,
            )
        undeclared = sorted(set(actual) - set(expected))
        if undeclared:
            raise InvalidParameter(
                f"Version {number}: the files {undeclared} are in the archive but not declared "
                f"in '{DIGESTS_MEMBER}'; no version was imported.",
                DIGESTS_MEMBER,
            )
        for path, digest in sorted(actual.items()):
            if str(expected[path]).lower() != digest:
                raise InvalidParameter(
                    f"Version {number}, file '{path}': the server computed sha256 {digest}, "
                    f"but '{DIGESTS_MEMBER}' declares {expected[path]}: the file changed on its "
                    "way. No version was imported; send them again.",
                    DIGESTS_MEMBER,
                )


# The transaction ------------------------------------------------------------------------------


def _versions_of(session: Session, model_id: str, numbers: list[int]) -> dict[int, t.ModelVersion]:
    rows = session.scalars(
        select(t.ModelVersion).where(
            t.ModelVersion.model_id == model_id, t.ModelVersion.version.in_(numbers)
        )
    )
    return {row.version: row for row in rows}


def _problem(fields: ImportedFields, got: _Received) -> str | None:
    """Why the version may not become READY (as finalize says it), or None."""
    if fields.signature_waiver is not None:
        return None
    if got.mlmodel_too_large:
        return (
            f"The model's MLmodel file is larger than {files.MAX_MLMODEL_BYTES} bytes, so its "
            "signature cannot be read. " + files.SIGNATURE_RULE
        )
    return files.mlmodel_problem(got.mlmodel)


def _commit(
    ctx: ServiceContext,
    caller: Caller,
    name: rules.ModelName,
    model_id: str,
    wanted: list[ImportedFields],
    finished: set[int],
    received: dict[int, _Received],
    staging: str,
) -> list[ImportedVersion]:
    """The one transaction: every version created (or finished) and its files moved in."""
    stamp = now_ms()
    placed: list[str] = []
    try:
        with ctx.db.write() as session:
            model = session.scalar(
                queries.locked(
                    select(t.RegisteredModel).where(t.RegisteredModel.id == model_id),
                    queries.UPDATE,
                ).execution_options(populate_existing=True)
            )
            if model is None:
                raise NotFound(f"Registered model '{name.full}' does not exist.")
            found = _versions_of(session, model_id, [f.number for f in wanted])
            rows: list[tuple[str, t.ModelVersion, ImportedFields]] = []
            for fields in wanted:
                row = found.get(fields.number)
                if row is not None and not same_origin(row, fields):
                    raise foreign_version(name.full, fields.number)
                if row is not None and row.status != VersionStatus.PENDING_REGISTRATION:
                    rows.append((PRESENT, row, fields))
                    continue
                if fields.number in finished:  # deleted since it was looked at
                    raise Conflict(
                        f"Model version '{name.full}' version {fields.number} was deleted while "
                        "its files were being received; nothing was imported. Send it again."
                    )
                if row is None:
                    row = new_version_row(model_id, fields, caller, stamp)
                    session.add(row)
                    rows.append((CREATED, row, fields))
                else:
                    rows.append((RESUMED, row, fields))
            made = [f.number for outcome, _, f in rows if outcome == CREATED]
            if made:
                raise_last_version(ctx, session, model_id, max(made))
            session.flush()
            moves: list[tuple[str, str]] = []
            records: list[tuple[str, dict[str, Any]]] = []
            for outcome, row, fields in rows:
                got = received.get(row.version) if outcome != PRESENT else None
                if got is not None:
                    destination = _finish(ctx, session, caller, name, model, row, fields, got)
                    moves.append((f"{staging}{row.version}/", destination))
                    if outcome == CREATED and fields.tags:
                        change_tags(session, "model_version", row.id, fields.tags)
                records.append(
                    (
                        "importModelVersion",
                        {
                            "version": row.version,
                            "outcome": outcome,
                            "status": row.status,
                            "origin": fields.origin,
                            "signature_waiver": row.signature_waiver,
                            "files": len(got.files) if got else None,
                            "bytes": sum(e.size for e in got.files) if got else None,
                        },
                    )
                )
            audit.record_in(session, records)
            # Versions just made have no aliases, and the tags they were given.
            fresh = all(outcome == CREATED for outcome, _, _ in rows)
            views = version_views(
                ctx,
                session,
                model,
                name.catalog,
                name.schema,
                [row for _, row, _ in rows],
                untagged=fresh,
            )
            if fresh:
                views = [
                    dataclasses.replace(view, tags=dict(sorted(fields.tags.items())))
                    for view, (_, _, fields) in zip(views, rows, strict=True)
                ]
            recorded = _manifests(session, [row for outcome, row, _ in rows if outcome == PRESENT])
            # The files last: what the transaction needs is done, so a move is undone only if
            # the commit itself fails.
            for source, destination in moves:
                if destination.startswith(files.QUARANTINE_ROOT):
                    ctx.store.move_prefix(source, destination)
                else:
                    ctx.store.delete_prefix(destination)  # an earlier attempt's files, if any
                    placed.append(destination)
            ctx.store.place([m for m in moves if m[1] in placed])
    except BaseException:
        for destination in placed:
            _remove_quietly(ctx, destination)
        raise
    answers = []
    for (outcome, _, _), view in zip(rows, views, strict=True):
        if outcome == PRESENT:
            manifest = recorded.get(view.id, [])
        elif view.status == VersionStatus.READY:
            manifest = sorted(received[view.version].files, key=lambda e: e.path)
        else:
            manifest = []
        answers.append(ImportedVersion(outcome, view, manifest))
    return answers


def _finish(
    ctx: ServiceContext,
    session: Session,
    caller: Caller,
    name: rules.ModelName,
    model: t.RegisteredModel,
    row: t.ModelVersion,
    fields: ImportedFields,
    got: _Received,
) -> str:
    """Make one version READY with its manifest, event and deployment run, or
    FAILED_REGISTRATION with the reason, as finalize would; returns where its files go."""
    number = row.version
    row.updated_at, row.updated_by = now_ms(), caller.name
    problem = _problem(fields, got)
    if problem:
        row.status, row.status_message = VersionStatus.FAILED_REGISTRATION, problem
        after_commit(session, measures.versions_failed.inc)
        return files.quarantine_folder(model.id, number)
    session.add_all(
        t.VersionFile(version_id=row.id, path=e.path, size=e.size, sha256=e.sha256)
        for e in got.files
    )
    row.status, row.status_message = VersionStatus.READY, None
    model_events.emit(
        session, ev.MODEL_VERSION_READY, model, name.full, actor=caller.name, version=number
    )
    # As at finalize: a committed READY version always has its deployment run, and never two.
    deployment_jobs.start_for_ready_version(ctx, session, model, name.full, row, caller.name)
    return keys.version_prefix(model.id, number)


def _manifests(session: Session, rows: list[t.ModelVersion]) -> dict[str, list[ManifestEntry]]:
    """The manifests recorded for READY versions, by version id."""
    ids = [row.id for row in rows if row.status == VersionStatus.READY]
    found: dict[str, list[ManifestEntry]] = {}
    if not ids:
        return found
    for entry in session.scalars(
        select(t.VersionFile)
        .where(t.VersionFile.version_id.in_(ids))
        .order_by(t.VersionFile.version_id, t.VersionFile.path)
    ):
        found.setdefault(entry.version_id, []).append(
            ManifestEntry(entry.path, entry.size, entry.sha256)
        )
    return found


def _remove_quietly(ctx: ServiceContext, prefix: str) -> None:
    try:
        ctx.store.delete_prefix(prefix)
    except StorageError:
        pass  # a version with no row owns no files: a rerun clears the folder first
