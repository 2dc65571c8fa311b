"""The audit writer against a real database: a record the database refuses as it is gets stored
escaped, a database that refuses writes keeps records queued until it takes them again, and a
full queue refuses requests (503) instead of serving them unaudited. Nothing is ever dropped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from modelcatalog.errors import Unavailable  # noqa: E402
from modelcatalog.service import audit, audit_trail  # noqa: E402
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext  # noqa: E402
from modelcatalog.store import tables as t  # noqa: E402
from modelcatalog.store.database import Database, upgrade_schema  # noqa: E402
from support.servers import postgres_database

pytestmark = pytest.mark.both_databases


@pytest.fixture
def db(backend: str, tmp_path: Path) -> Iterator[Database]:
    with ExitStack() as stack:
        if backend == "postgresql":
            uri = stack.enter_context(postgres_database())
        else:
            uri = f"sqlite:///{tmp_path}/catalog.db"
        database = Database(uri)
        stack.callback(database.dispose)
        upgrade_schema(database.engine)
        audit.ensure_head(database)
        yield database


def _scope(principal: str, securable: str) -> audit.Scope:
    caller = Caller(principal, 1, request_id="r" * 80, client_address="127.0.0.1")
    return audit.Scope(caller, "getRegisteredModel", "registered_model", securable, {"x": "\x00"})


def _stored(db: Database) -> list[t.AuditRecord]:
    with db.read() as session:
        return list(session.scalars(select(t.AuditRecord).order_by(t.AuditRecord.seq)))


def _chain_intact(db: Database) -> bool:
    log = audit.AuditLog(db)
    ctx = ServiceContext(db=db, store=None, signing_secret=b"", audit=log)  # type: ignore[arg-type]
    intact = audit_trail.verify(ctx, Caller("admin", 1, is_admin=True)).intact
    log.flush()  # the verification's own record lands before the test's database is dropped
    return intact


def test_records_holding_nul_surrogates_or_over_long_text_are_stored_escaped(
    db: Database,
) -> None:
    log = audit.AuditLog(db)
    log.later(_scope("alice", "c.s.ok"), audit.DENIED, "NOT_FOUND")
    log.later(_scope("bob\x00", "c.s.m\x00x"), audit.DENIED, "NOT_FOUND")
    log.later(_scope("carol\udfff", "c.s." + "m" * 5000), audit.DENIED, "NOT_FOUND")
    log.later(_scope("dave", "c.s.after"), audit.DENIED, "NOT_FOUND")
    log.flush()
    rows = _stored(db)
    assert [r.principal for r in rows] == ["alice", "bob\\x00", "carol\\udfff", "dave"]
    assert rows[1].securable == "c.s.m\\x00x"
    assert len(rows[2].securable) == 1024 and rows[2].securable.endswith("…")
    assert all(len(r.request_id) == 64 for r in rows)
    assert log.dropped == 0 and log.unwritten == 0
    assert _chain_intact(db)


def _break(db: Database) -> None:
    with db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_records RENAME TO audit_records_away"))


def _mend(db: Database) -> None:
    with db.engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_records_away RENAME TO audit_records"))


def test_records_wait_while_the_database_refuses_them_and_land_afterwards(db: Database) -> None:
    log = audit.AuditLog(db, interval=0.02)
    _break(db)
    for i in range(25):
        log.later(_scope(f"p{i}", "c.s.m"), audit.DENIED, "NOT_FOUND")
    deadline = time.monotonic() + 10
    while log.write_failures < 2:
        assert time.monotonic() < deadline, "the writer never tried"
        time.sleep(0.02)
    assert log.unwritten == 25
    _mend(db)
    log.flush(timeout=30)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(t.AuditRecord)) == 25
    assert log.dropped == 0 and log.unwritten == 0
    assert _chain_intact(db)


def test_a_full_queue_refuses_requests_rather_than_serving_them_unaudited(db: Database) -> None:
    log = audit.AuditLog(db, interval=0.02, max_pending=5, full_wait=0.2)
    _break(db)
    try:
        # The writer holds at most one batch in flight; the queue itself takes five more.
        accepted = 0
        with pytest.raises(Unavailable, match="audit log is not keeping up"):
            for i in range(50):
                log.later(_scope(f"p{i}", "c.s.m"), audit.DENIED, "NOT_FOUND")
                accepted += 1
        assert 5 <= accepted < 50
    finally:
        _mend(db)
    log.flush(timeout=30)
    assert len(_stored(db)) == accepted
    assert log.dropped == 0
