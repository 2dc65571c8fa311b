"""The database engine: SQLite (WAL) by default, PostgreSQL for scale-out; schema via Alembic."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("modelcatalog.server")

# PostgreSQL advisory lock keys (any 64-bit numbers no other application on the cluster uses).
STARTUP_LOCK = 0x6D6F64656C636174  # "modelcat"
MIGRATION_LOCK = STARTUP_LOCK + 1

#: PostgreSQL SQLSTATEs that mean a concurrent transaction won a race with this one.
LOST_RACES = {
    "40P01": "a deadlock with a concurrent change",
    "40001": "a serialization failure against a concurrent change",
    "23505": "a concurrent change that created the same row",
    "23503": "a concurrent change that removed a row this one refers to",
}


class UnreachableDatabase(Exception):
    """The database cannot be connected to with the URI given (host, port, name or
    credentials); the message is the driver's reason."""


class UnknownSchema(Exception):
    """The database holds a schema this release does not know (made by a newer one)."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed while one writer commits; busy_timeout queues writers
    # instead of failing them when several requests write at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin_immediate(conn) -> None:  # type: ignore[no-untyped-def]
    # A write transaction must take the write lock at BEGIN; otherwise two readers that
    # both decide to write deadlock and one fails with "database is locked".
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    conn.exec_driver_sql("BEGIN")


def create_database_engine(uri: str, *, for_writes: bool = True) -> Engine:
    """Create an engine for a SQLAlchemy URI, with the settings each backend needs.

    On SQLite, `for_writes` engines take the write lock when a transaction begins, while
    read engines begin deferred so that readers never wait for one another."""
    if uri.startswith("sqlite"):
        path = uri.split("///", 1)[1] if "///" in uri else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            uri,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=20,
            max_overflow=20,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling is switched off so BEGIN IMMEDIATE can be issued.
        event.listen(
            engine, "connect", lambda dbapi_conn, _r: setattr(dbapi_conn, "isolation_level", None)
        )
        event.listen(engine, "begin", _sqlite_begin_immediate if for_writes else _sqlite_begin)
        return engine
    if uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri[len("postgresql://") :]
    return create_engine(uri, pool_size=20, max_overflow=20, pool_pre_ping=True)


def first_line(exc: BaseException) -> str:
    """The driver's own reason for a database error, without SQLAlchemy's decorations."""
    reason = str(getattr(exc, "orig", None) or exc).strip()
    return reason.splitlines()[0] if reason else type(exc).__name__


def check_reachable(engine: Engine) -> None:
    """Connect once, so that a database that cannot be reached is reported as exactly that."""
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        raise UnreachableDatabase(first_line(exc)) from exc


@contextmanager
def startup_lock(engine: Engine) -> Iterator[None]:
    """Hold the cluster-wide start-up lock: replicas that start together on one PostgreSQL
    database prepare it one after another (SQLite's one writer needs no more)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        key = {"key": STARTUP_LOCK}
        if not connection.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar():
            log.info("another process is preparing this database; waiting until it is done")
            connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)


def upgrade_schema(engine: Engine) -> None:
    """Bring the database schema to the newest migration (a no-op when it is current).

    On PostgreSQL the migration runs under an advisory lock, so that two processes never
    create the same tables at once; the second finds the schema current."""
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, "head")
        except CommandError as exc:
            if "Can't locate revision" not in str(exc):
                raise
            raise UnknownSchema(
                f"the database's schema is at a revision this release does not know ({exc}); it "
                "was made by a newer release of modelcatalog: run that release, or restore a "
                "backup taken before the upgrade"
            ) from exc


def take_turns(session: Session, topic: str) -> None:
    """Make write transactions that name the same `topic` run one after another from here
    to their end: for a rule about many rows at once, such as "no group inside itself".
    PostgreSQL takes a transaction-scoped advisory lock; SQLite's writers take turns anyway."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(topic.encode()).digest()[:8], "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def lost_race(exc: BaseException) -> str | None:
    """What a concurrent writer did to make this database error happen, or None when the
    error is not the loss of a race (PostgreSQL; SQLite admits one writer at a time)."""
    if not isinstance(exc, DBAPIError):
        return None
    return LOST_RACES.get(getattr(exc.orig, "sqlstate", None) or "")


class Database:
    """Owns the engine and hands out transactional sessions."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.engine = create_database_engine(uri)
        self._writes = sessionmaker(self.engine, expire_on_commit=False)
        if self.engine.dialect.name == "sqlite":
            self.read_engine = create_database_engine(uri, for_writes=False)
        else:
            self.read_engine = self.engine
        self._reads = sessionmaker(self.read_engine, expire_on_commit=False)
        # SQLite admits one writer; threads that lose the race sleep in its busy handler with
        # growing back-off. Queueing them on a lock wakes each one the moment the writer is done.
        self._write_lock: AbstractContextManager = (
            threading.Lock() if self.engine.dialect.name == "sqlite" else nullcontext()
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error; what was
        handed to `before_commit` runs last, just before the commit."""
        with self._write_lock, self._writes() as session, session.begin():
            hooks: list[Callable[[], None]] = []
            session.info[_BEFORE_COMMIT] = hooks
            yield session
            if hooks:
                # The ORM's pending rows go in first: a hook may take a lock held to the end.
                session.flush()
                for hook in hooks:
                    hook()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session: a consistent snapshot that never blocks writers."""
        with self._reads() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


_BEFORE_COMMIT = "modelcatalog.before_commit"


def before_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` as the last work of the session's transaction, just before it commits
    (at once in a session that `Database.write` did not open). For work that takes a lock
    every writer needs, such as the audit chain's head: held from there to the commit only."""
    hooks = session.info.get(_BEFORE_COMMIT)
    if hooks is None:
        action()
    else:
        hooks.append(action)


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once the session's transaction has committed (never on rollback).

    Artifact files are removed only after the rows that point to them are gone for good, so a
    failed transaction never loses bytes; a crash in between leaves orphans, not dangling rows."""

    def run(_session: Session) -> None:
        action()

    event.listen(session, "after_commit", run, once=True)
