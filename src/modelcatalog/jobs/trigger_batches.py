"""Trigger batches: `collect` adds each model event to the waiting batch of every trigger it
concerns (in the transaction that dispatches the events); `fire_due` claims a due batch with a
conditional UPDATE, so that exactly one replica fires it, and starts deployment runs or sends one
notification for the whole batch. A server that dies in between loses nothing: the next engine
tick of any replica picks the batch up."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from sqlalchemy import and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from modelcatalog.domain import events as ev
from modelcatalog.domain import privileges as pv
from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.errors import CatalogError, InvalidParameter, NotFound
from modelcatalog.service import notifications
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments import runs
from modelcatalog.service.deployments.definition import JobDefinition
from modelcatalog.service.events import ModelEvent
from modelcatalog.service.stamps import now_ms
from modelcatalog.service.triggers import MIXED
from modelcatalog.store import tables as t
from modelcatalog.store.results import rowcount

log = logging.getLogger("modelcatalog.triggers")


_triggers = t.table_of(t.Trigger)
# Built once: every batch of events is checked against the triggers with one query.
_CANDIDATES = select(
    _triggers.c.id,
    _triggers.c.scope_type,
    _triggers.c.scope_id,
    _triggers.c.events,
    _triggers.c.aliases,
    _triggers.c.created_at,
).where(
    or_(
        and_(
            _triggers.c.scope_type == pv.MODEL,
            _triggers.c.scope_id.in_(bindparam("models", expanding=True)),
        ),
        and_(
            _triggers.c.scope_type == pv.SCHEMA,
            _triggers.c.scope_id.in_(bindparam("schemas", expanding=True)),
        ),
        and_(
            _triggers.c.scope_type == pv.CATALOG,
            _triggers.c.scope_id.in_(bindparam("catalogs", expanding=True)),
        ),
    ),
    # A trigger sees only changes made after it was created.
    _triggers.c.created_at <= bindparam("latest"),
)


def collect(session: Session, batch: list[ModelEvent]) -> None:
    """Add each event of `batch` (in order) to the waiting batch of every trigger it concerns,
    in the caller's transaction, the one that marks the events dispatched. The triggers of the
    batch's scopes are read with one query; an event no trigger concerns costs nothing more."""
    if not batch:
        return
    candidates = (
        session.connection()
        .execute(
            _CANDIDATES,
            {
                "models": sorted({e.model_id for e in batch}),
                "schemas": sorted({e.schema_id for e in batch}),
                "catalogs": sorted({e.catalog_id for e in batch}),
                "latest": max(e.at for e in batch),
            },
        )
        .all()
    )
    if not candidates:
        return
    for event in batch:
        scopes = {
            (pv.MODEL, event.model_id),
            (pv.SCHEMA, event.schema_id),
            (pv.CATALOG, event.catalog_id),
        }
        # Kinds are stored as a JSON list; the quoted kind matches exactly one element.
        kind = json.dumps(event.kind)
        concerned = [
            c.id
            for c in candidates
            if (c.scope_type, c.scope_id) in scopes
            and kind in c.events
            and c.created_at <= event.at
            and _alias_matches(json.loads(c.aliases or "[]"), event)
        ]
        if concerned:
            _add_to_batches(session, event, concerned)


def _add_to_batches(session: Session, event: ModelEvent, concerned: list[str]) -> None:
    insert = _insert_for(session)
    for trigger_id in concerned:
        session.execute(
            insert(t.TriggerChange)
            .values(trigger_id=trigger_id, event_seq=event.seq)
            .on_conflict_do_nothing()
        )
    last = t.Trigger.last_pending_at
    session.execute(
        update(t.Trigger)
        .where(t.Trigger.id.in_(concerned))
        .values(
            first_pending_at=func.coalesce(t.Trigger.first_pending_at, event.at),
            # Events arrive in order, but clocks of replicas may not agree to the millisecond.
            last_pending_at=case((or_(last.is_(None), last < event.at), event.at), else_=last),
        )
    )


def _alias_matches(aliases: list[str], event: ModelEvent) -> bool:
    if event.kind != ev.MODEL_ALIAS_SET or not aliases:
        return True
    return (event.alias or "").lower() in {a.lower() for a in aliases}


def _insert_for(session: Session):  # type: ignore[no-untyped-def]
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def fire_due(ctx: ServiceContext) -> int:
    """Fire every trigger whose batch is due; returns how many fired."""
    now = now_ms()
    with ctx.db.read() as session:
        due = session.execute(
            select(t.Trigger.id, t.Trigger.last_pending_at).where(
                t.Trigger.last_pending_at.is_not(None),
                t.Trigger.last_pending_at + t.Trigger.wait_after_last_change_seconds * 1000 <= now,
                or_(
                    t.Trigger.last_fired_at.is_(None),
                    t.Trigger.last_fired_at + t.Trigger.min_time_between_triggers_seconds * 1000
                    <= now,
                ),
            )
        ).all()
    fired = 0
    for trigger_id, seen in due:
        if seen is None:  # the query asked for pending batches only
            continue
        try:
            fired += _fire(ctx, trigger_id, seen)
        except Exception:
            # The claim rolled back with the failure: the batch waits for the next tick.
            log.exception("Trigger %s could not fire; its batch is kept.", trigger_id)
    if fired:
        ctx.wake_engine()
    return fired


def _fire(ctx: ServiceContext, trigger_id: str, seen: int) -> bool:
    """Claim one trigger's batch (unless another replica did, or a change just arrived) and
    act on it, in one transaction."""
    with ctx.db.write() as session:
        now = now_ms()
        claimed = rowcount(
            session.execute(
                update(t.Trigger)
                .where(t.Trigger.id == trigger_id, t.Trigger.last_pending_at == seen)
                .values(last_fired_at=now, first_pending_at=None, last_pending_at=None)
            )
        )
        if not claimed:
            return False
        trigger = session.get(t.Trigger, trigger_id)
        assert trigger is not None
        seqs = list(
            session.scalars(
                select(t.TriggerChange.event_seq).where(t.TriggerChange.trigger_id == trigger_id)
            )
        )
        # Only the changes read here leave the batch: one committed meanwhile stays for the next.
        session.execute(
            delete(t.TriggerChange).where(
                t.TriggerChange.trigger_id == trigger_id, t.TriggerChange.event_seq.in_(seqs)
            )
        )
        rows = session.scalars(
            select(t.ModelEvent).where(t.ModelEvent.seq.in_(seqs)).order_by(t.ModelEvent.seq)
        )
        batch = [ModelEvent.of(r) for r in rows]
        if not batch:
            return True
        try:
            with session.begin_nested():
                if trigger.job_id is not None:
                    _start_runs(ctx, session, trigger, batch)
                else:
                    _notify(session, trigger, batch)
        except CatalogError as exc:
            # A job or destination deleted since: retrying would never succeed.
            log.warning("Trigger %s fired but could not act: %s", trigger.name, exc.message)
    return True


def _start_runs(
    ctx: ServiceContext, session: Session, trigger: t.Trigger, batch: list[ModelEvent]
) -> None:
    """One run per changed model, of the newest READY version the batch names."""
    job = session.get(t.DeploymentJob, trigger.job_id)
    if job is None:
        raise NotFound(f"Deployment job '{trigger.job_id}' of trigger '{trigger.name}' is gone.")
    required = JobDefinition.from_json(job.definition).required_parameters
    if required:
        # The job gained parameters without defaults since the trigger was made.
        raise InvalidParameter(f"Deployment job '{job.name}' needs {', '.join(required)}.", "job")
    numbers: dict[str, set[int]] = {}
    for event in batch:
        if event.version is not None:
            numbers.setdefault(event.model_id, set()).add(event.version)
    for model_id, versions in numbers.items():
        found = session.execute(
            select(t.RegisteredModel, t.Schema.name, t.Catalog.name)
            .join(t.Schema, t.Schema.id == t.RegisteredModel.schema_id)
            .join(t.Catalog, t.Catalog.id == t.Schema.catalog_id)
            .where(t.RegisteredModel.id == model_id)
        ).first()
        if found is None:
            continue  # deleted since
        model, schema_name, catalog_name = found
        newest = session.scalar(
            select(t.ModelVersion)
            .where(
                t.ModelVersion.model_id == model_id,
                t.ModelVersion.version.in_(versions),
                t.ModelVersion.status == VersionStatus.READY,
            )
            .order_by(t.ModelVersion.version.desc())
            .limit(1)
        )
        if newest is None:
            continue
        runs.start_run(
            ctx,
            session,
            job=job,
            model=model,
            full_name=f"{catalog_name}.{schema_name}.{model.name}",
            version=newest,
            cause=f"trigger:{trigger.name}",
            actor=trigger.owner,
        )


def _notify(session: Session, trigger: t.Trigger, batch: Iterable[ModelEvent]) -> None:
    """One notification for the whole batch."""
    changes = list(batch)
    kinds = {e.kind for e in changes}
    notifications.enqueue(
        session,
        json.loads(trigger.destinations or "[]"),
        kinds.pop() if len(kinds) == 1 else MIXED,
        {"trigger": trigger.name, "changes": [e.payload() for e in changes]},
    )
