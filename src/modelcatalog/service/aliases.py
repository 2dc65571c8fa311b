"""Aliases: a name for exactly one READY version of a model; setting it again moves it."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from modelcatalog.domain import events as ev
from modelcatalog.domain import rules
from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.errors import FailedPrecondition, NotFound
from modelcatalog.service import audit, events, lookup
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.operations import needed
from modelcatalog.service.stamps import now_ms
from modelcatalog.service.versions import locate_version, readable, version_views
from modelcatalog.service.views import VersionView
from modelcatalog.store import queries
from modelcatalog.store import tables as t
from modelcatalog.store.results import rowcount


@audited("setRegisteredModelAlias", "registered_model", needs="manage_model")
def set_alias(
    ctx: ServiceContext, caller: Caller, full_name: object, alias: object, version: object
) -> VersionView:
    """Point `alias` at a READY version, moving it if it named another one."""
    name = rules.model_name(full_name)
    clean = rules.alias_name(alias)
    number = rules.version_number(version, "version")
    insert = postgresql.insert if ctx.db.dialect == "postgresql" else sqlite.insert
    audit.describe(alias=clean, version=number)
    with ctx.db.write() as session:
        # Locked as every write below a model locks it: a delete of the version (or the model)
        # either comes first, and this finds no version, or waits until the alias is set and
        # then deletes it with the version.
        model = lookup.model_row(ctx, session, caller, name, needed(), lock=queries.UPDATE)
        row = lookup.version_row(session, model, name.full, number)
        if row.status != VersionStatus.READY:
            raise FailedPrecondition(
                f"Model version '{name.full}' version {number} is {row.status}; only READY "
                "versions can be aliased."
            )
        # One statement, keyed on (model, alias): concurrent moves serialise on that key,
        # so an alias can never end up naming two versions.
        statement = insert(t.ModelAlias).values(
            model_id=model.id, alias_key=clean.lower(), alias=clean, version_id=row.id
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[t.ModelAlias.model_id, t.ModelAlias.alias_key],
                set_={"alias": clean, "version_id": row.id},
            )
        )
        model.updated_at, model.updated_by = now_ms(), caller.name
        events.emit(
            session,
            ev.MODEL_ALIAS_SET,
            model,
            name.full,
            actor=caller.name,
            version=number,
            alias=clean,
        )
        session.flush()
        audit.record_in(session)
        view = version_views(ctx, session, model, name.catalog, name.schema, [row])[0]
    ctx.wake_engine()
    return view


@audited("getModelVersionByAlias", "registered_model", needs="read_model")
def get_version_by_alias(
    ctx: ServiceContext, caller: Caller, full_name: object, alias: object
) -> VersionView:
    """The version an alias names."""
    name = rules.model_name(full_name)
    clean = rules.alias_name(alias)
    with ctx.db.read() as session:
        view = locate_version(ctx, session, caller, name, alias=clean)
    return readable(ctx, view)


@audited("deleteRegisteredModelAlias", "registered_model", needs="manage_model")
def delete_alias(ctx: ServiceContext, caller: Caller, full_name: object, alias: object) -> None:
    name = rules.model_name(full_name)
    clean = rules.alias_name(alias)
    with ctx.db.write() as session:
        model = lookup.model_row(ctx, session, caller, name, needed(), lock=queries.UPDATE)
        gone = rowcount(
            session.execute(
                delete(t.ModelAlias).where(
                    t.ModelAlias.model_id == model.id, t.ModelAlias.alias_key == clean.lower()
                )
            )
        )
        if not gone:
            raise NotFound(f"Registered model '{name.full}' has no alias '{clean}'.")
        model.updated_at, model.updated_by = now_ms(), caller.name
        audit.record_in(session)
