"""Grants: who holds which privilege on which securable, changed by owners, MANAGE holders and
admins; and the effective view that says where each privilege comes from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from modelcatalog.domain import privileges as pv
from modelcatalog.domain import rules
from modelcatalog.domain.privileges import Privilege
from modelcatalog.errors import HiddenFromCaller, InvalidParameter, NotFound, PermissionDenied
from modelcatalog.service import access, audit, lookup
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.operations import needed
from modelcatalog.store import queries
from modelcatalog.store import tables as t
from modelcatalog.store.database import after_commit, take_turns

_TYPE_WORDS = ", ".join(pv.SECURABLE_TYPES)
_USAGE = {pv.CATALOG: Privilege.USE_CATALOG, pv.SCHEMA: Privilege.USE_SCHEMA}


@dataclass(frozen=True)
class Assignment:
    """The privileges granted directly to one principal on one securable."""

    principal: str
    privileges: tuple[str, ...]


@dataclass(frozen=True)
class EffectivePrivilege:
    """One privilege a principal holds on a securable, and where it comes from."""

    privilege: str
    #: None when granted on the securable itself; else the container it was granted on.
    inherited_from_type: str | None
    inherited_from_name: str | None
    #: The groups it came through, from the principal's own group outwards; empty if direct.
    via_groups: tuple[str, ...]


@dataclass(frozen=True)
class EffectiveAssignment:
    principal: str
    owner_of: str | None
    privileges: tuple[EffectivePrivilege, ...]
    #: Metastore admins may do anything, whatever their grants.
    is_admin: bool = False


def forget_grants(ctx: ServiceContext, session: Session, securable_ids: Sequence[str]) -> None:
    """Remove every grant on securables that are being deleted."""
    if securable_ids:
        session.execute(delete(t.Grant).where(t.Grant.securable_id.in_(list(securable_ids))))
        after_commit(session, ctx.rights.clear)


def _chain(
    session: Session, securable_type: object, full_name: object, lock: str | None = None
) -> tuple[str, tuple[access.Securable, ...], str]:
    """The securable named on the wire, its chain, and its not-found message (not yet
    authorized beyond existence); its row locked with `lock` (see store/queries.py)."""
    kind = securable_type.lower() if isinstance(securable_type, str) else securable_type
    if kind == pv.METASTORE:
        return kind, lookup.metastore_chain(), "metastore"
    if kind == pv.CATALOG:
        name = rules.name_part(full_name, "full_name")
        row = lookup.find_catalog(session, name, lock)
        return kind, (lookup.catalog_securable(row),), f"Catalog '{name}' does not exist."
    if kind == pv.SCHEMA:
        catalog, schema = rules.split_full_name(full_name, "full_name", 2)
        cat, found = lookup.find_schema(session, catalog, schema, lock)
        return (
            kind,
            (lookup.catalog_securable(cat), lookup.schema_securable(cat, found)),
            f"Schema '{catalog}.{schema}' does not exist.",
        )
    if kind == pv.MODEL:
        model = rules.model_name(full_name, "full_name")
        model_found = session.execute(
            queries.MODEL_BY_NAME if lock is None else queries.MODEL_BY_NAME_LOCKED[lock],
            {"catalog": model.catalog, "schema": model.schema, "model": model.model},
        ).first()
        missing = f"Registered model '{model.full}' does not exist."
        if model_found is None:
            raise NotFound(missing)
        registered = model_found[0]
        return (
            kind,
            lookup.model_chain(model, model_found, registered.id, registered.owner),
            missing,
        )
    raise InvalidParameter(
        f"'securable_type' is {securable_type!r}; expected one of {_TYPE_WORDS}.",
        "securable_type",
    )


def _principal_ids(
    session: Session, names: Iterable[str], field: str = "changes"
) -> dict[str, int]:
    wanted = set(names)
    found = dict(
        session.execute(
            select(t.Principal.name, t.Principal.id).where(t.Principal.name.in_(wanted))
        )
        .tuples()
        .all()
    )
    for name in sorted(wanted - set(found)):
        raise InvalidParameter(
            f"'{field}' names principal '{name}', which does not exist; create it first "
            "(modelcatalog users create / groups create).",
            field,
        )
    return found


def _assignments(
    session: Session, securable_id: str, only: Iterable[int] | None
) -> list[Assignment]:
    query = (
        select(t.Principal.name, t.Grant.privilege)
        .join(t.Principal, t.Principal.id == t.Grant.principal_id)
        .where(t.Grant.securable_id == securable_id)
        .order_by(t.Principal.name, t.Grant.privilege)
    )
    if only is not None:
        query = query.where(t.Grant.principal_id.in_(list(only)))
    by_principal: dict[str, list[str]] = {}
    for name, privilege in session.execute(query):
        by_principal.setdefault(name, []).append(privilege)
    return [Assignment(name, tuple(found)) for name, found in by_principal.items()]


def _visible_decision(
    ctx: ServiceContext,
    session: Session,
    caller: Caller,
    chain: tuple[access.Securable, ...],
    missing: str,
) -> tuple[access.Decision, access.Rights | None]:
    rights = access.rights_of(ctx.rights, session, caller)
    decision = access.decide(caller, rights, chain)
    if not decision.visible:
        raise HiddenFromCaller(missing)
    return decision, rights


@audited("getPermissions")
def get_permissions(
    ctx: ServiceContext,
    caller: Caller,
    securable_type: object,
    full_name: object,
    principal: object = None,
) -> list[Assignment]:
    """Direct grants on a securable. Owners, MANAGE holders and admins see them all; anyone
    else who can see the securable sees only their own (and their groups')."""
    audit.describe(str(full_name).lower(), str(securable_type).lower())
    with ctx.db.read() as session:
        kind, chain, missing = _chain(session, securable_type, full_name)
        decision, rights = _visible_decision(ctx, session, caller, chain, missing)
        only = None if decision.manages or rights is None else rights.principal_ids
        found = _assignments(session, chain[-1].id, only)
    if principal is not None:
        found = [a for a in found if a.principal == principal]
    return found


def _parse_changes(
    changes: object, securable_type: str
) -> list[tuple[str, set[Privilege], set[Privilege]]]:
    if not isinstance(changes, list) or not changes:
        raise InvalidParameter(
            "'changes' must be a non-empty list of {principal, add, remove} objects.", "changes"
        )
    parsed = []
    for index, change in enumerate(changes):
        field = f"changes[{index}]"
        if not isinstance(change, dict) or not isinstance(change.get("principal"), str):
            raise InvalidParameter(
                f"'{field}' must be an object with 'principal' (a name), 'add' and 'remove' "
                "(lists of privileges).",
                field,
            )
        sets = []
        for key in ("add", "remove"):
            values = change.get(key)
            values = [] if values is None else values
            if not isinstance(values, list):
                raise InvalidParameter(f"'{field}.{key}' must be a list of privileges.", field)
            sets.append({pv.parse_privilege(v, securable_type, f"{field}.{key}") for v in values})
        parsed.append((change["principal"], sets[0], sets[1]))
    return parsed


# Changing grants needs the right to manage the securable they are on, whichever kind it is;
# on the metastore, which has no owner, it is for metastore admins only.
@audited(
    "updatePermissions",
    needs="manage_model",
    branches={pv.CATALOG: "manage_catalog", pv.SCHEMA: "manage_schema"},
)
def update_permissions(
    ctx: ServiceContext,
    caller: Caller,
    securable_type: object,
    full_name: object,
    changes: object,
) -> list[Assignment]:
    """Grant and revoke privileges on a securable (its owner, a MANAGE holder or an admin)."""
    audit.describe(str(full_name).lower(), str(securable_type).lower())
    with ctx.db.write() as session:
        # Changes of one securable's grants take turns, each seeing what the one before did.
        kind, chain, missing = _chain(session, securable_type, full_name, queries.UPDATE)
        if kind == pv.METASTORE:
            if not caller.is_admin:
                raise PermissionDenied(
                    "Permission denied: only metastore admins change grants on the metastore."
                )
            take_turns(session, "metastore grants")  # the metastore has no row to lock
        else:
            action = needed() if kind == pv.MODEL else needed(kind)
            lookup.authorize(ctx, session, caller, action, chain, missing)
        parsed = _parse_changes(changes, kind)
        ids = _principal_ids(session, [p for p, _, _ in parsed])
        target = chain[-1]
        for name, add, remove in parsed:
            if remove:
                session.execute(
                    delete(t.Grant).where(
                        t.Grant.securable_id == target.id,
                        t.Grant.principal_id == ids[name],
                        t.Grant.privilege.in_([p.value for p in remove]),
                    )
                )
            existing = set(
                session.scalars(
                    select(t.Grant.privilege).where(
                        t.Grant.securable_id == target.id, t.Grant.principal_id == ids[name]
                    )
                )
            )
            for privilege in sorted(add - remove, key=lambda p: p.value):
                if privilege.value not in existing:
                    session.add(
                        t.Grant(
                            securable_type=kind,
                            securable_id=target.id,
                            principal_id=ids[name],
                            privilege=privilege.value,
                        )
                    )
        session.flush()
        audit.record_in(session)
        after_commit(session, ctx.rights.clear)
        return _assignments(session, target.id, None)


def _group_paths(session: Session, principal_id: int) -> dict[int, tuple[str, ...]]:
    """Every group a principal belongs to, with the path of group names that leads there."""
    paths: dict[int, tuple[str, ...]] = {principal_id: ()}
    frontier = [principal_id]
    while frontier:
        rows = session.execute(
            select(t.GroupMember.member_id, t.GroupMember.group_id, t.Principal.name)
            .join(t.Principal, t.Principal.id == t.GroupMember.group_id)
            .where(t.GroupMember.member_id.in_(frontier))
            .order_by(t.Principal.name)
        )
        frontier = []
        for member, group, name in rows:
            if group not in paths:
                paths[group] = (*paths[member], name)
                frontier.append(group)
    return paths


@audited("getEffectivePermissions")
def effective_permissions(
    ctx: ServiceContext,
    caller: Caller,
    securable_type: object,
    full_name: object,
    principal: object = None,
) -> list[EffectiveAssignment]:
    """Every privilege that reaches a securable, and where it comes from: granted on it
    directly or on a container, to the principal or through which groups."""
    audit.describe(str(full_name).lower(), str(securable_type).lower())
    with ctx.db.read() as session:
        kind, chain, missing = _chain(session, securable_type, full_name)
        decision, rights = _visible_decision(ctx, session, caller, chain, missing)
        if principal in (None, ""):
            wanted = [caller.name] if not decision.manages else None
        else:
            if not isinstance(principal, str):
                raise InvalidParameter("'principal' must be a principal's name.", "principal")
            wanted = [principal]
            if not decision.manages and rights is not None and principal not in rights.names:
                raise PermissionDenied(
                    "Permission denied: only the owner, MANAGE holders and admins see the "
                    "effective permissions of other principals."
                )
        if wanted is None:
            wanted = sorted(
                set(
                    session.scalars(
                        select(t.Principal.name)
                        .join(t.Grant, t.Grant.principal_id == t.Principal.id)
                        .where(t.Grant.securable_id.in_([s.id for s in chain]))
                    )
                )
            )
        return [_effective_for(session, chain, kind, name) for name in wanted]


def _effective_for(
    session: Session, chain: tuple[access.Securable, ...], kind: str, name: str
) -> EffectiveAssignment:
    ids = _principal_ids(session, [name], "principal")
    paths = _group_paths(session, ids[name])
    names_of = dict(
        session.execute(select(t.Principal.id, t.Principal.name).where(t.Principal.id.in_(paths)))
        .tuples()
        .all()
    )
    # What the securable itself allows, and the usage its containers need (USE CATALOG, USE
    # SCHEMA), so the view shows whether the principal can reach it at all.
    applicable = set(pv.GRANTABLE[kind]) | {
        usage for s in chain if (usage := _USAGE.get(s.type)) is not None
    }
    found: list[EffectivePrivilege] = []
    rows = session.execute(
        select(t.Grant.securable_id, t.Grant.principal_id, t.Grant.privilege).where(
            t.Grant.securable_id.in_([s.id for s in chain]),
            t.Grant.principal_id.in_(list(paths)),
        )
    )
    by_id = {s.id: s for s in chain}
    for securable_id, principal_id, privilege in rows:
        source = by_id[securable_id]
        inherited = source.id != chain[-1].id
        for held in pv.expand([Privilege(privilege)], source.type) & applicable:
            found.append(
                EffectivePrivilege(
                    held.value,
                    source.type if inherited else None,
                    source.name if inherited else None,
                    paths[principal_id],
                )
            )
    owner_of = next((s.name for s in chain if s.owner and s.owner in set(names_of.values())), None)
    found.sort(key=lambda e: (e.privilege, e.inherited_from_name or "", e.via_groups))
    is_admin = bool(session.scalar(select(t.Principal.is_admin).where(t.Principal.id == ids[name])))
    return EffectiveAssignment(name, owner_of, tuple(found), is_admin)


def abilities(
    ctx: ServiceContext, caller: Caller, securable_type: str, full_name: str
) -> frozenset[str]:
    """The actions of the privilege table (`domain/privileges.py` ACTIONS) the caller may take
    on one securable: what a page offers them. Deciding still happens in each operation."""
    with ctx.db.read() as session:
        kind, chain, _ = _chain(session, securable_type, full_name)
        decision = access.decide(caller, access.rights_of(ctx.rights, session, caller), chain)
    return frozenset(
        action
        for action, rule in pv.ACTIONS.items()
        if rule.on == kind
        and (decision is access.ADMIN_DECISION or decision.allows(rule.privilege))
    )
