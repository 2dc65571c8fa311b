"""Tags on catalogs, schemas, models and versions: at most 50 per object."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from modelcatalog.domain import rules
from modelcatalog.errors import InvalidParameter, NotFound
from modelcatalog.service import audit, lookup
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments import approvals
from modelcatalog.service.operations import needed
from modelcatalog.service.stamps import now_ms
from modelcatalog.store import queries
from modelcatalog.store import tables as t

SECURABLE_TYPES = ("catalog", "schema", "registered_model", "model_version")
_TABLES: dict[str, type[t.Catalog | t.Schema | t.RegisteredModel | t.ModelVersion]] = {
    "catalog": t.Catalog,
    "schema": t.Schema,
    "registered_model": t.RegisteredModel,
    "model_version": t.ModelVersion,
}


def tags_of(session: Session, securable_type: str, ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """Tags of many objects of one type at once, by object id."""
    wanted = list(ids)
    found: dict[str, dict[str, str]] = {}
    if not wanted:
        return found
    rows = session.execute(
        select(t.Tag.securable_id, t.Tag.key, t.Tag.value)
        .where(t.Tag.securable_type == securable_type, t.Tag.securable_id.in_(wanted))
        .order_by(t.Tag.key)
    )
    for securable_id, key, value in rows:
        found.setdefault(securable_id, {})[key] = value
    return found


def change_tags(
    session: Session,
    securable_type: str,
    securable_id: str,
    add: Mapping[str, object],
    remove: Iterable[object] = (),
) -> None:
    """Add or replace tags and remove others on one object, keeping the limit of 50.

    The object's row is locked first: concurrent changes of one object's tags take turns, so
    that each counts the tags the one before it left."""
    clean_add = {rules.tag_key(k, "key"): rules.tag_value(v, "value") for k, v in add.items()}
    clean_remove = [rules.tag_key(k, "remove") for k in remove]
    table = _TABLES[securable_type]
    held = session.scalar(
        queries.locked(select(table.id).where(table.id == securable_id), queries.UPDATE)
    )
    if held is None:
        raise NotFound(f"The {securable_type.replace('_', ' ')} was deleted by another request.")
    if clean_remove:
        session.execute(
            delete(t.Tag).where(
                t.Tag.securable_type == securable_type,
                t.Tag.securable_id == securable_id,
                t.Tag.key.in_(clean_remove),
            )
        )
    if not clean_add:
        return
    existing = set(
        session.scalars(
            select(t.Tag.key).where(
                t.Tag.securable_type == securable_type,
                t.Tag.securable_id == securable_id,
            )
        )
    )
    total = len(existing | set(clean_add))
    if total > rules.MAX_TAGS:
        raise InvalidParameter(
            f"An object may carry at most {rules.MAX_TAGS} tags; this change would leave "
            f"{total}. Remove some tags first.",
            "tags",
        )
    for key, value in clean_add.items():
        if key in existing:
            session.execute(
                t.table_of(t.Tag)
                .update()
                .where(
                    t.Tag.securable_type == securable_type,
                    t.Tag.securable_id == securable_id,
                    t.Tag.key == key,
                )
                .values(value=value)
            )
        else:
            session.add(
                t.Tag(
                    securable_type=securable_type, securable_id=securable_id, key=key, value=value
                )
            )


@audited("updateRegisteredModelTags", "registered_model", needs="tag_model")
def change_model_tags(
    ctx: ServiceContext,
    caller: Caller,
    full_name: object,
    add: Mapping[str, object],
    remove: Iterable[object] = (),
) -> None:
    """Set and remove tags on a registered model."""
    name = rules.model_name(full_name)
    with ctx.db.write() as session:
        model = lookup.model_row(ctx, session, caller, name, needed(), lock=queries.UPDATE)
        change_tags(session, "registered_model", model.id, add, remove)
        model.updated_at, model.updated_by = now_ms(), caller.name
        audit.record_in(session)


@audited("updateModelVersionTags", "registered_model", needs="tag_model")
def change_version_tags(
    ctx: ServiceContext,
    caller: Caller,
    full_name: object,
    version: object,
    add: Mapping[str, object],
    remove: Iterable[object] = (),
) -> None:
    """Set and remove tags on a model version."""
    name = rules.model_name(full_name)
    number = rules.version_number(version)
    audit.describe(version=number)
    with ctx.db.write() as session:
        model = lookup.model_row(ctx, session, caller, name, needed(), lock=queries.UPDATE)
        row = lookup.version_row(session, model, name.full, number)
        change_tags(session, "model_version", row.id, add, remove)
        row.updated_at, row.updated_by = now_ms(), caller.name
        # `<approval task>=Approved` decides that task of the version's deployment run.
        decided = approvals.apply_version_tags(ctx, session, caller, row, add)
        audit.record_in(session)
    if decided:
        ctx.wake_engine()


@audited("updateSecurableTags", needs="tag_catalog", branches={"schema": "tag_schema"})
def change_container_tags(
    ctx: ServiceContext,
    caller: Caller,
    securable_type: str,
    full_name: object,
    add: Mapping[str, object],
    remove: Iterable[object] = (),
) -> None:
    """Set and remove tags on a catalog or a schema."""
    audit.describe(str(full_name).lower(), securable_type)
    with ctx.db.write() as session:
        if securable_type == "catalog":
            name = rules.name_part(full_name, "full_name")
            securable_id = lookup.catalog_row(
                ctx, session, caller, name, needed(), lock=queries.UPDATE
            ).id
        else:
            catalog, schema = rules.split_full_name(full_name, "full_name", 2)
            _, row = lookup.schema_row(
                ctx, session, caller, catalog, schema, needed("schema"), lock=queries.UPDATE
            )
            securable_id = row.id
        change_tags(session, securable_type, securable_id, add, remove)
        audit.record_in(session)
