"""An S3-compatible bucket as artifact store.

Writes under 8 MiB are one PutObject; larger ones become a multipart upload whose 8 MiB parts
are sent as they fill, so memory stays bounded by one part whatever the object's size, and an
abandoned upload is aborted rather than left to accrue storage. Either way the object appears
under its key only when complete: S3 never shows a partial object.

An object written in one PutObject carries the sha256 its writer computed as user metadata
(:data:`DIGEST_METADATA`); S3 replaces metadata with the object, so it cannot outlive a rewrite.
A multipart object has no recorded digest (its metadata is fixed before the first byte). An
object whose full-object ChecksumSHA256 S3 keeps (a sealed copy, see
:mod:`modelcatalog.storage.s3_direct`) is described by that checksum, which S3 computed itself.

Clients reach the bucket directly through :attr:`S3ArtifactStore.direct`: presigned URLs and
STS credentials confined to one prefix.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from modelcatalog.storage.base import (
    ObjectNotFound,
    ObjectTooLarge,
    ObjectWriter,
    PathConflict,
    StorageError,
    StoredObject,
    WrittenObject,
    check_range,
)
from modelcatalog.storage.keys import confine, confine_prefix, folders_of
from modelcatalog.storage.s3_direct import S3DirectAccess

PART_SIZE = 8 * 1024 * 1024
"""Multipart part size, and the size from which a write becomes a multipart upload."""

DIGEST_METADATA = "modelcatalog-sha256"
"""User metadata key (x-amz-meta-...) holding the sha256 of an object written in one request."""

DELETE_BATCH = 1000
"""Most keys one DeleteObjects request accepts."""

_NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def default_client(endpoint_url: str | None = None) -> Any:
    """An S3 client with credentials from boto3's normal chain."""
    config = Config(
        retries={"mode": "standard"},
        # SigV4 everywhere, presigned URLs included: they then carry X-Amz-Expires, which S3
        # enforces (SigV2 URLs are refused by newer regions and by many S3-compatible stores).
        signature_version="s3v4",
        # Checksums only where S3 requires them: newer botocore adds CRC checksums to every
        # upload by default, which several S3-compatible servers reject. Integrity is covered
        # by the sha256 every write computes and the catalog records.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)


class _S3ObjectWriter(ObjectWriter):
    """Buffers up to one part; starts a multipart upload only when a second part is needed."""

    def __init__(self, key: str, client: Any, bucket: str, object_key: str) -> None:
        super().__init__(key)
        self._client = client
        self._bucket = bucket
        self._object_key = object_key
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def _send(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        while view:
            # A full buffer is flushed only once more data arrives, so an object of exactly
            # PART_SIZE bytes still goes up as one PutObject.
            if len(self._buffer) == PART_SIZE:
                self._upload_part()
            room = PART_SIZE - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]

    def _upload_part(self) -> None:
        try:
            if self._upload_id is None:
                response = self._client.create_multipart_upload(
                    Bucket=self._bucket, Key=self._object_key
                )
                self._upload_id = response["UploadId"]
            number = len(self._parts) + 1
            response = self._client.upload_part(
                Bucket=self._bucket,
                Key=self._object_key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=bytes(self._buffer),
            )
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"cannot upload {self.key!r}: {error}") from error
        self._parts.append({"PartNumber": number, "ETag": response["ETag"]})
        self._buffer.clear()

    def _commit(self) -> None:
        try:
            if self._upload_id is None:
                self._client.put_object(
                    Bucket=self._bucket,
                    Key=self._object_key,
                    Body=bytes(self._buffer),
                    Metadata={DIGEST_METADATA: self._sha256()},
                )
            else:
                self._upload_part()  # the last part, never empty (see _send)
                self._client.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=self._object_key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"cannot commit {self.key!r}: {error}") from error
        self._buffer = bytearray()

    def _abort(self) -> None:
        self._buffer = bytearray()
        if self._upload_id is not None:
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self._object_key, UploadId=self._upload_id
            )


class S3ArtifactStore:
    """Artifact store in an S3-compatible bucket; keys live below ``prefix``."""

    hands_out_folders = False
    """Clients reach the bucket only through presigned URLs and credentials scoped to a prefix
    (see :attr:`direct`), never as a folder they could change in place."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        client: Any = None,
        role_arn: str | None = None,
        sts_endpoint_url: str | None = None,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ValueError(f"bucket name {bucket!r} is empty or contains '/'")
        prefix = prefix.strip("/")
        if prefix:
            confine(prefix)
        self.bucket = bucket
        self.prefix = prefix
        self.uri = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        self._client = client if client is not None else default_client(endpoint_url)
        self.direct = S3DirectAccess(
            self._client,
            bucket,
            self._root(),
            role_arn=role_arn,
            sts_endpoint_url=sts_endpoint_url or endpoint_url,
        )
        """Presigned URLs and scoped credentials, through which clients move bytes directly."""

    def __repr__(self) -> str:
        return f"S3ArtifactStore({self.uri!r})"

    # -- writing -------------------------------------------------------------------------------

    def open_writer(self, key: str, *, durable: bool = True) -> ObjectWriter:
        """Start streaming an object to ``key``; visible only once committed (and then
        durable, whatever ``durable`` says: S3 answers a write once it is stored).

        Raises PathConflict when ``key`` is a folder, or lies in a folder that is a file: a
        bucket could hold both, a local folder could not, and every version must stay copyable
        to one. The check is made before the write, so two writers racing can still both win;
        a folder store then refuses whichever comes second."""
        self._refuse_conflict(key)
        return _S3ObjectWriter(key, self._client, self.bucket, self._object_key(key))

    def _refuse_conflict(self, key: str) -> None:
        for folder in folders_of(key):
            try:
                self.stat(folder)
            except ObjectNotFound:
                continue
            raise PathConflict(key, folder, is_folder=False)
        try:
            inside = self._client.list_objects_v2(
                Bucket=self.bucket, Prefix=self._object_key(key) + "/", MaxKeys=1
            ).get("Contents", [])
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"cannot list {key!r}/: {error}") from error
        if inside:
            raise PathConflict(key, inside[0]["Key"][len(self._root()) :], is_folder=True)

    def write_bytes(self, key: str, data: bytes) -> WrittenObject:
        """Store ``data`` under ``key`` atomically, replacing any previous object."""
        with self.open_writer(key) as writer:
            writer.write(data)
        return writer.result

    # -- reading -------------------------------------------------------------------------------

    def read_bytes(self, key: str, limit: int | None = None) -> bytes:
        """Return the whole object; raise ObjectTooLarge if it exceeds ``limit`` bytes."""
        response = self._get(key)
        body = response["Body"]
        try:
            size = response["ContentLength"]
            if limit is not None and size > limit:
                raise ObjectTooLarge(f"{key!r} is {size} bytes, over the limit of {limit}")
            return body.read()
        finally:
            body.close()

    def iter_bytes(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        """Stream bytes ``start`` to ``end`` inclusive, clamped to the object."""
        check_range(start, end, chunk_size)
        if start == 0 and end is None:
            byte_range = None
        else:
            byte_range = f"bytes={start}-{'' if end is None else end}"
        try:
            response = self._get(key, byte_range)  # eagerly: a missing key fails right here
        except _RangeNotSatisfiable:
            return iter(())  # the object exists but the range starts past its end
        return self._chunks(response["Body"], chunk_size)

    @staticmethod
    def _chunks(body: Any, chunk_size: int) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def stat(self, key: str) -> StoredObject:
        """Describe the object under ``key``."""
        try:
            response = self._client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND_CODES:
                raise ObjectNotFound(key) from None
            raise StorageError(f"cannot stat {key!r}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"cannot stat {key!r}: {error}") from error
        return StoredObject(
            key=key,
            size=response["ContentLength"],
            last_modified=response["LastModified"].timestamp(),
        )

    def recorded_sha256(self, key: str) -> str | None:
        """The sha256 S3 keeps as the object's full-object checksum (ChecksumSHA256, which S3
        computed or verified itself), else the one recorded when this store wrote the object in
        one request, else None (a multipart object: its S3 checksum, if any, is per part).

        Only objects written by this store or sealed by it (see ``S3DirectAccess.seal``, which
        drops uploaders' metadata) are asked: no client can set either value in such a key."""
        try:
            response = self._client.head_object(
                Bucket=self.bucket, Key=self._object_key(key), ChecksumMode="ENABLED"
            )
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND_CODES:
                raise ObjectNotFound(key) from None
            raise StorageError(f"cannot stat {key!r}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"cannot stat {key!r}: {error}") from error
        checksum = response.get("ChecksumSHA256")
        if (
            isinstance(checksum, str)
            and "-" not in checksum
            and response.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
        ):
            return base64.b64decode(checksum).hex()
        digest = (response.get("Metadata") or {}).get(DIGEST_METADATA)
        return digest if isinstance(digest, str) and len(digest) == 64 else None

    def list(self, prefix: str) -> list[StoredObject]:
        """Every object under ``prefix`` (``""`` for the whole store), sorted by key."""
        if prefix != "":
            confine_prefix(prefix)
        found = []
        for item in self._list_raw(prefix):
            key = item["Key"][len(self._root()) :]
            try:
                confine(key)  # folder markers and foreign keys like "a//b" are not objects
            except ValueError:
                continue
            found.append(StoredObject(key, item["Size"], item["LastModified"].timestamp()))
        found.sort(key=lambda stored: stored.key)
        return found

    def has_folder(self, prefix: str) -> bool:
        """Whether an object lies under ``prefix`` (a bucket has no empty folders)."""
        confine_prefix(prefix)
        try:
            found = self._client.list_objects_v2(
                Bucket=self.bucket, Prefix=self._root() + prefix, MaxKeys=1
            ).get("Contents", [])
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"cannot list {prefix!r}: {error}") from error
        return bool(found)

    def local_path(self, key: str) -> Path | None:
        """None: objects in a bucket have no local file."""
        confine(key)
        return None

    def location_uri(self, prefix: str) -> str:
        """``s3://`` URI of ``prefix`` (with a trailing ``/``), or of the root for ``""``."""
        if prefix == "":
            return self.uri
        return f"s3://{self.bucket}/{self._root()}{confine_prefix(prefix)}"

    # -- deleting ------------------------------------------------------------------------------

    def delete_prefix(self, prefix: str) -> int:
        """Delete everything under ``prefix``; return how many objects went. Idempotent."""
        confine_prefix(prefix)  # "" is refused: deleting the whole store is never one call
        keys = [item["Key"] for item in self._list_raw(prefix)]
        self._delete_raw(keys, prefix)
        return len(keys)

    def _delete_raw(self, keys: Sequence[str], prefix: str) -> None:
        for batch_start in range(0, len(keys), DELETE_BATCH):
            batch = keys[batch_start : batch_start + DELETE_BATCH]
            try:
                response = self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            except (ClientError, BotoCoreError) as error:
                raise StorageError(f"cannot delete {prefix!r}: {error}") from error
            errors = response.get("Errors", [])
            if errors:
                first = errors[0]
                raise StorageError(
                    f"cannot delete {len(errors)} object(s) under {prefix!r}, first "
                    f"{first.get('Key')!r}: {first.get('Code')} {first.get('Message')}"
                )

    def move_prefix(self, src_prefix: str, dst_prefix: str) -> int:
        """Copy every object under ``src_prefix`` to ``dst_prefix``, then delete the originals;
        return how many moved. Not atomic (S3 has no rename): a move cut short leaves copies
        at the destination and originals at the source, and moving again finishes it."""
        confine_prefix(src_prefix)
        confine_prefix(dst_prefix)
        if src_prefix.startswith(dst_prefix) or dst_prefix.startswith(src_prefix):
            raise ValueError(f"move of {src_prefix!r} to {dst_prefix!r}: the two overlap")
        objects = self.list(src_prefix)
        for item in objects:
            self._copy(item.key, dst_prefix + item.key[len(src_prefix) :])
        # Only what was copied: an object that arrived since stays where it is.
        self._delete_raw([self._object_key(item.key) for item in objects], src_prefix)
        return len(objects)

    def place(self, moves: Sequence[tuple[str, str]]) -> int:
        """Move each staged folder to its destination (see ``move_prefix``); return how many
        objects moved. What S3 stores is durable once written."""
        return sum(self.move_prefix(source, destination) for source, destination in moves)

    # -- mirrors -------------------------------------------------------------------------------

    def link_tree(self, src_prefix: str, dst_prefix: str) -> int:
        """Make ``dst_prefix`` an exact copy of ``src_prefix``; return the number of objects.

        A bucket has no links, so every object is copied (server-side), and what was under
        ``dst_prefix`` but not under ``src_prefix`` is deleted afterwards. Not atomic: a reader
        may see the mirror half-made. The catalog keeps no mirrors in a bucket (see
        ``hands_out_folders``)."""
        confine_prefix(src_prefix)
        confine_prefix(dst_prefix)
        if src_prefix.startswith(dst_prefix) or dst_prefix.startswith(src_prefix):
            raise ValueError(f"mirror {dst_prefix!r} and source {src_prefix!r} overlap")
        objects = self.list(src_prefix)
        stale = {item.key for item in self.list(dst_prefix)}
        for item in objects:
            target = dst_prefix + item.key[len(src_prefix) :]
            self._copy(item.key, target)
            stale.discard(target)
        self._delete_raw([self._object_key(key) for key in sorted(stale)], dst_prefix)
        return len(objects)

    # -- interrupted writes --------------------------------------------------------------------

    def sweep_temp(self, older_than_seconds: float) -> int:
        """Abort the multipart uploads under the store's root older than
        ``older_than_seconds``: those of a killed server process and of clients that died
        mid-upload. An interrupted PutObject stores nothing. (A bucket lifecycle rule
        AbortIncompleteMultipartUpload does the same on AWS without a restart.)"""
        return self.direct.sweep_multipart_uploads(older_than_seconds)

    def _copy(self, key: str, target: str) -> None:
        try:
            # The managed copy switches to a multipart copy for objects over 5 GiB.
            self._client.copy(
                {"Bucket": self.bucket, "Key": self._object_key(key)},
                self.bucket,
                self._object_key(target),
            )
        except (ClientError, BotoCoreError, Boto3Error) as error:
            raise StorageError(f"cannot copy {key!r} to {target!r}: {error}") from error

    # -- keys ----------------------------------------------------------------------------------

    def _root(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def _object_key(self, key: str) -> str:
        return self._root() + confine(key)

    def _list_raw(self, prefix: str) -> Iterable[dict[str, Any]]:
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._root() + prefix):
                yield from page.get("Contents", [])
        except (ClientError, BotoCoreError) as error:
            raise StorageError(f"cannot list {prefix!r}: {error}") from error

    def _get(self, key: str, byte_range: str | None = None) -> dict[str, Any]:
        arguments = {"Bucket": self.bucket, "Key": self._object_key(key)}
        if byte_range is not None:
            arguments["Range"] = byte_range
        try:
            return self._client.get_object(**arguments)
        except ClientError as error:
            code = _error_code(error)
            if code in _NOT_FOUND_CODES:
                raise ObjectNotFound(key) from None
            if code == "InvalidRange":
                raise _RangeNotSatisfiable() from None
            raise StorageError(f"cannot read {key!r}: {error}") from error
        except BotoCoreError as error:
            raise StorageError(f"cannot read {key!r}: {error}") from error


class _RangeNotSatisfiable(Exception):
    """The object exists but the requested range starts past its end."""
