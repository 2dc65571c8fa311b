"""The hot read queries, built once with bound parameters.

Building a SQLAlchemy statement costs more than running it on SQLite; the statements that
every model load runs (a version by number or by alias, with its tags and aliases) are
therefore built at import time and executed with parameters."""

from __future__ import annotations

from sqlalchemy import BindParameter, CompoundSelect, Select, bindparam, literal, select, union_all

from modelcatalog.store import tables as t

_version = t.ModelVersion.__table__

MODEL_BY_NAME = (
    select(
        t.RegisteredModel,
        t.Catalog.id.label("catalog_id"),
        t.Catalog.owner.label("catalog_owner"),
        t.Schema.id.label("schema_id"),
        t.Schema.owner.label("schema_owner"),
    )
    .join(t.Schema, t.Schema.id == t.RegisteredModel.schema_id)
    .join(t.Catalog, t.Catalog.id == t.Schema.catalog_id)
    .where(
        t.Catalog.name == bindparam("catalog"),
        t.Schema.name == bindparam("schema"),
        t.RegisteredModel.name == bindparam("model"),
    )
)
"""A registered model by its full name, with its containers' ids and owners (what
authorization needs); parameters catalog, schema, model."""

# Row locks a write takes on what it finds, by what it does with it. Every write locks before
# it reads what it decides on, top-down (catalog, schema, model, version), so that writers of
# one object take turns instead of deadlocking or deciding on what another is changing. On
# SQLite, which runs one write transaction at a time, the lock clauses render as nothing.
SHARE = "share"
"""Adds a child to the row (FOR KEY SHARE): only a delete of the row waits for it."""
UPDATE = "update"
"""Changes the row or what hangs below it (FOR NO KEY UPDATE): such writers take turns, while
foreign-key checks of new children do not wait."""
DELETE = "delete"
"""Deletes the row (FOR UPDATE)."""

_LOCK_OPTIONS = {
    SHARE: {"read": True, "key_share": True},
    UPDATE: {"key_share": True},
    DELETE: {},
}


def locked(query: Select, lock: str | None, of: object = None) -> Select:
    """`query` taking the row lock `lock` (SHARE, UPDATE or DELETE; None for none)."""
    if lock is None:
        return query
    return query.with_for_update(of=of, **_LOCK_OPTIONS[lock])  # type: ignore[arg-type]


MODEL_BY_NAME_LOCKED = {
    lock: locked(MODEL_BY_NAME, lock, of=t.RegisteredModel) for lock in _LOCK_OPTIONS
}
"""MODEL_BY_NAME locking the model's row, by lock."""

_VERSION_OF_MODEL = (
    select(
        *_version.c,
        t.RegisteredModel.name.label("model_name"),
        t.RegisteredModel.owner.label("model_owner"),
        t.RegisteredModel.deployment_job_id.label("model_deployment_job_id"),
        t.RegisteredModel.schema_id.label("schema_id"),
        t.Schema.owner.label("schema_owner"),
        t.Catalog.id.label("catalog_id"),
        t.Catalog.owner.label("catalog_owner"),
    )
    .join(t.RegisteredModel, t.RegisteredModel.id == _version.c.model_id)
    .join(t.Schema, t.Schema.id == t.RegisteredModel.schema_id)
    .join(t.Catalog, t.Catalog.id == t.Schema.catalog_id)
    .where(
        t.Catalog.name == bindparam("catalog"),
        t.Schema.name == bindparam("schema"),
        t.RegisteredModel.name == bindparam("model"),
    )
)

VERSION_BY_NUMBER = _VERSION_OF_MODEL.where(_version.c.version == bindparam("version"))
"""A version's columns, its model's name and the ids and owners up the hierarchy; parameters
catalog, schema, model, version."""

VERSION_BY_ALIAS = _VERSION_OF_MODEL.join(
    t.ModelAlias, t.ModelAlias.version_id == _version.c.id
).where(t.ModelAlias.alias_key == bindparam("alias"))
"""The same, for the version an alias names; parameters catalog, schema, model, alias."""


def _attachments(ids: BindParameter[list[str]]) -> CompoundSelect:
    tags = select(
        t.Tag.securable_id.label("owner"),
        literal("tag").label("kind"),
        t.Tag.key.label("name"),
        t.Tag.value.label("value"),
    ).where(t.Tag.securable_type == "model_version", t.Tag.securable_id.in_(ids))
    aliases = select(
        t.ModelAlias.version_id, literal("alias"), t.ModelAlias.alias, t.ModelAlias.alias_key
    ).where(t.ModelAlias.version_id.in_(ids))
    return union_all(tags, aliases)


VERSION_ATTACHMENTS = _attachments(bindparam("ids", expanding=True))
"""Rows (owner, kind 'tag'|'alias', name, value) for the versions whose ids are `ids`."""
