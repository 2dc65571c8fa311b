"""Model event triggers: a trigger watches a model, a schema or a catalog for model events, batches
the changes, and fires once the batch has been quiet for `wait_after_last_change_seconds` and the
previous firing is `min_time_between_triggers_seconds` behind, starting a deployment run for each
changed model or sending one notification for the whole batch.

Creating, reading and deleting triggers is here; collecting and firing their batches is in
`trigger_batches`."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelcatalog.domain import events as ev
from modelcatalog.domain import privileges as pv
from modelcatalog.domain import rules
from modelcatalog.domain.privileges import Rule
from modelcatalog.errors import (
    AlreadyExists,
    InvalidParameter,
    NotFound,
    PermissionDenied,
)
from modelcatalog.service import access, audit, lookup, notifications
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments import jobs as deployment_jobs
from modelcatalog.service.deployments.definition import JobDefinition
from modelcatalog.service.operations import needed
from modelcatalog.service.stamps import new_id, now_ms
from modelcatalog.store import queries
from modelcatalog.store import tables as t

log = logging.getLogger("modelcatalog.triggers")

SCOPE_TYPES = (pv.CATALOG, pv.SCHEMA, pv.MODEL)
MAX_SECONDS = 86_400
#: A trigger's name is carried in its runs' cause, `trigger:<name>`, which holds 64 characters.
MAX_NAME = 56
#: The event kind of a notification whose batch mixes several kinds.
MIXED = ev.MODEL_EVENTS
#: What a notification trigger may listen to: the trigger events and every notifiable one.
NOTIFY_EVENTS = tuple(dict.fromkeys((*ev.TRIGGER_EVENTS, *ev.NOTIFIABLE)))


def _on_scope(action: str, kind: str, what: str) -> Rule:
    """The privilege of `action`, required on a trigger's scope (a model, a schema or a
    catalog), and said in the words of the trigger."""
    return Rule(kind, pv.ACTIONS[action].privilege, f"{what} on a {kind.replace('_', ' ')}")


@dataclass(frozen=True)
class TriggerView:
    """A trigger as the API shows it."""

    name: str
    owner: str
    scope_type: str
    scope: str
    events: list[str]
    aliases: list[str]
    min_time_between_triggers_seconds: int
    wait_after_last_change_seconds: int
    job: str | None
    destinations: list[str]
    created_at: int
    last_fired_at: int | None
    pending_changes: int
    first_pending_at: int | None
    last_pending_at: int | None


# Input ------------------------------------------------------------------------------------


def _name(value: object) -> str:
    clean = rules.name_part(value, "name")
    if len(clean) > MAX_NAME:
        raise InvalidParameter(
            f"'name' is {len(clean)} characters long; a trigger's name has at most {MAX_NAME}.",
            "name",
        )
    return clean


def _seconds(value: object, field: str, default: int) -> int:
    if value is None or value == "":
        return default
    value = rules.whole_number(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SECONDS:
        raise InvalidParameter(
            f"'{field}' is {value!r}: expected whole seconds from 0 to {MAX_SECONDS}.", field
        )
    return value


def _strings(value: object, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidParameter(f"'{field}' must be a list of strings.", field)
    return [v.strip() for v in value]


def _events(value: object, allowed: tuple[str, ...], action: str) -> list[str]:
    given = _strings(value, "events")
    if not given:
        raise InvalidParameter(
            f"'events' is required: one or more of {', '.join(allowed)}.", "events"
        )
    chosen: list[str] = []
    for kind in given:
        if not kind.isascii() or kind.upper() not in allowed:
            raise InvalidParameter(
                f"'events' has '{kind}', which a trigger that {action} cannot listen to; "
                f"allowed: {', '.join(allowed)}.",
                "events",
            )
        if kind.upper() not in chosen:
            chosen.append(kind.upper())
    return chosen


def _aliases(value: object, chosen_events: list[str]) -> list[str]:
    given = _strings(value, "aliases")
    if given and ev.MODEL_ALIAS_SET not in chosen_events:
        raise InvalidParameter(
            f"'aliases' is only allowed with the {ev.MODEL_ALIAS_SET} event; "
            f"'events' is {', '.join(chosen_events)}.",
            "aliases",
        )
    clean: list[str] = []
    for alias in given:
        checked = rules.alias_name(alias, "aliases")
        if checked.lower() not in (a.lower() for a in clean):
            clean.append(checked)
    return clean


def _scope_chain(session: Session, scope_type: object, scope: object) -> lookup.Chain:
    """The securables from the catalog down to the scope, whoever asks."""
    if scope_type not in SCOPE_TYPES:
        raise InvalidParameter(
            f"'scope_type' is {scope_type!r}; allowed: {', '.join(SCOPE_TYPES)}.", "scope_type"
        )
    if scope_type == pv.CATALOG:
        return (
            lookup.catalog_securable(lookup.find_catalog(session, rules.name_part(scope, "scope"))),
        )
    if scope_type == pv.SCHEMA:
        catalog, schema = rules.split_full_name(scope, "scope", 2)
        cat, row = lookup.find_schema(session, catalog, schema)
        return (lookup.catalog_securable(cat), lookup.schema_securable(cat, row))
    name = rules.model_name(scope, "scope")
    found = session.execute(
        queries.MODEL_BY_NAME, {"catalog": name.catalog, "schema": name.schema, "model": name.model}
    ).first()
    if found is None:
        raise NotFound(f"Registered model '{name.full}' does not exist.")
    return lookup.model_chain(name, found, found[0].id, found[0].owner)


def _authorize_scope(
    ctx: ServiceContext, session: Session, caller: Caller, chain: lookup.Chain, runs: bool
) -> None:
    target = chain[-1]
    missing = f"{target.type.replace('_', ' ').capitalize()} '{target.name}' does not exist."
    decision = access.decide(caller, access.rights_of(ctx.rights, session, caller), chain)
    access.require(decision, _on_scope(needed(), target.type, "create a trigger"), chain, missing)
    if runs:
        starts = _on_scope(
            needed("job"), target.type, "create a trigger that starts deployment runs"
        )
        access.require(decision, starts, chain, missing)


# Service operations ------------------------------------------------------------------------


# Creating a trigger needs EXECUTE on its scope: the right to read what the trigger reports.
# A job action also needs the right to manage the scope, because runs act with the model
# owner's rights.
@audited("createTrigger", "trigger", needs="read_model", branches={"job": "manage_model"})
def create_trigger(
    ctx: ServiceContext,
    caller: Caller,
    *,
    name: object,
    scope_type: object = pv.MODEL,
    scope: object = None,
    events: object = None,
    aliases: object = None,
    min_time_between_triggers_seconds: object = 0,
    wait_after_last_change_seconds: object = 60,
    job: object = None,
    destinations: object = None,
) -> TriggerView:
    """Create a trigger; needs EXECUTE on its scope (and ownership or MANAGE for a job action)."""
    clean = _name(name)
    audit.describe(clean)
    if caller.scope_model_id is not None:
        raise PermissionDenied(
            "Permission denied: a deployment task's token cannot create triggers."
        )
    # Destination names are stored lower-case, like every name.
    targets = list(dict.fromkeys(n.lower() for n in _strings(destinations, "destinations")))
    if (job in (None, "")) == (not targets):
        raise InvalidParameter(
            "A trigger has exactly one action: 'job' (a deployment job's name or id) or "
            "'destinations' (notification destination names); "
            + ("neither was given." if not targets else "both were given."),
            "job" if targets else "destinations",
        )
    if job not in (None, ""):
        kinds = _events(events, ev.TRIGGER_EVENTS, "starts deployment runs")
    else:
        kinds = _events(events, NOTIFY_EVENTS, "sends notifications")
    chosen_aliases = _aliases(aliases, kinds)
    min_between = _seconds(
        min_time_between_triggers_seconds, "min_time_between_triggers_seconds", 0
    )
    wait = _seconds(wait_after_last_change_seconds, "wait_after_last_change_seconds", 60)
    try:
        return _insert(
            ctx,
            caller,
            clean,
            scope_type,
            scope,
            job,
            targets,
            kinds,
            chosen_aliases,
            min_between,
            wait,
        )
    except IntegrityError:
        # Two requests raced for the same name; the unique index let one of them in.
        raise AlreadyExists(f"Trigger '{clean}' already exists.") from None


def _insert(
    ctx: ServiceContext,
    caller: Caller,
    clean: str,
    scope_type: object,
    scope: object,
    job: object,
    targets: list[str],
    kinds: list[str],
    chosen_aliases: list[str],
    min_between: int,
    wait: int,
) -> TriggerView:
    with ctx.db.write() as session:
        chain = _scope_chain(session, scope_type, scope)
        _authorize_scope(ctx, session, caller, chain, runs=job not in (None, ""))
        job_row = None
        if job not in (None, ""):
            if not isinstance(job, str):
                raise InvalidParameter("'job' must be a deployment job's name or id.", "job")
            job_row = deployment_jobs.find_job(session, job.strip())
            required = JobDefinition.from_json(job_row.definition).required_parameters
            if required:
                raise InvalidParameter(
                    f"'job' is '{job_row.name}', which needs parameters a trigger cannot supply "
                    f"({', '.join(required)}); give them defaults in the job's definition.",
                    "job",
                )
        else:
            notifications.require_destinations(session, targets, "destinations")
        if session.scalar(select(t.Trigger.id).where(t.Trigger.name == clean)) is not None:
            raise AlreadyExists(f"Trigger '{clean}' already exists.")
        row = t.Trigger(
            id=new_id(),
            name=clean,
            owner=caller.name,
            scope_type=chain[-1].type,
            scope_id=chain[-1].id,
            scope_name=chain[-1].name,
            events=json.dumps(kinds),
            aliases=json.dumps(chosen_aliases),
            min_time_between_triggers_seconds=min_between,
            wait_after_last_change_seconds=wait,
            job_id=job_row.id if job_row is not None else None,
            destinations=json.dumps(targets if job_row is None else []),
            created_at=now_ms(),
        )
        session.add(row)
        session.flush()
        audit.record_in(session)
        return _views(session, [row])[0]


@audited("listTriggers", "trigger")
def list_triggers(ctx: ServiceContext, caller: Caller) -> list[TriggerView]:
    """The caller's triggers (a metastore admin sees every trigger)."""
    with ctx.db.read() as session:
        query = select(t.Trigger).order_by(t.Trigger.name)
        if not caller.is_admin:
            query = query.where(t.Trigger.owner == caller.name)
        return _views(session, list(session.scalars(query)))


@audited("getTrigger", "trigger")
def get_trigger(ctx: ServiceContext, caller: Caller, name: str) -> TriggerView:
    with ctx.db.read() as session:
        return _views(session, [_own_trigger(session, caller, name)])[0]


@audited("deleteTrigger", "trigger")
def delete_trigger(ctx: ServiceContext, caller: Caller, name: str) -> None:
    """Delete a trigger (its owner or a metastore admin); a waiting batch goes with it."""
    with ctx.db.write() as session:
        session.delete(_own_trigger(session, caller, name))
        audit.record_in(session)


def _own_trigger(session: Session, caller: Caller, name: object) -> t.Trigger:
    """A trigger the caller owns (any, for an admin); others' triggers answer as missing ones."""
    key = name.strip().lower() if isinstance(name, str) else ""
    row = session.scalar(select(t.Trigger).where(t.Trigger.name == key))
    if row is None or not (caller.is_admin or row.owner == caller.name):
        raise NotFound(f"Trigger '{name}' does not exist.")
    return row


def _views(session: Session, rows: list[t.Trigger]) -> list[TriggerView]:
    ids = [r.id for r in rows]
    counts = dict(
        session.execute(
            select(t.TriggerChange.trigger_id, func.count())
            .where(t.TriggerChange.trigger_id.in_(ids))
            .group_by(t.TriggerChange.trigger_id)
        ).all()
    )
    job_ids = [r.job_id for r in rows if r.job_id]
    jobs = dict(
        session.execute(
            select(t.DeploymentJob.id, t.DeploymentJob.name).where(t.DeploymentJob.id.in_(job_ids))
        ).all()
    )
    return [
        TriggerView(
            name=r.name,
            owner=r.owner,
            scope_type=r.scope_type,
            scope=r.scope_name,
            events=json.loads(r.events),
            aliases=json.loads(r.aliases or "[]"),
            min_time_between_triggers_seconds=r.min_time_between_triggers_seconds,
            wait_after_last_change_seconds=r.wait_after_last_change_seconds,
            # A job deleted since shows by its id, so the trigger's dead end is visible.
            job=jobs.get(r.job_id, r.job_id) if r.job_id else None,
            destinations=json.loads(r.destinations or "[]"),
            created_at=r.created_at,
            last_fired_at=r.last_fired_at,
            pending_changes=counts.get(r.id, 0),
            first_pending_at=r.first_pending_at,
            last_pending_at=r.last_pending_at,
        )
        for r in rows
    ]
