"""Notifications: destinations (an email address or a webhook URL), a delivery per notification
and destination, sent by the engine with retries and kept as the delivery log.

A delivery is written in the transaction that decides to notify (`enqueue`), so it exists if and
only if that change commits. `deliver_due` claims a due delivery with a conditional UPDATE that
moves its next attempt a lease ahead, so two replicas never send it at once, and a replica that
dies mid-send leaves it to be retried when the lease runs out.

Retries: a failed attempt is retried after backoff × 2^(attempts-1) until `delivery_attempts`
attempts were made; then the delivery is FAILED. An answer that says the request itself is wrong
(a 4xx other than 408 Request Timeout and 429 Too Many Requests) fails the delivery at once: the
same body with the same signature would be refused again. The delivery id stays the same across
attempts, so a receiver can tell a retry from a new notification."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from modelcatalog.channels import email as mail
from modelcatalog.channels import webhooks
from modelcatalog.domain import events as ev
from modelcatalog.domain import rules
from modelcatalog.errors import AlreadyExists, InvalidParameter, NotFound, PermissionDenied
from modelcatalog.service import audit, paging, smtp
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.stamps import new_id, now_ms
from modelcatalog.service.views import Page
from modelcatalog.store import tables as t

log = logging.getLogger("modelcatalog.notifications")

EMAIL, WEBHOOK = "email", "webhook"
KINDS = (EMAIL, WEBHOOK)
PENDING, DELIVERED, FAILED = "PENDING", "DELIVERED", "FAILED"
STATES = (PENDING, DELIVERED, FAILED)
TEST = ev.TEST
MAX_SECRET = 1024


@dataclass(frozen=True)
class DestinationView:
    """A destination as everyone authenticated may see it: never its secret."""

    name: str
    kind: str
    address: str
    has_secret: bool
    owner: str
    created_at: int


@dataclass(frozen=True)
class DeliveryView:
    """One entry of the delivery log."""

    id: str
    destination: str
    event: str
    state: str
    attempts: int
    created_at: int
    next_attempt_at: int | None
    delivered_at: int | None
    last_status: int | None
    last_error: str | None
    payload: dict[str, Any]


def _view(row: t.NotificationDestination) -> DestinationView:
    return DestinationView(
        row.name, row.kind, row.address, row.encrypted_secret is not None, row.owner, row.created_at
    )


def _delivery_view(row: t.Delivery, destination: str) -> DeliveryView:
    return DeliveryView(
        row.id,
        destination,
        row.event,
        row.state,
        row.attempts,
        row.created_at,
        row.next_attempt_at if row.state == PENDING else None,
        row.delivered_at,
        row.last_status,
        row.last_error,
        json.loads(row.payload),
    )


def _find(session: Session, name: object) -> t.NotificationDestination:
    key = name.strip().lower() if isinstance(name, str) else ""
    row = session.scalar(
        select(t.NotificationDestination).where(t.NotificationDestination.name == key)
    )
    if row is None:
        raise NotFound(f"Notification destination '{name}' does not exist.")
    return row


def _require_owner(caller: Caller, row: t.NotificationDestination, what: str) -> None:
    if not (caller.is_admin or row.owner == caller.name):
        raise PermissionDenied(
            f"Permission denied: only the owner of notification destination '{row.name}' "
            f"({row.owner}) or a metastore admin can {what}."
        )


# Destinations -------------------------------------------------------------------------------


@audited("createNotificationDestination", "notification_destination")
def create_destination(
    ctx: ServiceContext,
    caller: Caller,
    *,
    name: object,
    kind: object,
    address: object,
    secret: object = None,
) -> DestinationView:
    """A new destination owned by the caller; a webhook's secret is kept only encrypted."""
    clean = rules.name_part(name, "name")
    audit.describe(clean)
    if caller.scope_model_id is not None:
        raise PermissionDenied(
            "Permission denied: a deployment task's token cannot create notification destinations."
        )
    if kind not in KINDS:
        raise InvalidParameter(f"'kind' is {kind!r}; allowed: {', '.join(KINDS)}.", "kind")
    sealed = None
    if kind == EMAIL:
        target = mail.address(address, "address")
        if secret not in (None, ""):
            raise InvalidParameter(
                "'secret' applies to webhooks only; an email destination has none.", "secret"
            )
    else:
        target = webhooks.validate_url(
            address,
            allow_http=ctx.jobs.allow_http_webhooks,
            allow_private=ctx.jobs.allow_private_webhooks,
            field="address",
        )
        if secret not in (None, ""):
            if not isinstance(secret, str) or len(secret) > MAX_SECRET or secret != secret.strip():
                raise InvalidParameter(
                    f"'secret' must be text of 1 to {MAX_SECRET} characters without leading or "
                    "trailing spaces.",
                    "secret",
                )
            sealed = secret_box(ctx).seal(secret)
    with ctx.db.write() as session:
        exists = session.scalar(
            select(t.NotificationDestination.id).where(t.NotificationDestination.name == clean)
        )
        if exists is not None:
            raise AlreadyExists(f"Notification destination '{clean}' already exists.")
        row = t.NotificationDestination(
            id=new_id(),
            name=clean,
            kind=kind,
            address=target,
            encrypted_secret=sealed,
            owner=caller.name,
            created_at=now_ms(),
        )
        session.add(row)
        session.flush()
        audit.record_in(session)
        return _view(row)


@audited("listNotificationDestinations", "notification_destination")
def list_destinations(ctx: ServiceContext, caller: Caller) -> list[DestinationView]:
    """Every destination (their names are what job definitions and triggers refer to)."""
    with ctx.db.read() as session:
        rows = session.scalars(
            select(t.NotificationDestination).order_by(t.NotificationDestination.name)
        )
        return [_view(r) for r in rows]


@audited("getNotificationDestination", "notification_destination")
def get_destination(ctx: ServiceContext, caller: Caller, name: str) -> DestinationView:
    with ctx.db.read() as session:
        return _view(_find(session, name))


@audited("deleteNotificationDestination", "notification_destination")
def delete_destination(ctx: ServiceContext, caller: Caller, name: str) -> None:
    """Delete a destination and its delivery log (its owner or a metastore admin)."""
    with ctx.db.write() as session:
        row = _find(session, name)
        _require_owner(caller, row, "delete it")
        session.execute(delete(t.Delivery).where(t.Delivery.destination_id == row.id))
        session.delete(row)
        audit.record_in(session)


def require_destinations(session: Session, names: Iterable[str], field: str) -> None:
    """InvalidParameter naming `field` and every name that is not a destination."""
    wanted = {n.strip().lower(): n for n in names}
    if not wanted:
        return
    found = set(
        session.scalars(
            select(t.NotificationDestination.name).where(
                t.NotificationDestination.name.in_(list(wanted))
            )
        )
    )
    unknown = [wanted[k] for k in wanted if k not in found]
    if unknown:
        listed = ", ".join(f"'{n}'" for n in sorted(unknown))
        raise InvalidParameter(
            f"'{field}' names {listed}, which {'is not a' if len(unknown) == 1 else 'are not'} "
            "notification destination"
            + ("" if len(unknown) == 1 else "s")
            + "; create one with 'modelcatalog notifications create'.",
            field,
        )


# Enqueueing ---------------------------------------------------------------------------------


def _add(session: Session, destination_id: str, kind: str, payload: dict[str, Any]) -> t.Delivery:
    at = now_ms()
    row = t.Delivery(
        id=new_id(),
        destination_id=destination_id,
        event=kind,
        payload=json.dumps(payload, sort_keys=True, default=str),
        state=PENDING,
        attempts=0,
        next_attempt_at=at,
        created_at=at,
    )
    session.add(row)
    return row


def enqueue(session: Session, destinations: Iterable[str], kind: str, payload: dict) -> int:
    """One pending delivery per named destination, in the caller's transaction; names deleted
    since are skipped. The caller wakes the engine after commit."""
    names = list(dict.fromkeys(n.strip().lower() for n in destinations))
    if not names:
        return 0
    rows = dict(
        session.execute(
            select(t.NotificationDestination.name, t.NotificationDestination.id).where(
                t.NotificationDestination.name.in_(names)
            )
        ).all()
    )
    for name in names:
        if name in rows:
            _add(session, rows[name], kind, payload)
        else:
            log.warning("Notification destination '%s' no longer exists; %s not sent.", name, kind)
    return sum(1 for n in names if n in rows)


@audited("testNotificationDestination", "notification_destination")
def send_test(ctx: ServiceContext, caller: Caller, destination: str) -> DeliveryView:
    """Queue a TEST notification to a destination (its owner or a metastore admin)."""
    with ctx.db.write() as session:
        row = _find(session, destination)
        _require_owner(caller, row, "send it a test notification")
        payload = {"destination": row.name, "actor": caller.name, "timestamp": now_ms()}
        delivery = _add(session, row.id, TEST, payload)
        session.flush()
        audit.record_in(session)
        view = _delivery_view(delivery, row.name)
    ctx.wake_engine()
    return view


# The delivery log ---------------------------------------------------------------------------


@audited("listDeliveries", "notification_destination")
def list_deliveries(
    ctx: ServiceContext,
    caller: Caller,
    *,
    destination: object = None,
    state: object = None,
    max_results: object = None,
    page_token: object = None,
) -> Page:
    """Deliveries, newest first: of the caller's own destinations (every one, for an admin)."""
    size = paging.page_size(max_results, 100)
    after = paging.decode(page_token, (int, str))
    if state not in (None, "") and (not isinstance(state, str) or state.upper() not in STATES):
        raise InvalidParameter(f"'state' is {state!r}; allowed: {', '.join(STATES)}.", "state")
    with ctx.db.read() as session:
        query = (
            select(t.Delivery, t.NotificationDestination.name)
            .join(
                t.NotificationDestination, t.NotificationDestination.id == t.Delivery.destination_id
            )
            .order_by(t.Delivery.created_at.desc(), t.Delivery.id.desc())
            .limit(size + 1)
        )
        if destination not in (None, ""):
            audit.describe(destination if isinstance(destination, str) else None)
            row = _find(session, destination)
            _require_owner(caller, row, "read its deliveries")
            query = query.where(t.Delivery.destination_id == row.id)
        elif not caller.is_admin:
            query = query.where(t.NotificationDestination.owner == caller.name)
        if state not in (None, ""):
            query = query.where(t.Delivery.state == str(state).upper())
        if after:
            query = query.where(
                or_(
                    t.Delivery.created_at < after[0],
                    and_(t.Delivery.created_at == after[0], t.Delivery.id < after[1]),
                )
            )
        found = session.execute(query).all()
        token = None
        if len(found) > size:
            last = found[size - 1][0]
            token = paging.encode([last.created_at, last.id])
        return Page([_delivery_view(d, name) for d, name in found[:size]], token)


# SMTP settings --------------------------------------------------------------------------------


@audited("setSmtpSettings", "metastore")
def set_smtp(
    ctx: ServiceContext,
    caller: Caller,
    *,
    host: object,
    port: object = None,
    username: object = None,
    password: object = None,
    from_address: object,
    security: object = None,
) -> dict[str, Any]:
    """Store the SMTP server email notifications go through; metastore admins only."""
    _require_admin(caller, "configure the SMTP server")
    settings, plain = smtp.validate(
        host=host,
        port=port,
        security=security,
        from_address=from_address,
        username=username,
        password=password,
    )
    sealed = secret_box(ctx).seal(plain) if plain is not None else None
    with ctx.db.write() as session:
        smtp.store(session, settings, sealed)
        audit.record_in(session)
    return smtp.stored(settings, sealed).public()


@audited("getSmtpSettings", "metastore")
def get_smtp(ctx: ServiceContext, caller: Caller) -> dict[str, Any]:
    """The SMTP settings without the password (`has_password` says whether one is stored)."""
    _require_admin(caller, "read the SMTP settings")
    with ctx.db.read() as session:
        found = smtp.load(session)
    if found is None:
        raise NotFound(smtp.NOT_CONFIGURED)
    return found.public()


@audited("deleteSmtpSettings", "metastore")
def delete_smtp(ctx: ServiceContext, caller: Caller) -> None:
    _require_admin(caller, "delete the SMTP settings")
    with ctx.db.write() as session:
        if not smtp.remove(session):
            raise NotFound(smtp.NOT_CONFIGURED)
        audit.record_in(session)


def _require_admin(caller: Caller, what: str) -> None:
    if not caller.is_admin:
        raise PermissionDenied(f"Permission denied: only metastore admins {what}.")


def secret_box(ctx: ServiceContext):  # type: ignore[no-untyped-def]
    """The server's secret box (every server has one; a bare context may not)."""
    if ctx.secrets is None:
        raise RuntimeError("the server has no secret key to encrypt secrets with")
    return ctx.secrets
