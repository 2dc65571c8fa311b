"""`modelcatalog backup` and `modelcatalog restore`: a catalog's database, secret key and
artifact manifest (and, from a local folder, its artifacts) into a backup folder and back.

Both work on the database and the stores directly, with the options the server takes
(--data-dir, --database-uri, --storage-root and their MODELCATALOG_* variables). Exit codes: 0
done, 1 the backup or restore failed or found something missing, 2 the command line (or the
folder it names) is wrong.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import filesize
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from modelcatalog.cli import remote


class Output(StrEnum):
    """What `backup` and `restore` print on stdout once done."""

    text = "text"
    json = "json"


DataDirOption = Annotated[
    str,
    typer.Option(
        envvar="MODELCATALOG_DATA_DIR",
        help="The server's data folder (its SQLite database, secret key and artifacts by default).",
    ),
]
DatabaseUriOption = Annotated[
    str | None,
    typer.Option(
        envvar="MODELCATALOG_DATABASE_URI",
        help="The server's database, as `modelcatalog server` takes it. Default: SQLite in "
        "--data-dir.",
        show_default=False,
    ),
]
StorageRootOption = Annotated[
    str | None,
    typer.Option(
        envvar="MODELCATALOG_STORAGE_ROOT",
        help="The server's artifact store: a folder, file:///path or s3://bucket/prefix. "
        "Default: <data-dir>/artifacts.",
        show_default=False,
    ),
]
PgBinOption = Annotated[
    Path | None,
    typer.Option(
        "--pg-bin",
        envvar="MODELCATALOG_PG_BIN",
        help="Folder holding pg_dump and pg_restore. Default: the ones of the server's major "
        "version found on this machine.",
        show_default=False,
    ),
]
OutputOption = Annotated[
    Output,
    typer.Option("--output", "-o", help="Print a summary (text) or the manifest (json)."),
]


class _Amount(ProgressColumn):
    """Bytes as sizes, files as a count, nothing for a step of unknown size."""

    def render(self, task: Task) -> Text:
        if task.total is None or not task.fields.get("unit"):
            return Text("")
        if task.fields.get("unit") == "bytes":
            return Text(
                f"{filesize.decimal(int(task.completed))}/{filesize.decimal(int(task.total))}"
            )
        return Text(f"{int(task.completed)}/{int(task.total)} {task.fields.get('unit', '')}")


class RichTracker:
    """Steps and their progress on stderr; a step without a size shows a spinner."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            _Amount(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichTracker:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()
        self._progress.stop()

    def _finish(self) -> None:
        if self._task is not None:
            task = self._progress.tasks[-1]
            if task.total is None:
                # A step of unknown size shows a full bar and no amount once it is done.
                self._progress.update(self._task, total=1, completed=1, unit="")
            else:
                self._progress.update(self._task, completed=task.total)

    def step(self, label: str, total: int | None = None, unit: str = "bytes") -> None:
        self._finish()
        self._task = self._progress.add_task(label, total=total, unit=unit)

    def advance(self, amount: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, amount)

    def note(self, message: str) -> None:
        self._progress.console.print(f"note: {message}", markup=False, highlight=False)


def _settings(data_dir: str, database_uri: str | None, storage_root: str | None) -> Any:
    # Deferred: the settings pull in the service's job settings.
    from modelcatalog.config import ServerSettings

    try:
        return ServerSettings.resolve(
            data_dir=data_dir, database_uri=database_uri, storage_root=storage_root
        )
    except ValueError as exc:
        raise remote.fail(str(exc), 2) from None


def _system_errors() -> tuple[type[Exception], ...]:
    """Failures of the machine rather than of the backup: a full disk, a refused permission, a
    store or database that stops answering half-way. Reported, not shown as a traceback."""
    # Deferred: SQLAlchemy and the stores load only for the commands that use them.
    from sqlalchemy.exc import SQLAlchemyError

    from modelcatalog.storage import StorageError

    return (OSError, StorageError, SQLAlchemyError)


def _reason(exc: Exception) -> str:
    # Deferred: SQLAlchemy loads only for the commands that open a database.
    from sqlalchemy.exc import SQLAlchemyError

    from modelcatalog.store.database import first_line

    if isinstance(exc, SQLAlchemyError):
        return f"the database said: {first_line(exc)}"
    return str(exc)


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} bytes"


def backup(
    to: Annotated[
        Path,
        typer.Option(
            "--to",
            help="The backup folder to make; it must not exist, or be empty. Written under a "
            "hidden name and renamed into place when complete.",
            show_default=False,
        ),
    ],
    with_artifacts: Annotated[
        bool,
        typer.Option(
            "--with-artifacts",
            help="Copy every stored version's files too (a local artifact folder only; a "
            "bucket is backed up by its own versioning or replication).",
        ),
    ] = False,
    data_dir: DataDirOption = "modelcatalog-data",
    database_uri: DatabaseUriOption = None,
    storage_root: StorageRootOption = None,
    pg_bin: PgBinOption = None,
    output: OutputOption = Output.text,
) -> None:
    """Back up a catalog, running or not: a consistent snapshot of its database, its secret key
    and the manifest of every stored version's files (sizes and sha256).

    The secret key is included when it is the file <data-dir>/secret-key; a key given in MODELCATALOG_SECRET_KEY is not (keep it yourself: restore asks for it). The folder and its files are readable by you alone.
    """  # noqa: E501 -- Rich wraps help text; a line break would show as one.
    # Deferred: SQLAlchemy, Alembic and the stores load only for this command.
    from modelcatalog.backup import BackupFailed, BackupInputError
    from modelcatalog.backup.take import take_backup

    settings = _settings(data_dir, database_uri, storage_root)
    target = to.expanduser().absolute()
    failures: tuple[type[Exception], ...] = (BackupFailed, *_system_errors())
    try:
        with RichTracker(remote.stderr) as tracker:
            manifest = take_backup(
                settings, target, with_artifacts=with_artifacts, tracker=tracker, pg_bin=pg_bin
            )
    except BackupInputError as exc:
        raise remote.fail(str(exc), 2) from None
    except failures as exc:
        raise remote.fail(
            f"backup failed: {_reason(exc)}. Nothing was written to {target}."
        ) from None
    if output is Output.json:
        remote.print_json(json.loads(manifest.to_json()))
        return
    found = manifest.artifacts
    key = manifest.secret_key
    remote.done(
        f"Backed up to {target}: {manifest.database['kind']} database at schema revision "
        f"{manifest.alembic_revision}; {found['versions']} READY versions with {found['files']} "
        f"files ({_size(int(found['bytes']))}), "
        + ("copied" if found["included"] else "listed, not copied")
        + "; secret key "
        + {
            "file": "included",
            "environment": "not included (it comes from MODELCATALOG_SECRET_KEY)",
            "none": "none (no secrets are stored)",
        }[str(key["source"])]
        + "."
    )


def restore(
    source: Annotated[
        Path,
        typer.Option("--from", help="The backup folder.", show_default=False),
    ],
    data_dir: DataDirOption = "modelcatalog-data",
    database_uri: DatabaseUriOption = None,
    storage_root: StorageRootOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace a target database or data folder that already holds a catalog (stop "
            "its server first).",
        ),
    ] = False,
    verify_only: Annotated[
        bool,
        typer.Option(
            "--verify-only",
            help="Check the backup's checksums and whether the artifact store holds every file "
            "it lists; change nothing.",
        ),
    ] = False,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="Read every artifact file to check its sha256 (by default: its size, and the "
            "sha256 the store recorded when it wrote the file).",
        ),
    ] = False,
    accept_lost_secrets: Annotated[
        bool,
        typer.Option(
            "--accept-lost-secrets",
            help="Restore even though the stored webhook and SMTP secrets cannot be opened "
            "(their key is lost); set them again afterwards.",
        ),
    ] = False,
    pg_bin: PgBinOption = None,
    output: OutputOption = Output.text,
) -> None:
    """Restore a backup into a new data folder and database (the options the server takes).

    Every checksum and the manifest are checked first, and nothing is written if the backup's schema is newer than this release, the target already holds a catalog (without --force) or the restored server would not open the stored secrets. An older schema is brought up to date. Then the artifact store is checked for every stored version's files: exit code 1 lists what is missing.
    """  # noqa: E501 -- Rich wraps help text; a line break would show as one.
    # Deferred: SQLAlchemy, Alembic and the stores load only for this command.
    from modelcatalog.backup import BackupFailed, BackupInputError
    from modelcatalog.backup.restore import restore_backup, verify_backup

    settings = _settings(data_dir, database_uri, storage_root)
    folder = source.expanduser().absolute()
    failures: tuple[type[Exception], ...] = (BackupFailed, *_system_errors())
    try:
        with RichTracker(remote.stderr) as tracker:
            if verify_only:
                report = verify_backup(folder, settings, deep=deep, tracker=tracker)
            else:
                report = restore_backup(
                    folder,
                    settings,
                    force=force,
                    accept_lost_secrets=accept_lost_secrets,
                    deep=deep,
                    tracker=tracker,
                    pg_bin=pg_bin,
                )
    except BackupInputError as exc:
        raise remote.fail(str(exc), 2) from None
    except failures as exc:
        what = "verify" if verify_only else "restore"
        raise remote.fail(f"{what} failed: {_reason(exc)}") from None
    check = report.store
    if output is Output.json:
        remote.print_json(
            {
                "manifest": json.loads(report.manifest.to_json()),
                "artifacts": {
                    "checked": check.checked,
                    "missing": check.missing,
                    "different": check.different,
                },
                "notes": report.notes,
            }
        )
    for note in report.notes:
        remote.done(f"note: {note}")
    for name in check.missing:
        remote.stderr.print(f"missing: {name}", markup=False, highlight=False)
    for name in check.different:
        remote.stderr.print(f"differs: {name}", markup=False, highlight=False)
    verb = "checked" if verify_only else "restored"
    summary = (
        f"{verb} the backup of {report.manifest.created_at} (schema revision "
        f"{report.manifest.alembic_revision})"
        + ("" if verify_only else f" into {settings.data_dir}")
        + f"; artifact store {settings.storage_root}: {check.checked} files checked"
    )
    if not check.complete:
        raise remote.fail(
            f"{summary}, {len(check.missing)} missing and {len(check.different)} different."
        )
    remote.done(f"{summary[0].upper()}{summary[1:]}, all present.")
