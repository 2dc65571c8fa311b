"""Provisioning from an identity provider (SCIM 2.0, RFC 7643 and 7644): users, groups and
service principals created, changed, deactivated and deleted by the provider's connector.

The provider's connector acts as a metastore admin (an admin's token, or a service principal
made admin for the purpose). A user's name is its `userName`, lower-cased, as single sign-on
names it; a service principal's is its `applicationId`, the name grants use. Deactivating a
principal revokes its tokens, OAuth secrets and browser sessions at once on this replica (within
the token cache window elsewhere); what it owns stays, and is listed for transfer. A group the
provider made is the provider's: catalog admins read it but do not change its members."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scim2_filter_parser import ast as scim_ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser, SCIMParserError
from sqlalchemy import ColumnElement, and_, delete, func, not_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelcatalog.domain.rules import principal_name
from modelcatalog.errors import AlreadyExists, InvalidParameter, NotFound
from modelcatalog.service import audit
from modelcatalog.service.audit import audited
from modelcatalog.service.bearer import PROVIDER_TOKEN_CACHE_ID
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.directory import owned_by, remove_principal_row, require_admin
from modelcatalog.service.stamps import now_ms
from modelcatalog.store import tables as t
from modelcatalog.store.database import after_commit

USER, GROUP, SERVICE_PRINCIPAL = "user", "group", "service_principal"
PROVIDER = "scim"
CLEARED = ""
"""The value of a text field a change removes (None leaves it as it is)."""
MAX_PAGE = 1000


@dataclass(frozen=True)
class Member:
    id: int
    name: str
    kind: str


@dataclass(frozen=True)
class Provisioned:
    """A principal as provisioning sees it."""

    id: int
    kind: str
    name: str
    display_name: str | None
    active: bool
    external_id: str | None
    email: str | None
    application_id: str | None
    managed_by: str | None
    created_at: int
    updated_at: int | None
    groups: tuple[Member, ...] = ()
    members: tuple[Member, ...] = ()
    #: What a deactivated principal still owns, to be transferred.
    owns: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProvisionedPage:
    items: list[Provisioned]
    total: int
    start_index: int


# -- filters ---------------------------------------------------------------------------------

# The attributes a filter may name, per kind of principal, and the column each one reads.
_ATTRIBUTES: dict[str, dict[str, Any]] = {
    USER: {
        "id": t.Principal.id,
        "username": t.Principal.name,
        "displayname": t.Principal.display_name,
        "externalid": t.Principal.external_id,
        "active": t.Principal.active,
        "emails": t.Principal.email,
        "emails.value": t.Principal.email,
    },
    GROUP: {
        "id": t.Principal.id,
        "displayname": t.Principal.name,
        "externalid": t.Principal.external_id,
    },
    SERVICE_PRINCIPAL: {
        "id": t.Principal.id,
        "applicationid": t.Principal.name,
        "displayname": t.Principal.display_name,
        "externalid": t.Principal.external_id,
        "active": t.Principal.active,
    },
}


def _comparison(kind: str, node: scim_ast.AttrExpr) -> ColumnElement[bool]:
    path = node.attr_path.attr_name.lower()
    if node.attr_path.sub_attr is not None:
        path += "." + node.attr_path.sub_attr.value.lower()
    column = _ATTRIBUTES[kind].get(path.rsplit(":", 1)[-1])
    if column is None:
        allowed = ", ".join(sorted(_ATTRIBUTES[kind]))
        raise InvalidParameter(f"The filter names '{path}'; filter on {allowed}.", "filter")
    op = node.value.lower()
    if op == "pr":
        return column.is_not(None)
    raw = node.comp_value.value if node.comp_value is not None else None
    if column is t.Principal.active:
        if str(raw).lower() not in ("true", "false"):
            raise InvalidParameter("'active' is compared with true or false.", "filter")
        value: Any = str(raw).lower() == "true"
    elif column is t.Principal.id:
        try:
            value = int(str(raw))
        except ValueError:
            return t.Principal.id.is_(None)  # no principal has that id
    else:
        value = str(raw).lower()
        column = func.lower(column)
    if op == "eq":
        return column == value
    if op == "ne":
        return column != value
    if op == "co":
        return column.contains(value, autoescape=True)
    if op == "sw":
        return column.startswith(value, autoescape=True)
    if op == "ew":
        return column.endswith(value, autoescape=True)
    comparisons: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
        "gt": lambda a, b: a > b,
        "ge": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "le": lambda a, b: a <= b,
    }
    if op in comparisons:
        return comparisons[op](column, value)
    raise InvalidParameter(f"The filter operator '{op}' is not one SCIM defines.", "filter")


def _condition(kind: str, node: Any) -> ColumnElement[bool]:
    if isinstance(node, scim_ast.Filter):
        if node.namespace is not None:
            raise InvalidParameter(
                "Filters on multi-valued attributes are not supported.", "filter"
            )
        inner = _condition(kind, node.expr)
        return not_(inner) if node.negated else inner
    if isinstance(node, scim_ast.LogExpr):
        left, right = _condition(kind, node.expr1), _condition(kind, node.expr2)
        return and_(left, right) if node.op.lower() == "and" else or_(left, right)
    if isinstance(node, scim_ast.AttrExpr):
        return _comparison(kind, node)
    raise InvalidParameter("The filter could not be read.", "filter")


def filter_condition(kind: str, text: str) -> ColumnElement[bool]:
    """The SQL condition of a SCIM filter (RFC 7644 section 3.4.2.2) on principals of `kind`;
    InvalidParameter naming what is wrong otherwise."""
    try:
        tree = SCIMParser().parse(SCIMLexer().tokenize(text))
    except (SCIMParserError, Exception) as exc:  # the lexer raises plain errors too
        raise InvalidParameter(
            f"The filter {text!r} is not a SCIM filter: {exc}", "filter"
        ) from None
    if tree is None:
        raise InvalidParameter(f"The filter {text!r} is not a SCIM filter.", "filter")
    return _condition(kind, tree)


# -- reading ---------------------------------------------------------------------------------


def _members(session: Session, query: Any) -> tuple[Member, ...]:
    return tuple(Member(i, n, k) for i, n, k in session.execute(query))


def _provisioned(session: Session, row: t.Principal) -> Provisioned:
    columns = (t.Principal.id, t.Principal.name, t.Principal.kind)
    groups = _members(
        session,
        select(*columns)
        .join(t.GroupMember, t.GroupMember.group_id == t.Principal.id)
        .where(t.GroupMember.member_id == row.id)
        .order_by(t.Principal.name),
    )
    members = (
        _members(
            session,
            select(*columns)
            .join(t.GroupMember, t.GroupMember.member_id == t.Principal.id)
            .where(t.GroupMember.group_id == row.id)
            .order_by(t.Principal.name),
        )
        if row.kind == GROUP
        else ()
    )
    return Provisioned(
        id=row.id,
        kind=row.kind,
        name=row.name,
        display_name=row.display_name,
        active=row.active,
        external_id=row.external_id,
        email=row.email,
        application_id=row.application_id,
        managed_by=row.managed_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        groups=groups,
        members=members,
        owns=() if row.active else tuple(f"{k} {n}" for k, n in owned_by(session, row.name, 20)),
    )


def _row(session: Session, kind: str, principal_id: object) -> t.Principal:
    try:
        number = int(str(principal_id))
    except ValueError:
        number = -1
    row = session.get(t.Principal, number)
    if row is None or row.kind != kind:
        raise NotFound(f"No {kind.replace('_', ' ')} has the id '{principal_id}'.")
    return row


@audited("scimListPrincipals")
def list_provisioned(
    ctx: ServiceContext,
    caller: Caller,
    kind: str | None,
    *,
    filter_text: str | None = None,
    start_index: int = 1,
    count: int = 100,
) -> ProvisionedPage:
    """Principals of `kind` (every kind: None), by id, filtered and paged as SCIM pages
    (1-based `start_index`). Across kinds, a filter selects from the kinds that have every
    attribute it names."""
    require_admin(caller, "read the directory through SCIM")
    start_index = max(1, start_index)
    count = min(max(0, count), MAX_PAGE)
    kinds = (kind,) if kind is not None else (USER, SERVICE_PRINCIPAL, GROUP)
    conditions = []
    refusal: InvalidParameter | None = None
    for each in kinds:
        condition = t.Principal.kind == each
        if filter_text:
            try:
                condition = and_(condition, filter_condition(each, filter_text))
            except InvalidParameter as exc:
                refusal = exc
                continue
        conditions.append(condition)
    if not conditions:
        assert refusal is not None
        raise refusal
    condition = or_(*conditions)
    with ctx.db.read() as session:
        total = session.scalar(select(func.count()).select_from(t.Principal).where(condition))
        rows = session.scalars(
            select(t.Principal)
            .where(condition)
            .order_by(t.Principal.id)
            .offset(start_index - 1)
            .limit(count)
        )
        return ProvisionedPage([_provisioned(session, r) for r in rows], total or 0, start_index)


@audited("scimGetPrincipal")
def get_provisioned(
    ctx: ServiceContext, caller: Caller, kind: str, principal_id: object
) -> Provisioned:
    require_admin(caller, "read the directory through SCIM")
    with ctx.db.read() as session:
        return _provisioned(session, _row(session, kind, principal_id))


# -- changing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Changes:
    """What a SCIM request sets; None leaves a field as it is."""

    display_name: str | None = None
    active: bool | None = None
    external_id: str | None = None
    email: str | None = None
    #: Members to add and to remove (by principal id), and whether `members` replaces them all.
    add_members: Sequence[int] = ()
    remove_members: Sequence[int] = ()
    replace_members: Sequence[int] | None = None


def _text(value: object, field: str, limit: int = 255) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidParameter(f"'{field}' must be text of at most {limit} characters.", field)
    return value


def _deactivate(ctx: ServiceContext, session: Session, row: t.Principal, at: int) -> None:
    """Revoke what lets `row` act: its tokens, its OAuth secrets, its browser sessions."""
    token_ids = list(
        session.scalars(
            select(t.Token.id).where(t.Token.principal_id == row.id, t.Token.revoked_at.is_(None))
        )
    )
    session.execute(
        update(t.Token)
        .where(t.Token.principal_id == row.id, t.Token.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    session.execute(
        delete(t.ServicePrincipalSecret).where(t.ServicePrincipalSecret.principal_id == row.id)
    )
    session.execute(
        update(t.BrowserSession)
        .where(t.BrowserSession.principal_id == row.id, t.BrowserSession.ended_at.is_(None))
        .values(ended_at=at)
    )

    def forget() -> None:
        for token_id in token_ids:
            ctx.tokens.forget(token_id)
        # The identity provider's tokens it presented lately, too.
        ctx.tokens.forget(PROVIDER_TOKEN_CACHE_ID.format(row.id))
        ctx.rights.clear()

    after_commit(session, forget)


def _apply(ctx: ServiceContext, session: Session, row: t.Principal, changes: Changes) -> None:
    at = now_ms()
    if changes.display_name is not None and row.kind != GROUP:
        row.display_name = changes.display_name or None
    if changes.external_id is not None:
        row.external_id = changes.external_id or None
    if changes.email is not None:
        row.email = changes.email or None
    if changes.active is not None and changes.active != row.active:
        if row.kind == GROUP:
            raise InvalidParameter("A group has no 'active' attribute.", "active")
        row.active = changes.active
        if not changes.active:
            _deactivate(ctx, session, row, at)
    if row.kind == GROUP:
        wanted: set[int] | None = None
        if changes.replace_members is not None:
            wanted = set(changes.replace_members)
        current = set(
            session.scalars(select(t.GroupMember.member_id).where(t.GroupMember.group_id == row.id))
        )
        target = (wanted if wanted is not None else current) | set(changes.add_members)
        target -= set(changes.remove_members)
        missing = [
            i for i in target - current if session.get(t.Principal, i) is None or i == row.id
        ]
        if missing:
            raise InvalidParameter(
                f"No principal has the id {missing[0]} (or it is the group itself).", "members"
            )
        for member_id in target - current:
            session.add(t.GroupMember(group_id=row.id, member_id=member_id))
        if current - target:
            session.execute(
                delete(t.GroupMember).where(
                    t.GroupMember.group_id == row.id,
                    t.GroupMember.member_id.in_(current - target),
                )
            )
        if target != current:
            after_commit(session, ctx.rights.clear)
    row.updated_at = at


@audited("scimCreatePrincipal", "principal")
def create_provisioned(
    ctx: ServiceContext, caller: Caller, kind: str, name: object, changes: Changes
) -> Provisioned:
    """A principal made by the provider: a user named by its userName (lower-cased), a service
    principal by its applicationId (one is made when none is given), a group by its
    displayName, marked as the provider's."""
    require_admin(caller, "provision principals")
    if kind == SERVICE_PRINCIPAL and name in (None, ""):
        name = str(uuid.uuid4())
    if not isinstance(name, str):
        raise InvalidParameter("The principal's name is required.", "name")
    clean = principal_name(name.lower() if kind == USER else name, "name")
    audit.describe(clean)
    at = now_ms()
    try:
        with ctx.db.write() as session:
            row = t.Principal(
                name=clean,
                kind=kind,
                is_admin=False,
                created_at=at,
                updated_at=at,
                active=True,
                managed_by=PROVIDER if kind == GROUP else None,
                application_id=clean if kind == SERVICE_PRINCIPAL else None,
            )
            session.add(row)
            session.flush()
            _apply(ctx, session, row, changes)
            session.flush()
            audit.record_in(session)
            return _provisioned(session, row)
    except IntegrityError:
        raise AlreadyExists(f"Principal '{clean}' already exists.") from None


@audited("scimUpdatePrincipal", "principal")
def update_provisioned(
    ctx: ServiceContext,
    caller: Caller,
    kind: str,
    principal_id: object,
    changes: Changes,
    *,
    name: object = None,
) -> Provisioned:
    """Change a principal (SCIM PUT or PATCH); `name`, when given, must be its name still
    (principals are not renamed: grants and ownerships name them)."""
    require_admin(caller, "provision principals")
    with ctx.db.write() as session:
        row = _row(session, kind, principal_id)
        audit.describe(row.name)
        if isinstance(name, str) and name and name.lower() != row.name.lower():
            raise InvalidParameter(
                f"'{row.name}' cannot be renamed to '{name}': grants and ownerships name it.",
                "name",
            )
        _apply(ctx, session, row, changes)
        session.flush()
        audit.record_in(session)
        return _provisioned(session, row)


@audited("scimDeletePrincipal", "principal")
def delete_provisioned(
    ctx: ServiceContext, caller: Caller, kind: str, principal_id: object
) -> None:
    """Delete a principal the provider deletes: as `deletePrincipal`, refused while it owns
    something (deactivate it instead, and transfer what it owns)."""
    require_admin(caller, "provision principals")
    with ctx.db.write() as session:
        row = _row(session, kind, principal_id)
        audit.describe(row.name)
        remove_principal_row(ctx, session, row)
        audit.record_in(session)


def member_ids(values: object, field: str = "members") -> list[int]:
    """The principal ids of a SCIM `members` value: a list of `{"value": id}`."""
    if values is None:
        return []
    if isinstance(values, Mapping):
        values = [values]
    if not isinstance(values, list):
        raise InvalidParameter(f"'{field}' must be a list of {{\"value\": id}}.", field)
    found = []
    for item in values:
        value = item.get("value") if isinstance(item, Mapping) else None
        try:
            found.append(int(str(value)))
        except ValueError:
            raise InvalidParameter(
                f"'{field}' holds {value!r}: a member is named by its id.", field
            ) from None
    return found


def text_field(value: object, field: str) -> str | None:
    return _text(value, field)
