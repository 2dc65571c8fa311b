"""Registered models: create, read, search, update, rename and delete."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Row, Select, delete, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelcatalog.domain import events as ev
from modelcatalog.domain import rules
from modelcatalog.domain.rules import ModelName
from modelcatalog.errors import AlreadyExists, Conflict, InvalidParameter
from modelcatalog.service import access, audit, events, lookup, paging, principals
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments import jobs as deployment_jobs
from modelcatalog.service.files import remove_model_files
from modelcatalog.service.grants import forget_grants
from modelcatalog.service.operations import needed
from modelcatalog.service.stamps import new_id, now_ms
from modelcatalog.service.tags import change_tags, tags_of
from modelcatalog.service.views import AliasView, ModelView, Page
from modelcatalog.store import queries
from modelcatalog.store import tables as t
from modelcatalog.store.database import after_commit

ModelRow = t.RegisteredModel | Row[Any]
"""A registered model's columns: its mapped row, or a plain result row of a listing."""


LISTED = (
    *t.RegisteredModel.__table__.columns,
    t.Catalog.name.label("catalog_name"),
    t.Schema.name.label("schema_name"),
)
"""What a listing of models selects: a model's own columns as plain values (a page of 100 is
built faster without mapped objects, which only a change needs) and the names of its catalog
and schema."""


def listed(found: Iterable[Any]) -> list[tuple[ModelRow, str, str]]:
    """The rows of a query of `LISTED` columns, as `model_views` takes them."""
    return [(row, row.catalog_name, row.schema_name) for row in found]


def model_views(
    ctx: ServiceContext, session: Session, rows: Sequence[tuple[ModelRow, str, str]]
) -> list[ModelView]:
    """Views of many models, with their aliases and tags loaded in two queries."""
    ids = [m.id for m, _, _ in rows]
    tags = tags_of(session, "registered_model", ids)
    links = deployment_jobs.connection_states(session, (m.deployment_job_id for m, _, _ in rows))
    aliases: dict[str, list[AliasView]] = {}
    if ids:
        found = session.execute(
            select(t.ModelAlias.model_id, t.ModelAlias.alias, t.ModelVersion.version)
            .join(t.ModelVersion, t.ModelVersion.id == t.ModelAlias.version_id)
            .where(t.ModelAlias.model_id.in_(ids))
            .order_by(t.ModelAlias.alias_key)
        )
        for model_id, alias, version in found:
            aliases.setdefault(model_id, []).append(AliasView(alias, version))
    return [
        ModelView(
            id=m.id,
            catalog_name=catalog,
            schema_name=schema,
            name=m.name,
            comment=m.comment,
            owner=m.owner,
            created_at=m.created_at,
            created_by=m.created_by,
            updated_at=m.updated_at,
            updated_by=m.updated_by,
            storage_location=ctx.store.location_uri(f"{m.id}/"),
            deployment_job_id=m.deployment_job_id,
            deployment_job_state=links.get(m.deployment_job_id or "", deployment_jobs.NOT_SET_UP),
            aliases=tuple(aliases.get(m.id, ())),
            tags=tags.get(m.id, {}),
        )
        for m, catalog, schema in rows
    ]


@audited("createRegisteredModel", "registered_model", needs="create_model")
def create_model(
    ctx: ServiceContext,
    caller: Caller,
    full_name: object,
    *,
    comment: object = None,
    tags: Mapping[str, object] | None = None,
    deployment_job_id: object = None,
) -> ModelView:
    """Register a new model in an existing schema; the caller becomes its owner."""
    name = rules.model_name(full_name)
    text = rules.comment(comment)
    stamp = now_ms()
    try:
        with ctx.db.write() as session:
            if lookup.visible_model_exists(ctx, session, caller, name):
                # MLflow registers a version by creating the model and carrying on when it
                # exists: someone who may see the model learns that before lacking CREATE MODEL.
                raise AlreadyExists(f"Registered model '{name.full}' already exists.")
            # A schema being deleted holds its row: this waits, then finds no schema.
            _, schema = lookup.schema_row(
                ctx, session, caller, name.catalog, name.schema, needed(), lock=queries.SHARE
            )
            row = t.RegisteredModel(
                id=new_id(),
                schema_id=schema.id,
                name=name.model,
                comment=text,
                owner=caller.name,
                created_at=stamp,
                created_by=caller.name,
                updated_at=stamp,
                updated_by=caller.name,
                last_version=0,
                deployment_job_id=deployment_jobs.resolve_link(session, deployment_job_id),
            )
            session.add(row)
            session.flush()
            if tags:
                change_tags(session, "registered_model", row.id, tags)
            events.emit(session, ev.MODEL_CREATED, row, name.full, actor=caller.name)
            audit.record_in(session)
            return model_views(ctx, session, [(row, name.catalog, name.schema)])[0]
    except IntegrityError:
        raise AlreadyExists(f"Registered model '{name.full}' already exists.") from None


@audited("getRegisteredModel", "registered_model", needs="read_model")
def get_model(ctx: ServiceContext, caller: Caller, full_name: object) -> ModelView:
    name = rules.model_name(full_name)
    with ctx.db.read() as session:
        row = lookup.model_row(ctx, session, caller, name, needed())
        return model_views(ctx, session, [(row, name.catalog, name.schema)])[0]


def next_model_page(rows: Sequence[tuple[ModelRow, str, str]], size: int) -> str | None:
    """The token of the page after `rows` (fetched one past `size`, in full-name order), or
    None when there is none."""
    if len(rows) <= size:
        return None
    model, catalog, schema = rows[size - 1]
    return paging.encode([catalog, schema, model.name])


def visible_models(
    ctx: ServiceContext, session: Session, caller: Caller
) -> tuple[Select, access.ModelVisibility]:
    """The listed columns of the models the caller may see, joined to their schema and
    catalog, and what the caller may see (which `model_page` walks)."""
    query = (
        select(*LISTED)
        .join(t.Schema, t.Schema.id == t.RegisteredModel.schema_id)
        .join(t.Catalog, t.Catalog.id == t.Schema.catalog_id)
    )
    visible = access.model_visibility(session, access.rights_of(ctx.rights, session, caller))
    if visible.condition is not None:
        query = query.where(visible.condition)
    return query, visible


def model_page(
    ctx: ServiceContext,
    session: Session,
    query: Select,
    size: int,
    after: list | None,
    *,
    catalog: str | None,
    schema: str | None,
    visible: access.ModelVisibility,
) -> Page:
    """One page of `query` (from `visible_models`, with its filters) after the full name
    `after`, as model views, and the next page's token."""
    rows = walk_models(
        session, query, size, after, catalog=catalog, schema=schema, schema_ids=visible.schema_ids
    )
    return Page(model_views(ctx, session, rows[:size]), next_model_page(rows, size))


# Schemas read at a time while a listing walks them in name order.
SCHEMA_BATCH = 64


def walk_models(
    session: Session,
    query: Select,
    size: int,
    after: list | None,
    *,
    catalog: str | None = None,
    schema: str | None = None,
    schema_ids: list[str] | None = None,
) -> list[tuple[ModelRow, str, str]]:
    """Up to `size` + 1 rows of `query` (models joined to their schema and catalog, with
    every filter but the page's) in full-name order, after the full name `after`.

    Sorting the whole join to take one page costs in proportion to every model there is.
    Instead the schemas are walked in (catalog, schema) name order, a few at a time, and each
    schema's models come from its unique (schema_id, name) index in name order, until the
    page is full: a page costs the same at a thousand models as at a million. `schema_ids`,
    when given, are the only schemas walked (those the caller can see models in)."""
    schemas = (
        select(t.Schema.id, t.Catalog.name, t.Schema.name)
        .join(t.Catalog, t.Catalog.id == t.Schema.catalog_id)
        .order_by(t.Catalog.name, t.Schema.name)
        .limit(SCHEMA_BATCH)
    )
    if catalog:
        schemas = schemas.where(t.Catalog.name == catalog)
    if schema:
        schemas = schemas.where(t.Schema.name == schema)
    if schema_ids is not None:
        schemas = schemas.where(t.Schema.id.in_(schema_ids))
    rows: list[tuple[ModelRow, str, str]] = []
    position = tuple_(t.Catalog.name, t.Schema.name)
    batch_query = schemas.where(position >= (after[0], after[1])) if after else schemas
    while True:
        batch = session.execute(batch_query).all()
        for schema_id, catalog_name, schema_name in batch:
            page = (
                query.where(t.RegisteredModel.schema_id == schema_id)
                .order_by(t.RegisteredModel.name)
                .limit(size + 1 - len(rows))
            )
            if after and (catalog_name, schema_name) == (after[0], after[1]):
                page = page.where(t.RegisteredModel.name > after[2])
            rows.extend(listed(session.execute(page)))
            if len(rows) > size:
                return rows
        if len(batch) < SCHEMA_BATCH:
            return rows
        batch_query = schemas.where(position > (batch[-1][1], batch[-1][2]))


@audited("listRegisteredModels", "schema")
def list_models(
    ctx: ServiceContext,
    caller: Caller,
    *,
    catalog_name: object = None,
    schema_name: object = None,
    name_like: str | None = None,
    max_results: object = None,
    page_token: object = None,
    default_size: int = 100,
) -> Page:
    """The models the caller may see, ordered by full name, optionally within a catalog or
    schema, keyset-paged."""
    catalog = rules.name_part(catalog_name, "catalog_name") if catalog_name else None
    schema = rules.name_part(schema_name, "schema_name") if schema_name else None
    size = paging.page_size(max_results, default_size)
    after = paging.decode(page_token, (str, str, str))
    with ctx.db.read() as session:
        query, visible = visible_models(ctx, session, caller)
        if name_like:
            query = query.where(t.RegisteredModel.name.like(name_like.lower(), escape="\\"))
        return model_page(
            ctx, session, query, size, after, catalog=catalog, schema=schema, visible=visible
        )


@audited("updateRegisteredModel", "registered_model", needs="manage_model")
def update_model(
    ctx: ServiceContext,
    caller: Caller,
    full_name: object,
    *,
    new_name: object = None,
    comment: object = None,
    owner: object = None,
    deployment_job_id: object = None,
) -> ModelView:
    """Edit a model's description, owner or deployment job, or rename it within its schema.

    A new name may be given as a bare model name or as a full name in the same schema. A request
    that changes nothing is refused, as Unity Catalog refuses it."""
    name = rules.model_name(full_name)
    if all(v is None for v in (new_name, comment, owner, deployment_job_id)):
        raise InvalidParameter(
            "No updated fields defined: give at least one of new_name, comment (description), "
            "owner or deployment_job_id.",
            "comment",
        )
    text = rules.comment(comment)
    target = name
    if new_name is not None:
        if isinstance(new_name, str) and "." in new_name:
            target = rules.model_name(new_name, "new_name")
            if (target.catalog, target.schema) != (name.catalog, name.schema):
                raise InvalidParameter(
                    f"'new_name' is '{new_name}': a model can be renamed only within its schema "
                    f"'{name.catalog}.{name.schema}'.",
                    "new_name",
                )
        else:
            target = ModelName(name.catalog, name.schema, rules.name_part(new_name, "new_name"))
    try:
        with ctx.db.write() as session:
            row = lookup.model_row(ctx, session, caller, name, needed(), lock=queries.UPDATE)
            row.name = target.model
            if comment is not None:
                row.comment = text
            if owner is not None:
                row.owner = principals.existing_principal(session, owner)
            if deployment_job_id is not None:
                row.deployment_job_id = deployment_jobs.resolve_link(session, deployment_job_id)
            row.updated_at, row.updated_by = now_ms(), caller.name
            session.flush()
            audit.record_in(session)
            return model_views(ctx, session, [(row, target.catalog, target.schema)])[0]
    except IntegrityError:
        raise AlreadyExists(f"Registered model '{target.full}' already exists.") from None


def purge_models(ctx: ServiceContext, session: Session, model_ids: list[str]) -> None:
    """Delete models with everything below them; their files go once the deletion commits."""
    if not model_ids:
        return
    # Locked in one order, so that deletes of overlapping sets of models never deadlock; a
    # writer of one of them finishes first, and what it added is deleted with the rest.
    session.execute(
        queries.locked(
            select(t.RegisteredModel.id)
            .where(t.RegisteredModel.id.in_(model_ids))
            .order_by(t.RegisteredModel.id),
            queries.DELETE,
        )
    )
    version_ids = list(
        session.scalars(select(t.ModelVersion.id).where(t.ModelVersion.model_id.in_(model_ids)))
    )
    session.execute(delete(t.ModelAlias).where(t.ModelAlias.model_id.in_(model_ids)))
    if version_ids:
        session.execute(delete(t.VersionFile).where(t.VersionFile.version_id.in_(version_ids)))
        session.execute(
            delete(t.Tag).where(
                t.Tag.securable_type == "model_version", t.Tag.securable_id.in_(version_ids)
            )
        )
    session.execute(delete(t.ModelVersion).where(t.ModelVersion.model_id.in_(model_ids)))
    session.execute(
        delete(t.Tag).where(
            t.Tag.securable_type == "registered_model", t.Tag.securable_id.in_(model_ids)
        )
    )
    session.execute(delete(t.RegisteredModel).where(t.RegisteredModel.id.in_(model_ids)))
    forget_grants(ctx, session, model_ids)

    def remove_files() -> None:
        for model_id in model_ids:
            remove_model_files(ctx, model_id)

    after_commit(session, remove_files)


@audited("deleteRegisteredModel", "registered_model", needs="manage_model")
def delete_model(
    ctx: ServiceContext, caller: Caller, full_name: object, *, force: bool = False
) -> None:
    """Delete a model with its aliases, tags and grants; a model that still has versions only
    with `force`, which deletes the versions and their files too (Unity Catalog's rule)."""
    name = rules.model_name(full_name)
    with ctx.db.write() as session:
        row = lookup.model_row(ctx, session, caller, name, needed(), lock=queries.DELETE)
        if not force:
            versions = session.scalar(select(func.count()).where(t.ModelVersion.model_id == row.id))
            if versions:
                raise Conflict(
                    f"Registered model '{name.full}' still has {versions} version"
                    f"{'s' if versions != 1 else ''}; delete them first or pass force=true."
                )
        purge_models(ctx, session, [row.id])
        audit.record_in(session)
