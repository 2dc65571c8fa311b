"""The bulk upload: every file of a PENDING version in one uncompressed tar stream.

Authorized exactly like a presigned upload (CREATE MODEL VERSION on the model, the version
PENDING_REGISTRATION). Each member's name is confined like any Files API path, and each file is
streamed into the store, which computes its sha256 on the way in and keeps it for finalize.

Members are committed one by one as they arrive. A bad member (or a stream that ends early)
fails the request with INVALID_PARAMETER naming it; the files before it stay written, each under
its own confined key, complete, and a rerun overwrites them. Nothing partial is ever visible.
"""

from __future__ import annotations

from typing import BinaryIO

from modelcatalog.domain import rules
from modelcatalog.errors import InvalidParameter
from modelcatalog.service import audit, file_access, lookup
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.operations import needed
from modelcatalog.service.views import ManifestEntry
from modelcatalog.storage import keys
from modelcatalog.storage.base import PathConflict
from modelcatalog.storage.tar_stream import FILE, TarFormatError, TarReader

FIELD = "body"


@audited("uploadModelVersionFiles", "registered_model", needs="create_version")
def upload_files(
    ctx: ServiceContext, caller: Caller, full_name: object, version: object, body: BinaryIO
) -> list[ManifestEntry]:
    """Write the files of a tar stream into a PENDING version; returns what was written (path,
    size and the sha256 the server computed), in the order of the archive."""
    name = rules.model_name(full_name)
    number = rules.version_number(version)
    audit.describe(version=number)
    with ctx.db.read() as session:
        model = lookup.model_row(ctx, session, caller, name, needed())
        row = lookup.version_row(session, model, name.full, number)
    file_access.require_status(name.full, number, row.status, write=True)
    written: list[ManifestEntry] = []
    try:
        _write_members(ctx, model.id, number, body, written)
    finally:
        audit.describe(files=len(written), bytes=sum(e.size for e in written))
    return written


def _write_members(
    ctx: ServiceContext, model_id: str, number: int, body: BinaryIO, written: list[ManifestEntry]
) -> None:
    reader = TarReader(body)
    seen: set[str] = set()
    folders: set[str] = set()
    try:
        for member in reader:
            path = _confined(member.index, member.name)
            if member.kind != FILE:
                folders.add(path)
                continue
            refuse_clash(member.index, path, seen, folders)
            try:
                with ctx.store.open_writer(keys.file_key(model_id, number, path)) as writer:
                    for chunk in reader.chunks(member):
                        writer.write(chunk)
            except PathConflict as exc:  # with a file the version held before this archive
                message = file_access.path_conflict_message(exc)
                raise TarFormatError(f"member {member.index}: {message}") from None
            result = writer.result
            written.append(ManifestEntry(path, result.size, result.sha256))
    except TarFormatError as exc:
        raise InvalidParameter(_with_progress(str(exc), written), FIELD) from None


def _confined(index: int, name: str) -> str:
    try:
        return keys.confine(name)
    except keys.InvalidPath as exc:
        raise TarFormatError(f"member {index} '{name}': {exc}") from None


def refuse_clash(index: int, path: str, seen: set[str], folders: set[str]) -> None:
    """One file per path, and no path both a file and a folder (a store could not hold both)."""
    if path in seen:
        raise TarFormatError(f"member {index} '{path}' appears twice in the archive")
    parents = {path.rsplit("/", n)[0] for n in range(1, path.count("/") + 1)}
    if path in folders or parents & seen:
        raise TarFormatError(f"member {index} '{path}' is both a file and a folder")
    seen.add(path)
    folders.update(parents)


def _with_progress(message: str, written: list[ManifestEntry]) -> str:
    if not written:
        return f"{message}; no file was written."
    return (
        f"{message}; the {len(written)} file(s) before it were written and are overwritten "
        "when the upload is sent again."
    )
