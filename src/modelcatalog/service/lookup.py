"""Finding securables by name inside a session, authorized for the caller, with precise
not-found messages. An object the caller may not see is reported exactly as a missing one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelcatalog.domain import privileges as pv
from modelcatalog.domain.rules import ModelName
from modelcatalog.errors import HiddenFromCaller, NotFound
from modelcatalog.service import access
from modelcatalog.service.access import Decision, Securable
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.store import queries
from modelcatalog.store import tables as t

Chain = tuple[Securable, ...]


def authorize(
    ctx: ServiceContext,
    session: Session,
    caller: Caller,
    action: str,
    chain: Chain,
    not_found: str,
) -> Decision:
    """Check `action` on the last securable of `chain`; raise as DESIGN.md's table says."""
    if caller.scope_model_id is not None and chain[-1].id != caller.scope_model_id:
        # A deployment task's token: its one model, nothing else.
        raise HiddenFromCaller(not_found)
    rights = access.rights_of(ctx.rights, session, caller)
    decision = access.decide(caller, rights, chain)
    access.require(decision, pv.ACTIONS[action], chain, not_found)
    return decision


def metastore_chain() -> Chain:
    return (Securable(pv.METASTORE, pv.METASTORE_ID, "metastore", ""),)


def catalog_securable(row: t.Catalog) -> Securable:
    return Securable(pv.CATALOG, row.id, row.name, row.owner)


def schema_securable(cat: t.Catalog, row: t.Schema) -> Securable:
    return Securable(pv.SCHEMA, row.id, f"{cat.name}.{row.name}", row.owner)


def find_catalog(session: Session, name: str, lock: str | None = None) -> t.Catalog:
    """A catalog, whoever asks (authorization is the caller's business), its row locked with
    `lock` (see store/queries.py)."""
    query = queries.locked(select(t.Catalog).where(t.Catalog.name == name), lock)
    row = session.scalar(query.execution_options(populate_existing=lock is not None))
    if row is None:
        raise NotFound(f"Catalog '{name}' does not exist.")
    return row


def catalog_row(
    ctx: ServiceContext,
    session: Session,
    caller: Caller,
    name: str,
    action: str,
    *,
    lock: str | None = None,
) -> t.Catalog:
    row = find_catalog(session, name, lock)
    chain = (catalog_securable(row),)
    authorize(ctx, session, caller, action, chain, f"Catalog '{name}' does not exist.")
    return row


def find_schema(
    session: Session, catalog: str, schema: str, lock: str | None = None
) -> tuple[t.Catalog, t.Schema]:
    """A schema and its catalog, whoever asks (authorization is the caller's business), the
    schema's row locked with `lock` (see store/queries.py)."""
    cat = session.scalar(select(t.Catalog).where(t.Catalog.name == catalog))
    row = None
    if cat is not None:
        query = select(t.Schema).where(t.Schema.catalog_id == cat.id, t.Schema.name == schema)
        query = queries.locked(query, lock).execution_options(populate_existing=lock is not None)
        row = session.scalar(query)
    if cat is None or row is None:
        raise NotFound(f"Schema '{catalog}.{schema}' does not exist.")
    return cat, row


def schema_row(
    ctx: ServiceContext,
    session: Session,
    caller: Caller,
    catalog: str,
    schema: str,
    action: str,
    *,
    lock: str | None = None,
) -> tuple[t.Catalog, t.Schema]:
    cat, row = find_schema(session, catalog, schema, lock)
    chain = (catalog_securable(cat), schema_securable(cat, row))
    authorize(ctx, session, caller, action, chain, f"Schema '{catalog}.{schema}' does not exist.")
    return cat, row


def model_chain(name: ModelName, found: object, model_id: str, model_owner: str) -> Chain:
    """Catalog → schema → model, from a query row carrying `catalog_id`, `catalog_owner`,
    `schema_id` and `schema_owner`."""
    return (
        Securable(pv.CATALOG, found.catalog_id, name.catalog, found.catalog_owner),  # type: ignore[attr-defined]
        Securable(
            pv.SCHEMA,
            found.schema_id,  # type: ignore[attr-defined]
            f"{name.catalog}.{name.schema}",
            found.schema_owner,  # type: ignore[attr-defined]
        ),
        Securable(pv.MODEL, model_id, name.full, model_owner),
    )


def model_row(
    ctx: ServiceContext,
    session: Session,
    caller: Caller,
    name: ModelName,
    action: str,
    *,
    lock: str | None = None,
) -> t.RegisteredModel:
    """A model the caller may use for `action`, its row locked with `lock` (see
    store/queries.py): every write to a model or anything below it locks the model first."""
    query = queries.MODEL_BY_NAME if lock is None else queries.MODEL_BY_NAME_LOCKED[lock]
    found = session.execute(
        query, {"catalog": name.catalog, "schema": name.schema, "model": name.model}
    ).first()
    missing = f"Registered model '{name.full}' does not exist."
    if found is None:
        raise NotFound(missing)
    row = found[0]
    chain = model_chain(name, found, row.id, row.owner)
    authorize(ctx, session, caller, action, chain, missing)
    return row


def visible_model_exists(
    ctx: ServiceContext, session: Session, caller: Caller, name: ModelName
) -> bool:
    """Whether the model exists and the caller may see it."""
    found = session.execute(
        queries.MODEL_BY_NAME, {"catalog": name.catalog, "schema": name.schema, "model": name.model}
    ).first()
    if found is None:
        return False
    chain = model_chain(name, found, found[0].id, found[0].owner)
    return access.decide(caller, access.rights_of(ctx.rights, session, caller), chain).visible


def version_row(
    session: Session, model: t.RegisteredModel, full_name: str, version: int
) -> t.ModelVersion:
    """A version of a model found with `model_row` (whose lock covers its versions)."""
    row = session.scalar(
        select(t.ModelVersion).where(
            t.ModelVersion.model_id == model.id, t.ModelVersion.version == version
        )
    )
    if row is None:
        raise NotFound(f"Model version '{full_name}' version {version} does not exist.")
    return row
