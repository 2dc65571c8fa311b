"""The catalog database in a backup: a consistent snapshot taken while the server writes, the
facts read from that very snapshot (schema revision, artifact manifest, sealed secrets), and
putting a snapshot back into a new SQLite file or PostgreSQL database.

SQLite: the online backup API, on a connection of its own, read-only, in one step; in WAL mode
that step reads one snapshot and never blocks the server's writers. PostgreSQL: a repeatable-read
transaction exports its snapshot, the facts are read in it, and pg_dump dumps exactly that
snapshot (`--snapshot`), so the manifest and the dump describe the same moment.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from modelcatalog.backup import artifacts, postgres_tools
from modelcatalog.backup.folder import BackupFailed, Draft, Tracker, private_file
from modelcatalog.backup.secret_key import SealedSecret, sealed_secrets
from modelcatalog.store.database import MIGRATIONS, create_database_engine, first_line

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
SQLITE_FILE = "database/catalog.db"
POSTGRES_FILE = "database/catalog.pgdump"


@dataclass
class Snapshot:
    """What a database snapshot holds that the backup's manifest records."""

    kind: str
    file: str
    revision: str
    artifacts: artifacts.ArtifactManifest
    secrets: list[SealedSecret]
    server_version: str | None = None
    dump_program_version: str | None = None

    def describe(self) -> dict[str, object]:
        found: dict[str, object] = {"kind": self.kind, "file": self.file}
        if self.server_version:
            found["server_version"] = self.server_version
            found["pg_dump_version"] = self.dump_program_version
        return found


def kind_of(database_uri: str) -> str:
    name = make_url(database_uri).get_backend_name()
    if name not in (SQLITE, POSTGRESQL):
        raise BackupFailed(f"a {name} database cannot be backed up; use SQLite or PostgreSQL")
    return name


def sqlite_path(database_uri: str) -> Path:
    database = make_url(database_uri).database
    if not database or database == ":memory:":
        raise BackupFailed(f"{database_uri} names no database file")
    return Path(database).expanduser().resolve()


# Schema revisions -------------------------------------------------------------------------------


def _scripts() -> ScriptDirectory:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def head_revision() -> str:
    head = _scripts().get_current_head()
    if head is None:
        raise BackupFailed("this release has no schema migrations")
    return head


def is_known_revision(revision: str) -> bool:
    """Whether this release's migrations include `revision` (an older or the current schema)."""
    # Compared with the revisions themselves: alembic would also resolve names like "head".
    return revision in {script.revision for script in _scripts().walk_revisions()}


def _facts(
    connection: Connection, storage_root: str
) -> tuple[str, artifacts.ArtifactManifest, list[SealedSecret]]:
    if not inspect(connection).has_table("alembic_version"):
        raise BackupFailed("the database holds no modelcatalog schema (no alembic_version table)")
    revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
    if not revision:
        raise BackupFailed("the database's alembic_version table is empty")
    return (
        str(revision),
        artifacts.read_manifest(connection, storage_root),
        sealed_secrets(connection),
    )


# Taking a snapshot ------------------------------------------------------------------------------


def snapshot(
    database_uri: str, storage_root: str, draft: Draft, tracker: Tracker, pg_bin: Path | None
) -> Snapshot:
    """Write the database's snapshot into the draft and read its facts."""
    if kind_of(database_uri) == SQLITE:
        return _snapshot_sqlite(sqlite_path(database_uri), storage_root, draft, tracker)
    return _snapshot_postgres(database_uri, storage_root, draft, tracker, pg_bin)


def _snapshot_sqlite(source: Path, storage_root: str, draft: Draft, tracker: Tracker) -> Snapshot:
    if not source.is_file():
        raise BackupFailed(f"no catalog database at {source}")
    tracker.step(f"copying the SQLite database ({source.name})")
    copy = draft.path / SQLITE_FILE
    private_file(copy).close()
    try:
        # Read-only: a backup never writes to the database it copies.
        reader = sqlite3.connect(f"file:{quote(str(source))}?mode=ro", uri=True, timeout=30)
        try:
            writer = sqlite3.connect(copy)
            try:
                reader.backup(writer)
                # One self-contained file: no write-ahead log beside it.
                writer.execute("PRAGMA journal_mode=DELETE")
                verdict = writer.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                writer.close()
        finally:
            reader.close()
    except sqlite3.Error as exc:
        raise BackupFailed(f"copying {source}: {exc}") from exc
    if verdict != "ok":
        raise BackupFailed(f"the copy of {source} fails SQLite's quick check: {verdict}")
    engine = create_engine(f"sqlite:///{copy}")
    try:
        with engine.connect() as connection:
            revision, manifest, secrets = _facts(connection, storage_root)
    finally:
        engine.dispose()
    tracker.step("recording the database copy's checksum", copy.stat().st_size)
    draft.add(SQLITE_FILE, tracker)
    return Snapshot(SQLITE, SQLITE_FILE, revision, manifest, secrets)


def _server_version(connection: Connection) -> tuple[int, str]:
    number = int(connection.scalar(text("SHOW server_version_num")) or 0)
    shown = str(connection.scalar(text("SHOW server_version")) or number).split(" ")[0]
    return number // 10000, shown


def _snapshot_postgres(
    database_uri: str, storage_root: str, draft: Draft, tracker: Tracker, pg_bin: Path | None
) -> Snapshot:
    engine = _engine(database_uri)
    dump = draft.path / POSTGRES_FILE
    dump.parent.mkdir(mode=0o700)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            with connection.begin():
                exported = connection.scalar(text("SELECT pg_export_snapshot()"))
                major, shown = _server_version(connection)
                program = postgres_tools.choose("pg_dump", major, shown, pg_bin)
                revision, manifest, secrets = _facts(connection, storage_root)
                tracker.step(f"pg_dump {program.version} of PostgreSQL {shown}")
                conninfo, env = postgres_tools.libpq_target(database_uri)
                _run(
                    [
                        str(program.path),
                        "--format=custom",
                        "--no-password",
                        f"--snapshot={exported}",
                        f"--file={dump}",
                        f"--dbname={conninfo}",
                    ],
                    env,
                    "pg_dump",
                )
    except SQLAlchemyError as exc:
        raise BackupFailed(f"reading the database: {first_line(exc)}") from exc
    finally:
        engine.dispose()
    tracker.step("recording the dump's checksum", dump.stat().st_size)
    draft.add(POSTGRES_FILE, tracker)
    return Snapshot(POSTGRESQL, POSTGRES_FILE, revision, manifest, secrets, shown, program.version)


def _engine(database_uri: str) -> Engine:
    engine = create_database_engine(database_uri)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        engine.dispose()
        raise BackupFailed(f"cannot connect to the database: {first_line(exc)}") from exc
    return engine


def _run(command: list[str], env: dict[str, str], name: str) -> None:
    # umask 077: what the program writes is readable by its owner alone.
    done = subprocess.run(command, env=env, capture_output=True, text=True, umask=0o077)
    if done.returncode != 0:
        said = " ".join(done.stderr.strip().splitlines()[-3:]) or f"exit code {done.returncode}"
        raise BackupFailed(f"{name} failed: {said}")


# Restoring --------------------------------------------------------------------------------------


def occupied(database_uri: str) -> str | None:
    """What the target database already holds (None if it is absent or empty)."""
    if kind_of(database_uri) == SQLITE:
        tables = _sqlite_tables(sqlite_path(database_uri))
    else:
        engine = _engine(database_uri)
        try:
            tables = inspect(engine).get_table_names()
        except SQLAlchemyError as exc:
            raise BackupFailed(f"reading the target database: {first_line(exc)}") from exc
        finally:
            engine.dispose()
    if not tables:
        return None
    shown = ", ".join(sorted(tables)[:3]) + (", ..." if len(tables) > 3 else "")
    return f"{len(tables)} tables ({shown})"


def _sqlite_tables(path: Path) -> list[str]:
    """The tables of a SQLite file, read without changing it (no journal mode set)."""
    if not path.exists() or path.stat().st_size == 0:
        return []
    try:
        reader = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=30)
        try:
            rows = reader.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        finally:
            reader.close()
    except sqlite3.Error as exc:
        return [f"<{path.name} is not a SQLite database: {exc}>"]
    return [str(name) for (name,) in rows]


def restore_program(
    kind: str, dump_program_version: str | None, database_uri: str, pg_bin: Path | None
) -> postgres_tools.Program | None:
    """The pg_restore that fits the target server and the dump (None for SQLite), or
    BackupFailed saying why none does; asked before anything is restored."""
    if kind == SQLITE:
        return None
    engine = _engine(database_uri)
    try:
        with engine.connect() as connection:
            major, shown = _server_version(connection)
    finally:
        engine.dispose()
    program = postgres_tools.choose("pg_restore", major, shown, pg_bin)
    dumped_by = int((dump_program_version or "0").split(".")[0])
    if dumped_by > program.major:
        raise BackupFailed(
            f"the dump was made by pg_dump {dump_program_version}; pg_restore {program.version} "
            f"cannot read it: restore it into PostgreSQL {dumped_by} or newer"
        )
    return program


def restore(
    backup_file: Path,
    database_uri: str,
    program: postgres_tools.Program | None,
    *,
    force: bool,
    tracker: Tracker,
) -> None:
    """Put the snapshot in `backup_file` into the target database (`program`: pg_restore)."""
    if program is None:
        _restore_sqlite(backup_file, sqlite_path(database_uri), tracker)
    else:
        _restore_postgres(backup_file, program, database_uri, force, tracker)


def _restore_sqlite(copy: Path, target: Path, tracker: Tracker) -> None:
    tracker.step("restoring the SQLite database", copy.stat().st_size)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.restoring-{os.getpid()}")
    try:
        with open(copy, "rb") as source, private_file(staging) as handle:
            while chunk := source.read(1 << 20):
                handle.write(chunk)
                tracker.advance(len(chunk))
            handle.flush()
            os.fsync(handle.fileno())
        # A log left by the database this one replaces must not be replayed into it.
        for leftover in ("-wal", "-shm", "-journal"):
            target.with_name(target.name + leftover).unlink(missing_ok=True)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


def _restore_postgres(
    dump: Path, program: postgres_tools.Program, database_uri: str, force: bool, tracker: Tracker
) -> None:
    tracker.step(f"pg_restore {program.version}")
    conninfo, env = postgres_tools.libpq_target(database_uri)
    command = [
        str(program.path),
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        "--no-password",
        f"--dbname={conninfo}",
    ]
    if force:
        # Every object the dump holds is dropped first, in the same transaction.
        command += ["--clean", "--if-exists"]
    _run([*command, str(dump)], env, "pg_restore")
