"""Reading the audit log: queries by securable, principal, action and time, and verification
of the hash chain (an edited, deleted or inserted record breaks it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from modelcatalog.domain.rules import as_int
from modelcatalog.errors import InvalidParameter
from modelcatalog.service import audit, paging
from modelcatalog.service.audit import GENESIS, HEAD_KEY, audited, record_hash
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.directory import require_admin
from modelcatalog.service.views import Page
from modelcatalog.store import tables as t

VERIFY_BATCH = 5000


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: int
    principal: str
    action: str
    securable_type: str | None
    securable: str | None
    parameters: dict[str, Any]
    outcome: str
    error_code: str | None
    request_id: str | None
    client_address: str | None
    hash: str


def _entry(row: t.AuditRecord) -> AuditEntry:
    return AuditEntry(
        row.seq,
        row.at,
        row.principal,
        row.action,
        row.securable_type,
        row.securable,
        json.loads(row.parameters),
        row.outcome,
        row.error_code,
        row.request_id,
        row.client_address,
        row.hash,
    )


MAX_MILLIS = 2**63 - 1
"""The largest time a 64-bit database integer holds."""


def _millis(value: object, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = as_int(value)
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number <= MAX_MILLIS:
        raise InvalidParameter(
            f"'{field}' is {value!r}: expected milliseconds since the epoch (0 to {MAX_MILLIS}).",
            field,
        )
    return number


OUTCOMES = (audit.OK, audit.DENIED, audit.FAILED)
OLDEST_FIRST, NEWEST_FIRST = "oldest_first", "newest_first"
ORDERS = (OLDEST_FIRST, NEWEST_FIRST)


@audited("queryAuditLog")
def query(
    ctx: ServiceContext,
    caller: Caller,
    *,
    securable: object = None,
    principal: object = None,
    action: object = None,
    request_id: object = None,
    outcome: object = None,
    since: object = None,
    until: object = None,
    max_results: object = None,
    page_token: object = None,
    order: object = None,
) -> Page:
    """Audit records, filtered, oldest first or (`order="newest_first"`) newest first;
    metastore admins only."""
    require_admin(caller, "read the audit log")
    if order not in (None, "", *ORDERS):
        raise InvalidParameter(
            f"'order' is {order!r}: expected one of {', '.join(ORDERS)}.", "order"
        )
    if outcome not in (None, "", *OUTCOMES):
        raise InvalidParameter(
            f"'outcome' is {outcome!r}: expected one of {', '.join(OUTCOMES)}.", "outcome"
        )
    newest_first = order == NEWEST_FIRST
    ctx.audit.flush()
    size = paging.page_size(max_results, 1000, maximum=10_000)
    # A newest-first token carries its direction: one issued for the other order is refused.
    after = paging.decode(page_token, (int, str) if newest_first else (int,))
    if after and newest_first and after[1] != NEWEST_FIRST:
        raise InvalidParameter("'page_token' was not issued for this listing.", "page_token")
    start, end = _millis(since, "since"), _millis(until, "until")
    with ctx.db.read() as session:
        seq = t.AuditRecord.seq
        found = select(t.AuditRecord).order_by(seq.desc() if newest_first else seq)
        found = found.limit(size + 1)
        for column, value in (
            (t.AuditRecord.securable, securable),
            (t.AuditRecord.principal, principal),
            (t.AuditRecord.action, action),
            (t.AuditRecord.request_id, request_id),
            (t.AuditRecord.outcome, outcome),
        ):
            if value not in (None, ""):
                if not isinstance(value, str):
                    raise InvalidParameter(f"'{column.key}' must be a string.", column.key)
                if column.key == "securable":
                    # Catalogs, schemas and models are recorded lower-case; principals as written.
                    found = found.where(column.in_({value, value.lower()}))
                else:
                    found = found.where(column == value)
        if start is not None:
            found = found.where(t.AuditRecord.at >= start)
        if end is not None:
            found = found.where(t.AuditRecord.at < end)
        if after:
            found = found.where(seq < after[0] if newest_first else seq > after[0])
        rows = list(session.scalars(found))
        token = None
        if len(rows) > size:
            last = rows[size - 1].seq
            token = paging.encode([last, NEWEST_FIRST] if newest_first else [last])
        return Page([_entry(r) for r in rows[:size]], token)


@dataclass(frozen=True)
class ChainReport:
    records: int
    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


@audited("verifyAuditLog")
def verify(ctx: ServiceContext, caller: Caller) -> ChainReport:
    """Walk the chain: every record's hash, its link to the one before, numbering without gaps,
    and the head matching the last record."""
    require_admin(caller, "verify the audit log")
    ctx.audit.flush()
    problems: list[str] = []
    expected_seq, prev, count = 1, GENESIS, 0
    with ctx.db.read() as session:
        head = session.get(t.Setting, HEAD_KEY)
        last_seq = 0
        while True:
            rows = list(
                session.scalars(
                    select(t.AuditRecord)
                    .where(t.AuditRecord.seq > last_seq)
                    .order_by(t.AuditRecord.seq)
                    .limit(VERIFY_BATCH)
                )
            )
            if not rows:
                break
            for row in rows:
                count += 1
                if row.seq != expected_seq:
                    why = "records are missing" if row.seq > expected_seq else "numbering is broken"
                    problems.append(f"record {row.seq}: expected record {expected_seq} here; {why}")
                if row.prev_hash != prev:
                    problems.append(
                        f"record {row.seq}: does not link to the record before it (deleted, "
                        "inserted or reordered records)"
                    )
                values = {k: getattr(row, k) for k in audit.HASHED_FIELDS}
                if record_hash(values) != row.hash:
                    problems.append(
                        f"record {row.seq}: its contents do not match its hash (edited)"
                    )
                prev, expected_seq, last_seq = row.hash, row.seq + 1, row.seq
        if head is not None:
            head_seq, _, head_hash = head.value.partition(":")
            if int(head_seq) != last_seq or head_hash != prev:
                problems.append(
                    f"the chain head names record {head_seq}, but the last record is {last_seq} "
                    "(records removed from or added to the end)"
                )
    return ChainReport(count, tuple(problems))
