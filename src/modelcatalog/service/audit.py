"""The audit log: one append-only record per service call, chained by SHA-256 so that an edited,
deleted or inserted record shows.

Every public service operation is wrapped in `audited(action)`. A mutation writes its record in
its own transaction (`record_in`), so a change and its record commit or vanish together. Reads,
denials and failures are queued and written in batches by a background thread, so that auditing
a read costs the request almost nothing. Records are chained in the order they are written: the
chain head (`settings.audit_head`) is locked while a record is appended."""

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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelcatalog.errors import CatalogError, Conflict, HiddenFromCaller, PermissionDenied
from modelcatalog.service.context import Caller, now_ms
from modelcatalog.store import tables as t
from modelcatalog.store.database import Database, lost_race

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


def audited(action: str, securable_type: str | None = None) -> Callable[[F], F]:
    """Make a service operation leave exactly one audit record, whatever its outcome.

    The securable defaults to the operation's first argument after the caller; an operation
    that knows better calls `describe`. Calls nested inside another audited call add nothing."""

    def wrap(fn: F) -> F:
        # Positional names after (ctx, caller), worked out once: binding a signature on every
        # call would cost the hot read path more than the rest of the record.
        positional = list(inspect.signature(fn).parameters)[2:]

        @functools.wraps(fn)
        def run(ctx: Any, caller: Caller, *args: Any, **kwargs: Any) -> Any:
            if _current.get() is not None:
                return fn(ctx, caller, *args, **kwargs)
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


def record_in(session: Session) -> None:
    """Write the current operation's record in the session that makes its change."""
    scope = _current.get()
    if scope is None or scope.written:
        return
    _append(session, [_entry(scope, OK, None)])
    scope.written = True
    # A record rolled back with its change is no record: the outcome is then written later.
    event.listen(session, "after_rollback", lambda _s: setattr(scope, "written", False), once=True)


def record_refused_credentials(log: AuditLog, bearer: Caller, path: str, reason: str) -> None:
    """A request turned away for missing or bad credentials is a denial too."""
    scope = Scope(bearer, "authenticate", None, None, {"path": path, "reason": reason})
    log.later(scope, DENIED, "UNAUTHENTICATED")


def _entry(scope: Scope, outcome: str, error_code: str | None) -> dict[str, Any]:
    return {
        "at": now_ms(),
        "principal": scope.caller.name,
        "action": scope.action,
        "securable_type": scope.securable_type,
        "securable": scope.securable,
        "parameters": json.dumps(scope.parameters, sort_keys=True, ensure_ascii=False),
        "outcome": outcome,
        "error_code": error_code,
        "request_id": scope.caller.request_id,
        "client_address": scope.caller.client_address,
    }


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
    """The SHA-256 that seals a record: its fields, including the previous record's hash."""
    canonical = json.dumps([values[k] for k in HASHED_FIELDS], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# Built once: a mutation appends its record inside its own write transaction, where every
# microsecond is spent holding the write lock.
_settings = t.Setting.__table__
_HEAD = select(_settings.c.value).where(_settings.c.key == HEAD_KEY).with_for_update()
_MOVE_HEAD = _settings.update().where(_settings.c.key == HEAD_KEY).values(value=bindparam("head"))
_INSERT = insert(t.AuditRecord.__table__)


def _append(session: Session, entries: list[dict[str, Any]]) -> None:
    connection = session.connection()
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
    """Writes queued records in batches from a background thread.

    Requests only append to a deque; the writer wakes every `interval` seconds (or when asked
    to flush) and writes what has gathered in one transaction. Waking it for every record
    would cost the request threads more, in thread switches, than the records themselves."""

    def __init__(self, db: Database, *, batch: int = 2000, interval: float = 0.1) -> None:
        self.db = db
        self.batch = batch
        self.interval = interval
        self._pending: deque[dict[str, Any]] = deque()
        self._busy = False
        self._wake = threading.Event()
        self._done = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def later(self, scope: Scope, outcome: str, error_code: str | None) -> None:
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
                entries = []
                while self._pending and len(entries) < self.batch:
                    entries.append(self._pending.popleft())
                self._write(entries)
            self._busy = False
            with self._done:
                self._done.notify_all()

    def _write(self, entries: list[dict[str, Any]]) -> None:
        for attempt in range(5):
            try:
                with self.db.write() as session:
                    _append(session, entries)
                return
            except Exception:  # the database may be briefly unavailable; keep the records
                log.exception(
                    "writing %d audit records failed (attempt %d)", len(entries), attempt + 1
                )
                threading.Event().wait(0.5 * (attempt + 1))
        log.error("dropped %d audit records after repeated failures", len(entries))
