"""A backup folder: what it holds, how it is written so that it is whole or absent, and how it is
checked before anything is restored from it.

Layout (every file listed in `manifest.json` with its size and sha256):

    manifest.json            format, product version, schema revision, database kind, ...
    database/catalog.db      SQLite: a copy made with SQLite's online backup API
    database/catalog.pgdump  PostgreSQL: pg_dump's custom format
    secret-key               the key that encrypts stored secrets (when it came from a file)
    artifacts.json           every stored version's files: path, size, sha256
    artifacts/<model id>/<version>/<path>   the files themselves (--with-artifacts)

The folder is written under a hidden sibling name and renamed into place once the manifest,
written last, is on disk: a backup that is killed leaves no folder under the name asked for.
Files are readable by their owner alone (the folder 700, files 600): the database holds token
hashes and sealed secrets, and the key opens them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol

FORMAT = "modelcatalog-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNK = 1 << 20


class BackupFailed(Exception):
    """A backup or restore could not be done (exit code 1); the message says what and where."""


class BackupInputError(BackupFailed):
    """The command was given something it cannot work with (exit code 2): a missing folder,
    options that do not fit the backup."""


class Tracker(Protocol):
    """What a person watching a backup or restore sees: steps, and progress within one."""

    def step(self, label: str, total: int | None = None, unit: str = "bytes") -> None:
        """A new step begins; `total` units ("bytes" or "files") when it is known."""

    def advance(self, amount: int) -> None:
        """`amount` more units of the current step are done."""

    def note(self, message: str) -> None:
        """Something the operator must know (never a secret)."""


class QuietTracker:
    """A tracker that shows nothing."""

    def step(self, label: str, total: int | None = None, unit: str = "bytes") -> None:
        pass

    def advance(self, amount: int) -> None:
        pass

    def note(self, message: str) -> None:
        pass


@dataclass(frozen=True)
class FileEntry:
    """One file of a backup folder, by its path relative to the folder."""

    path: str
    size: int
    sha256: str


@dataclass
class Manifest:
    """`manifest.json`: what the backup holds and where it came from."""

    product_version: str
    alembic_revision: str
    database: dict[str, Any]
    secret_key: dict[str, Any]
    artifacts: dict[str, Any]
    created_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    files: list[FileEntry] = field(default_factory=list)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        document = asdict(self)
        # The format first, so that `head manifest.json` says what the file is.
        ordered = {"format": self.format, "format_version": self.format_version}
        ordered.update((k, v) for k, v in document.items() if k not in ordered)
        return json.dumps(ordered, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> Manifest:
        """The manifest in `text`, or BackupFailed naming what is wrong with it."""
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BackupFailed(f"{where} is not JSON ({exc}): not a backup's manifest") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise BackupFailed(
                f"{where} is not a modelcatalog backup manifest (no format {FORMAT!r})"
            )
        version = document.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise BackupFailed(f"{where}: format_version {version!r} is not a format version")
        if version > FORMAT_VERSION:
            raise BackupFailed(
                f"{where}: the backup is in format version {version}, written by a newer release "
                f"of modelcatalog; this release reads format version {FORMAT_VERSION}"
            )
        try:
            files = [
                FileEntry(str(f["path"]), int(f["size"]), str(f["sha256"]))
                for f in document["files"]
            ]
            return cls(
                product_version=str(document["product_version"]),
                alembic_revision=str(document["alembic_revision"]),
                database=dict(document["database"]),
                secret_key=dict(document["secret_key"]),
                artifacts=dict(document["artifacts"]),
                created_at=str(document["created_at"]),
                files=files,
                format=FORMAT,
                format_version=version,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BackupFailed(f"{where}: the manifest lacks or garbles {exc}") from None

    def entry(self, path: str) -> FileEntry:
        for item in self.files:
            if item.path == path:
                return item
        raise BackupFailed(f"the manifest lists no {path!r}: the backup is incomplete")


def counted(count: int, noun: str) -> str:
    """`1 version`, `2 versions`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def sha256_of(path: Path, tracker: Tracker | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if tracker is not None:
                tracker.advance(len(chunk))
    return digest.hexdigest()


def private_file(path: Path) -> BinaryIO:
    """A new file readable by its owner alone, open for writing."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


def _fsync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Draft:
    """A backup folder being written, under a hidden sibling of its final name."""

    def __init__(self, final: Path) -> None:
        self.final = final
        # mkdtemp makes the folder mode 700.
        self.path = Path(tempfile.mkdtemp(prefix=f".{final.name}.incomplete-", dir=final.parent))
        self.manifest_files: list[FileEntry] = []

    def add(self, relative: str, tracker: Tracker | None = None) -> FileEntry:
        """Record a file written into the draft (size and sha256 from the file itself)."""
        path = self.path / relative
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
        entry = FileEntry(relative, path.stat().st_size, sha256_of(path, tracker))
        self.manifest_files.append(entry)
        return entry

    def add_known(self, entry: FileEntry) -> None:
        """Record a file whose size and digest were taken while it was written (and synced)."""
        self.manifest_files.append(entry)

    def publish(self, manifest: Manifest) -> None:
        """Write the manifest last, then rename the draft into place."""
        manifest.files = sorted(self.manifest_files, key=lambda f: f.path)
        with private_file(self.path / MANIFEST) as handle:
            handle.write(manifest.to_json().encode())
            handle.flush()
            os.fsync(handle.fileno())
        for folder in sorted({p for p in self.path.rglob("*") if p.is_dir()}, reverse=True):
            _fsync_folder(folder)
        _fsync_folder(self.path)
        try:
            if self.final.exists():
                # An empty folder may be replaced (it was checked before the backup began); one
                # that filled up meanwhile is not.
                self.final.rmdir()
            os.rename(self.path, self.final)
        except OSError as exc:
            raise BackupFailed(f"cannot put the backup in place at {self.final}: {exc}") from exc
        _fsync_folder(self.final.parent)

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


@contextlib.contextmanager
def draft_folder(final: Path) -> Iterator[Draft]:
    """A draft of the backup folder `final`; removed again if the block fails or is interrupted."""
    check_target(final)
    draft = Draft(final)
    try:
        yield draft
    except BaseException:
        draft.discard()
        raise


def check_target(final: Path) -> None:
    """Refuse a backup folder that exists with something in it, or whose parent is missing."""
    if not final.parent.is_dir():
        raise BackupInputError(f"--to {final}: the folder {final.parent} does not exist")
    if final.exists():
        if not final.is_dir():
            raise BackupInputError(f"--to {final}: a file of that name exists")
        if any(final.iterdir()):
            raise BackupInputError(
                f"--to {final}: the folder exists and is not empty; backups go to a new folder"
            )


def _confined(relative: str, where: Path) -> Path:
    parts = PurePosixPath(relative).parts
    if not relative or relative.startswith("/") or ".." in parts or "\\" in relative:
        raise BackupFailed(f"the manifest names a file outside the backup folder: {relative!r}")
    return where.joinpath(*parts)


def open_backup(folder: Path, tracker: Tracker | None = None) -> Manifest:
    """The manifest of the backup in `folder`, once every file it lists is checked (size, then
    sha256); BackupFailed names the first file that is missing or differs."""
    if not folder.exists():
        raise BackupInputError(f"--from {folder}: no such folder")
    if not folder.is_dir():
        raise BackupInputError(f"--from {folder}: not a folder")
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        hint = ""
        if folder.name.startswith(".") and ".incomplete-" in folder.name:
            hint = " (this is what a backup that was interrupted left behind)"
        raise BackupFailed(
            f"{folder} holds no {MANIFEST}: it is not a complete modelcatalog backup{hint}"
        )
    manifest = Manifest.from_json(manifest_path.read_text(errors="replace"), manifest_path)
    tracker = tracker or QuietTracker()
    tracker.step("checking the backup's files", sum(f.size for f in manifest.files))
    for item in manifest.files:
        path = _confined(item.path, folder)
        if not path.is_file():
            raise BackupFailed(f"{item.path} is listed in the manifest but missing from {folder}")
        size = path.stat().st_size
        if size != item.size:
            raise BackupFailed(
                f"{item.path}: {size} bytes where the manifest says {item.size}: the file was "
                "changed or cut short after the backup"
            )
        if sha256_of(path, tracker) != item.sha256:
            raise BackupFailed(
                f"{item.path}: checksum mismatch (sha256 differs from the manifest's): the file "
                "was changed after the backup"
            )
    return manifest
