"""A local folder as artifact store, with atomic writes and hard-linked mirrors.

A write goes to a temporary file in the destination folder, is fsynced, then renamed over the
final name, so a crash leaves either the old object or the new one, never a partial file. The
temporary name starts with :data:`~modelcatalog.storage.keys.RESERVED_SEGMENT_PREFIX`, which no
confined key may use, so :meth:`LocalArtifactStore.list` can never report one and
:meth:`LocalArtifactStore.sweep_temp` can remove leftovers without touching real objects.

Committed files are read-only (mode 0o444 less the umask). That is what makes a hard-linked
mirror safe to hand out: a link shares its content with the managed file, so a client able to
rewrite a mirrored file in place would rewrite the managed one too. Deleting, renaming or
replacing a mirrored file only touches the link.

Each committed file carries the sha256 its writer computed, in the extended attribute
:data:`DIGEST_ATTRIBUTE`, bound to the file's size and modification time: a file rewritten
through the store gets a new one, a file changed behind the store's back (its size or mtime
changes) no longer matches and is read again (:meth:`LocalArtifactStore.recorded_sha256`).
File systems without user extended attributes simply keep no digest.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat as stat_module
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

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
from modelcatalog.storage.keys import RESERVED_SEGMENT_PREFIX, confine, confine_prefix

TEMP_PREFIX = RESERVED_SEGMENT_PREFIX + "tmp-"
"""Names of temporary files and folders, hidden from listings and removed by sweep_temp."""

DIGEST_ATTRIBUTE = "user.modelcatalog.sha256"
"""Extended attribute holding ``<sha256 hex> <size> <mtime in ns>`` of a committed file."""

# Errors with which a file system says "no hard links here"; the mirror then copies instead.
_NO_HARD_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


def _current_umask() -> int:
    # The only portable way to read the umask is to set it and put it back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_directory(path: Path) -> None:
    # Makes the rename itself durable; some platforms cannot open a directory, which is fine.
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _LocalObjectWriter(ObjectWriter):
    """Writes to a temporary file beside the destination and renames it into place."""

    def __init__(
        self,
        key: str,
        destination: Path,
        file_mode: int,
        conflict: Callable[[], PathConflict],
        durable: bool = True,
    ) -> None:
        super().__init__(key)
        self._destination = destination
        self._file_mode = file_mode
        self._conflict = conflict
        self._durable = durable
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=destination.parent)
        except (FileExistsError, NotADirectoryError):
            raise conflict() from None  # a folder the key lies in is a file
        except OSError as error:
            raise StorageError(f"cannot start writing {key!r}: {error}") from error
        self._temp_path = Path(temp_name)
        self._file: BinaryIO = os.fdopen(fd, "wb")

    def _send(self, data: bytes | bytearray | memoryview) -> None:
        try:
            self._file.write(data)
        except OSError as error:
            raise StorageError(f"cannot write {self.key!r}: {error}") from error

    def _commit(self) -> None:
        try:
            self._file.flush()
            if self._durable:
                os.fsync(self._file.fileno())
            _record_digest(self._file.fileno(), self._sha256())
            self._file.close()
            os.chmod(self._temp_path, self._file_mode)
            os.replace(self._temp_path, self._destination)
        except IsADirectoryError:
            raise self._conflict() from None  # the key became a folder while it was written
        except OSError as error:
            raise StorageError(f"cannot commit {self.key!r}: {error}") from error
        if self._durable:
            _fsync_directory(self._destination.parent)

    def _abort(self) -> None:
        self._file.close()
        self._temp_path.unlink(missing_ok=True)


class LocalArtifactStore:
    """Artifact store in a local folder; keys map to files below ``root``."""

    hands_out_folders = True
    """A ``file:`` location is opened by clients themselves, who may change or delete it."""

    direct = None
    """Clients move bytes through the catalog's own signed URLs, never to the folder directly."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().absolute()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(f"cannot create artifact folder {self.root}: {error}") from error
        self.uri = self.root.as_uri()
        umask = _current_umask()
        self._file_mode = 0o444 & ~umask
        self._dir_mode = 0o777 & ~umask

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self.root)!r})"

    # -- writing -------------------------------------------------------------------------------

    def open_writer(self, key: str, *, durable: bool = True) -> ObjectWriter:
        """Start streaming an object to ``key``; committed by a rename on normal exit, and
        flushed to disk with its folder unless ``durable`` is False (see :meth:`place`).

        Raises PathConflict when ``key`` is a folder, or lies in a folder that is a file."""
        destination = self._path(key)
        if destination.is_dir() and not destination.is_symlink():
            raise self._conflict(key)  # before any byte is received that could never commit
        return _LocalObjectWriter(
            key, destination, self._file_mode, lambda: self._conflict(key), durable
        )

    def write_bytes(self, key: str, data: bytes) -> WrittenObject:
        """Store ``data`` under ``key`` atomically, replacing any previous object."""
        with self.open_writer(key) as writer:
            writer.write(data)
        return writer.result

    # -- reading -------------------------------------------------------------------------------

    def read_bytes(self, key: str, limit: int | None = None) -> bytes:
        """Return the whole object; raise ObjectTooLarge if it exceeds ``limit`` bytes."""
        with self._open(key) as file:
            size = os.fstat(file.fileno()).st_size
            if limit is not None and size > limit:
                raise ObjectTooLarge(f"{key!r} is {size} bytes, over the limit of {limit}")
            return file.read()

    def iter_bytes(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = 1 << 20
    ) -> Iterator[bytes]:
        """Stream bytes ``start`` to ``end`` inclusive, clamped to the object."""
        check_range(start, end, chunk_size)
        file = self._open(key)  # eagerly, so a missing key fails before the first chunk
        return self._chunks(file, start, end, chunk_size)

    @staticmethod
    def _chunks(file: BinaryIO, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
        with file:
            file.seek(start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                chunk = file.read(chunk_size if remaining is None else min(chunk_size, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def stat(self, key: str) -> StoredObject:
        """Describe the object under ``key``."""
        path = self._path(key)
        try:
            info = path.lstat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        if not stat_module.S_ISREG(info.st_mode):
            raise ObjectNotFound(key)
        return StoredObject(key=key, size=info.st_size, last_modified=info.st_mtime)

    def recorded_sha256(self, key: str) -> str | None:
        """The sha256 the writer recorded on the file, if the file is still the one it wrote."""
        path = self._path(key)
        try:
            info = path.lstat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        if not stat_module.S_ISREG(info.st_mode):
            raise ObjectNotFound(key)
        try:
            value = os.getxattr(path, DIGEST_ATTRIBUTE, follow_symlinks=False).decode("ascii")
        except (OSError, UnicodeDecodeError):
            return None
        digest, _, bound = value.partition(" ")
        if bound != f"{info.st_size} {info.st_mtime_ns}" or len(digest) != 64:
            return None
        return digest

    def list(self, prefix: str) -> list[StoredObject]:
        """Every object under ``prefix`` (``""`` for the whole store), sorted by key."""
        base = self.root if prefix == "" else self.root / confine_prefix(prefix)
        found: list[StoredObject] = []
        for directory, subdirectories, files in os.walk(base):
            # Staging folders of an unfinished mirror are not objects.
            subdirectories[:] = [d for d in subdirectories if not d.startswith(TEMP_PREFIX)]
            relative_dir = Path(directory).relative_to(self.root).as_posix()
            for name in files:
                key = name if relative_dir == "." else f"{relative_dir}/{name}"
                try:
                    confine(key)  # skips temporary files and anything not written by a store
                    info = os.lstat(os.path.join(directory, name))
                except (ValueError, OSError):
                    continue
                if stat_module.S_ISREG(info.st_mode):
                    found.append(StoredObject(key, info.st_size, info.st_mtime))
        found.sort(key=lambda item: item.key)
        return found

    def has_folder(self, prefix: str) -> bool:
        """Whether ``prefix`` is a folder here (an empty one too; a symlink is none)."""
        # One lstat, of the name without its trailing "/" (with it, a symlink would be
        # followed): this runs on every read of a version (see `files.settle_for_reading`).
        try:
            info = os.lstat(os.path.join(self.root, confine_prefix(prefix)[:-1]))
        except OSError:
            return False
        return stat_module.S_ISDIR(info.st_mode)

    def local_path(self, key: str) -> Path | None:
        """The object's file; raises ObjectNotFound when there is none."""
        self.stat(key)
        return self._path(key)

    def location_uri(self, prefix: str) -> str:
        """``file://`` URI of ``prefix`` (with a trailing ``/``), or of the root for ``""``."""
        if prefix == "":
            return self.uri
        # As Path.as_uri quotes it (UTF-8, '/' kept), without building a path per call:
        # listings report one location per model.
        return f"{self.uri}/{quote(confine_prefix(prefix))}"

    # -- deleting ------------------------------------------------------------------------------

    def delete_prefix(self, prefix: str) -> int:
        """Delete everything under ``prefix``; return how many objects went. Idempotent."""
        confine_prefix(prefix)  # "" is refused: deleting the whole store is never one call
        base = self.root / prefix
        count = len(self.list(prefix))
        try:
            shutil.rmtree(base)
        except FileNotFoundError:
            pass
        except NotADirectoryError:
            pass  # a file named like the folder holds no objects under the prefix
        except OSError as error:
            raise StorageError(f"cannot delete {prefix!r}: {error}") from error
        return count

    def move_prefix(self, src_prefix: str, dst_prefix: str) -> int:
        """Move everything under ``src_prefix`` to the new folder ``dst_prefix``; return how
        many objects moved. One rename moves the whole folder, so a reader sees every file
        either at its old place or at its new one, and a crash leaves the move done or not."""
        confine_prefix(src_prefix)
        confine_prefix(dst_prefix)
        if src_prefix.startswith(dst_prefix) or dst_prefix.startswith(src_prefix):
            raise ValueError(f"move of {src_prefix!r} to {dst_prefix!r}: the two overlap")
        source, destination = self.root / src_prefix, self.root / dst_prefix
        if not source.is_dir() or source.is_symlink():
            return 0
        count = len(self.list(src_prefix))
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            if destination.exists():
                raise FileExistsError(errno.EEXIST, "destination exists", str(destination))
            os.rename(source, destination)
        except OSError as error:
            raise StorageError(f"cannot move {src_prefix!r} to {dst_prefix!r}: {error}") from error
        _fsync_directory(source.parent)
        _fsync_directory(destination.parent)
        return count

    def place(self, moves: Sequence[tuple[str, str]]) -> int:
        """Move each staged folder to its destination, which must not exist, then flush every
        file and folder under the destinations to disk, and the folders that hold them; return
        how many files moved. The flushes run side by side, so that the file system commits
        them together rather than one after the other."""
        flushed: list[Path] = []
        parents: set[Path] = set()
        count = 0
        for src_prefix, dst_prefix in moves:
            confine_prefix(src_prefix)
            confine_prefix(dst_prefix)
            if src_prefix.startswith(dst_prefix) or dst_prefix.startswith(src_prefix):
                raise ValueError(f"move of {src_prefix!r} to {dst_prefix!r}: the two overlap")
            source, destination = self.root / src_prefix, self.root / dst_prefix
            if not source.is_dir() or source.is_symlink():
                continue
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
                if destination.exists():
                    raise FileExistsError(errno.EEXIST, "destination exists", str(destination))
                os.rename(source, destination)
            except OSError as error:
                raise StorageError(
                    f"cannot move {src_prefix!r} to {dst_prefix!r}: {error}"
                ) from error
            for directory, _, files in os.walk(destination):
                flushed.append(Path(directory))
                flushed.extend(Path(directory, name) for name in files)
                count += len(files)
            parents.update((source.parent, destination.parent, destination.parent.parent))
        flushed.extend(parents)
        try:
            list(_flusher().map(_fsync_path, flushed))
        except OSError as error:
            raise StorageError(f"cannot flush what was moved into place: {error}") from error
        return count

    def sweep_temp(self, older_than_seconds: float) -> int:
        """Remove temporary files and folders left by interrupted writes; return the count.

        Only entries older than ``older_than_seconds`` go, so writes in progress survive.
        """
        cutoff = time.time() - older_than_seconds
        removed = 0
        for directory, subdirectories, files in os.walk(self.root):
            for name in list(subdirectories):
                if not name.startswith(TEMP_PREFIX):
                    continue
                subdirectories.remove(name)  # never descend into what may be removed
                path = Path(directory, name)
                if _older_than(path, cutoff):
                    shutil.rmtree(path, ignore_errors=True)
                    removed += 1
            for name in files:
                path = Path(directory, name)
                if name.startswith(TEMP_PREFIX) and _older_than(path, cutoff):
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    # -- mirrors -------------------------------------------------------------------------------

    def link_tree(self, src_prefix: str, dst_prefix: str) -> int:
        """Make ``dst_prefix`` an exact mirror of ``src_prefix``; return the number of files.

        Files are hard links where the file system allows, copies otherwise. Whatever was under
        ``dst_prefix`` is replaced. The mirror is built in a hidden staging folder and renamed
        into place, so a reader never sees a half-built mirror (there is a brief moment between
        the two renames when ``dst_prefix`` does not exist).
        """
        confine_prefix(src_prefix)
        confine_prefix(dst_prefix)
        if src_prefix.startswith(dst_prefix) or dst_prefix.startswith(src_prefix):
            raise ValueError(f"mirror {dst_prefix!r} and source {src_prefix!r} overlap")
        objects = self.list(src_prefix)
        destination = self.root / dst_prefix
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=destination.parent))
        except OSError as error:
            raise StorageError(f"cannot create mirror {dst_prefix!r}: {error}") from error
        try:
            os.chmod(staging, self._dir_mode)
            for item in objects:
                target = staging / item.key[len(src_prefix) :]
                target.parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(self.root / item.key, target)
            self._swap_into_place(staging, destination)
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            raise StorageError(f"cannot create mirror {dst_prefix!r}: {error}") from error
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return len(objects)

    @staticmethod
    def _swap_into_place(staging: Path, destination: Path) -> None:
        if not destination.exists() and not destination.is_symlink():
            os.rename(staging, destination)
            return
        retired = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=destination.parent)) / "old"
        os.rename(destination, retired)
        os.rename(staging, destination)
        shutil.rmtree(retired.parent, ignore_errors=True)

    # -- keys ----------------------------------------------------------------------------------

    def _conflict(self, key: str) -> PathConflict:
        """Why ``key`` cannot be a file here: a folder it lies in is a file, or it is a folder."""
        parts = key.split("/")
        for end in range(1, len(parts)):  # every folder: this runs only once a write failed
            folder = "/".join(parts[:end])
            if (self.root / folder).is_file():
                return PathConflict(key, folder, is_folder=False)
        inside = self.list(key + "/")
        return PathConflict(key, inside[0].key if inside else key, is_folder=True)

    def _path(self, key: str) -> Path:
        return self.root / confine(key)

    def _open(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            # No store operation creates symlinks, so one in place of an object was put there
            # by something else: like stat() and list(), treat it as no object at all.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise ObjectNotFound(key) from None
            raise StorageError(f"cannot read {key!r}: {error}") from error
        file = os.fdopen(fd, "rb")
        if not stat_module.S_ISREG(os.fstat(file.fileno()).st_mode):
            file.close()
            raise ObjectNotFound(key)
        return file


_FLUSHER: ThreadPoolExecutor | None = None
_FLUSHER_LOCK = threading.Lock()


def _flusher() -> ThreadPoolExecutor:
    """The threads that flush placed files side by side (made once, on first use)."""
    global _FLUSHER
    with _FLUSHER_LOCK:
        if _FLUSHER is None:
            _FLUSHER = ThreadPoolExecutor(max_workers=16, thread_name_prefix="store-flush")
        return _FLUSHER


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _record_digest(fd: int, sha256: str) -> None:
    # Setting an attribute changes the inode's ctime but not its mtime, so the binding holds.
    info = os.fstat(fd)
    value = f"{sha256} {info.st_size} {info.st_mtime_ns}".encode("ascii")
    try:
        os.setxattr(fd, DIGEST_ATTRIBUTE, value)
    except OSError:
        pass  # no user attributes here: the digest is computed again when it is needed


def _older_than(path: Path, cutoff: float) -> bool:
    try:
        return path.lstat().st_mtime < cutoff
    except OSError:
        return False


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError as error:
        if error.errno not in _NO_HARD_LINK:
            raise
        shutil.copy2(source, target)
