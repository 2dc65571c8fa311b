"""Lineage of model versions: recorded when a version is created (from MLflow's lineage header,
its logged model, or the catalog version it is a copy of) and when MLflow reports a reader; read
with one version."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from modelcatalog.domain import lineage as ln
from modelcatalog.domain import rules
from modelcatalog.errors import NotFound
from modelcatalog.service import audit, lookup
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.operations import needed
from modelcatalog.service.stamps import now_ms
from modelcatalog.service.views import VersionLineage, VersionView
from modelcatalog.store import queries
from modelcatalog.store import tables as t


def _upsert(
    session: Session,
    version_id: str,
    direction: str,
    entities: Sequence[ln.Entity],
    actor: str,
    stamp: int,
) -> int:
    """Record entities for a version (a known one is stamped anew); how many were new."""
    if not entities:
        return 0
    known = {
        (row.kind, row.identifier): row
        for row in session.scalars(
            select(t.VersionLineage).where(
                t.VersionLineage.version_id == version_id,
                t.VersionLineage.direction == direction,
            )
        )
    }
    added = 0
    for entity in {(e.kind, e.identifier): e for e in entities}.values():
        row = known.get((entity.kind, entity.identifier))
        if row is None:
            row = t.VersionLineage(
                version_id=version_id,
                direction=direction,
                kind=entity.kind,
                identifier=entity.identifier,
            )
            session.add(row)
            known[(entity.kind, entity.identifier)] = row
            added += 1
        row.name, row.detail = entity.name, entity.detail
        row.recorded_at, row.recorded_by = stamp, actor
    return added


def record_created(
    session: Session,
    version_id: str,
    entities: Sequence[ln.Entity],
    actor: str,
    stamp: int,
) -> None:
    """A new version's upstream lineage, inside its create transaction (it has none yet to
    look up)."""
    for entity in {(e.kind, e.identifier): e for e in entities}.values():
        session.add(
            t.VersionLineage(
                version_id=version_id,
                direction=ln.UPSTREAM,
                kind=entity.kind,
                identifier=entity.identifier,
                name=entity.name,
                detail=entity.detail,
                recorded_at=stamp,
                recorded_by=actor,
            )
        )


def upstream_of(session: Session, version_id: str) -> list[ln.Entity]:
    """What a version came from, except the version it was copied from (a copy of it names that
    version itself)."""
    return [
        ln.Entity(row.kind, row.identifier, row.name, row.detail)
        for row in session.scalars(
            select(t.VersionLineage).where(
                t.VersionLineage.version_id == version_id,
                t.VersionLineage.direction == ln.UPSTREAM,
                t.VersionLineage.kind != ln.MODEL_VERSION,
            )
        )
    ]


def _keep_readers_bounded(session: Session, version_id: str) -> None:
    """Forget the oldest readers of a version beyond `MAX_READERS`."""
    readers = (t.VersionLineage.version_id == version_id) & (
        t.VersionLineage.direction == ln.DOWNSTREAM
    )
    count = session.scalar(select(func.count()).select_from(t.VersionLineage).where(readers))
    if not count or count <= ln.MAX_READERS:
        return
    oldest = session.execute(
        select(t.VersionLineage.kind, t.VersionLineage.identifier)
        .where(readers)
        .order_by(t.VersionLineage.recorded_at, t.VersionLineage.identifier)
        .limit(count - ln.MAX_READERS)
    ).all()
    for kind, identifier in oldest:
        session.execute(
            delete(t.VersionLineage).where(
                readers,
                t.VersionLineage.kind == kind,
                t.VersionLineage.identifier == identifier,
            )
        )


@audited("emitModelVersionLineage", "registered_model", needs="read_model")
def emit(
    ctx: ServiceContext,
    caller: Caller,
    full_name: object,
    version: object,
    direction: str,
    entities: Sequence[ln.Entity],
) -> int:
    """Record what MLflow reports about a version: a reader (downstream) or a source (upstream).
    Returns how many of the entities were new to the version."""
    name = rules.model_name(full_name)
    number = rules.version_number(version)
    with ctx.db.write() as session:
        # Locked: two reports about one version take turns (see lookup.model_row).
        model = lookup.model_row(ctx, session, caller, name, needed(), lock=queries.UPDATE)
        version_id = session.scalar(
            select(t.ModelVersion.id).where(
                t.ModelVersion.model_id == model.id, t.ModelVersion.version == number
            )
        )
        if version_id is None:
            raise NotFound(f"Model version '{name.full}' version {number} does not exist.")
        added = _upsert(session, version_id, direction, entities, caller.name, now_ms())
        if direction == ln.DOWNSTREAM:
            _keep_readers_bounded(session, version_id)
        audit.describe(version=number, direction=direction, recorded=len(entities), new=added)
        audit.record_in(session)
    return added


def of_version(ctx: ServiceContext, session: Session, view: VersionView) -> VersionLineage:
    """A version's lineage, for a view of it read in `session`."""
    rows = session.scalars(
        select(t.VersionLineage)
        .where(t.VersionLineage.version_id == view.id)
        .order_by(t.VersionLineage.direction, t.VersionLineage.kind, t.VersionLineage.recorded_at)
    ).all()
    upstream = tuple(
        ln.Entity(r.kind, r.identifier, r.name, r.detail)
        for r in rows
        if r.direction == ln.UPSTREAM and r.kind != ln.MODEL_VERSION
    )
    copied = next(
        (r for r in rows if r.direction == ln.UPSTREAM and r.kind == ln.MODEL_VERSION), None
    )
    readers = sorted(
        (r for r in rows if r.direction == ln.DOWNSTREAM),
        key=lambda r: r.recorded_at,
        reverse=True,
    )
    return VersionLineage(
        run_id=view.run_id,
        run_link=ln.run_link(ctx.tracking_ui_url, view.run_id),
        logged_model_id=view.logged_model_id,
        copied_from=(
            {"name": copied.name or "", "version": copied.detail or "", "id": copied.identifier}
            if copied
            else None
        ),
        upstream=upstream,
        readers=tuple(ln.Entity(r.kind, r.identifier, r.name, r.detail) for r in readers),
    )
