"""Sending notifications: the engine's `deliver_due` claims due deliveries, sends each by
webhook or email, and records the outcome (see `notifications` for the retry rules)."""

from __future__ import annotations

import http.client
import json
import logging
import smtplib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from modelcatalog.channels import email as mail
from modelcatalog.channels import webhooks
from modelcatalog.service import measures
from modelcatalog.service import smtp as smtp_settings
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.notifications import (
    DELIVERED,
    EMAIL,
    FAILED,
    PENDING,
    WEBHOOK,
    secret_box,
)
from modelcatalog.service.stamps import now_ms
from modelcatalog.store import tables as t
from modelcatalog.store.results import rowcount

log = logging.getLogger("modelcatalog.notifications")

#: Deliveries one tick takes, and how many are sent at once.
BATCH = 50
PARALLEL = 4
#: How long a claimed delivery is this replica's before another may try it.
LEASE_MS = 120_000
MAX_ERROR = 1000


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    ok: bool
    status: int | None = None
    error: str | None = None
    final: bool = False


def deliver_due(ctx: ServiceContext) -> int:
    """Send the deliveries that are due, oldest first, a bounded batch; returns how many were
    attempted by this replica."""
    now = now_ms()
    with ctx.db.read() as session:
        due = session.execute(
            select(t.Delivery.id, t.Delivery.next_attempt_at)
            .where(t.Delivery.state == PENDING, t.Delivery.next_attempt_at <= now)
            .order_by(t.Delivery.created_at, t.Delivery.id)
            .limit(BATCH)
        ).all()
    claimed = [lease for lease in (_claim(ctx, d, at) for d, at in due) if lease is not None]
    if not claimed:
        return 0
    if len(claimed) == 1:
        _attempt(ctx, *claimed[0])
    else:
        # One slow or dead destination must not hold up the others.
        with ThreadPoolExecutor(PARALLEL, thread_name_prefix="notification") as pool:
            list(pool.map(lambda lease: _attempt(ctx, *lease), claimed))
    return len(claimed)


def _claim(ctx: ServiceContext, delivery_id: str, seen: int) -> tuple[str, int] | None:
    """Take a delivery for this replica by moving its next attempt a lease ahead."""
    lease = now_ms() + LEASE_MS
    with ctx.db.write() as session:
        taken = rowcount(
            session.execute(
                update(t.Delivery)
                .where(
                    t.Delivery.id == delivery_id,
                    t.Delivery.state == PENDING,
                    t.Delivery.next_attempt_at == seen,
                )
                .values(next_attempt_at=lease)
            )
        )
    return (delivery_id, lease) if taken else None


def _attempt(ctx: ServiceContext, delivery_id: str, lease: int) -> None:
    try:
        with ctx.db.read() as session:
            found = session.execute(
                select(t.Delivery, t.NotificationDestination)
                .join(
                    t.NotificationDestination,
                    t.NotificationDestination.id == t.Delivery.destination_id,
                )
                .where(t.Delivery.id == delivery_id)
            ).first()
            if found is None:
                return  # the destination was deleted, and its log with it
            delivery, destination = found
            smtp = smtp_settings.load(session) if destination.kind == EMAIL else None
            session.expunge_all()
        if destination.kind == WEBHOOK:
            outcome = _send_webhook(ctx, delivery, destination)
        else:
            outcome = _send_email(ctx, delivery, destination, smtp)
        _record(ctx, delivery, lease, outcome, destination.kind)
    except Exception:
        # The lease runs out and the delivery is tried again; nothing is lost.
        log.exception("Delivery %s could not be attempted.", delivery_id)


def _send_webhook(
    ctx: ServiceContext, delivery: t.Delivery, destination: t.NotificationDestination
) -> Outcome:
    secret = None
    try:
        if destination.encrypted_secret is not None:
            secret = secret_box(ctx).open(destination.encrypted_secret)
        target = webhooks.check_url(
            destination.address,
            allow_http=ctx.jobs.allow_http_webhooks,
            allow_private=ctx.jobs.allow_private_webhooks,
        )
        body = webhooks.body_of(delivery.event, json.loads(delivery.payload), delivery.created_at)
        sent = webhooks.headers(delivery.id, str(int(time.time())), body, secret)
        status = webhooks.post(target, body, sent)
    except webhooks.Refused as exc:
        return Outcome(False, error=f"refused: {exc}")
    except (OSError, http.client.HTTPException, ValueError, RuntimeError) as exc:
        return Outcome(False, error=_redact(_describe(exc), secret))
    if 200 <= status < 300:
        return Outcome(True, status)
    final = 400 <= status < 500 and status not in (408, 429)
    return Outcome(False, status, f"the receiver answered HTTP {status}", final)


def _send_email(
    ctx: ServiceContext,
    delivery: t.Delivery,
    destination: t.NotificationDestination,
    smtp: mail.SmtpSettings | None,
) -> Outcome:
    if smtp is None:
        return Outcome(False, error=smtp_settings.NOT_CONFIGURED)
    password = None
    try:
        if smtp.password is not None:
            password = secret_box(ctx).open(smtp.password)
        message = mail.message(
            delivery.event, json.loads(delivery.payload), smtp.from_address, destination.address
        )
        mail.send(smtp, password, message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        text = _redact(_describe(exc), password)
        return Outcome(False, codes[0] if codes else None, text, all(c >= 500 for c in codes))
    except smtplib.SMTPResponseException as exc:
        return Outcome(False, exc.smtp_code, _redact(_describe(exc), password))
    except (OSError, smtplib.SMTPException, ValueError, RuntimeError) as exc:
        return Outcome(False, error=_redact(_describe(exc), password))
    return Outcome(True, 250)


def _describe(exc: Exception) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out after {webhooks.TIMEOUT_SECONDS:g} s"
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else exc.smtp_error
        )
        return f"the SMTP server answered {exc.smtp_code} {reply}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if isinstance(exc, OSError) else text


def _redact(text: str, secret: str | None) -> str:
    # An error message never carries a secret, whatever a server or a library put in it.
    if secret:
        text = text.replace(secret, "[redacted]")
    return text[:MAX_ERROR]


def _record(
    ctx: ServiceContext, delivery: t.Delivery, lease: int, outcome: Outcome, channel: str
) -> None:
    """Write an attempt's outcome, unless the lease ran out and another replica took over."""
    attempts = delivery.attempts + 1
    now = now_ms()
    values: dict[str, Any] = {"attempts": attempts, "last_status": outcome.status}
    if outcome.ok:
        values.update(state=DELIVERED, delivered_at=now, last_error=None)
    elif outcome.final or attempts >= ctx.jobs.delivery_attempts:
        values.update(state=FAILED, last_error=outcome.error)
    else:
        wait = ctx.jobs.delivery_backoff_seconds * 2 ** (attempts - 1)
        values.update(next_attempt_at=now + int(wait * 1000), last_error=outcome.error)
    with ctx.db.write() as session:
        written = rowcount(
            session.execute(
                update(t.Delivery)
                .where(
                    t.Delivery.id == delivery.id,
                    t.Delivery.state == PENDING,
                    t.Delivery.next_attempt_at == lease,
                )
                .values(**values)
            )
        )
    if written:
        result = values.get("state", "RETRYING").lower()
        measures.deliveries.labels(channel.lower(), result).inc()
    if not written:
        log.warning(
            "Delivery %s was taken over by another server before its result was kept.", delivery.id
        )
    elif not outcome.ok:
        log.info(
            "Delivery %s attempt %d failed: %s",
            delivery.id,
            attempts,
            outcome.error or outcome.status,
        )
