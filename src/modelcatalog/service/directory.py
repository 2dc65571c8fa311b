"""The directory of principals: users, service principals and groups (which may nest), and who
the metastore admins are. Changing it is for metastore admins; anyone may look names up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelcatalog.domain.rules import principal_name
from modelcatalog.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidParameter,
    NotFound,
    PermissionDenied,
)
from modelcatalog.service import audit
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.stamps import now_ms
from modelcatalog.store import queries
from modelcatalog.store import tables as t
from modelcatalog.store.database import after_commit, take_turns
from modelcatalog.store.results import rowcount

KINDS = ("user", "service_principal", "group")


@dataclass(frozen=True)
class PrincipalView:
    name: str
    kind: str
    is_admin: bool
    created_at: int
    #: Groups it belongs to directly.
    groups: tuple[str, ...] = ()
    #: For a group: its direct members.
    members: tuple[str, ...] = ()
    #: Who alone changes it: the identity provider ("scim") for a provisioned group.
    managed_by: str | None = None
    #: False once the identity provider deactivated it.
    active: bool = True


def require_admin(caller: Caller, what: str) -> None:
    if not caller.is_admin:
        raise PermissionDenied(f"Permission denied: only metastore admins {what}.")


def _row(session: Session, name: str) -> t.Principal:
    row = session.scalar(select(t.Principal).where(t.Principal.name == name))
    if row is None:
        raise NotFound(f"Principal '{name}' does not exist.")
    return row


def _view(session: Session, row: t.Principal) -> PrincipalView:
    groups = session.scalars(
        select(t.Principal.name)
        .join(t.GroupMember, t.GroupMember.group_id == t.Principal.id)
        .where(t.GroupMember.member_id == row.id)
        .order_by(t.Principal.name)
    )
    members = session.scalars(
        select(t.Principal.name)
        .join(t.GroupMember, t.GroupMember.member_id == t.Principal.id)
        .where(t.GroupMember.group_id == row.id)
        .order_by(t.Principal.name)
    )
    return PrincipalView(
        row.name,
        row.kind,
        row.is_admin,
        row.created_at,
        tuple(groups),
        tuple(members),
        row.managed_by,
        row.active,
    )


@audited("createPrincipal", "principal")
def create_principal(
    ctx: ServiceContext, caller: Caller, name: object, kind: object = "user"
) -> PrincipalView:
    """Add a user, service principal or group to the directory."""
    require_admin(caller, "create principals")
    clean = principal_name(name)
    if kind not in KINDS:
        raise InvalidParameter(f"'kind' is {kind!r}; expected one of {', '.join(KINDS)}.", "kind")
    try:
        with ctx.db.write() as session:
            row = t.Principal(name=clean, kind=kind, is_admin=False, created_at=now_ms())
            session.add(row)
            session.flush()
            audit.record_in(session)
            return _view(session, row)
    except IntegrityError:
        raise AlreadyExists(f"Principal '{clean}' already exists.") from None


@audited("getPrincipal", "principal")
def get_principal(ctx: ServiceContext, caller: Caller, name: object) -> PrincipalView:
    with ctx.db.read() as session:
        return _view(session, _row(session, principal_name(name)))


@audited("listPrincipals", "principal")
def list_principals(
    ctx: ServiceContext, caller: Caller, kind: object = None, name_contains: object = None
) -> list[PrincipalView]:
    if kind not in (None, "") and kind not in KINDS:
        raise InvalidParameter(f"'kind' is {kind!r}; expected one of {', '.join(KINDS)}.", "kind")
    with ctx.db.read() as session:
        query = select(t.Principal).order_by(t.Principal.name)
        if kind:
            query = query.where(t.Principal.kind == kind)
        if isinstance(name_contains, str) and name_contains:
            query = query.where(func.lower(t.Principal.name).contains(name_contains.lower()))
        return [_view(session, row) for row in session.scalars(query)]


@audited("deletePrincipal", "principal")
def delete_principal(ctx: ServiceContext, caller: Caller, name: object) -> None:
    """Remove a principal with its tokens, memberships and grants; refused while it owns
    anything (transfer that first) or when it is the last metastore admin."""
    require_admin(caller, "delete principals")
    clean = principal_name(name)
    with ctx.db.write() as session:
        row = _row(session, clean)
        _catalog_may_change(row)
        remove_principal_row(ctx, session, row)
        audit.record_in(session)


def remove_principal_row(ctx: ServiceContext, session: Session, row: t.Principal) -> None:
    """Remove `row` with its tokens, memberships and grants; refused while it owns anything
    or when it is the last metastore admin."""
    clean = row.name
    owned = [f"{kind.replace('_', ' ')} '{name}'" for kind, name in owned_by(session, clean, 3)]
    if owned:
        raise FailedPrecondition(
            f"Principal '{clean}' still owns {', '.join(owned)}; transfer ownership first."
        )
    if row.is_admin and _admin_count(session) <= 1:
        raise FailedPrecondition(f"'{clean}' is the last metastore admin.")
    token_ids = list(session.scalars(select(t.Token.id).where(t.Token.principal_id == row.id)))
    session.execute(delete(t.Token).where(t.Token.principal_id == row.id))
    session.execute(delete(t.Grant).where(t.Grant.principal_id == row.id))
    session.execute(
        delete(t.GroupMember).where(
            or_(t.GroupMember.member_id == row.id, t.GroupMember.group_id == row.id)
        )
    )
    session.delete(row)

    def forget() -> None:
        for token_id in token_ids:
            ctx.tokens.forget(token_id)
        ctx.rights.clear()

    after_commit(session, forget)


def owned_by(session: Session, principal: str, limit: int) -> list[tuple[str, str]]:
    """What `principal` owns, as (securable type, name): at most `limit` of each type."""
    return [
        (kind, owned)
        for kind, table in (
            ("catalog", t.Catalog),
            ("schema", t.Schema),
            ("registered_model", t.RegisteredModel),
        )
        for owned in session.scalars(
            select(table.name).where(table.owner == principal).limit(limit)
        )
    ]


def _catalog_may_change(group: t.Principal) -> None:
    """Refuse a catalog admin's change to a group the identity provider manages."""
    if group.managed_by is not None:
        raise FailedPrecondition(
            f"'{group.name}' is managed by the identity provider ({group.managed_by}): change "
            "it there."
        )


def _admin_count(session: Session) -> int:
    """How many metastore admins there are, their rows locked: two requests that each remove
    one of the last two admins take turns, and the second finds the last one."""
    admins = select(t.Principal.id).where(t.Principal.is_admin.is_(True)).order_by(t.Principal.id)
    return len(session.scalars(queries.locked(admins, queries.UPDATE)).all())


@audited("updatePrincipal", "principal")
def set_admin(ctx: ServiceContext, caller: Caller, name: object, is_admin: object) -> PrincipalView:
    """Make a user or service principal a metastore admin, or no longer one."""
    require_admin(caller, "appoint metastore admins")
    if not isinstance(is_admin, bool):
        raise InvalidParameter("'is_admin' must be true or false.", "is_admin")
    with ctx.db.write() as session:
        row = _row(session, principal_name(name))
        if row.kind == "group":
            raise InvalidParameter(
                "Groups cannot be metastore admins; add members instead.", "name"
            )
        if row.is_admin and not is_admin and _admin_count(session) <= 1:
            raise FailedPrecondition(f"'{row.name}' is the last metastore admin.")
        row.is_admin = is_admin
        audit.record_in(session)
        after_commit(session, ctx.tokens.clear)
        return _view(session, row)


def _reaches(session: Session, start: int, target: int) -> bool:
    """Whether `target` is `start` or one of the groups `start` belongs to, at any depth."""
    seen = {start}
    frontier = {start}
    while frontier:
        if target in frontier:
            return True
        frontier = (
            set(
                session.scalars(
                    select(t.GroupMember.group_id).where(t.GroupMember.member_id.in_(frontier))
                )
            )
            - seen
        )
        seen |= frontier
    return False


@audited("addGroupMember", "principal")
def add_member(ctx: ServiceContext, caller: Caller, group: object, member: object) -> PrincipalView:
    """Put a principal (a group too) into a group; a group may not end up inside itself."""
    require_admin(caller, "change group membership")
    with ctx.db.write() as session:
        # A cycle can close through memberships added at the same moment by others: additions
        # take turns, each checking what the ones before it added.
        take_turns(session, "group membership")
        group_row = _row(session, principal_name(group, "group"))
        member_row = _row(session, principal_name(member, "member"))
        if group_row.kind != "group":
            raise InvalidParameter(
                f"'group' is '{group_row.name}', a {group_row.kind}, not a group.", "group"
            )
        _catalog_may_change(group_row)
        if _reaches(session, group_row.id, member_row.id):
            raise InvalidParameter(
                f"Adding '{member_row.name}' to '{group_row.name}' would put a group inside "
                "itself.",
                "member",
            )
        exists = session.get(t.GroupMember, (group_row.id, member_row.id))
        if exists is None:
            session.add(t.GroupMember(group_id=group_row.id, member_id=member_row.id))
            session.flush()
        audit.record_in(session)
        after_commit(session, ctx.rights.clear)
        return _view(session, group_row)


@audited("removeGroupMember", "principal")
def remove_member(
    ctx: ServiceContext, caller: Caller, group: object, member: object
) -> PrincipalView:
    require_admin(caller, "change group membership")
    with ctx.db.write() as session:
        group_row = _row(session, principal_name(group, "group"))
        member_row = _row(session, principal_name(member, "member"))
        _catalog_may_change(group_row)
        gone = rowcount(
            session.execute(
                delete(t.GroupMember).where(
                    t.GroupMember.group_id == group_row.id, t.GroupMember.member_id == member_row.id
                )
            )
        )
        if not gone:
            raise NotFound(f"'{member_row.name}' is not a member of '{group_row.name}'.")
        audit.record_in(session)
        after_commit(session, ctx.rights.clear)
        return _view(session, group_row)
