"""Clients' access to a version's files: Files API paths, presigned URLs, temporary
credentials and directory listings.

With a local folder, bytes move through URLs that this server signs (HMAC, expiring, bound to
one key and one method) and serves itself. Where clients reach the store directly (a bucket),
the URLs are the store's own presigned URLs and the credentials its short-lived STS sessions,
each confined to the version's upload folder (writing) or its sealed folder (reading): the
catalog authorizes, the store moves the bytes. Either way every path a client names is confined
to its version's folder."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote, unquote, urlencode

from sqlalchemy import Select, select

from modelcatalog.domain import rules
from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.errors import FailedPrecondition, InvalidParameter, NotFound, PermissionDenied
from modelcatalog.service import audit, files, lookup
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.operations import needed
from modelcatalog.storage import keys, presign
from modelcatalog.storage.base import (
    ObjectNotFound,
    PathConflict,
    TemporaryCredentials,
    WrittenObject,
)
from modelcatalog.store import tables as t

FILES_ROOT = "Models"


@dataclass(frozen=True)
class ResolvedFile:
    """A Files API path resolved to its version and the storage key it names."""

    model_id: str
    version: int
    status: str
    relative_path: str
    full_name: str

    @property
    def key(self) -> str:
        prefix = keys.version_prefix(self.model_id, self.version)
        return prefix + self.relative_path if self.relative_path else prefix


def parse_path(
    path: object, *, field: str = "path", directory: bool = False
) -> tuple[rules.ModelName, int, str]:
    """Split `/Models/<catalog>/<schema>/<model>/<version>[/<file>]` into the model's name, the
    version number and the confined relative path ("" for the version's root)."""
    if not isinstance(path, str) or not path:
        raise InvalidParameter(
            f"'{field}' is required: /{FILES_ROOT}/<catalog>/<schema>/<model>/<version>/<file>.",
            field,
        )
    parts = path.strip("/").split("/", 5)
    if len(parts) < 5 or parts[0] != FILES_ROOT or (len(parts) == 5 and not directory):
        raise InvalidParameter(
            f"'{field}' is '{path}': expected /{FILES_ROOT}/<catalog>/<schema>/<model>/"
            f"<version>/<file>.",
            field,
        )
    name = rules.ModelName(*(rules.name_part(p, field) for p in parts[1:4]))
    number = rules.version_number(parts[4], field)
    relative = ""
    if len(parts) == 6 and parts[5]:
        try:
            relative = keys.confine(parts[5])
        except keys.InvalidPath as exc:
            raise InvalidParameter(f"'{field}' is '{path}': {exc}", field) from None
        # The same Files path also travels inside URLs (directories, presigned URLs), where it
        # is percent-decoded: an encoded '.' or '..' segment would name another file there.
        if any(unquote(segment) in (".", "..") for segment in relative.split("/")):
            raise InvalidParameter(
                f"'{field}' is '{path}': a segment percent-decodes to '.' or '..'.", field
            )
    return name, number, relative


def resolve_path(
    ctx: ServiceContext,
    caller: Caller,
    path: object,
    action: str | Callable[[str | None], str],
    *,
    field: str = "path",
    directory: bool = False,
) -> ResolvedFile:
    """Resolve `/Models/<catalog>/<schema>/<model>/<version>/<file>` to a version's file that
    the caller may use for `action` (or for the action a function picks from the version's
    status, None when there is no such version)."""
    name, number, relative = parse_path(path, field=field, directory=directory)
    audit.describe(name.full, "registered_model", version=number)
    with ctx.db.read() as session:
        if callable(action):
            status = session.scalar(_version_status_query(name, number))
            action = action(status)
        model = lookup.model_row(ctx, session, caller, name, action)
        row = lookup.version_row(session, model, name.full, number)
        return ResolvedFile(model.id, number, row.status, relative, name.full)


def _version_status_query(name: rules.ModelName, number: int) -> Select:
    """The status of a version found by name, without any authorization (never answered as
    it is: it only chooses which right the caller is then checked for)."""
    return (
        select(t.ModelVersion.status)
        .join(t.RegisteredModel, t.RegisteredModel.id == t.ModelVersion.model_id)
        .join(t.Schema, t.Schema.id == t.RegisteredModel.schema_id)
        .join(t.Catalog, t.Catalog.id == t.Schema.catalog_id)
        .where(
            t.Catalog.name == name.catalog,
            t.Schema.name == name.schema,
            t.RegisteredModel.name == name.model,
            t.ModelVersion.version == number,
        )
    )


def _signed_url(ctx: ServiceContext, base_url: str, method: str, key: str, caller: Caller) -> str:
    expires = int(time.time()) + ctx.url_lifetime_seconds
    params = presign.sign(
        ctx.signing_secret, method=method, key=key, expires_at=expires, principal=caller.name
    )
    # Quoted so that file names with '#', '?', '%' or spaces reach the server as they are.
    path = quote(key, safe="/")
    return f"{base_url.rstrip('/')}/api/modelcatalog/presigned/{path}?{urlencode(params)}"


@dataclass(frozen=True)
class SignedRequest:
    """A URL for one file, and the headers the client must send with it."""

    url: str
    headers: dict[str, str]


@audited("createUploadUrl", needs="create_version")
def upload_url(ctx: ServiceContext, caller: Caller, path: object, base_url: str) -> SignedRequest:
    """A URL the caller may PUT one file of a PENDING version to (needs CREATE MODEL VERSION):
    the store's own presigned URL into the version's upload folder where clients reach the
    store directly, else this server's signed URL."""
    target = resolve_path(ctx, caller, path, needed())
    require_status(target.full_name, target.version, target.status, write=True)
    if ctx.store.direct is not None:
        key = files.upload_prefix(ctx, target.model_id, target.version) + target.relative_path
        signed = ctx.store.direct.presign("PUT", key, ctx.url_lifetime_seconds)
        return SignedRequest(signed.url, signed.headers)
    return SignedRequest(_signed_url(ctx, base_url, "PUT", target.key, caller), {})


@audited("createDownloadUrl", needs="read_model")
def download_url(ctx: ServiceContext, caller: Caller, path: object, base_url: str) -> SignedRequest:
    """A URL the caller may GET one file of a READY version from (needs EXECUTE): of its sealed
    folder in the store where clients reach it directly, else this server's signed URL."""
    target = resolve_path(ctx, caller, path, needed())
    require_status(target.full_name, target.version, target.status, write=False)
    if ctx.store.direct is not None:
        signed = ctx.store.direct.presign("GET", target.key, ctx.url_lifetime_seconds)
        return SignedRequest(signed.url, signed.headers)
    return SignedRequest(_signed_url(ctx, base_url, "GET", target.key, caller), {})


def require_status(full_name: str, version: int, status: str, *, write: bool) -> None:
    """Files are written only while a version is PENDING and served only once it is READY."""
    if write and status != VersionStatus.PENDING_REGISTRATION:
        raise FailedPrecondition(
            f"Model version '{full_name}' version {version} is {status}; files can be written "
            "only while it is PENDING_REGISTRATION."
        )
    if not write and status != VersionStatus.READY:
        raise FailedPrecondition(
            f"Model version '{full_name}' version {version} is {status}; only READY versions "
            "serve their files."
        )


@audited(
    "generateTemporaryModelVersionCredentials",
    "registered_model",
    needs="read_model",
    branches={"write": "create_version"},
)
def storage_credentials(
    ctx: ServiceContext, caller: Caller, full_name: object, version: object, *, write: bool
) -> StorageGrant:
    """Grant access to a version's files: reading needs EXECUTE, writing CREATE MODEL VERSION.

    Where the store issues credentials, the grant carries an STS session limited to the
    version's upload folder (writing) or its sealed folder (reading); otherwise the client moves
    bytes through presigned URLs (the Files API) and the grant only tells until when."""
    name = rules.model_name(full_name)
    number = rules.version_number(version)
    audit.describe(version=number)
    with ctx.db.read() as session:
        model = lookup.model_row(ctx, session, caller, name, needed("write" if write else None))
        row = lookup.version_row(session, model, name.full, number)
    require_status(name.full, number, row.status, write=write)
    direct = ctx.store.direct
    if direct is None or not direct.issues_credentials:
        return StorageGrant(int((time.time() + ctx.url_lifetime_seconds) * 1000), None)
    if write:
        prefix = files.upload_prefix(ctx, model.id, number)
    else:
        prefix = keys.version_prefix(model.id, number)
    found = direct.credentials(
        prefix, write=write, seconds=ctx.url_lifetime_seconds, session_name=_session_name(caller)
    )
    return StorageGrant(found.expires_at_ms, found)


@dataclass(frozen=True)
class StorageGrant:
    """Access to a version's files until ``expires_at_ms``: through scoped credentials of the
    store (``credentials``), or through presigned URLs when there are none."""

    expires_at_ms: int
    credentials: TemporaryCredentials | None


def _session_name(caller: Caller) -> str:
    """An STS session name (2-64 of ``[\\w+=,.@-]``) naming the caller, for the store's logs."""
    cleaned = re.sub(r"[^\w+=,.@-]", "-", caller.name, flags=re.ASCII)
    return f"modelcatalog-{cleaned}"[:64]


def _listing_action(status: str | None) -> str:
    # A PENDING version's files are listed for whoever may write them (a resumed upload needs
    # to know what is already there); a READY version's for whoever may read them.
    return needed("pending") if status == VersionStatus.PENDING_REGISTRATION else needed()


@audited("listDirectory", needs="read_model", branches={"pending": "create_version"})
def list_directory(ctx: ServiceContext, caller: Caller, path: str) -> list[dict]:
    """The direct children of a folder of a version, Files API style: of a READY version for
    callers with EXECUTE, of a PENDING one for callers with CREATE MODEL VERSION.

    A path naming a file has no children: its listing is empty, which is how MLflow's
    presigned-URL repository tells a file from a folder before downloading it."""
    target = resolve_path(ctx, caller, path, _listing_action, directory=True)
    pending = target.status == VersionStatus.PENDING_REGISTRATION
    require_status(target.full_name, target.version, target.status, write=pending)
    key = target.key
    if pending:
        # A PENDING version's files are where its clients upload them.
        key = files.upload_prefix(ctx, target.model_id, target.version) + target.relative_path
    prefix = key if key.endswith("/") else key + "/"
    base = "/" + path.strip("/") + "/"
    children: dict[str, dict] = {}
    for obj in ctx.store.list(prefix):
        rest = obj.key[len(prefix) :]
        head, _, tail = rest.partition("/")
        if tail:
            children.setdefault(head, {"path": base + head, "is_directory": True, "name": head})
        else:
            children[head] = {
                "path": base + head,
                "is_directory": False,
                "name": head,
                "file_size": obj.size,
                "last_modified": int(obj.last_modified * 1000),
            }
    if not children:
        if target.relative_path and _is_file(ctx, key):
            return []
        raise NotFound(f"Directory '{path}' does not exist.")
    return [children[k] for k in sorted(children)]


def _is_file(ctx: ServiceContext, key: str) -> bool:
    try:
        ctx.store.stat(key)
    except ObjectNotFound:
        return False
    return True


def store_object(ctx: ServiceContext, key: str, body: BinaryIO) -> WrittenObject:
    """Stream a presigned PUT's body into the store (the key was checked by
    `authorize_presigned`); the store computes and keeps its sha256 on the way in.

    A path that would be both a file and a folder of the version is refused, naming it."""
    try:
        with ctx.store.open_writer(key) as writer:
            while chunk := body.read(-1):
                writer.write(chunk)
    except PathConflict as exc:
        raise InvalidParameter(path_conflict_message(exc), "path") from None
    return writer.result


def path_conflict_message(conflict: PathConflict) -> str:
    """Why a file cannot be written, in the version's own paths."""

    def relative(key: str) -> str:
        return key.split("/", 2)[2] if key.count("/") >= 2 else key

    path, blocking = relative(conflict.key), relative(conflict.blocking)
    if conflict.is_folder:
        held = f" (it holds '{blocking}')" if blocking != path else ""
        why = f"'{path}' is already a folder of this version{held}"
    else:
        why = f"'{blocking}' is already a file of this version"
    return f"Cannot write '{path}': {why}, and a path cannot be both a file and a folder."


def _presigned_key(raw_key: str) -> str:
    model_id, _, rest = raw_key.partition("/")
    version, _, relative = rest.partition("/")
    if not model_id or not version.isdigit() or not relative:
        raise NotFound("No such presigned object.")
    try:
        return keys.file_key(model_id, int(version), relative)
    except keys.InvalidPath:
        raise NotFound("No such presigned object.") from None


@audited("useSignedUrl")
def authorize_presigned(
    ctx: ServiceContext, caller: Caller, method: str, raw_key: str, params: dict[str, str]
) -> tuple[str, str]:
    """Check a presigned request: a confined key, a valid unexpired signature for this method,
    and a version that still allows it. Returns the storage key and the signing principal.

    `caller` stands for the anonymous bearer of the URL; the record names the principal the
    URL was issued to once the signature proves it."""
    audit.describe(action="readArtifact" if method == "GET" else "writeArtifact")
    key = _presigned_key(raw_key)
    try:
        principal = presign.verify(
            ctx.signing_secret, method=method, key=key, params=params, now=time.time()
        )
    except presign.PresignError as exc:
        raise PermissionDenied(str(exc)) from None
    model_id, _, rest = key.partition("/")
    number = int(rest.partition("/")[0])
    with ctx.db.read() as session:
        found = session.execute(
            select(t.ModelVersion.status, t.Catalog.name, t.Schema.name, t.RegisteredModel.name)
            .join(t.RegisteredModel, t.RegisteredModel.id == t.ModelVersion.model_id)
            .join(t.Schema, t.Schema.id == t.RegisteredModel.schema_id)
            .join(t.Catalog, t.Catalog.id == t.Schema.catalog_id)
            .where(t.ModelVersion.model_id == model_id, t.ModelVersion.version == number)
        ).first()
    status = found[0] if found else None
    audit.describe(
        ".".join(found[1:]) if found else None,
        "registered_model",
        principal=principal,
        version=number,
        path=rest.partition("/")[2],
    )
    if status is None:
        raise NotFound("The model version this URL was issued for no longer exists.")
    wanted = VersionStatus.PENDING_REGISTRATION if method == "PUT" else VersionStatus.READY
    if status != wanted:
        raise FailedPrecondition(
            f"The model version is {status}; this URL needs it to be {wanted}."
        )
    return key, principal
