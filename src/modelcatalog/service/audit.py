"""The audit log: one append-only record per service call, chained by SHA-256 so that an edited,
deleted or inserted record shows.

Every public service operation is wrapped in `audited(action)`, which also declares the
privilege the operation needs (see `operations`). A mutation writes its record in its own
transaction (`record_in`, appended just before the commit), so a change and its record commit or
vanish together. Reads, denials and failures are queued and written in batches by a background
thread, so that auditing a read costs the request almost nothing. Records are chained in the
order they are written: the chain head (`settings.audit_head`) is locked from a record's append
to its transaction's commit."""

from __future__ import annotations

import contextvars
import functools
import hashlib
import inspect
import json
import logging
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy import bindparam, event, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelcatalog.errors import (
    CatalogError,
    Conflict,
    HiddenFromCaller,
    PermissionDenied,
    Unavailable,
)
from modelcatalog.service import operations
from modelcatalog.service.caller import Caller
from modelcatalog.service.stamps import now_ms
from modelcatalog.store import tables as t
from modelcatalog.store.database import Database, before_commit, lost_race

log = logging.getLogger("modelcatalog.audit")

HEAD_KEY = "audit_head"
GENESIS = "0" * 64
OK, DENIED, FAILED = "ok", "denied", "failed"
#: Parameter names whose values never reach the log (a token's id may; the token may not).
SECRET_NAME = re.compile(r"(^|_)(token|secret|password|passwd|credentials?|api_key)$", re.I)
MAX_PARAMETER_CHARS = 2000

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Scope:
    """The record a service call is building: what, on which securable, with which inputs."""

    caller: Caller
    action: str
    securable_type: str | None
    securable: str | None
    parameters: dict[str, Any]
    written: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


_current: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("audit", default=None)


def _clean(name: str, value: Any) -> Any:
    if SECRET_NAME.search(name):
        return "[redacted]"
    if isinstance(value, dict):
        return {str(k): _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_clean(name, v) for v in value]
    if isinstance(value, str) and len(value) > MAX_PARAMETER_CHARS:
        return value[:MAX_PARAMETER_CHARS] + "…"
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "read"):
        return "[stream]"  # a request body: what was written is described by the operation
    return str(value)


#: Securables whose names compare case-insensitively (stored lower-case); a principal's name
#: is kept exactly as written.
_CASELESS = ("metastore", "catalog", "schema", "registered_model")


def _securable_name(value: object, securable_type: str | None) -> str | None:
    if not isinstance(value, str):
        return None
    return value.lower() if securable_type in _CASELESS or securable_type is None else value


def audited(
    action: str,
    securable_type: str | None = None,
    *,
    needs: str | None = None,
    branches: Mapping[str, str] | None = None,
) -> Callable[[F], F]:
    """Make a service operation leave exactly one audit record, whatever its outcome; and
    declare the action of the privilege table it `needs`, with the actions of its `branches`
    that need another (see `operations`).

    The securable defaults to the operation's first argument after the caller; an operation
    that knows better calls `describe`. Calls nested inside another audited call add no
    record, but run with the action they declare."""
    requirement = operations.declare(action, needs, branches)

    def wrap(fn: F) -> F:
        # Positional names after (ctx, caller), worked out once: binding a signature on every
        # call would cost the hot read path more than the rest of the record.
        positional = list(inspect.signature(fn).parameters)[2:]

        @functools.wraps(fn)
        def run(ctx: Any, caller: Caller, *args: Any, **kwargs: Any) -> Any:
            running = operations.enter(action, requirement)
            if _current.get() is not None:
                try:
                    return fn(ctx, caller, *args, **kwargs)
                finally:
                    operations.leave(running)
            given = {**dict(zip(positional, args, strict=False)), **kwargs}
            parameters = {k: _clean(k, v) for k, v in given.items() if v is not None}
            first = next(iter(args), None)
            scope = Scope(
                caller,
                action,
                securable_type,
                _securable_name(first, securable_type),
                parameters,
            )
            token = _current.set(scope)
            try:
                result = fn(ctx, caller, *args, **kwargs)
            except CatalogError as exc:
                if not scope.written:
                    denied = isinstance(exc, (HiddenFromCaller, PermissionDenied))
                    outcome = DENIED if denied else FAILED
                    ctx.audit.later(scope, outcome, exc.kind)
                raise
            except Exception as exc:
                race = lost_race(exc)
                if race is None:
                    if not scope.written:
                        ctx.audit.later(scope, FAILED, "INTERNAL_ERROR")
                    raise
                # The one place where losing a race to a concurrent writer becomes an answer.
                conflict = Conflict(
                    f"The request lost a race with {race} and changed nothing; send it again."
                )
                if not scope.written:
                    ctx.audit.later(scope, FAILED, conflict.kind)
                raise conflict from exc
            finally:
                _current.reset(token)
                operations.leave(running)
            if not scope.written:
                ctx.audit.later(scope, OK, None)
            return result

        return run  # type: ignore[return-value]

    return wrap


def describe(
    securable: str | None = None,
    securable_type: str | None = None,
    *,
    action: str | None = None,
    principal: str | None = None,
    **extra: Any,
) -> None:
    """Name the securable the current operation acts on (and, where only the operation knows
    them, the exact action and the principal), and add facts worth recording."""
    scope = _current.get()
    if scope is None:
        return
    if securable_type is not None:
        scope.securable_type = securable_type
    if securable is not None:
        scope.securable = _securable_name(securable, scope.securable_type)
    if action is not None:
        scope.action = action
    if principal is not None:
        scope.caller = replace(scope.caller, name=principal)
    scope.parameters.update({k: _clean(k, v) for k, v in extra.items()})


def record_in(session: Session, items: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> None:
    """Write the current operation's record in the session that makes its change; `items`
    adds, in the same batch, one record per object the operation changed on its securable
    (their action and parameters: several versions imported by one call each keep a record)."""
    scope = _current.get()
    if scope is None or scope.written:
        return
    entries = [_entry(scope, OK, None)]
    for action, parameters in items:
        clean = {k: _clean(k, v) for k, v in parameters.items() if v is not None}
        item = Scope(scope.caller, action, scope.securable_type, scope.securable, clean)
        entries.append(_entry(item, OK, None))
    # Appended last: every writer takes turns on the chain's head from the append to the
    # commit, so the append waits until the change's own statements are done.
    before_commit(session, lambda: _append(session, entries))
    scope.written = True
    # A record rolled back with its change is no record: the outcome is then written later.
    event.listen(session, "after_rollback", lambda _s: setattr(scope, "written", False), once=True)


def record_refused_credentials(
    log: AuditLog, bearer: Caller, path: str, reason: str, error_code: str = "UNAUTHENTICATED"
) -> None:
    """A request turned away for missing or bad credentials is a denial too."""
    scope = Scope(bearer, "authenticate", None, None, {"path": path, "reason": reason})
    log.later(scope, DENIED, error_code, wait=False)


def record_refused_input(log: AuditLog, caller: Caller, path: str, reason: str) -> None:
    """A request refused before any operation ran, for text the catalog does not accept, is
    kept too: hostile input is worth seeing."""
    scope = Scope(caller, "refuseRequest", None, None, {"path": path, "reason": reason})
    log.later(scope, FAILED, "INVALID_PARAMETER", wait=False)


# The longest text each column holds; anything longer is cut (with a mark) rather than refused,
# because a record that cannot be stored would be a record lost.
_COLUMN_LIMITS = {
    "principal": 255,
    "action": 100,
    "securable_type": 32,
    "securable": 1024,
    "outcome": 32,
    "error_code": 64,
    "request_id": 64,
    "client_address": 255,
}
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _storable(value: str, limit: int | None = None) -> str:
    """`value` as every database can store it: NUL and unpaired surrogates written as escapes
    (`\\x00`, `\\udfff`), then cut to `limit` characters."""
    if _UNSTORABLE.search(value):
        value = _UNSTORABLE.sub(_escape, value)
    if limit is not None and len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code == 0 else f"\\u{code:04x}"


def _entry(scope: Scope, outcome: str, error_code: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {
        "at": now_ms(),
        "principal": scope.caller.name,
        "action": scope.action,
        "securable_type": scope.securable_type,
        "securable": scope.securable,
        # JSON escapes NUL itself; unpaired surrogates are escaped by _storable.
        "parameters": json.dumps(scope.parameters, sort_keys=True, ensure_ascii=False),
        "outcome": outcome,
        "error_code": error_code,
        "request_id": scope.caller.request_id,
        "client_address": scope.caller.client_address,
    }
    for key, value in values.items():
        if isinstance(value, str):
            values[key] = _storable(value, _COLUMN_LIMITS.get(key))
    return values


HASHED_FIELDS = (
    "seq",
    "at",
    "principal",
    "action",
    "securable_type",
    "securable",
    "parameters",
    "outcome",
    "error_code",
    "request_id",
    "client_address",
    "prev_hash",
)


def record_hash(values: dict[str, Any]) -> str:
    """The SHA-256 that seals a record: its fields, including the previous record's hash.
    (`_SEAL_AND_APPEND` has PostgreSQL compute the same over the same text: change both
    together; `tests/governance/test_audit_log.py` verifies records sealed either way.)"""
    canonical = json.dumps([values[k] for k in HASHED_FIELDS], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# Built once: a mutation appends its record inside its own write transaction, where every
# microsecond is spent holding the write lock.
_settings = t.table_of(t.Setting)
_HEAD = select(_settings.c.value).where(_settings.c.key == HEAD_KEY).with_for_update()
_MOVE_HEAD = _settings.update().where(_settings.c.key == HEAD_KEY).values(value=bindparam("head"))
_INSERT = insert(t.table_of(t.AuditRecord))
#: The columns between `seq` and `prev_hash` in the hashed list, in order.
_MIDDLE = HASHED_FIELDS[1:-1]
# One statement on PostgreSQL: lock the head (a locking read returns the head as the writer
# before left it), seal the record with the hash `record_hash` computes, append it and move the
# head. The client's JSON of the fields between `seq` and `prev_hash` is spliced between the
# two that come from the head (digits and hex, which JSON writes as they are), so the text
# hashed is byte for byte `record_hash`'s. Writers wait here, and once it returns only the
# commit is left: no round trip, and no pause of the client, while the head is held.
_SEAL_AND_APPEND = text(
    """
    WITH head AS (
        SELECT value FROM settings WHERE key = :head_key FOR UPDATE
    ), next AS (
        SELECT split_part(value, ':', 1)::bigint + 1 AS seq, split_part(value, ':', 2) AS prev
        FROM head
    ), sealed AS (
        SELECT seq, prev, encode(sha256(convert_to(
            '[' || seq::text || ', ' || :middle || ', "' || prev || '"]', 'UTF8')), 'hex') AS hash
        FROM next
    ), appended AS (
        INSERT INTO audit_records (seq, at, principal, action, securable_type, securable,
            parameters, outcome, error_code, request_id, client_address, prev_hash, hash)
        SELECT seq, :at, :principal, :action, :securable_type, :securable, :parameters,
            :outcome, :error_code, :request_id, :client_address, prev, hash
        FROM sealed
        RETURNING seq, hash
    )
    UPDATE settings SET value = (SELECT seq::text || ':' || hash FROM appended)
    WHERE key = :head_key
    RETURNING value
    """
)


def _append(session: Session, entries: list[dict[str, Any]]) -> None:
    connection = session.connection()
    if len(entries) == 1 and connection.dialect.name == "postgresql":
        entry = entries[0]
        middle = json.dumps([entry[k] for k in _MIDDLE], ensure_ascii=False)[1:-1]
        moved = connection.execute(
            _SEAL_AND_APPEND, {**entry, "middle": middle, "head_key": HEAD_KEY}
        ).scalar()
        if moved is None:
            raise RuntimeError(
                "the audit chain head is missing; start the server once to create it"
            )
        return
    head = connection.execute(_HEAD).scalar()
    if head is None:
        raise RuntimeError("the audit chain head is missing; start the server once to create it")
    seq_text, _, prev = head.partition(":")
    seq = int(seq_text)
    rows = []
    for entry in entries:
        seq += 1
        values = {**entry, "seq": seq, "prev_hash": prev}
        values["hash"] = prev = record_hash(values)
        rows.append(values)
    connection.execute(_INSERT, rows)
    connection.execute(_MOVE_HEAD, {"head": f"{seq}:{prev}"})


def ensure_head(db: Database) -> None:
    """Create the chain head on first start (a no-op afterwards, and safe between replicas)."""
    with db.read() as session:
        if session.get(t.Setting, HEAD_KEY) is not None:
            return
    try:
        with db.write() as session:
            session.add(t.Setting(key=HEAD_KEY, value=f"0:{GENESIS}"))
    except IntegrityError:
        pass  # another replica created it


class AuditLog:
    """Writes queued records in batches from a background thread, and never drops one.

    Requests only append to a deque; the writer wakes every `interval` seconds (or when asked
    to flush) and writes what has gathered in one transaction. Waking it for every record
    would cost the request threads more, in thread switches, than the records themselves.

    While the database refuses writes, records stay queued and the writer retries with growing
    pauses. The queue is bounded (`max_pending`): when it is full, a request waits up to
    `full_wait` seconds for room, then is refused with 503 rather than served unaudited. A
    batch the database refuses for its content is written record by record, and a record it
    still refuses is stored with every field escaped to ASCII and cut to fit."""

    def __init__(
        self,
        db: Database,
        *,
        batch: int = 2000,
        interval: float = 0.1,
        max_pending: int = 100_000,
        full_wait: float = 5.0,
    ) -> None:
        self.db = db
        self.batch = batch
        self.interval = interval
        self.max_pending = max_pending
        self.full_wait = full_wait
        self.write_failures = 0
        """Failed attempts to write a batch (each retried)."""
        self.dropped = 0
        """Records given up on; nothing increments it, and `/metrics` shows that it stays 0."""
        self.escaped = 0
        """Records stored escaped because the database refused them as they were."""
        self._pending: deque[dict[str, Any]] = deque()
        self._in_flight = 0
        self._busy = False
        self._wake = threading.Event()
        self._done = threading.Condition()
        self._room = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    @property
    def unwritten(self) -> int:
        """Records queued or being written, not yet committed."""
        return len(self._pending) + self._in_flight

    def later(
        self, scope: Scope, outcome: str, error_code: str | None, *, wait: bool = True
    ) -> None:
        """Queue the record; when the queue is full, wait for room (if `wait`), else refuse."""
        if len(self._pending) >= self.max_pending:
            self._wake.set()
            with self._room:
                if not wait or not self._room.wait_for(
                    lambda: len(self._pending) < self.max_pending, timeout=self.full_wait
                ):
                    raise Unavailable(
                        "The audit log is not keeping up (the database is slow or unavailable); "
                        "the request was not served. Retry shortly.",
                        retry_after=int(self.full_wait) or 1,
                    )
        scope.written = True
        self._pending.append(_entry(scope, outcome, error_code))

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every record queued so far is written."""
        self._wake.set()
        with self._done:
            self._done.wait_for(lambda: not self._pending and not self._busy, timeout=timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self._busy = True  # before draining, so that flush never sees an empty, idle log
            while self._pending:
                entries: list[dict[str, Any]] = []
                while self._pending and len(entries) < self.batch:
                    entries.append(self._pending.popleft())
                self._in_flight = len(entries)
                with self._room:
                    self._room.notify_all()
                self._write(entries)
                self._in_flight = 0
            self._busy = False
            with self._done:
                self._done.notify_all()

    def _write(self, entries: list[dict[str, Any]]) -> None:
        """Write `entries` in order, retrying until the database takes them."""
        pause = 0.1
        while True:
            try:
                self._append(entries)
                return
            except Exception:
                self.write_failures += 1
                log.exception("writing %d audit records failed; retrying", len(entries))
            # Is it the database, or what the records hold? Written one by one, a record that
            # cannot be stored as it is gets stored escaped; if even that fails, it is the
            # database: wait, then try the rest again.
            done = 0
            try:
                for entry in entries:
                    try:
                        self._append([entry])
                    except Exception:
                        self._append([_ascii_entry(entry)])
                        self.escaped += 1
                        log.warning("stored an audit record escaped (%s)", entry.get("action"))
                    done += 1
                return
            except Exception:
                entries = entries[done:]
                self._in_flight = len(entries)
                self.write_failures += 1
                log.exception("the database refuses audit records; %d wait", len(entries))
            threading.Event().wait(pause)
            pause = min(pause * 2, 5.0)

    def _append(self, entries: list[dict[str, Any]]) -> None:
        with self.db.write() as session:
            _append(session, entries)


def _ascii_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A record with every text field written in ASCII escapes and cut to its column."""
    safe = dict(entry)
    for key, value in entry.items():
        if isinstance(value, str):
            escaped = json.dumps(value)[1:-1]
            safe[key] = _storable(escaped, _COLUMN_LIMITS.get(key))
    return safe
