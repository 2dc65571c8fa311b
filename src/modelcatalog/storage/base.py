"""The artifact store interface: bytes under keys, and the errors every store raises.

Keys are produced by :mod:`modelcatalog.storage.keys`; a store still checks each key it is given
(defence in depth), so a bug upstream fails loudly instead of touching another version's files.
"""

from __future__ import annotations

import contextlib
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, runtime_checkable


class StorageError(RuntimeError):
    """The store could not do what was asked (I/O failure, refused request, misuse)."""


@dataclass(frozen=True)
class TemporaryCredentials:
    """An STS session: the three values an S3 client signs with, and when they stop working."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at_ms: int


@dataclass(frozen=True)
class PresignedRequest:
    """A URL the store signed for one method on one object, and the headers the client must
    send."""

    url: str
    headers: dict[str, str]


class DirectAccess(Protocol):
    """How clients reach a store's objects themselves, without the catalog moving the bytes:
    presigned URLs for one object, credentials scoped to one prefix, and the server-side copy
    that seals a finalized version's uploads."""

    @property
    def issues_credentials(self) -> bool:
        """Whether :meth:`credentials` can be asked (presigned URLs are always offered)."""
        ...

    def presign(self, method: str, key: str, seconds: int) -> PresignedRequest:
        """A presigned GET or PUT of the object at ``key``, valid ``seconds`` from now."""
        ...

    def credentials(
        self, prefix: str, *, write: bool, seconds: int, session_name: str
    ) -> TemporaryCredentials:
        """Temporary credentials that read (or also write) only the objects under ``prefix``."""
        ...

    def seal(self, src_prefix: str, dst_prefix: str) -> int:
        """Copy every object under ``src_prefix`` to ``dst_prefix`` inside the store; return
        how many were copied."""
        ...

    def sweep_multipart_uploads(self, older_than_seconds: float) -> int:
        """Abort multipart uploads started longer ago than ``older_than_seconds``; return how
        many."""
        ...


class ObjectNotFound(KeyError):
    """No object is stored under the key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"no object stored under {self.key!r}"


class PathConflict(StorageError):
    """Writing ``key`` would make one path both a file and a folder.

    A folder of files cannot hold both, so no store allows it (an object store could, but then
    the version could not be copied to a folder). Either a folder ``key`` lies in is a file
    already (``blocking`` names it, ``is_folder`` is False), or ``key`` is a folder already
    (``blocking`` names an object inside it, or ``key`` itself; ``is_folder`` is True)."""

    def __init__(self, key: str, blocking: str, *, is_folder: bool) -> None:
        self.key = key
        self.blocking = blocking
        self.is_folder = is_folder
        why = f"it is a folder (holding {blocking!r})" if is_folder else f"{blocking!r} is a file"
        super().__init__(f"cannot write {key!r}: {why}")


class ObjectTooLarge(StorageError):
    """An object is larger than the caller's read limit."""


@dataclass(frozen=True)
class StoredObject:
    """An object as the store reports it."""

    key: str
    size: int
    last_modified: float
    """Seconds since the epoch."""


@dataclass(frozen=True)
class WrittenObject:
    """An object that was just committed, with the digest of the bytes that were written."""

    key: str
    size: int
    sha256: str
    """Lower-case hex."""


class ObjectWriter(ABC):
    """Streams one object into a store; a context manager.

    On normal exit the object is committed atomically under its key and :attr:`result` tells
    its size and sha256; on an exception it is aborted and nothing is left behind. Readers never
    see a partial object under the key. Subclasses move bytes; this class keeps the count, the
    digest and the open/committed/aborted state, so every store reports them the same way.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self._size = 0
        self._digest = hashlib.sha256()
        self._state = "open"
        self._result: WrittenObject | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data`` to the object."""
        if self._state != "open":
            raise StorageError(f"writer for {self.key!r} is {self._state}; cannot write")
        if not data:
            return
        try:
            self._send(data)
        except BaseException:
            self._abort_quietly()
            raise
        self._size += len(data)
        self._digest.update(data)

    @property
    def result(self) -> WrittenObject:
        """The committed object; only available after a normal exit."""
        if self._result is None:
            raise StorageError(f"writer for {self.key!r} is {self._state}; nothing committed")
        return self._result

    def commit(self) -> WrittenObject:
        """Make the object visible under its key; called by ``__exit__`` on normal exit."""
        if self._state != "open":
            raise StorageError(f"writer for {self.key!r} is {self._state}; cannot commit")
        try:
            self._commit()
        except BaseException:
            self._abort_quietly()
            raise
        self._state = "committed"
        self._result = WrittenObject(key=self.key, size=self._size, sha256=self._digest.hexdigest())
        return self._result

    def _sha256(self) -> str:
        """The digest of every byte written so far (for stores that keep it with the object)."""
        return self._digest.hexdigest()

    def abort(self) -> None:
        """Discard everything written; the key is left as it was before."""
        if self._state == "open":
            self._abort_quietly()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def _abort_quietly(self) -> None:
        self._state = "aborted"
        # The error that caused the abort is the one worth reporting, not a cleanup failure.
        with contextlib.suppress(Exception):
            self._abort()

    @abstractmethod
    def _send(self, data: bytes | bytearray | memoryview) -> None:
        """Move ``data`` towards the store (it may be buffered)."""

    @abstractmethod
    def _commit(self) -> None:
        """Publish everything sent under the key, atomically."""

    @abstractmethod
    def _abort(self) -> None:
        """Release everything sent; must tolerate being called after a failed ``_send``."""


@runtime_checkable
class ArtifactStore(Protocol):
    """Where model version files live: a local folder or an object storage bucket."""

    uri: str
    """Names the store's root, e.g. ``file:///srv/artifacts`` or ``s3://bucket/prefix``."""

    hands_out_folders: bool
    """Whether a location this store reports is a folder that clients open themselves.

    True for a local folder: a client handed a ``file:`` location reads, changes or deletes the
    files there in place, so the catalog hands out a READY version as a mirror of its files
    (see :meth:`link_tree`) and moves a failed version's files out of their folder. False for a
    bucket, whose objects clients reach only through presigned URLs and credentials scoped to
    one prefix (see ``direct``), never as a folder they change in place."""

    @property
    def direct(self) -> DirectAccess | None:
        """How clients reach the store themselves (presigned URLs, scoped credentials), if
        they can; None where every byte goes through the catalog's own signed URLs."""
        ...

    def open_writer(self, key: str, *, durable: bool = True) -> ObjectWriter:
        """Start streaming an object to ``key``; see :class:`ObjectWriter`. With ``durable``
        False a store may leave the object unflushed: it is staged, and :meth:`place` makes
        it durable where it belongs."""
        ...

    def write_bytes(self, key: str, data: bytes) -> WrittenObject:
        """Store ``data`` under ``key`` atomically, replacing any previous object."""
        ...

    def read_bytes(self, key: str, limit: int | None = None) -> bytes:
        """Return the whole object; raise ObjectTooLarge if it exceeds ``limit`` bytes."""
        ...

    def iter_bytes(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        """Stream bytes ``start`` to ``end`` inclusive (like HTTP Range), clamped to the object.

        ObjectNotFound is raised by the call itself, before the first chunk, so that an HTTP
        layer can answer 404 before it starts a response.
        """
        ...

    def stat(self, key: str) -> StoredObject:
        """Describe the object under ``key``."""
        ...

    def recorded_sha256(self, key: str) -> str | None:
        """The sha256 this store computed while writing the object, if it kept one that still
        describes the object; None when it must be read to be known.

        The digest comes from the writer's own pass over the bytes and is bound to the object
        it was computed for: rewriting the object through the store replaces it, and a change
        made behind the store's back (which alters the size or the modification time) makes it
        unusable (None).
        """
        ...

    def list(self, prefix: str) -> list[StoredObject]:
        """Every object under ``prefix`` (a folder ending in ``/``, or ``""``), sorted by key."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete everything under ``prefix``; return how many objects went. Idempotent."""
        ...

    def move_prefix(self, src_prefix: str, dst_prefix: str) -> int:
        """Move everything under ``src_prefix`` to ``dst_prefix``, which must not exist yet;
        return how many objects moved. A move cut short is finished by moving again (to a new
        destination): what has left ``src_prefix`` never comes back."""
        ...

    def place(self, moves: Sequence[tuple[str, str]]) -> int:
        """Move staged folders into place, each ``(src_prefix, dst_prefix)`` as
        :meth:`move_prefix` does (the destination must not exist), and make everything moved
        durable before returning; return how many objects moved."""
        ...

    def has_folder(self, prefix: str) -> bool:
        """Whether the folder ``prefix`` (ending in ``/``) exists: in a local folder, even an
        empty one; in a bucket, which has no empty folders, when an object lies under it."""
        ...

    def link_tree(self, src_prefix: str, dst_prefix: str) -> int:
        """Make ``dst_prefix`` an exact mirror of ``src_prefix``; return the number of files.

        Whatever was under ``dst_prefix`` is replaced. Files are hard links where the store can
        make them, copies otherwise; either way, deleting or rewriting the mirror leaves the
        source as it was. The prefixes must not overlap."""
        ...

    def sweep_temp(self, older_than_seconds: float) -> int:
        """Remove what interrupted writes left behind, if older than ``older_than_seconds``
        (so writes in progress survive); return how many entries went. A store whose
        interrupted writes leave nothing behind does nothing and returns 0."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The object's file when the store is a local folder, else None."""
        ...

    def location_uri(self, prefix: str) -> str:
        """A URI naming ``prefix`` inside this store."""
        ...


def check_range(start: int, end: int | None, chunk_size: int) -> None:
    """Refuse a byte range or chunk size that no store could serve."""
    if start < 0:
        raise ValueError(f"range start {start} is negative")
    if end is not None and end < start:
        raise ValueError(f"range end {end} is before start {start}")
    if chunk_size < 1:
        raise ValueError(f"chunk size {chunk_size} is not positive")
