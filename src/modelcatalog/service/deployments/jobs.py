"""Deployment jobs: defined in YAML, linked to models, and the states the model and its versions
show for them (`deployment_job_id`, `deployment_job_state`) as the Unity Catalog protos define."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelcatalog.errors import AlreadyExists, InvalidParameter, NotFound, PermissionDenied
from modelcatalog.service import audit, notifications
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments import definition as spec
from modelcatalog.service.deployments import runs
from modelcatalog.service.stamps import new_id, now_ms
from modelcatalog.store import tables as t

# Connection states of a model's deployment job (DeploymentJobConnection.State).
NOT_SET_UP = "NOT_SET_UP"
CONNECTED = "CONNECTED"
NOT_FOUND = "NOT_FOUND"
REQUIRED_PARAMETERS_CHANGED = "REQUIRED_PARAMETERS_CHANGED"
#: A version's run state when its model's job cannot run.
NO_VALID_DEPLOYMENT_JOB_FOUND = "NO_VALID_DEPLOYMENT_JOB_FOUND"


@dataclass(frozen=True)
class JobView:
    id: str
    name: str
    owner: str
    definition: dict[str, Any]
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str
    linked_models: tuple[str, ...] = ()


def _view(session: Session, row: t.DeploymentJob, with_links: bool = True) -> JobView:
    linked: tuple[str, ...] = ()
    if with_links:
        linked = tuple(
            f"{c}.{s}.{m}"
            for m, s, c in session.execute(
                select(t.RegisteredModel.name, t.Schema.name, t.Catalog.name)
                .join(t.Schema, t.Schema.id == t.RegisteredModel.schema_id)
                .join(t.Catalog, t.Catalog.id == t.Schema.catalog_id)
                .where(t.RegisteredModel.deployment_job_id == row.id)
                .order_by(t.Catalog.name, t.Schema.name, t.RegisteredModel.name)
            )
        )
    return JobView(
        row.id,
        row.name,
        row.owner,
        json.loads(row.definition),
        row.created_at,
        row.created_by,
        row.updated_at,
        row.updated_by,
        linked,
    )


def find_job(session: Session, name_or_id: str) -> t.DeploymentJob:
    """A job by name or id."""
    row = session.scalar(
        select(t.DeploymentJob).where(
            or_(t.DeploymentJob.id == name_or_id, t.DeploymentJob.name == name_or_id)
        )
    )
    if row is None:
        raise NotFound(f"Deployment job '{name_or_id}' does not exist.")
    return row


def _require_admin(caller: Caller, what: str) -> None:
    # A job's tasks run commands on worker machines: defining one is a metastore admin's call.
    if not caller.is_admin:
        raise PermissionDenied(
            f"Permission denied: only metastore admins {what} deployment jobs, because their "
            "tasks run commands on the catalog's workers."
        )


def _parse(session: Session, text: object) -> spec.JobDefinition:
    if isinstance(text, str):
        parsed = spec.parse_yaml(text)
    elif isinstance(text, dict):
        parsed = spec.parse(text)
    else:
        raise InvalidParameter(
            "'definition' must be the job's YAML text or a JSON object.", "definition"
        )
    notifications.require_destinations(session, sorted(parsed.destinations()), "notifications")
    return parsed


@audited("createDeploymentJob", "deployment_job")
def create_job(ctx: ServiceContext, caller: Caller, definition: object) -> JobView:
    """Create a job from its definition (YAML text or the same as a JSON object)."""
    _require_admin(caller, "create")
    stamp = now_ms()
    try:
        with ctx.db.write() as session:
            parsed = _parse(session, definition)
            audit.describe(parsed.name)
            row = t.DeploymentJob(
                id=new_id(),
                name=parsed.name,
                owner=caller.name,
                definition=parsed.to_json(),
                created_at=stamp,
                created_by=caller.name,
                updated_at=stamp,
                updated_by=caller.name,
            )
            session.add(row)
            session.flush()
            audit.record_in(session)
            return _view(session, row, with_links=False)
    except IntegrityError:
        raise AlreadyExists(f"Deployment job '{parsed.name}' already exists.") from None


@audited("updateDeploymentJob", "deployment_job")
def update_job(ctx: ServiceContext, caller: Caller, name: str, definition: object) -> JobView:
    """Replace a job's definition; runs under way keep the definition they started with."""
    _require_admin(caller, "change")
    with ctx.db.write() as session:
        row = find_job(session, name)
        parsed = _parse(session, definition)
        if parsed.name != row.name:
            raise InvalidParameter(
                f"'name' is '{parsed.name}' but the job is '{row.name}': a job keeps its name.",
                "name",
            )
        row.definition = parsed.to_json()
        row.updated_at, row.updated_by = now_ms(), caller.name
        audit.record_in(session)
        return _view(session, row)


@audited("deleteDeploymentJob", "deployment_job")
def delete_job(ctx: ServiceContext, caller: Caller, name: str) -> None:
    """Delete a job. Linked models keep its id and show NOT_FOUND until relinked; runs under way
    finish with the definition they started with."""
    _require_admin(caller, "delete")
    with ctx.db.write() as session:
        session.delete(find_job(session, name))
        audit.record_in(session)


@audited("getDeploymentJob", "deployment_job")
def get_job(ctx: ServiceContext, caller: Caller, name: str) -> JobView:
    with ctx.db.read() as session:
        return _view(session, find_job(session, name))


@audited("listDeploymentJobs")
def list_jobs(ctx: ServiceContext, caller: Caller) -> list[JobView]:
    with ctx.db.read() as session:
        rows = session.scalars(select(t.DeploymentJob).order_by(t.DeploymentJob.name))
        return [_view(session, row) for row in rows]


def resolve_link(session: Session, value: object) -> str | None:
    """The job id to store for a model's `deployment_job_id` ("" unlinks)."""
    if value == "" or value is None:
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise InvalidParameter(
            "'deployment_job_id' must be a deployment job's id or name.", "deployment_job_id"
        )
    try:
        return find_job(session, str(value)).id
    except NotFound:
        raise InvalidParameter(
            f"'deployment_job_id' is '{value}': no deployment job has that id or name "
            "(see 'modelcatalog jobs list').",
            "deployment_job_id",
        ) from None


def connection_state(session: Session, job_id: str | None) -> str:
    """How a model's link to its deployment job stands."""
    if not job_id:
        return NOT_SET_UP
    row = session.get(t.DeploymentJob, job_id)
    if row is None:
        return NOT_FOUND
    if spec.JobDefinition.from_json(row.definition).required_parameters:
        return REQUIRED_PARAMETERS_CHANGED
    return CONNECTED


def connection_states(session: Session, job_ids: Iterable[str | None]) -> dict[str, str]:
    """`connection_state` for many job ids in one query."""
    wanted = {j for j in job_ids if j}
    if not wanted:
        return {}
    found = {
        row.id: row.definition
        for row in session.execute(
            select(t.DeploymentJob.id, t.DeploymentJob.definition).where(
                t.DeploymentJob.id.in_(wanted)
            )
        )
    }
    states = {}
    for job_id in wanted:
        text = found.get(job_id)
        if text is None:
            states[job_id] = NOT_FOUND
        elif spec.JobDefinition.from_json(text).required_parameters:
            states[job_id] = REQUIRED_PARAMETERS_CHANGED
        else:
            states[job_id] = CONNECTED
    return states


def version_states(
    session: Session, model_id: str, job_id: str | None, numbers: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """Each version's `deployment_job_state` (ModelVersionDeploymentJobState): its newest run,
    or NO_VALID_DEPLOYMENT_JOB_FOUND when the model's job cannot run."""
    numbers = list(numbers)
    if not numbers:
        return {}
    found: dict[int, dict[str, Any]] = {}
    rows = session.execute(
        select(
            t.JobRun.version,
            t.JobRun.job_id,
            t.JobRun.id,
            t.JobRun.state,
            t.JobRun.current_task_name,
        )
        .where(t.JobRun.model_id == model_id, t.JobRun.version.in_(numbers))
        .order_by(t.JobRun.created_at)
    ).all()
    states = connection_states(session, {job_id, *(row[1] for row in rows)})
    link_state = states.get(job_id) if job_id else None
    for number, run_job, run_id, state, task in rows:
        found[number] = {
            "job_id": run_job,
            "run_id": run_id,
            "job_state": states.get(run_job, NOT_FOUND),
            # CANCELLED is ours; the protos know it as FAILED.
            "run_state": runs.FAILED if state == runs.CANCELLED else state,
            "current_task_name": task or "",
        }
    if link_state not in (None, CONNECTED):
        for number in numbers:
            found.setdefault(
                number,
                {
                    "job_id": job_id,
                    "run_id": "",
                    "job_state": link_state,
                    "run_state": NO_VALID_DEPLOYMENT_JOB_FOUND,
                    "current_task_name": "",
                },
            )
    return found


def start_for_ready_version(
    ctx: ServiceContext,
    session: Session,
    model: t.RegisteredModel,
    full_name: str,
    version: t.ModelVersion,
    actor: str,
) -> bool:
    """In the transaction that makes a version READY: start its linked job's run (once)."""
    if not model.deployment_job_id:
        return False
    job = session.get(t.DeploymentJob, model.deployment_job_id)
    if job is None or spec.JobDefinition.from_json(job.definition).required_parameters:
        return False
    started = runs.start_run(
        ctx,
        session,
        job=job,
        model=model,
        full_name=full_name,
        version=version,
        cause=runs.CAUSE_READY,
        actor=actor,
    )
    return started is not None
