"""Authorization: who a caller is (their groups, nested), what they were granted, and whether an
action on a securable is allowed, following the table in `domain/privileges.py`.

A principal's rights (its groups and every grant to it or them) are loaded in two queries and
kept for a few seconds, so the hot read path decides in memory. Changes made through this
process clear the cache at once; other replicas see them within `RIGHTS_TTL_SECONDS`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from modelcatalog.domain import privileges as pv
from modelcatalog.domain.privileges import Privilege, Rule
from modelcatalog.errors import HiddenFromCaller, PermissionDenied
from modelcatalog.service import measures
from modelcatalog.service.caller import Caller
from modelcatalog.store import tables as t

P = Privilege
RIGHTS_TTL_SECONDS = 5.0


@dataclass(frozen=True)
class Securable:
    """One level of the hierarchy as authorization sees it."""

    type: str
    id: str
    name: str
    owner: str


@dataclass(frozen=True)
class Rights:
    """A principal, every group it belongs to (transitively), and all their grants."""

    principal_ids: frozenset[int]
    names: frozenset[str]
    #: securable id → privileges granted there to the principal or one of its groups.
    grants: dict[str, frozenset[Privilege]]

    def granted_on(self, securable_ids: Iterable[str], wanted: Iterable[Privilege]) -> list[str]:
        """Of `securable_ids`, those where one of `wanted` (or ALL PRIVILEGES) was granted."""
        wanted = set(wanted) | {P.ALL_PRIVILEGES}
        return [s for s in securable_ids if self.grants.get(s, frozenset()) & wanted]

    def ids_with(self, wanted: Iterable[Privilege]) -> list[str]:
        """Every securable id where one of `wanted` (or ALL PRIVILEGES) was granted."""
        return self.granted_on(self.grants, wanted)


def load_rights(session: Session, principal_id: int) -> Rights:
    """A principal's groups, nested to any depth, and every grant that reaches it."""
    ids = {principal_id}
    frontier = {principal_id}
    while frontier:
        parents = set(
            session.scalars(
                select(t.GroupMember.group_id).where(t.GroupMember.member_id.in_(frontier))
            )
        )
        frontier = parents - ids
        ids |= frontier
    names = frozenset(session.scalars(select(t.Principal.name).where(t.Principal.id.in_(ids))))
    found: dict[str, set[Privilege]] = {}
    for securable_id, privilege in session.execute(
        select(t.Grant.securable_id, t.Grant.privilege).where(t.Grant.principal_id.in_(ids))
    ):
        found.setdefault(securable_id, set()).add(Privilege(privilege))
    return Rights(frozenset(ids), names, {k: frozenset(v) for k, v in found.items()})


class RightsCache:
    """Recently loaded rights by principal id, each kept `ttl_seconds` at most."""

    def __init__(self, ttl_seconds: float = RIGHTS_TTL_SECONDS) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: dict[int, tuple[Rights, float]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, principal_id: int) -> Rights:
        entry = self._entries.get(principal_id)
        if entry is not None and time.monotonic() - entry[1] <= self.ttl_seconds:
            return entry[0]
        rights = load_rights(session, principal_id)
        with self._lock:
            self._entries[principal_id] = (rights, time.monotonic())
        return rights

    def clear(self) -> None:
        """Forget everything: a grant, a membership or a principal changed."""
        with self._lock:
            self._entries.clear()


def _effective(rights: Rights, chain: tuple[Securable, ...], level: int) -> frozenset[Privilege]:
    """Privileges on `chain[level]`, granted there or on a container above it."""
    target = chain[level]
    granted: set[Privilege] = set()
    for securable in chain[: level + 1]:
        granted |= rights.grants.get(securable.id, frozenset())
    return pv.expand(granted, target.type) & frozenset((*pv.GRANTABLE[target.type],))


def _owns(rights: Rights, chain: tuple[Securable, ...], level: int) -> bool:
    """Owners of an object or of a container above it may do anything to it."""
    return any(s.owner in rights.names for s in chain[: level + 1])


_USAGE = {pv.CATALOG: P.USE_CATALOG, pv.SCHEMA: P.USE_SCHEMA}


@dataclass(frozen=True)
class Decision:
    """What a caller may do with one securable: the basis of every check and every view."""

    visible: bool
    missing_usage: str | None
    owner: bool
    privileges: frozenset[Privilege]

    @property
    def manages(self) -> bool:
        return self.owner or P.MANAGE in self.privileges

    def allows(self, privilege: Privilege | None) -> bool:
        if self.missing_usage or not self.visible:
            return False
        return self.manages or (privilege is not None and privilege in self.privileges)


ADMIN_DECISION = Decision(True, None, True, frozenset(P))


def decide(caller: Caller, rights: Rights | None, chain: tuple[Securable, ...]) -> Decision:
    """What the caller may do with the last securable of `chain` (containers first)."""
    if caller.is_admin or rights is None:
        return ADMIN_DECISION
    level = len(chain) - 1
    missing = None
    for index, securable in enumerate(chain):
        usage = _USAGE.get(securable.type)
        if usage is None or _owns(rights, chain, index):
            continue
        if usage not in _effective(rights, chain, index):
            missing = f"{usage.value} on {securable.type} '{securable.name}'"
            break
    owner = _owns(rights, chain, level)
    privileges = _effective(rights, chain, level)
    visible = (
        chain[level].type == pv.METASTORE
        or owner
        or bool(privileges & pv.VISIBLE_WITH.get(chain[level].type, frozenset()))
    )
    return Decision(visible, missing, owner, privileges)


def rights_of(ctx_rights: RightsCache, session: Session, caller: Caller) -> Rights | None:
    """The caller's rights, or None for a metastore admin (who needs none)."""
    return None if caller.is_admin else ctx_rights.get(session, caller.principal_id)


def require(decision: Decision, rule: Rule, chain: tuple[Securable, ...], not_found: str) -> None:
    """Raise unless the decision allows the rule. An object the caller may not see at all is
    reported exactly as if it did not exist."""
    if decision is ADMIN_DECISION or decision.allows(rule.privilege):
        return
    measures.denials.labels(rule.privilege.value if rule.privilege else "OWNER OR MANAGE").inc()
    target = chain[-1]
    if not decision.visible:
        raise HiddenFromCaller(not_found)
    if decision.missing_usage:
        raise PermissionDenied(
            f"Permission denied: to {rule.summary} you need {decision.missing_usage}."
        )
    needed = f"{rule.privilege.value} on" if rule.privilege else "ownership of or MANAGE on"
    raise PermissionDenied(
        f"Permission denied: to {rule.summary} you need {needed} {target.type} "
        f"'{target.name}' (or on a catalog or schema above it)."
    )


# Listing filters: the same decisions as `decide`, written as SQL so that pages stay exact.


def catalog_filter(rights: Rights | None) -> ColumnElement[bool] | None:
    """Catalogs the caller may see (None: no restriction)."""
    if rights is None:
        return None
    return or_(
        t.Catalog.owner.in_(rights.names),
        t.Catalog.id.in_(rights.ids_with(pv.GRANTABLE[pv.CATALOG])),
    )


def schema_filter(rights: Rights | None, catalog: Securable) -> ColumnElement[bool] | None:
    """Schemas of one catalog the caller may see (None: all of them)."""
    if rights is None or catalog.owner in rights.names:
        return None
    if rights.granted_on([catalog.id], pv.GRANTABLE[pv.SCHEMA]):
        return None  # a schema-level privilege on the catalog reaches every schema in it
    return or_(
        t.Schema.owner.in_(rights.names),
        t.Schema.id.in_(rights.ids_with(pv.GRANTABLE[pv.SCHEMA])),
    )


@dataclass(frozen=True)
class ModelVisibility:
    """Which models a caller may see: `condition` on `registered_models` (None: every model),
    and `schema_ids`, the only schemas such models can be in (None: any schema)."""

    condition: ColumnElement[bool] | None
    schema_ids: list[str] | None


def model_visibility(session: Session, rights: Rights | None) -> ModelVisibility:
    """Models the caller may see, as a condition on `registered_models` alone, and the schemas
    they can be in (a listing walks only those).

    Catalogs and schemas are few: which of them the caller can use, and in which every model
    is visible, is decided here in Python, so that the database checks each model row against
    two short lists instead of joining owners and grants row by row."""
    if rights is None:
        return ModelVisibility(None, None)
    names = rights.names
    model_level = set(rights.ids_with(pv.GRANTABLE[pv.MODEL]))
    use_catalog = set(rights.ids_with([P.USE_CATALOG]))
    use_schema = set(rights.ids_with([P.USE_SCHEMA]))
    whole: list[str] = []  # schemas where every model is visible
    some: list[str] = []  # usable schemas where only owned or granted models are
    containers = session.execute(
        select(t.Schema.id, t.Schema.owner, t.Catalog.id, t.Catalog.owner)
        .join(t.Catalog, t.Catalog.id == t.Schema.catalog_id)
        .where(or_(t.Catalog.owner.in_(names), t.Catalog.id.in_(use_catalog)))
    )
    for schema_id, schema_owner, catalog_id, catalog_owner in containers:
        owns_schema = catalog_owner in names or schema_owner in names
        if not (owns_schema or schema_id in use_schema or catalog_id in use_schema):
            continue
        if owns_schema or schema_id in model_level or catalog_id in model_level:
            whole.append(schema_id)
        else:
            some.append(schema_id)
    in_whole = t.RegisteredModel.schema_id.in_(whole)
    if not some:
        return ModelVisibility(in_whole, whole)
    in_some = and_(
        t.RegisteredModel.schema_id.in_(some),
        or_(t.RegisteredModel.id.in_(model_level), t.RegisteredModel.owner.in_(names)),
    )
    return ModelVisibility(or_(in_whole, in_some) if whole else in_some, whole + some)


def model_filter(session: Session, rights: Rights | None) -> ColumnElement[bool] | None:
    """Models the caller may see, as a condition on `registered_models` alone."""
    return model_visibility(session, rights).condition
