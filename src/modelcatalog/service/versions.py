"""Model versions: numbering, the PENDING → READY lifecycle, finalize, read, search, delete."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from modelcatalog.domain import events as ev
from modelcatalog.domain import lineage as ln
from modelcatalog.domain import rules
from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.errors import FailedPrecondition, InvalidParameter, NotFound, PermissionDenied
from modelcatalog.service import access, audit, events, files, lookup, measures, paging
from modelcatalog.service import lineage as lineage_rows
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments import jobs as deployment_jobs
from modelcatalog.service.operations import OPERATIONS, needed
from modelcatalog.service.stamps import new_id, now_ms
from modelcatalog.service.tags import change_tags
from modelcatalog.service.views import Page, VersionView
from modelcatalog.store import queries
from modelcatalog.store import tables as t
from modelcatalog.store.database import after_commit

_FILTER = re.compile(r"^\s*(name|run_id)\s*=\s*(['\"])(.*)\2\s*$", re.IGNORECASE)


class ModelRef(NamedTuple):
    """The facts about a model that a version view needs."""

    id: str
    name: str
    deployment_job_id: str | None = None


def _attachments(
    session: Session, ids: list[str]
) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """Tags and aliases of many versions, in one round trip."""
    tags: dict[str, dict[str, str]] = {}
    aliases: dict[str, list[str]] = {}
    if not ids:
        return tags, aliases
    for owner, kind, name, value in session.execute(queries.VERSION_ATTACHMENTS, {"ids": ids}):
        if kind == "tag":
            tags.setdefault(owner, {})[name] = value
        else:
            aliases.setdefault(owner, []).append(name)
    return (
        {owner: dict(sorted(found.items())) for owner, found in tags.items()},
        {owner: sorted(found, key=str.lower) for owner, found in aliases.items()},
    )


def version_views(
    ctx: ServiceContext,
    session: Session,
    model: t.RegisteredModel | ModelRef,
    catalog: str,
    schema: str,
    rows: Sequence[Any],
    *,
    untagged: bool = False,
) -> list[VersionView]:
    """Views of versions of one model (ORM rows or Core rows with the same columns).
    `untagged`: the versions were just created without tags, so they have neither tags nor
    aliases to read."""
    tags, aliases = ({}, {}) if untagged else _attachments(session, [r.id for r in rows])
    # Only a model linked to a deployment job shows its versions' deployment states.
    deployments = (
        deployment_jobs.version_states(
            session, model.id, model.deployment_job_id, [r.version for r in rows]
        )
        if model.deployment_job_id
        else {}
    )
    return [
        VersionView(
            id=r.id,
            model_id=model.id,
            catalog_name=catalog,
            schema_name=schema,
            model_name=model.name,
            version=r.version,
            source=r.source,
            run_id=r.run_id,
            run_tracking_server_id=r.run_tracking_server_id,
            logged_model_id=r.logged_model_id,
            comment=r.comment,
            status=r.status,
            status_message=r.status_message,
            signature_waiver=r.signature_waiver,
            storage_location=files.version_location(ctx, model.id, r.version, r.status),
            created_at=r.created_at,
            created_by=r.created_by,
            updated_at=r.updated_at,
            updated_by=r.updated_by,
            aliases=tuple(aliases.get(r.id, ())),
            tags=tags.get(r.id, {}),
            origin=json.loads(r.origin) if r.origin else None,
            deployment_job_state=deployments.get(r.version),
        )
        for r in rows
    ]


def _one(
    ctx: ServiceContext,
    session: Session,
    name: rules.ModelName,
    row: t.ModelVersion,
    model: t.RegisteredModel,
) -> VersionView:
    return version_views(ctx, session, model, name.catalog, name.schema, [row])[0]


@audited("createModelVersion", "registered_model", needs="create_version")
def create_version(
    ctx: ServiceContext,
    caller: Caller,
    full_name: object,
    *,
    source: object = None,
    run_id: object = None,
    comment: object = None,
    tags: Mapping[str, object] | None = None,
    run_tracking_server_id: object = None,
    logged_model_id: object = None,
    lineage: Sequence[ln.Entity] = (),
) -> VersionView:
    """Create the next version of a model in PENDING_REGISTRATION, ready to receive files.

    `source` (where the model's files came from) is required, as both dialects' specifications
    require it and every stock client sends it. `lineage` is what the client reports the version
    came from. A source naming an MLflow logged model records that model; a source naming a
    version of this catalog that the caller may read (MLflow's `copy_model_version`) records it
    as the version copied from, with its run, logged model and upstream lineage where the
    request gives none."""
    name = rules.model_name(full_name)
    text = rules.comment(comment)
    source, run_id = rules.optional_text(source, "source"), rules.optional_text(run_id, "run_id")
    if source is None:
        raise InvalidParameter(
            "'source' is required: the URI of the model's files, e.g. runs:/<run id>/model.",
            "source",
        )
    stamp = now_ms()
    upstream = list(lineage)
    logged_model_id = str(logged_model_id) if logged_model_id else ln.logged_model_in(source)
    with ctx.db.write() as session:
        copied = _copy_source(ctx, session, caller, source)
        if copied is not None:
            run_id = run_id or copied.run_id
            logged_model_id = logged_model_id or copied.logged_model_id
            run_tracking_server_id = run_tracking_server_id or copied.run_tracking_server_id
            upstream += lineage_rows.upstream_of(session, copied.id)
            upstream.append(
                ln.Entity(ln.MODEL_VERSION, copied.id, copied.full_name, str(copied.version))
            )
        model = lookup.model_row(ctx, session, caller, name, needed(), lock=queries.UPDATE)
        # The counter lives on the model row, locked above: concurrent creators take turns, so
        # numbers are distinct and consecutive, and a deleted number is never handed out again.
        connection = session.connection()
        number = connection.execute(_NEXT_NUMBER, {"model": model.id, "stamp": stamp}).scalar_one()
        row = NewVersion(
            id=new_id(),
            model_id=model.id,
            version=number,
            source=source,
            run_id=run_id,
            run_tracking_server_id=str(run_tracking_server_id) if run_tracking_server_id else None,
            logged_model_id=logged_model_id,
            comment=text,
            status=VersionStatus.PENDING_REGISTRATION,
            created_at=stamp,
            created_by=caller.name,
            updated_at=stamp,
            updated_by=caller.name,
        )
        connection.execute(_INSERT_VERSION, row._asdict())
        if tags:
            change_tags(session, "model_version", row.id, tags)
        lineage_rows.record_created(session, row.id, upstream, caller.name, stamp)
        events.emit(
            session,
            ev.MODEL_VERSION_CREATED,
            model,
            name.full,
            actor=caller.name,
            version=number,
        )
        audit.describe(version=number)
        audit.record_in(session)
        return version_views(
            ctx, session, model, name.catalog, name.schema, [row], untagged=not tags
        )[0]


class NewVersion(NamedTuple):
    """A version as `create_version` inserts it: the row, without the ORM's bookkeeping."""

    id: str
    model_id: str
    version: int
    source: str
    run_id: str | None
    run_tracking_server_id: str | None
    logged_model_id: str | None
    comment: str | None
    status: str
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str
    status_message: str | None = None
    signature_waiver: str | None = None
    origin: str | None = None


# Built once: a create runs them inside its write transaction, holding the model's lock.
_models = t.table_of(t.RegisteredModel)
_NEXT_NUMBER = (
    _models.update()
    .where(_models.c.id == bindparam("model"))
    .values(last_version=_models.c.last_version + 1, updated_at=bindparam("stamp"))
    .returning(_models.c.last_version)
)
_INSERT_VERSION = insert(t.table_of(t.ModelVersion))


def _copy_source(
    ctx: ServiceContext, session: Session, caller: Caller, source: str
) -> VersionView | None:
    """The version of this catalog a source names, if the caller may read it as
    `getModelVersion` does (a copy needs no more); None for any other source, another server's
    version of the same name included. A version the caller may not read is not named as
    copied from, so nothing of it reaches the copy."""
    named = ln.catalog_version_in(source)
    if named is None:
        return None
    full_name, number, alias = named
    try:
        return locate_version(
            ctx,
            session,
            caller,
            rules.model_name(full_name),
            version=number,
            alias=alias,
            action=OPERATIONS["getModelVersion"].action,
        )
    except (NotFound, PermissionDenied, InvalidParameter):
        return None


def locate_version(
    ctx: ServiceContext,
    session: Session,
    caller: Caller,
    name: rules.ModelName,
    *,
    version: int | None = None,
    alias: str | None = None,
    action: str | None = None,
) -> VersionView:
    """A version the caller may use for `action` (the running operation's by default), by
    number or by alias, found with one joined query (the hot read path: authorization is
    decided from it and the cached rights)."""
    action = action or needed()
    where: dict[str, str | int | None] = {
        "catalog": name.catalog,
        "schema": name.schema,
        "model": name.model,
    }
    if alias is not None:
        query, where["alias"] = queries.VERSION_BY_ALIAS, alias.lower()
    else:
        query, where["version"] = queries.VERSION_BY_NUMBER, version
    row = session.execute(query, where).first()
    if row is None:
        # The model may be missing or hidden from the caller: say so exactly as for a model.
        lookup.model_row(ctx, session, caller, name, action)
        if alias is not None:
            raise NotFound(f"Registered model '{name.full}' has no alias '{alias}'.")
        raise NotFound(f"Model version '{name.full}' version {version} does not exist.")
    chain = lookup.model_chain(name, row, row.model_id, row.model_owner)
    lookup.authorize(
        ctx, session, caller, action, chain, f"Registered model '{name.full}' does not exist."
    )
    model_ref = ModelRef(row.model_id, row.model_name, row.model_deployment_job_id)
    return version_views(ctx, session, model_ref, name.catalog, name.schema, [row])[0]


def readable(ctx: ServiceContext, view: VersionView) -> VersionView:
    """A version about to be handed to a client, with its files made what its status promises
    at the location it reports (see `files.settle_for_reading`); for every dialect's read of
    one version, after the read's transaction."""
    files.settle_for_reading(ctx, view.model_id, view.version, view.status)
    return view


@audited("getModelVersion", "registered_model", needs="read_model")
def get_version(
    ctx: ServiceContext,
    caller: Caller,
    full_name: object,
    version: object,
    *,
    with_lineage: bool = False,
) -> VersionView:
    """One version; `with_lineage` adds its lineage (one more query, for the reads that show a
    version whole rather than the hot path that loads it)."""
    name = rules.model_name(full_name)
    number = rules.version_number(version)
    with ctx.db.read() as session:
        view = locate_version(ctx, session, caller, name, version=number)
        if with_lineage:
            view = dataclasses.replace(view, lineage=lineage_rows.of_version(ctx, session, view))
    return readable(ctx, view)


@audited("listModelVersions", "registered_model", needs="read_model")
def list_versions(
    ctx: ServiceContext,
    caller: Caller,
    full_name: object,
    *,
    max_results: object = None,
    page_token: object = None,
    default_size: int = 100,
    newest_first: bool = False,
) -> Page:
    """Versions of one model, keyset-paged by number."""
    name = rules.model_name(full_name)
    size = paging.page_size(max_results, default_size, maximum=paging.MAX_VERSION_PAGE)
    after = paging.decode(page_token, (int,))
    with ctx.db.read() as session:
        model = lookup.model_row(ctx, session, caller, name, needed())
        order = t.ModelVersion.version.desc() if newest_first else t.ModelVersion.version
        query = (
            select(t.ModelVersion)
            .where(t.ModelVersion.model_id == model.id)
            .order_by(order)
            .limit(size + 1)
        )
        if after:
            bound = after[0]
            query = query.where(
                t.ModelVersion.version < bound if newest_first else t.ModelVersion.version > bound
            )
        rows = list(session.scalars(query))
        token = paging.encode([rows[size - 1].version]) if len(rows) > size else None
        return Page(
            version_views(ctx, session, model, name.catalog, name.schema, rows[:size]), token
        )


@audited("searchModelVersions")
def search_versions(
    ctx: ServiceContext,
    caller: Caller,
    filter_string: object,
    *,
    max_results: object = None,
    page_token: object = None,
) -> Page:
    """MLflow's version search: a single `name = '...'` or `run_id = '...'` condition."""
    match = _FILTER.fullmatch(filter_string) if isinstance(filter_string, str) else None
    if not match:
        raise InvalidParameter(
            f"'filter' is {filter_string!r}: version search supports exactly one condition, "
            "name = 'catalog.schema.model' or run_id = '<run id>'.",
            "filter",
        )
    field, value = match.group(1).lower(), match.group(3)
    if field == "name":
        return list_versions(
            ctx, caller, value, max_results=max_results, page_token=page_token, default_size=10_000
        )
    size = paging.page_size(max_results, 1000)
    after = paging.decode(page_token, (str,))
    with ctx.db.read() as session:
        query = (
            select(t.ModelVersion, t.RegisteredModel, t.Catalog.name, t.Schema.name)
            .join(t.RegisteredModel, t.RegisteredModel.id == t.ModelVersion.model_id)
            .join(t.Schema, t.Schema.id == t.RegisteredModel.schema_id)
            .join(t.Catalog, t.Catalog.id == t.Schema.catalog_id)
            .where(t.ModelVersion.run_id == value)
            .order_by(t.ModelVersion.id)
            .limit(size + 1)
        )
        visible = access.model_filter(session, access.rights_of(ctx.rights, session, caller))
        if visible is not None:
            query = query.where(visible)
        if after:
            query = query.where(t.ModelVersion.id > after[0])
        rows = list(session.execute(query))
        token = paging.encode([rows[size - 1][0].id]) if len(rows) > size else None
        views = [version_views(ctx, session, m, c, s, [v])[0] for v, m, c, s in rows[:size]]
        return Page(views, token)


@audited("updateModelVersion", "registered_model", needs="manage_model")
def update_version(
    ctx: ServiceContext,
    caller: Caller,
    full_name: object,
    version: object,
    *,
    comment: object = None,
) -> VersionView:
    """Change a version's description; a request that changes nothing is refused, as Unity
    Catalog refuses it."""
    name = rules.model_name(full_name)
    number = rules.version_number(version)
    if comment is None:
        raise InvalidParameter(
            "No updated fields defined: give the new comment (description).", "comment"
        )
    text = rules.comment(comment)
    with ctx.db.write() as session:
        model = lookup.model_row(ctx, session, caller, name, needed(), lock=queries.UPDATE)
        row = lookup.version_row(session, model, name.full, number)
        row.comment = text
        row.updated_at, row.updated_by = now_ms(), caller.name
        audit.record_in(session)
        return _one(ctx, session, name, row, model)


@audited("deleteModelVersion", "registered_model", needs="manage_model")
def delete_version(ctx: ServiceContext, caller: Caller, full_name: object, version: object) -> None:
    """Delete a version, its aliases, tags, manifest and files. Its number is never reused."""
    name = rules.model_name(full_name)
    number = rules.version_number(version)
    with ctx.db.write() as session:
        # The model's lock orders this against alias moves, tag changes and finalize of the
        # same version: whichever comes second sees what the first did.
        model = lookup.model_row(ctx, session, caller, name, needed(), lock=queries.UPDATE)
        row = lookup.version_row(session, model, name.full, number)
        session.execute(delete(t.ModelAlias).where(t.ModelAlias.version_id == row.id))
        session.execute(delete(t.VersionFile).where(t.VersionFile.version_id == row.id))
        session.execute(
            delete(t.Tag).where(
                t.Tag.securable_type == "model_version", t.Tag.securable_id == row.id
            )
        )
        session.delete(row)
        audit.record_in(session)
        model_id = model.id
        after_commit(session, lambda: files.remove_version_files(ctx, model_id, number))


@audited("finalizeModelVersion", "registered_model", needs="create_version")
def finalize_version(
    ctx: ServiceContext, caller: Caller, full_name: object, version: object
) -> VersionView:
    """Check the uploaded model and make the version READY, or FAILED_REGISTRATION with why.

    The server checks the signature itself (a client's check cannot be trusted) and records
    the manifest of every file (path, size, sha256) so that copies can be verified later. A
    failed version's files are moved into quarantine once the failure is committed; finalizing
    it again finishes that move if it was cut short."""
    name = rules.model_name(full_name)
    number = rules.version_number(version)
    with ctx.db.read() as session:
        model = lookup.model_row(ctx, session, caller, name, needed())
        row = lookup.version_row(session, model, name.full, number)
        if row.status == VersionStatus.READY:
            return _one(ctx, session, name, row, model)
        model_id, waiver, status = model.id, row.signature_waiver, row.status
        failure = (
            f"Model version '{name.full}' version {number} failed registration: "
            f"{row.status_message}"
        )
    if status == VersionStatus.FAILED_REGISTRATION:
        # A finalize cut short after its commit left the files in place: finish moving them.
        files.quarantine_version(ctx, model_id, number)
        raise FailedPrecondition(failure)
    files.seal_uploads(ctx, model_id, number)
    problem = files.layout_problem(ctx, model_id, number)
    if problem is None and waiver is None:
        problem = files.signature_problem(ctx, model_id, number)
    manifest = [] if problem else files.compute_manifest(ctx, model_id, number)
    with ctx.db.write() as session:
        model = lookup.model_row(ctx, session, caller, name, needed(), lock=queries.UPDATE)
        row = lookup.version_row(session, model, name.full, number)
        if row.status != VersionStatus.PENDING_REGISTRATION:
            return _one(ctx, session, name, row, model)
        row.updated_at, row.updated_by = now_ms(), caller.name
        if problem:
            row.status, row.status_message = VersionStatus.FAILED_REGISTRATION, problem
            after_commit(session, measures.versions_failed.inc)
        else:
            for entry in manifest:
                session.add(
                    t.VersionFile(
                        version_id=row.id, path=entry.path, size=entry.size, sha256=entry.sha256
                    )
                )
            row.status, row.status_message = VersionStatus.READY, None
            events.emit(
                session,
                ev.MODEL_VERSION_READY,
                model,
                name.full,
                actor=caller.name,
                version=number,
            )
            # The version's deployment run starts in the transaction that makes it READY: a
            # committed READY always has its run, and never two.
            deployment_jobs.start_for_ready_version(
                ctx, session, model, name.full, row, caller.name
            )
        audit.describe(status=row.status, signature_waiver=row.signature_waiver)
        audit.record_in(session)
        view = _one(ctx, session, name, row, model)
    if problem:
        if view.status == VersionStatus.FAILED_REGISTRATION:
            files.quarantine_version(ctx, model_id, number)
        raise InvalidParameter(problem, "source")
    files.publish_version(ctx, model_id, number, view.status)
    ctx.wake_engine()
    return view


@audited("getModelVersionManifest", "registered_model", needs="read_model")
def manifest(
    ctx: ServiceContext, caller: Caller, full_name: object, version: object
) -> list[files.ManifestEntry]:
    """The files recorded when the version was finalized."""
    name = rules.model_name(full_name)
    number = rules.version_number(version)
    with ctx.db.read() as session:
        model = lookup.model_row(ctx, session, caller, name, needed())
        row = lookup.version_row(session, model, name.full, number)
        if row.status != VersionStatus.READY:
            raise FailedPrecondition(
                f"Model version '{name.full}' version {number} is {row.status}; only READY "
                "versions have a manifest."
            )
        found = session.scalars(
            select(t.VersionFile)
            .where(t.VersionFile.version_id == row.id)
            .order_by(t.VersionFile.path)
        )
        return [files.ManifestEntry(f.path, f.size, f.sha256) for f in found]
