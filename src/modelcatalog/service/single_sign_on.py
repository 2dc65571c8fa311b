"""Single sign-on: people known to the organisation's OpenID Connect provider become principals.

A person is linked to a principal by the provider's issuer and subject (`sub`) at their first
sign-in: the user the provider provisioned with that `sub` as its SCIM `externalId`, else the
user with their name, else a new user. The name is the lower-cased `email` (or, where the
provider gives none, `preferred_username`); an address the provider marks unverified names no
one. Group memberships follow the groups claim at every sign-in: the groups it names are
created as needed and belong to the provider (catalog admins cannot edit them), and members of
the configured admin group are metastore admins while they are in it.

The same rules serve the three ways in: the browser (authorization code), the terminal (device
authorization, which buys a catalog token) and the provider's access tokens sent as bearer
tokens. A bearer token's principal is looked up without a write; only a first use or a change
of groups writes (and is audited as a sign-in)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from modelcatalog.domain.rules import principal_name
from modelcatalog.errors import Conflict, InvalidParameter, Unauthenticated
from modelcatalog.service import audit
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.identity_provider import IdentityProvider
from modelcatalog.service.principals import hash_token, new_token
from modelcatalog.service.stamps import new_id, now_ms
from modelcatalog.store import tables as t
from modelcatalog.store.database import after_commit

MANAGER = "oidc"
"""`managed_by` of the groups that sign-in creates: the provider's, read-only to admins."""
SSO_TOKEN = "sso"
"""`origin` of the catalog tokens a sign-in from a terminal issues."""


@dataclass(frozen=True)
class Identity:
    """Who the provider says a person is."""

    issuer: str
    subject: str
    name: str
    email: str | None
    display_name: str | None
    #: The groups claim; None when the provider sent none (memberships are then left alone).
    groups: tuple[str, ...] | None


def provider(ctx: ServiceContext) -> IdentityProvider:
    """The configured identity provider; InvalidParameter when single sign-on is off."""
    if ctx.sso is None:
        raise InvalidParameter(
            "Single sign-on is not configured on this catalog (start the server with "
            "--oidc-issuer and --oidc-client-id); sign in with a personal access token."
        )
    return ctx.sso


def identity_of(sso: IdentityProvider, claims: Mapping[str, Any]) -> Identity:
    """The person the claims of a verified token (and user info) describe; Unauthenticated
    when they name no one the catalog can call by name."""
    email = claims.get("email")
    if not isinstance(email, str) or not email or claims.get("email_verified") is False:
        email = None
    username = claims.get("preferred_username")
    raw = email or (username if isinstance(username, str) else None)
    if not raw:
        raise Unauthenticated(
            "The identity provider's token names no verified 'email' and no "
            "'preferred_username': the catalog cannot name this person (ask for the email "
            "scope, or sign in once in the browser)."
        )
    try:
        name = principal_name(raw.strip().lower(), "email")
    except InvalidParameter as exc:
        raise Unauthenticated(f"The identity provider's {exc.message}") from None
    display = claims.get("name")
    groups_claim = sso.settings.groups_claim
    groups: tuple[str, ...] | None = None
    if groups_claim and groups_claim in claims:
        value = claims[groups_claim]
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list):
            raise Unauthenticated(f"The '{groups_claim}' claim is not a list of group names.")
        groups = tuple(sorted({str(g) for g in values if isinstance(g, str) and g}))
    return Identity(
        issuer=sso.settings.issuer_url,
        subject=str(claims["sub"]),
        name=name,
        email=email,
        display_name=display if isinstance(display, str) and display else None,
        groups=groups,
    )


# -- linking ---------------------------------------------------------------------------------


def _linked(session: Session, identity: Identity) -> tuple[t.ExternalIdentity, t.Principal] | None:
    found = session.execute(
        select(t.ExternalIdentity, t.Principal)
        .join(t.Principal, t.Principal.id == t.ExternalIdentity.principal_id)
        .where(
            t.ExternalIdentity.issuer == identity.issuer,
            t.ExternalIdentity.subject == identity.subject,
        )
    ).first()
    return None if found is None else (found[0], found[1])


def _link(session: Session, identity: Identity, at: int) -> tuple[t.ExternalIdentity, t.Principal]:
    """Link the person to their principal (found or created) at their first sign-in."""
    row = session.scalar(
        select(t.Principal).where(
            t.Principal.kind == "user", t.Principal.external_id == identity.subject
        )
    ) or session.scalar(select(t.Principal).where(t.Principal.name == identity.name))
    if row is None:
        row = t.Principal(
            name=identity.name,
            kind="user",
            is_admin=False,
            created_at=at,
            updated_at=at,
            active=True,
            external_id=identity.subject,
            email=identity.email,
            display_name=identity.display_name,
        )
        session.add(row)
        session.flush()
        audit.describe(created=True)
    elif row.kind != "user":
        raise Unauthenticated(
            f"'{row.name}' is a {row.kind.replace('_', ' ')} in this catalog, not a person: "
            "ask an admin."
        )
    else:
        other = session.scalar(
            select(t.ExternalIdentity.subject).where(
                t.ExternalIdentity.principal_id == row.id,
                t.ExternalIdentity.issuer == identity.issuer,
            )
        )
        if other is not None:
            raise Unauthenticated(
                f"'{row.name}' is already linked to another account of the identity provider."
            )
        if row.external_id not in (None, identity.subject):
            # Provisioned for someone the provider knows under another subject.
            raise Unauthenticated(
                f"'{row.name}' was provisioned for another account of the identity provider "
                "(its externalId is not this sign-in's subject): ask an admin."
            )
        row.external_id = identity.subject
        audit.describe(linked=True)
    link = t.ExternalIdentity(
        principal_id=row.id,
        issuer=identity.issuer,
        subject=identity.subject,
        created_at=at,
        last_sign_in_at=at,
        admin_from_group=False,
    )
    session.add(link)
    session.flush()
    return link, row


# -- groups ----------------------------------------------------------------------------------


def _memberships(session: Session, principal_id: int) -> dict[str, t.Principal]:
    """The provider-managed groups the principal is directly in, by name."""
    rows = session.scalars(
        select(t.Principal)
        .join(t.GroupMember, t.GroupMember.group_id == t.Principal.id)
        .where(t.GroupMember.member_id == principal_id, t.Principal.managed_by.is_not(None))
    )
    return {r.name: r for r in rows}


def _groups_differ(session: Session, principal_id: int, groups: Iterable[str]) -> bool:
    held = {n for n, g in _memberships(session, principal_id).items() if g.managed_by == MANAGER}
    return held != set(groups)


def _follow_groups(
    session: Session, row: t.Principal, groups: tuple[str, ...], at: int
) -> tuple[list[str], list[str], list[str]]:
    """Make the principal's provider-managed memberships what the groups claim says; returns
    the groups joined, left, and named but kept by the catalog (not joined)."""
    held = _memberships(session, row.id)
    joined, kept = [], []
    for name in groups:
        if name in held:
            continue
        try:
            clean = principal_name(name, "groups")
        except InvalidParameter:
            kept.append(name)
            continue
        group = session.scalar(select(t.Principal).where(t.Principal.name == clean))
        if group is None:
            group = t.Principal(
                name=clean,
                kind="group",
                is_admin=False,
                created_at=at,
                updated_at=at,
                active=True,
                managed_by=MANAGER,
            )
            session.add(group)
            session.flush()
        elif group.kind != "group" or group.managed_by is None:
            # A group the catalog's admins made (or not a group at all) is theirs to fill.
            kept.append(clean)
            continue
        session.add(t.GroupMember(group_id=group.id, member_id=row.id))
        joined.append(clean)
    left = [n for n, g in held.items() if g.managed_by == MANAGER and n not in groups]
    if left:
        session.execute(
            delete(t.GroupMember).where(
                t.GroupMember.member_id == row.id,
                t.GroupMember.group_id.in_([held[n].id for n in left]),
            )
        )
    return joined, sorted(left), kept


def _follow_admin_group(
    sso: IdentityProvider, link: t.ExternalIdentity, row: t.Principal, groups: tuple[str, ...]
) -> bool | None:
    """Appoint or stand down a metastore admin by the admin group; True/False when changed."""
    admin_group = sso.settings.admin_group
    if admin_group is None:
        return None
    member = admin_group in groups
    if member and not row.is_admin:
        row.is_admin = link.admin_from_group = True
        return True
    if not member and link.admin_from_group:
        row.is_admin = link.admin_from_group = False
        return False
    return None


def _needs_write(
    session: Session, sso: IdentityProvider, identity: Identity, found: tuple | None
) -> bool:
    if found is None:
        return True
    link, row = found
    if identity.groups is None:
        return False
    if _groups_differ(session, row.id, identity.groups):
        return True
    admin_group = sso.settings.admin_group
    if admin_group is None:
        return False
    member = admin_group in identity.groups
    return (member and not row.is_admin) or (not member and link.admin_from_group)


# -- signing in ------------------------------------------------------------------------------


def _caller(row: t.Principal) -> Caller:
    if not row.active:
        raise Unauthenticated(f"'{row.name}' has been deactivated by the identity provider.")
    return Caller(name=row.name, principal_id=row.id, is_admin=row.is_admin)


@audited("signInWithProvider", "principal")
def sign_in(ctx: ServiceContext, caller: Caller, identity: Identity, via: str) -> Caller:
    """The principal of a person the provider vouched for (`via` the browser, a terminal or a
    bearer token), linked or created, its groups and admin standing brought up to date."""
    sso = provider(ctx)
    audit.describe(identity.name, principal=identity.name, subject=identity.subject)
    at = now_ms()
    with ctx.db.write() as session:
        found = _linked(session, identity)
        link, row = found if found is not None else _link(session, identity, at)
        audit.describe(row.name, principal=row.name)
        principal = _caller(row)
        link.last_sign_in_at = at
        if identity.groups is not None:
            joined, left, kept = _follow_groups(session, row, identity.groups, at)
            admin = _follow_admin_group(sso, link, row, identity.groups)
            if joined or left or admin is not None:
                audit.describe(groups_joined=joined, groups_left=left, admin=admin)
                row.updated_at = at

                def forget() -> None:
                    ctx.tokens.clear()
                    ctx.rights.clear()

                after_commit(session, forget)
            if kept:
                audit.describe(groups_not_managed_by_provider=kept)
            principal = _caller(row)
        session.flush()
        audit.record_in(session)
    return principal


def bearer(ctx: ServiceContext, token: str) -> tuple[Caller, int]:
    """The principal of an access token the provider issued for this catalog, and the token's
    expiry (ms); Unauthenticated saying why it is refused. A first use, or changed groups,
    signs the person in (a write, audited); otherwise the principal is only read."""
    sso = provider(ctx)
    claims = sso.verify(token, audience=sso.settings.accepted_audience, what="access token")
    expires_at = int(claims["exp"]) * 1000
    issuer, subject = sso.settings.issuer_url, str(claims["sub"])
    with ctx.db.read() as session:
        probe = Identity(issuer, subject, "", None, None, None)
        found = _linked(session, probe)
        if found is not None and not _has_names(claims):
            return _caller(found[1]), expires_at
        identity = identity_of(sso, claims)
        if not _needs_write(session, sso, identity, found):
            assert found is not None
            return _caller(found[1]), expires_at
    try:
        return sign_in(ctx, Caller("anonymous", 0), identity, "bearer"), expires_at
    except Conflict:
        # Another request of the same person's client linked them a moment ago: use that.
        with ctx.db.read() as session:
            found = _linked(session, identity)
        if found is None:
            raise
        return _caller(found[1]), expires_at


def _has_names(claims: Mapping[str, Any]) -> bool:
    return any(k in claims for k in ("email", "preferred_username"))


def verified_identity(
    ctx: ServiceContext, id_token: str | None, access_token: str | None, *, nonce: str | None
) -> Identity:
    """The person an ID token names (its nonce checked where one was sent), completed with the
    provider's user info where the ID token lacks a name or the groups."""
    sso = provider(ctx)
    if not id_token:
        raise Unauthenticated("The identity provider sent no ID token (is 'openid' allowed?).")
    claims = dict(
        sso.verify(id_token, audience=sso.settings.client_id, what="ID token", nonce=nonce)
    )
    groups_claim = sso.settings.groups_claim
    wants_more = not _has_names(claims) or (groups_claim and groups_claim not in claims)
    if wants_more and access_token:
        info = sso.userinfo(access_token)
        if info.get("sub") == claims["sub"]:
            claims = {**info, **claims}
    return identity_of(sso, claims)


@audited("createToken", "principal")
def issue_terminal_token(ctx: ServiceContext, caller: Caller) -> tuple[str, int]:
    """A catalog token for a person who just signed in from a terminal: it lives as long as a
    browser session at most, and keeps working when personal access tokens are off. Returns
    the token (given once, stored as a hash) and its expiry."""
    token = new_token()
    at = now_ms()
    expires_at = at + ctx.sessions.max_seconds * 1000
    with ctx.db.write() as session:
        audit.describe(caller.name, origin=SSO_TOKEN)
        session.add(
            t.Token(
                id=new_id(),
                principal_id=caller.principal_id,
                token_hash=hash_token(token),
                comment="signed in with single sign-on",
                created_at=at,
                expires_at=expires_at,
                origin=SSO_TOKEN,
            )
        )
        session.flush()
        audit.record_in(session)
    return token, expires_at
