"""The catalog a migration writes to, over its HTTP API (one client shared by all workers).

Version numbers are kept through the privileged migration endpoints. Small versions of a model
are imported in one request, as an uncompressed tar stream that creates, writes and finalizes
them (the import); a version with a large file is created on its own, its small files sent in
one tar stream (the bulk upload) and each large file through the same presigned URLs stock
MLflow uses. Either way bytes are streamed and hashed once,
as they are read from the source, and the manifest recorded at finalize is read back to check
every file's sha256.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import mmap
import os
import stat
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import httpx

from modelcatalog.client import AlreadyExists, CatalogClient, NotFound
from modelcatalog.client.errors import (
    InvalidRequest,
    PermissionDenied,
    ServerUnreachable,
    server_error,
)
from modelcatalog.client.http import CATALOG_API, UC_API, segment
from modelcatalog.migrate.targets.protocol import (
    BulkUpload,
    Capabilities,
    ImportedVersion,
    OpenedFile,
    Uploaded,
    VersionImport,
    tag_dict,
)

CHUNK_SIZE = 8 << 20
"""Bytes read from a source file and sent at a time."""
SENDFILE_BYTES = 8 << 20
"""A local file at least this large is sent with sendfile(2) (plain HTTP only)."""
HASH_WINDOW = 16 << 20
"""Bytes of a file mapped at a time to hash it."""
MIGRATION_VERSIONS = f"{CATALOG_API}/migration/versions"
BULK_FILES = f"{MIGRATION_VERSIONS}/{{full_name}}/{{version}}/files"
IMPORT = f"{MIGRATION_VERSIONS}/{{full_name}}/import"
DIRECTORIES = "/api/2.0/fs/directories"
PERMISSIONS = f"{UC_API}/permissions/{{securable_type}}/{{full_name}}"
GRANTED_ON = ("catalog", "schema", "registered_model")
"""The securable types a migration grants on (a server may document each as a path of its own)."""
PRINCIPALS = f"{CATALOG_API}/principals"
DESTINATIONS = f"{CATALOG_API}/notification-destinations"
TRIGGERS = f"{CATALOG_API}/triggers"
APPROVERS = f"{CATALOG_API}/models/{{full_name}}/deployment-approvers"


class CatalogTarget:
    """Migration-level operations on one catalog server."""

    def __init__(self, client: CatalogClient, *, workers: int = 4) -> None:
        self.client = client
        limits = httpx.Limits(max_connections=workers + 4, max_keepalive_connections=workers + 4)
        # Presigned URLs carry their own signature; no bearer token goes with the bytes.
        self._files = httpx.Client(timeout=httpx.Timeout(60.0, read=600.0), limits=limits)

    def close(self) -> None:
        self._files.close()

    def capabilities(self) -> Capabilities:
        """What the server offers, from its OpenAPI document."""
        try:
            response = self._files.get(f"{self.client.url}/openapi.json")
            paths = set(response.json().get("paths", {})) if response.is_success else set()
        except (httpx.HTTPError, ValueError):
            paths = set()
        return Capabilities(
            migration_versions=MIGRATION_VERSIONS in paths,
            permissions=PERMISSIONS in paths
            or all(PERMISSIONS.replace("{securable_type}", kind) in paths for kind in GRANTED_ON),
            principals=PRINCIPALS in paths,
            bulk_files=BULK_FILES in paths,
            import_versions=IMPORT in paths,
            notifications=DESTINATIONS in paths and TRIGGERS in paths,
            approvers=f"{APPROVERS}/{{principal}}" in paths,
        )

    def whoami(self) -> dict[str, Any]:
        return self.client.get(f"{CATALOG_API}/me")

    def no_hooks_reason(self) -> str:
        return (
            f"the catalog at {self.client.url} has no notification, trigger or deployment "
            "approver endpoints yet; upgrade it and run `migrate run` again"
        )

    # Containers and models ----------------------------------------------------------------

    def ensure_catalog(self, name: str) -> None:
        try:
            self.client.get(f"{UC_API}/catalogs/{segment(name)}")
        except NotFound:
            try:
                self.client.post(f"{UC_API}/catalogs", {"name": name})
            except AlreadyExists:
                pass

    def ensure_schema(self, catalog: str, schema: str) -> None:
        try:
            self.client.get(f"{UC_API}/schemas/{segment(f'{catalog}.{schema}')}")
        except NotFound:
            try:
                self.client.post(f"{UC_API}/schemas", {"name": schema, "catalog_name": catalog})
            except AlreadyExists:
                pass

    def get_model(self, full_name: str) -> dict[str, Any] | None:
        try:
            return self.client.get(f"{UC_API}/models/{segment(full_name)}")
        except NotFound:
            return None

    def ensure_model(self, full_name: str, comment: str, tags: dict[str, str]) -> str:
        """Create the model, or bring an existing one's description and tags to the plan's.

        Returns "created", "updated" or "unchanged"."""
        catalog, schema, name = full_name.split(".")
        try:  # a new model is the usual case: one request
            self.client.post(
                f"{UC_API}/models",
                {
                    "catalog_name": catalog,
                    "schema_name": schema,
                    "name": name,
                    "comment": comment or None,
                    "tags": [{"key": k, "value": v} for k, v in tags.items()],
                },
            )
            return "created"
        except AlreadyExists:
            found = self.get_model(full_name) or {}
        except PermissionDenied:
            # No CREATE MODEL on the schema: fine for a model that exists (a rerun).
            existing = self.get_model(full_name)
            if existing is None:
                raise
            found = existing
        changed = False
        if (found.get("comment") or "") != comment:
            self.client.patch(f"{UC_API}/models/{segment(full_name)}", {"comment": comment})
            changed = True
        current = tag_dict(found.get("tags"))
        add = {k: v for k, v in tags.items() if current.get(k) != v}
        if add:
            self.client.patch(
                f"{UC_API}/securable-tags/registered_model/{segment(full_name)}",
                {"changes": {"add_tags": [{"key": k, "value": v} for k, v in add.items()]}},
            )
            changed = True
        return "updated" if changed else "unchanged"

    # Versions -----------------------------------------------------------------------------

    def create_version(self, full_name: str, number: int, body: dict[str, Any]) -> dict[str, Any]:
        """Version `number` exactly, PENDING; or the existing one if it has the same origin."""
        return self.client.post(MIGRATION_VERSIONS, {"name": full_name, "version": number, **body})

    def get_version(self, full_name: str, number: int) -> dict[str, Any] | None:
        try:
            return self.client.get(f"{UC_API}/models/{segment(full_name)}/versions/{number}")
        except NotFound:
            return None

    def list_versions(self, full_name: str) -> list[dict[str, Any]]:
        return list(
            self.client.paginate(f"{UC_API}/models/{segment(full_name)}/versions", "model_versions")
        )

    def upload(self, full_name: str, number: int, path: str, stream: BinaryIO, size: int) -> str:
        """Stream one file to the version through a presigned URL; returns its sha256."""
        catalog, schema, model = full_name.split(".")
        answer = self.client.post(
            "/api/2.0/fs/create-upload-url",
            {"path": f"/Models/{catalog}/{schema}/{model}/{number}/{path}"},
        )
        headers = {h["name"]: h["value"] for h in answer.get("headers") or [] if "name" in h}
        headers["Content-Length"] = str(size)
        fileno = _plain_file(stream)
        if fileno is not None and size >= SENDFILE_BYTES and answer["url"].startswith("http:"):
            return self._send_file(answer["url"], headers, fileno, size, path)
        digest = hashlib.sha256()
        self._send("PUT", answer["url"], _hashed(stream, size, path, digest), headers, path)
        return digest.hexdigest()

    def _send_file(
        self, url: str, headers: dict[str, str], fileno: int, size: int, path: str
    ) -> str:
        """PUT a whole local file with sendfile(2) while another thread hashes it through
        memory maps: the bytes never pass through Python buffers, which is most of what a
        large file's upload costs the client."""
        start = os.lseek(fileno, 0, os.SEEK_CUR)
        if os.fstat(fileno).st_size - start != size:
            raise OSError(f"{path} is no longer the {size} bytes it had when listed")
        try:
            with ThreadPoolExecutor(max_workers=1) as hasher:
                digest = hasher.submit(_mapped_sha256, fileno, start, size)
                status, reason, body = _put_file(url, headers, fileno, start, size)
                sha256 = digest.result()
        except OSError as exc:
            raise ServerUnreachable(self.client.url, f"upload of {path} failed: {exc}") from exc
        if status >= 400:
            try:
                error: object = json.loads(body)
            except ValueError:
                error = body.decode(errors="replace")
            raise server_error(status, error, reason)
        return sha256

    def upload_files(
        self,
        full_name: str,
        number: int,
        files: Iterable[tuple[str, OpenedFile]],
        *,
        finalize: bool = False,
    ) -> BulkUpload:
        """Send files to the version in one request, as an uncompressed tar stream, each opened
        only when its turn comes, and finalize it in the same request if asked. Returns what
        was sent, by path, after checking that the server wrote exactly that (the sizes and
        sha256 it computed itself)."""
        sent: dict[str, Uploaded] = {}

        def archive() -> Iterator[bytes]:
            for path, opened in files:
                with opened as (stream, size):
                    info = tarfile.TarInfo(path)
                    info.size, info.mode = size, 0o644
                    yield info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")
                    digest = hashlib.sha256()
                    yield from _hashed(stream, size, path, digest)
                    sent[path] = Uploaded(path, size, digest.hexdigest())
                    if size % tarfile.BLOCKSIZE:
                        yield bytes(tarfile.BLOCKSIZE - size % tarfile.BLOCKSIZE)
            yield bytes(2 * tarfile.BLOCKSIZE)

        url = self.client.url + BULK_FILES.format(full_name=segment(full_name), version=number)
        if finalize:
            url += "?finalize=true"
        headers = {**self.client.authorization(), "Content-Type": "application/x-tar"}
        body = self._send("PUT", url, archive(), headers, f"the files of version {number}")
        written = _by_path(body.get("files"))
        if written != sent:
            raise RuntimeError(
                f"the server wrote other files than were sent (sent {sorted(sent)}, written "
                f"{sorted(written)}, or sizes and sha256 differ)"
            )
        if not finalize:
            return BulkUpload(sent)
        return BulkUpload(sent, body.get("model_version") or {}, _by_path(body.get("manifest")))

    def import_versions(
        self, full_name: str, versions: Sequence[VersionImport]
    ) -> dict[int, ImportedVersion]:
        """Create, write and finalize versions of one model in one request: a tar stream of
        `versions.json`, each version's files under its number (opened only when their turn
        comes, hashed as they are sent) and last `sha256.json`, the digest of everything sent,
        which the server checks before it creates anything."""
        sent: dict[int, dict[str, Uploaded]] = {v.number: {} for v in versions}

        def archive() -> Iterator[bytes]:
            described = {"versions": [{"version": v.number, **v.fields} for v in versions]}
            yield from _member("versions.json", json.dumps(described).encode())
            for item in versions:
                for path, opened in item.files:
                    with opened as (stream, size):
                        name = f"{item.number}/{path}"
                        yield _header(name, size)
                        digest = hashlib.sha256()
                        yield from _hashed(stream, size, path, digest)
                        yield _padding(size)
                    sent[item.number][path] = Uploaded(path, size, digest.hexdigest())
            digests = {str(n): {p: u.sha256 for p, u in files.items()} for n, files in sent.items()}
            yield from _member("sha256.json", json.dumps(digests).encode())
            yield bytes(2 * tarfile.BLOCKSIZE)

        url = self.client.url + IMPORT.format(full_name=segment(full_name))
        headers = {**self.client.authorization(), "Content-Type": "application/x-tar"}
        numbers = ", ".join(str(v.number) for v in versions)
        body = self._send("POST", url, archive(), headers, f"versions {numbers}")
        answered: dict[int, ImportedVersion] = {}
        for item in body.get("versions") or []:
            version = item.get("model_version") or {}
            number = int(version.get("version") or 0)
            answered[number] = ImportedVersion(
                outcome=str(item.get("outcome")),
                version=version,
                sent=sent.get(number, {}),
                manifest=_by_path(item.get("manifest")),
            )
        if set(answered) != set(sent):
            raise RuntimeError(
                f"the server answered versions {sorted(answered)} for versions {sorted(sent)}"
            )
        return answered

    def list_files(self, full_name: str, number: int) -> dict[str, int] | None:
        """Size of every file a version holds, by path (a PENDING version's too); None when
        the server cannot list a PENDING version's files."""
        catalog, schema, model = full_name.split(".")
        root = "/".join(segment(p) for p in ("Models", catalog, schema, model, str(number)))
        found: dict[str, int] = {}
        folders = [""]
        while folders:
            folder = folders.pop()
            where = f"{DIRECTORIES}/{root}/" + "/".join(segment(p) for p in folder.split("/") if p)
            try:
                body = self.client.get(where.rstrip("/") + "/")
            except NotFound:
                continue  # no file yet
            except InvalidRequest:
                return None  # a server that lists only READY versions
            for entry in body.get("contents") or []:
                path = f"{folder}/{entry['name']}" if folder else str(entry["name"])
                if entry.get("is_directory"):
                    folders.append(path)
                else:
                    found[path] = int(entry.get("file_size") or 0)
        return found

    def _send(
        self, method: str, url: str, content: Iterator[bytes], headers: dict[str, str], what: str
    ) -> dict[str, Any]:
        try:
            response = self._files.request(method, url, content=content, headers=headers)
        except httpx.TransportError as exc:
            raise ServerUnreachable(self.client.url, f"upload of {what} failed: {exc}") from exc
        if response.is_error:
            try:
                error: object = response.json()
            except ValueError:
                error = response.text
            raise server_error(response.status_code, error, response.reason_phrase)
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            answer = {}
        return answer if isinstance(answer, dict) else {}

    def finalize(self, full_name: str, number: int) -> dict[str, Any]:
        return self.client.patch(
            f"{UC_API}/models/{segment(full_name)}/versions/{number}/finalize", {}
        )

    def manifest(self, full_name: str, number: int) -> dict[str, Uploaded]:
        """The files the server recorded at finalize, by path."""
        body = self.client.get(
            f"{CATALOG_API}/models/{segment(full_name)}/versions/{number}/manifest"
        )
        return _by_path(body.get("files"))

    def set_alias(self, full_name: str, alias: str, number: int) -> None:
        self.client.put(
            f"{UC_API}/models/{segment(full_name)}/aliases/{segment(alias)}",
            {"version_num": number},
        )

    # Principals and grants ----------------------------------------------------------------

    def ensure_principal(self, name: str, kind: str) -> None:
        try:
            self.client.post(PRINCIPALS, {"name": name, "kind": kind})
        except AlreadyExists:
            pass

    def grant(
        self, securable_type: str, full_name: str, principal: str, privileges: list[str]
    ) -> None:
        path = f"{UC_API}/permissions/{securable_type}/{segment(full_name)}"
        self.client.patch(
            path, {"changes": [{"principal": principal, "add": privileges, "remove": []}]}
        )

    def add_approver(self, full_name: str, principal: str) -> None:
        """Let a principal approve the model's deployment runs (nothing if it already may)."""
        where = APPROVERS.format(full_name=segment(full_name))
        self.client.put(f"{where}/{segment(principal)}", {})

    def approvers(self, full_name: str) -> list[str]:
        body = self.client.get(APPROVERS.format(full_name=segment(full_name)))
        return [str(name) for name in body.get("approvers") or []]

    # Notification destinations and triggers -----------------------------------------------

    def create_destination(self, body: dict[str, Any]) -> None:
        """Create a notification destination; AlreadyExists if the name is taken."""
        self.client.post(DESTINATIONS, body)

    def get_destination(self, name: str) -> dict[str, Any] | None:
        try:
            return self.client.get(f"{DESTINATIONS}/{segment(name)}")
        except NotFound:
            return None

    def create_trigger(self, body: dict[str, Any]) -> None:
        """Create a trigger; AlreadyExists if the name is taken."""
        self.client.post(TRIGGERS, body)

    def get_trigger(self, name: str) -> dict[str, Any] | None:
        """A trigger the caller owns (another's answers as missing)."""
        try:
            return self.client.get(f"{TRIGGERS}/{segment(name)}")
        except NotFound:
            return None

    def privileges(self, securable_type: str, full_name: str) -> dict[str, set[str]]:
        """Privileges granted directly on a securable, by principal."""
        body = self.client.get(f"{UC_API}/permissions/{securable_type}/{segment(full_name)}")
        found: dict[str, set[str]] = {}
        for entry in body.get("privilege_assignments") or []:
            found.setdefault(entry.get("principal", ""), set()).update(
                str(p).replace("_", " ") for p in entry.get("privileges") or []
            )
        return found


def _put_file(
    url: str, headers: dict[str, str], fileno: int, start: int, size: int
) -> tuple[int, str, bytes]:
    """Send `size` bytes of a file from `start` as a PUT body; (status, reason, body)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=600)
    try:
        connection.putrequest("PUT", f"{parts.path}?{parts.query}")
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        if connection.sock is None:
            raise OSError("the connection closed before the body was sent")
        with open(fileno, "rb", closefd=False) as source:
            sent = connection.sock.sendfile(source, start, size)
        if sent != size:
            raise OSError(f"the file became shorter while it was sent ({sent} of {size} bytes)")
        response = connection.getresponse()
        return response.status, response.reason, response.read()
    finally:
        connection.close()


def _mapped_sha256(fileno: int, start: int, size: int) -> str:
    """sha256 of a file's bytes, read through memory maps of HASH_WINDOW bytes at a time
    (unmapped as it goes, so the process's resident memory stays small)."""
    digest = hashlib.sha256()
    position, end = start, start + size
    while position < end:
        base = position - position % mmap.ALLOCATIONGRANULARITY
        length = min(HASH_WINDOW, end - base)
        with mmap.mmap(fileno, length, access=mmap.ACCESS_READ, offset=base) as mapped:
            with memoryview(mapped) as view:
                digest.update(view[position - base :])
        position = base + length
    return digest.hexdigest()


def _plain_file(stream: BinaryIO) -> int | None:
    """The descriptor of a stream that is a regular file on disk, else None."""
    try:
        fileno = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    try:
        return fileno if stat.S_ISREG(os.fstat(fileno).st_mode) else None
    except OSError:
        return None


def _by_path(files: object) -> dict[str, Uploaded]:
    """A manifest answer (`[{"path", "size", "sha256"}]`) by path."""
    if not isinstance(files, list):
        return {}
    return {
        f["path"]: Uploaded(f["path"], int(f["size"]), f["sha256"])
        for f in files
        if isinstance(f, dict)
    }


def _header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode = size, 0o644
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")


def _padding(size: int) -> bytes:
    return bytes(-size % tarfile.BLOCKSIZE)


def _member(name: str, data: bytes) -> Iterator[bytes]:
    """A whole tar member holding `data`."""
    yield _header(name, len(data))
    yield data
    yield _padding(len(data))


def _hashed(stream: BinaryIO, size: int, path: str, digest: Any) -> Iterator[bytes]:
    """Exactly `size` bytes of `stream` in chunks, each added to `digest` as it goes by."""
    left = size
    while left:
        chunk = stream.read(min(CHUNK_SIZE, left))
        if not chunk:
            raise OSError(f"{path} is shorter than the {size} bytes it had when listed")
        digest.update(chunk)
        left -= len(chunk)
        yield chunk
    if stream.read(1):
        raise OSError(f"{path} is longer than the {size} bytes it had when listed")
