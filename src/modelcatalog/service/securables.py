"""Catalogs and schemas: the containers above registered models."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelcatalog.domain import rules
from modelcatalog.errors import AlreadyExists, FailedPrecondition
from modelcatalog.service import access, audit, lookup, paging, principals
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.grants import forget_grants
from modelcatalog.service.models import purge_models
from modelcatalog.service.operations import needed
from modelcatalog.service.stamps import new_id, now_ms
from modelcatalog.service.tags import tags_of
from modelcatalog.service.views import CatalogView, Page, SchemaView
from modelcatalog.store import queries
from modelcatalog.store import tables as t


def _catalog_view(session: Session, row: t.Catalog) -> CatalogView:
    return CatalogView(
        id=row.id,
        name=row.name,
        comment=row.comment,
        owner=row.owner,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        tags=tags_of(session, "catalog", [row.id]).get(row.id, {}),
    )


def _schema_view(session: Session, cat: t.Catalog, row: t.Schema) -> SchemaView:
    return SchemaView(
        id=row.id,
        catalog_name=cat.name,
        name=row.name,
        comment=row.comment,
        owner=row.owner,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        tags=tags_of(session, "schema", [row.id]).get(row.id, {}),
    )


@audited("createCatalog", "catalog", needs="create_catalog")
def create_catalog(
    ctx: ServiceContext, caller: Caller, name: object, comment: object = None
) -> CatalogView:
    """Create a catalog owned by the caller (metastore admins, or CREATE CATALOG holders)."""
    clean = rules.name_part(name, "name")
    text = rules.comment(comment)
    stamp = now_ms()
    try:
        with ctx.db.write() as session:
            lookup.authorize(ctx, session, caller, needed(), lookup.metastore_chain(), "metastore")
            row = t.Catalog(
                id=new_id(),
                name=clean,
                comment=text,
                owner=caller.name,
                created_at=stamp,
                created_by=caller.name,
                updated_at=stamp,
                updated_by=caller.name,
            )
            session.add(row)
            session.flush()
            audit.record_in(session)
            return _catalog_view(session, row)
    except IntegrityError:
        raise AlreadyExists(f"Catalog '{clean}' already exists.") from None


@audited("getCatalog", "catalog", needs="read_catalog")
def get_catalog(ctx: ServiceContext, caller: Caller, name: object) -> CatalogView:
    clean = rules.name_part(name, "name")
    with ctx.db.read() as session:
        return _catalog_view(session, lookup.catalog_row(ctx, session, caller, clean, needed()))


@audited("listCatalogs", "metastore")
def list_catalogs(
    ctx: ServiceContext, caller: Caller, max_results: object = None, page_token: object = None
) -> Page:
    """The catalogs the caller may see."""
    size = paging.page_size(max_results)
    after = paging.decode(page_token, (str,))
    with ctx.db.read() as session:
        query = select(t.Catalog).order_by(t.Catalog.name).limit(size + 1)
        visible = access.catalog_filter(access.rights_of(ctx.rights, session, caller))
        if visible is not None:
            query = query.where(visible)
        if after:
            query = query.where(t.Catalog.name > after[0])
        rows = list(session.scalars(query))
        token = paging.encode([rows[size - 1].name]) if len(rows) > size else None
        return Page([_catalog_view(session, r) for r in rows[:size]], token)


@audited("updateCatalog", "catalog", needs="manage_catalog")
def update_catalog(
    ctx: ServiceContext,
    caller: Caller,
    name: object,
    *,
    new_name: object = None,
    comment: object = None,
    owner: object = None,
) -> CatalogView:
    """Rename a catalog, or change its comment or owner; a request that changes nothing answers
    the catalog as it is, without touching it (as Unity Catalog does)."""
    clean = rules.name_part(name, "name")
    target = rules.name_part(new_name, "new_name") if new_name is not None else None
    text = rules.comment(comment)
    try:
        with ctx.db.write() as session:
            row = lookup.catalog_row(ctx, session, caller, clean, needed(), lock=queries.UPDATE)
            if target is None and comment is None and owner is None:
                return _catalog_view(session, row)  # Unity Catalog: nothing to change, as it is
            if target:
                row.name = target
            if comment is not None:
                row.comment = text
            if owner is not None:
                row.owner = principals.existing_principal(session, owner)
            row.updated_at, row.updated_by = now_ms(), caller.name
            session.flush()
            audit.record_in(session)
            return _catalog_view(session, row)
    except IntegrityError:
        raise AlreadyExists(f"Catalog '{target}' already exists.") from None


@audited("deleteCatalog", "catalog", needs="manage_catalog")
def delete_catalog(ctx: ServiceContext, caller: Caller, name: object, force: bool = False) -> None:
    """Delete a catalog; with `force`, everything in it too (files included)."""
    clean = rules.name_part(name, "name")
    with ctx.db.write() as session:
        # Locked first, top-down: a schema created in it meanwhile either committed before
        # (and is seen here) or waits and then finds no catalog.
        row = lookup.catalog_row(ctx, session, caller, clean, needed(), lock=queries.DELETE)
        schema_ids = list(
            session.scalars(
                queries.locked(
                    select(t.Schema.id).where(t.Schema.catalog_id == row.id).order_by(t.Schema.id),
                    queries.DELETE,
                )
            )
        )
        if schema_ids and not force:
            raise FailedPrecondition(
                f"Catalog '{clean}' is not empty (it holds {len(schema_ids)} schema"
                f"{'s' if len(schema_ids) != 1 else ''}); delete them first or pass force=true."
            )
        model_ids = (
            list(
                session.scalars(
                    select(t.RegisteredModel.id).where(t.RegisteredModel.schema_id.in_(schema_ids))
                )
            )
            if schema_ids
            else []
        )
        purge_models(ctx, session, model_ids)
        session.execute(delete(t.Tag).where(t.Tag.securable_id.in_(schema_ids + [row.id])))
        forget_grants(ctx, session, [*schema_ids, row.id])
        session.execute(delete(t.Schema).where(t.Schema.catalog_id == row.id))
        session.delete(row)
        audit.record_in(session)


@audited("createSchema", "schema", needs="create_schema")
def create_schema(
    ctx: ServiceContext, caller: Caller, catalog_name: object, name: object, comment: object = None
) -> SchemaView:
    cat_name = rules.name_part(catalog_name, "catalog_name")
    clean = rules.name_part(name, "name")
    text = rules.comment(comment)
    stamp = now_ms()
    try:
        with ctx.db.write() as session:
            cat = lookup.catalog_row(ctx, session, caller, cat_name, needed(), lock=queries.SHARE)
            audit.describe(f"{cat_name}.{clean}")
            row = t.Schema(
                id=new_id(),
                catalog_id=cat.id,
                name=clean,
                comment=text,
                owner=caller.name,
                created_at=stamp,
                created_by=caller.name,
                updated_at=stamp,
                updated_by=caller.name,
            )
            session.add(row)
            session.flush()
            audit.record_in(session)
            return _schema_view(session, cat, row)
    except IntegrityError:
        raise AlreadyExists(f"Schema '{cat_name}.{clean}' already exists.") from None


@audited("getSchema", "schema", needs="read_schema")
def get_schema(ctx: ServiceContext, caller: Caller, full_name: object) -> SchemaView:
    catalog, schema = rules.split_full_name(full_name, "full_name", 2)
    with ctx.db.read() as session:
        cat, row = lookup.schema_row(ctx, session, caller, catalog, schema, needed())
        return _schema_view(session, cat, row)


@audited("listSchemas", "catalog", needs="read_catalog")
def list_schemas(
    ctx: ServiceContext,
    caller: Caller,
    catalog_name: object,
    max_results: object = None,
    page_token: object = None,
) -> Page:
    cat_name = rules.name_part(catalog_name, "catalog_name")
    size = paging.page_size(max_results)
    after = paging.decode(page_token, (str,))
    with ctx.db.read() as session:
        cat = lookup.catalog_row(ctx, session, caller, cat_name, needed())
        query = (
            select(t.Schema)
            .where(t.Schema.catalog_id == cat.id)
            .order_by(t.Schema.name)
            .limit(size + 1)
        )
        rights = access.rights_of(ctx.rights, session, caller)
        visible = access.schema_filter(rights, lookup.catalog_securable(cat))
        if visible is not None:
            query = query.where(visible)
        if after:
            query = query.where(t.Schema.name > after[0])
        rows = list(session.scalars(query))
        token = paging.encode([rows[size - 1].name]) if len(rows) > size else None
        return Page([_schema_view(session, cat, r) for r in rows[:size]], token)


@audited("updateSchema", "schema", needs="manage_schema")
def update_schema(
    ctx: ServiceContext,
    caller: Caller,
    full_name: object,
    *,
    new_name: object = None,
    comment: object = None,
    owner: object = None,
) -> SchemaView:
    """Rename a schema within its catalog, or change its comment or owner; a request that
    changes nothing answers the schema as it is (as Unity Catalog does)."""
    catalog, schema = rules.split_full_name(full_name, "full_name", 2)
    target = rules.name_part(new_name, "new_name") if new_name is not None else None
    text = rules.comment(comment)
    try:
        with ctx.db.write() as session:
            cat, row = lookup.schema_row(
                ctx, session, caller, catalog, schema, needed(), lock=queries.UPDATE
            )
            if target is None and comment is None and owner is None:
                return _schema_view(session, cat, row)  # Unity Catalog: nothing to change
            if target:
                row.name = target
            if comment is not None:
                row.comment = text
            if owner is not None:
                row.owner = principals.existing_principal(session, owner)
            row.updated_at, row.updated_by = now_ms(), caller.name
            session.flush()
            audit.record_in(session)
            return _schema_view(session, cat, row)
    except IntegrityError:
        raise AlreadyExists(f"Schema '{catalog}.{target}' already exists.") from None


@audited("deleteSchema", "schema", needs="manage_schema")
def delete_schema(
    ctx: ServiceContext, caller: Caller, full_name: object, force: bool = False
) -> None:
    catalog, schema = rules.split_full_name(full_name, "full_name", 2)
    with ctx.db.write() as session:
        _, row = lookup.schema_row(
            ctx, session, caller, catalog, schema, needed(), lock=queries.DELETE
        )
        model_ids = list(
            session.scalars(
                select(t.RegisteredModel.id).where(t.RegisteredModel.schema_id == row.id)
            )
        )
        if model_ids and not force:
            raise FailedPrecondition(
                f"Schema '{catalog}.{schema}' is not empty (it holds {len(model_ids)} model"
                f"{'s' if len(model_ids) != 1 else ''}); delete them first or pass force=true."
            )
        purge_models(ctx, session, model_ids)
        session.execute(delete(t.Tag).where(t.Tag.securable_id == row.id))
        forget_grants(ctx, session, [row.id])
        session.delete(row)
        audit.record_in(session)


__all__ = [
    "create_catalog",
    "get_catalog",
    "list_catalogs",
    "update_catalog",
    "delete_catalog",
    "create_schema",
    "get_schema",
    "list_schemas",
    "update_schema",
    "delete_schema",
]
