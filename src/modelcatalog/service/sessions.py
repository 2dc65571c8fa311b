"""Browser sessions: a person signed in to the web UI with a token holds a session instead.

The browser keeps the session's secret in a cookie; the database keeps its hash, its principal,
the token its forms must send back (against cross-site requests), and its two lifetimes: an idle
one, renewed as the person works, and an absolute one that no activity extends. Every replica
reads the same rows, so a session started on one is known to all, and signing out ends it
everywhere."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from modelcatalog.errors import Unauthenticated
from modelcatalog.service import audit
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.stamps import new_id, now_ms
from modelcatalog.store import tables as t

# A session's last use is written at most this often: reading a page is not a write each time.
TOUCH_EVERY_MS = 60_000


@dataclass(frozen=True)
class BrowserSession:
    """A live session: who it acts for and the token its forms carry."""

    id: str
    caller: Caller
    csrf_token: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@audited("signIn", "principal")
def start(ctx: ServiceContext, caller: Caller) -> tuple[str, BrowserSession]:
    """A new session for `caller` (authenticated by a token); returns the secret for the
    cookie, given once and stored only as a hash."""
    if caller.scope_model_id is not None:
        raise Unauthenticated("A deployment task's token cannot sign in to the web UI.")
    secret = secrets.token_urlsafe(32)
    at = now_ms()
    row = t.BrowserSession(
        id=new_id(),
        secret_hash=_digest(secret),
        principal_id=caller.principal_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=at,
        last_seen_at=at,
        expires_at=at + ctx.sessions.max_seconds * 1000,
    )
    with ctx.db.write() as session:
        audit.describe(caller.name)
        session.add(row)
        session.flush()
        audit.record_in(session)
    return secret, BrowserSession(row.id, caller, row.csrf_token)


def resume(ctx: ServiceContext, secret: str | None) -> BrowserSession:
    """The live session whose cookie holds `secret`, its last use renewed; Unauthenticated with
    the reason when there is none."""
    if not secret:
        raise Unauthenticated("Not signed in.")
    digest = _digest(secret)
    at = now_ms()
    with ctx.db.read() as session:
        found = session.execute(
            select(t.BrowserSession, t.Principal)
            .join(t.Principal, t.Principal.id == t.BrowserSession.principal_id)
            .where(t.BrowserSession.secret_hash == digest)
        ).first()
    if found is None or not hmac.compare_digest(found[0].secret_hash, digest):
        raise Unauthenticated("Not signed in.")
    row, principal = found
    if not principal.active:
        raise Unauthenticated("Your account has been deactivated: ask an admin.")
    idle_until = row.last_seen_at + ctx.sessions.idle_seconds * 1000
    if row.ended_at is not None or at >= min(row.expires_at, idle_until):
        raise Unauthenticated("The session has ended: sign in again.")
    if at - row.last_seen_at >= TOUCH_EVERY_MS:
        with ctx.db.write() as session:
            session.execute(
                update(t.BrowserSession)
                .where(t.BrowserSession.id == row.id)
                .values(last_seen_at=at)
            )
    caller = Caller(name=principal.name, principal_id=principal.id, is_admin=principal.is_admin)
    return BrowserSession(row.id, caller, row.csrf_token)


def csrf_matches(browser: BrowserSession, sent: str | None) -> bool:
    """Whether a form or in-place edit sent this session's token (compared in constant time)."""
    return bool(sent) and hmac.compare_digest(browser.csrf_token, sent or "")


@audited("signOut", "principal")
def end(ctx: ServiceContext, caller: Caller, session_id: str) -> None:
    """End the caller's session `session_id` (signing out); ending an ended one changes
    nothing."""
    with ctx.db.write() as session:
        audit.describe(caller.name)
        session.execute(
            update(t.BrowserSession)
            .where(
                t.BrowserSession.id == session_id,
                t.BrowserSession.principal_id == caller.principal_id,
                t.BrowserSession.ended_at.is_(None),
            )
            .values(ended_at=now_ms())
        )
        audit.record_in(session)
