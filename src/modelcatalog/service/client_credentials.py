"""OAuth for machines: a service principal's secrets, exchanged for short-lived access tokens.

A metastore admin creates a secret for a service principal; it is shown once and stored as its
hash, with an expiry. The service principal's client id is its application id, given with its
first secret. At the token endpoint (OAuth 2.0 client credentials, RFC 6749 section 4.4) the
pair buys an access token that lives an hour: a bearer token like any other, accepted by every
dialect, that remembers its secret, so deleting the secret ends its tokens too (at once on this
replica, within the token cache window on the others, as for revoked tokens)."""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from modelcatalog.domain import rules
from modelcatalog.errors import InvalidParameter, NotFound, Unauthenticated
from modelcatalog.service import audit
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.directory import require_admin
from modelcatalog.service.principals import hash_token, new_token
from modelcatalog.service.stamps import new_id, now_ms
from modelcatalog.store import tables as t

SECRET_PREFIX = "mcsp_"
DEFAULT_SECRET_LIFETIME_SECONDS = 730 * 86_400
"""Two years, as Databricks gives its OAuth secrets."""
MAX_SECRET_LIFETIME_SECONDS = 730 * 86_400
ACCESS_TOKEN_SECONDS = 3600
"""How long an access token lives: an hour, after which the client asks for another."""
SECRETS_PER_PRINCIPAL = 5
"""Secrets one service principal may hold at once (enough to rotate without a gap)."""
SCOPES = ("all-apis",)
"""The scopes a token may be asked for; `all-apis` is what databricks-sdk asks for."""


@dataclass(frozen=True)
class SecretView:
    """A secret as it is listed: never the secret itself."""

    secret_id: str
    service_principal: str
    client_id: str
    created_at: int
    created_by: str
    expires_at: int
    last_used_at: int | None

    @property
    def expired(self) -> bool:
        return self.expires_at <= now_ms()


@dataclass(frozen=True)
class AccessToken:
    """What the token endpoint hands back."""

    access_token: str
    expires_in: int
    scope: str


def _service_principal(session: Session, name: object) -> t.Principal:
    if not isinstance(name, str) or not name:
        raise InvalidParameter("A service principal's name is required.", "name")
    row = session.scalar(select(t.Principal).where(t.Principal.name == name))
    if row is None:
        raise NotFound(f"Service principal '{name}' does not exist.")
    if row.kind != "service_principal":
        raise InvalidParameter(
            f"'{name}' is a {row.kind.replace('_', ' ')}: only service principals hold OAuth "
            "secrets (people sign in with a token or single sign-on).",
            "name",
        )
    return row


def _lifetime(value: object) -> int:
    found = rules.lifetime_seconds(
        value, MAX_SECRET_LIFETIME_SECONDS, "730 days", "730 days", zero_is_absent=False
    )
    return DEFAULT_SECRET_LIFETIME_SECONDS if found is None else found


def _view(row: t.ServicePrincipalSecret, principal: t.Principal) -> SecretView:
    return SecretView(
        secret_id=row.id,
        service_principal=principal.name,
        client_id=principal.application_id or "",
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
    )


@audited("createServicePrincipalSecret", "principal")
def create_secret(
    ctx: ServiceContext, caller: Caller, name: object, *, lifetime_seconds: object = None
) -> tuple[str, SecretView]:
    """A new OAuth secret for service principal `name` (metastore admins); the secret is
    returned once and never stored."""
    require_admin(caller, "create OAuth secrets")
    lifetime = _lifetime(lifetime_seconds)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    at = now_ms()
    with ctx.db.write() as session:
        principal = _service_principal(session, name)
        held = session.scalars(
            select(t.ServicePrincipalSecret.id).where(
                t.ServicePrincipalSecret.principal_id == principal.id,
                t.ServicePrincipalSecret.expires_at > at,
            )
        ).all()
        if len(held) >= SECRETS_PER_PRINCIPAL:
            raise InvalidParameter(
                f"Service principal '{principal.name}' already holds {len(held)} live secrets, "
                f"the most it may: delete one first.",
                "name",
            )
        if principal.application_id is None:
            principal.application_id = str(uuid.uuid4())
        row = t.ServicePrincipalSecret(
            id=new_id(),
            principal_id=principal.id,
            secret_hash=hash_token(secret),
            created_at=at,
            created_by=caller.name,
            expires_at=at + lifetime * 1000,
        )
        session.add(row)
        session.flush()
        audit.record_in(session)
        return secret, _view(row, principal)


@audited("listServicePrincipalSecrets", "principal")
def list_secrets(ctx: ServiceContext, caller: Caller, name: object) -> list[SecretView]:
    """The secrets of service principal `name`, oldest first (metastore admins)."""
    require_admin(caller, "list OAuth secrets")
    with ctx.db.read() as session:
        principal = _service_principal(session, name)
        rows = session.scalars(
            select(t.ServicePrincipalSecret)
            .where(t.ServicePrincipalSecret.principal_id == principal.id)
            .order_by(t.ServicePrincipalSecret.created_at, t.ServicePrincipalSecret.id)
        )
        return [_view(r, principal) for r in rows]


@audited("deleteServicePrincipalSecret", "principal")
def delete_secret(ctx: ServiceContext, caller: Caller, name: object, secret_id: object) -> None:
    """Delete a secret of service principal `name` and every access token it bought."""
    require_admin(caller, "delete OAuth secrets")
    with ctx.db.write() as session:
        principal = _service_principal(session, name)
        row = session.get(t.ServicePrincipalSecret, str(secret_id))
        if row is None or row.principal_id != principal.id:
            raise NotFound(f"Secret '{secret_id}' of '{principal.name}' does not exist.")
        tokens = session.scalars(select(t.Token.id).where(t.Token.secret_id == row.id)).all()
        session.execute(delete(t.Token).where(t.Token.secret_id == row.id))
        session.delete(row)
        audit.record_in(session)
    for token_id in tokens:
        ctx.tokens.forget(token_id)


def client(ctx: ServiceContext, client_id: str, client_secret: str) -> tuple[Caller, str]:
    """The service principal whose client id and live secret these are, and the secret's id;
    Unauthenticated with the reason otherwise (one reason for an unknown client and a wrong
    secret, so that neither can be probed alone)."""
    unknown = Unauthenticated("The client id or secret is not valid.")
    digest = hash_token(client_secret)
    with ctx.db.read() as session:
        found = session.execute(
            select(t.ServicePrincipalSecret, t.Principal)
            .join(t.Principal, t.Principal.id == t.ServicePrincipalSecret.principal_id)
            .where(t.ServicePrincipalSecret.secret_hash == digest)
        ).first()
    if found is None:
        raise unknown
    row, principal = found
    same_client = hmac.compare_digest(principal.application_id or "", client_id)
    if not hmac.compare_digest(row.secret_hash, digest) or not same_client:
        raise unknown
    if row.expires_at <= now_ms():
        raise Unauthenticated("The client secret has expired: ask an admin for a new one.")
    if not principal.active:
        raise Unauthenticated(f"'{principal.name}' has been deactivated.")
    caller = Caller(name=principal.name, principal_id=principal.id, is_admin=principal.is_admin)
    return caller, row.id


def scope_of(requested: object) -> str:
    """The scope granted for a request's `scope` (none asked: `all-apis`)."""
    if requested in (None, ""):
        return SCOPES[0]
    asked = str(requested).split()
    unknown = [s for s in asked if s not in SCOPES]
    if unknown:
        raise InvalidParameter(
            f"'scope' asks for {' '.join(unknown)!r}: this catalog grants {', '.join(SCOPES)}.",
            "scope",
        )
    return " ".join(dict.fromkeys(asked))


@audited("issueOAuthToken", "principal")
def issue(ctx: ServiceContext, caller: Caller, secret_id: str, scope: str) -> AccessToken:
    """An access token for the service principal `caller`, bought with its secret `secret_id`
    (see `client`). Tokens of its secrets that have expired are cleared away meanwhile."""
    token = new_token()
    at = now_ms()
    with ctx.db.write() as session:
        audit.describe(caller.name)
        session.execute(
            delete(t.Token).where(
                t.Token.principal_id == caller.principal_id,
                t.Token.secret_id.is_not(None),
                t.Token.expires_at < at,
            )
        )
        session.add(
            t.Token(
                id=new_id(),
                principal_id=caller.principal_id,
                token_hash=hash_token(token),
                comment="OAuth access token",
                created_at=at,
                expires_at=at + ACCESS_TOKEN_SECONDS * 1000,
                secret_id=secret_id,
            )
        )
        secret = session.get(t.ServicePrincipalSecret, secret_id)
        if secret is None:  # deleted between the check and now
            raise Unauthenticated("The client id or secret is not valid.")
        secret.last_used_at = at
        session.flush()
        audit.record_in(session)
    return AccessToken(token, ACCESS_TOKEN_SECONDS, scope)
