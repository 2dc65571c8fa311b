"""Principals and their personal access tokens (stored as SHA-256, compared in constant time)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelcatalog.domain import rules
from modelcatalog.errors import InvalidParameter, NotFound, PermissionDenied, Unauthenticated
from modelcatalog.service import audit
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.stamps import new_id, now_ms
from modelcatalog.storage import presign
from modelcatalog.store import tables as t
from modelcatalog.store.database import Database

ADMIN = "admin"
TOKEN_PREFIX = "mc_"
MAX_LIFETIME_SECONDS = 10 * 365 * 24 * 3600


@dataclass(frozen=True)
class TokenView:
    token_id: str
    principal: str
    comment: str | None
    created_at: int
    expires_at: int | None
    revoked: bool


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def existing_principal(session: Session, name: object, field: str = "owner") -> str:
    """The name of an existing principal, for fields such as a new owner."""
    if not isinstance(name, str) or not name:
        raise InvalidParameter(
            f"'{field}' must be the name of a user, group or service principal.", field
        )
    found = session.scalar(select(t.Principal.name).where(t.Principal.name == name))
    if found is None:
        raise InvalidParameter(f"'{field}' is '{name}': no principal has that name.", field)
    return found


def ensure_admin(db: Database, admin_token: str | None) -> str | None:
    """Create the metastore admin on first start; return a new admin token if one was made.

    With `admin_token` (MODELCATALOG_ADMIN_TOKEN) that value becomes a valid admin token; a
    token is generated only when the admin has none, so restarts never mint new secrets."""
    with db.write() as session:
        admin = session.scalar(select(t.Principal).where(t.Principal.name == ADMIN))
        if admin is None:
            admin = t.Principal(name=ADMIN, kind="user", is_admin=True, created_at=now_ms())
            session.add(admin)
            session.flush()
        if admin_token:
            digest = hash_token(admin_token)
            exists = session.scalar(select(t.Token.id).where(t.Token.token_hash == digest))
            if exists is None:
                session.add(
                    t.Token(
                        id=new_id(),
                        principal_id=admin.id,
                        token_hash=digest,
                        comment="from MODELCATALOG_ADMIN_TOKEN",
                        created_at=now_ms(),
                    )
                )
            return None
        has_token = session.scalar(
            select(t.Token.id).where(t.Token.principal_id == admin.id, t.Token.revoked_at.is_(None))
        )
        if has_token is not None:
            return None
        token = new_token()
        session.add(
            t.Token(
                id=new_id(),
                principal_id=admin.id,
                token_hash=hash_token(token),
                comment="created at first start",
                created_at=now_ms(),
            )
        )
        return token


def signing_secret(db: Database) -> bytes:
    """The secret that signs presigned URLs, shared by every replica through the database."""
    for _ in range(2):
        with db.read() as session:
            value = session.scalar(select(t.Setting.value).where(t.Setting.key == "url_secret"))
        if value:
            return base64.b64decode(value)
        try:
            with db.write() as session:
                session.add(
                    t.Setting(
                        key="url_secret", value=base64.b64encode(presign.new_secret()).decode()
                    )
                )
        except IntegrityError:
            pass  # another replica won the race; read its secret
    raise RuntimeError("could not establish the URL-signing secret")


def cached_caller(ctx: ServiceContext, token: str | None) -> Caller | None:
    """The caller for a token verified moments ago, without touching the database."""
    if not token:
        return None
    return ctx.tokens.get(hash_token(token))


def authenticate(ctx: ServiceContext, token: str | None) -> Caller:
    """The principal a bearer token belongs to, or Unauthenticated with the reason."""
    if not token:
        raise Unauthenticated(
            "No credentials: send 'Authorization: Bearer <token>' (create a token with "
            "'modelcatalog tokens create')."
        )
    digest = hash_token(token)
    known = ctx.tokens.get(digest)
    if known is not None:
        return known
    with ctx.db.read() as session:
        found = session.execute(
            select(t.Token, t.Principal)
            .join(t.Principal, t.Principal.id == t.Token.principal_id)
            .where(t.Token.token_hash == digest)
        ).first()
    if found is None or not hmac.compare_digest(found[0].token_hash, digest):
        raise Unauthenticated("The token is not valid.")
    row, principal = found
    if not principal.active:  # its tokens were revoked with it: say why
        raise Unauthenticated(f"'{principal.name}' has been deactivated by the identity provider.")
    if row.revoked_at is not None:
        raise Unauthenticated("The token has been revoked.")
    if row.expires_at is not None and row.expires_at <= now_ms():
        raise Unauthenticated("The token has expired.")
    if not ctx.personal_tokens_for_users and _is_personal(row, principal):
        raise Unauthenticated(PERSONAL_TOKENS_OFF)
    caller = Caller(
        name=principal.name,
        principal_id=principal.id,
        # A deployment task's token acts on its one model, with the owner's rights there only.
        is_admin=principal.is_admin and row.scope_model_id is None,
        scope_model_id=row.scope_model_id,
    )
    ctx.tokens.put(digest, caller, row.expires_at, row.id)
    return caller


PERSONAL_TOKENS_OFF = (
    "Personal access tokens are turned off for people on this catalog: sign in with single "
    "sign-on ('modelcatalog login --sso', or the web UI's 'Sign in with' button)."
)


def _is_personal(row: t.Token, principal: t.Principal) -> bool:
    """Whether a token is a person's personal access token, which `--disable-pat-for-users`
    turns off: not a service principal's, not one issued at single sign-on, not a deployment
    task's, and not the built-in admin's (the way back in when the provider is down)."""
    return (
        principal.kind == "user"
        and principal.name != ADMIN
        and row.origin is None
        and row.scope_model_id is None
        and row.secret_id is None
    )


def _owner_of_tokens(session: Session, caller: Caller, principal: object) -> tuple[int, str]:
    """Whose tokens a call is about: the caller's own, or (for admins) a named principal's."""
    if caller.scope_model_id is not None:
        raise PermissionDenied("Permission denied: a deployment task's token cannot manage tokens.")
    if principal is None or principal == caller.name:
        return caller.principal_id, caller.name
    if not caller.is_admin:
        raise PermissionDenied(
            "Permission denied: only metastore admins manage other principals' tokens."
        )
    if not isinstance(principal, str):
        raise InvalidParameter("'principal' must be a principal's name.", "principal")
    row = session.scalar(select(t.Principal).where(t.Principal.name == principal))
    if row is None:
        raise NotFound(f"Principal '{principal}' does not exist.")
    if row.kind == "group":
        raise InvalidParameter(
            f"'principal' is '{principal}', a group; tokens belong to users and service "
            "principals.",
            "principal",
        )
    return row.id, row.name


@audited("createToken", "principal")
def create_token(
    ctx: ServiceContext,
    caller: Caller,
    *,
    comment: object = None,
    lifetime_seconds: object = None,
    principal: object = None,
) -> tuple[str, TokenView]:
    """A new token for the caller (or, for an admin, for `principal`); the secret is returned
    once and never stored."""
    comment = rules.comment(comment)
    created_at = now_ms()
    lifetime = rules.lifetime_seconds(
        lifetime_seconds, MAX_LIFETIME_SECONDS, "ten years", "no expiry", zero_is_absent=True
    )
    expires_at = None if lifetime is None else created_at + lifetime * 1000
    token = new_token()
    with ctx.db.write() as session:
        owner_id, owner = _owner_of_tokens(session, caller, principal)
        audit.describe(owner)
        if (
            not ctx.personal_tokens_for_users
            and owner != ADMIN
            and session.scalar(select(t.Principal.kind).where(t.Principal.id == owner_id)) == "user"
        ):
            raise PermissionDenied(
                f"Permission denied: personal access tokens are turned off for people on this "
                f"catalog, '{owner}' included; people sign in with single sign-on."
            )
        row = t.Token(
            id=new_id(),
            principal_id=owner_id,
            token_hash=hash_token(token),
            comment=comment,
            created_at=created_at,
            expires_at=expires_at,
        )
        session.add(row)
        session.flush()
        audit.record_in(session)
    return token, _token_view(row, owner)


def _token_view(row: t.Token, principal: str) -> TokenView:
    return TokenView(
        row.id, principal, row.comment, row.created_at, row.expires_at, row.revoked_at is not None
    )


@audited("listTokens", "principal")
def list_tokens(ctx: ServiceContext, caller: Caller, principal: object = None) -> list[TokenView]:
    with ctx.db.read() as session:
        owner_id, owner = _owner_of_tokens(session, caller, principal)
        # A service principal's OAuth access tokens come and go by the hour: its secrets are
        # what is managed (see client_credentials).
        rows = session.scalars(
            select(t.Token)
            .where(t.Token.principal_id == owner_id, t.Token.secret_id.is_(None))
            .order_by(t.Token.created_at)
        )
        return [_token_view(r, owner) for r in rows]


@audited("revokeToken", "token")
def revoke_token(ctx: ServiceContext, caller: Caller, token_id: str) -> None:
    with ctx.db.write() as session:
        _owner_of_tokens(session, caller, None)
        row = session.get(t.Token, token_id)
        if row is None or (row.principal_id != caller.principal_id and not caller.is_admin):
            raise NotFound(f"Token '{token_id}' does not exist.")
        if row.revoked_at is None:
            row.revoked_at = now_ms()
        audit.record_in(session)
    ctx.tokens.forget(token_id)
