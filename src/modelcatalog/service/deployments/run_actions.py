"""Deployment runs as their users see them: read, list, cancel, repair, start by hand.

Runs are visible to whoever may read their model (EXECUTE, owner, MANAGE); cancelling,
repairing and starting need ownership of the model or MANAGE, like linking its job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelcatalog.domain import rules
from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.errors import FailedPrecondition, HiddenFromCaller, InvalidParameter, NotFound
from modelcatalog.service import audit, lookup, paging
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments import jobs as deployment_jobs
from modelcatalog.service.deployments import runs
from modelcatalog.service.deployments.approvals import model_name_of
from modelcatalog.service.deployments.definition import JobDefinition
from modelcatalog.service.operations import needed
from modelcatalog.store import tables as t

MAX_RUN_PAGE = 1000


@dataclass(frozen=True)
class TaskView:
    name: str
    kind: str
    depends_on: tuple[str, ...]
    state: str
    attempt: int
    started_at: int | None
    ended_at: int | None
    exit_code: int | None
    message: str | None
    decided_by: str | None = None
    decided_via: str | None = None
    approval_group: str | None = None
    output: str | None = None
    attempts: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class RunView:
    run_id: str
    job_id: str
    job_name: str
    model_name: str
    version: int
    state: str
    state_message: str | None
    current_task_name: str | None
    cause: str
    created_at: int
    created_by: str
    started_at: int | None
    ended_at: int | None
    tasks: tuple[TaskView, ...]


def _view(session: Session, run: t.JobRun, *, with_output: bool) -> RunView:
    definition = JobDefinition.from_json(run.definition)
    rows = runs.task_runs(session, run.id)
    attempts: dict[str, list[dict[str, Any]]] = {}
    if with_output:
        ids = {row.id: name for name, row in rows.items()}
        for a in session.scalars(
            select(t.TaskAttempt)
            .where(t.TaskAttempt.task_run_id.in_(ids))
            .order_by(t.TaskAttempt.attempt)
        ):
            attempts.setdefault(ids[a.task_run_id], []).append(
                {
                    "attempt": a.attempt,
                    "started_at": a.started_at,
                    "ended_at": a.ended_at,
                    "exit_code": a.exit_code,
                    "message": a.message,
                    "output": a.output,
                }
            )
    tasks = []
    for task in definition.tasks:
        row = rows[task.name]
        tasks.append(
            TaskView(
                task.name,
                task.kind,
                task.depends_on,
                row.state,
                row.attempt,
                row.started_at,
                row.ended_at,
                row.exit_code,
                row.message,
                row.decided_by,
                row.decided_via,
                task.approval_group,
                row.output if with_output else None,
                tuple(attempts.get(task.name, ())),
            )
        )
    return RunView(
        run.id,
        run.job_id,
        run.job_name,
        run.model_name,
        run.version,
        run.state,
        run.state_message,
        run.current_task_name,
        run.cause,
        run.created_at,
        run.created_by,
        run.started_at,
        run.ended_at,
        tuple(tasks),
    )


def _run_for(
    ctx: ServiceContext, session: Session, caller: Caller, run_id: object, action: str
) -> t.JobRun:
    if not isinstance(run_id, str) or not run_id:
        raise InvalidParameter("'run_id' must be a deployment run's id.", "run_id")
    run = session.get(t.JobRun, run_id)
    missing = f"Deployment run '{run_id}' does not exist."
    if run is None:
        raise NotFound(missing)
    try:
        lookup.model_row(ctx, session, caller, model_name_of(session, run.model_id), action)
    except HiddenFromCaller:
        raise HiddenFromCaller(missing) from None  # still a denial, in the run's words
    except NotFound:
        raise NotFound(missing) from None
    audit.describe(run.model_name, "registered_model", run_id=run.id)
    return run


@audited("getDeploymentRun", "deployment_run", needs="read_model")
def get_run(ctx: ServiceContext, caller: Caller, run_id: object) -> RunView:
    """A run with its tasks, each attempt's output, exit status and timing."""
    with ctx.db.read() as session:
        return _view(session, _run_for(ctx, session, caller, run_id, needed()), with_output=True)


@audited("listDeploymentRuns", "registered_model", needs="read_model")
def list_runs(
    ctx: ServiceContext,
    caller: Caller,
    full_name: object,
    *,
    version: object = None,
    max_results: object = None,
    page_token: object = None,
) -> tuple[list[RunView], str | None]:
    """A model's runs, newest first."""
    name = rules.model_name(full_name)
    size = paging.page_size(max_results, 100, maximum=MAX_RUN_PAGE)
    after = paging.decode(page_token, (int, str))
    with ctx.db.read() as session:
        model = lookup.model_row(ctx, session, caller, name, needed())
        query = (
            select(t.JobRun)
            .where(t.JobRun.model_id == model.id)
            .order_by(t.JobRun.created_at.desc(), t.JobRun.id.desc())
            .limit(size + 1)
        )
        if version is not None:
            query = query.where(t.JobRun.version == rules.version_number(version))
        if after:
            query = query.where(
                (t.JobRun.created_at < after[0])
                | ((t.JobRun.created_at == after[0]) & (t.JobRun.id < after[1]))
            )
        rows = list(session.scalars(query))
        token = None
        if len(rows) > size:
            token = paging.encode([rows[size - 1].created_at, rows[size - 1].id])
        return [_view(session, r, with_output=False) for r in rows[:size]], token


@audited("cancelDeploymentRun", "deployment_run", needs="manage_model")
def cancel_run(ctx: ServiceContext, caller: Caller, run_id: object) -> RunView:
    with ctx.db.write() as session:
        run = _run_for(ctx, session, caller, run_id, needed())
        if run.state in runs.RUN_FINISHED:
            raise FailedPrecondition(f"Deployment run '{run.id}' is {run.state}; it has ended.")
        runs.cancel(session, run, caller.name)
        audit.record_in(session)
        view = _view(session, run, with_output=False)
    ctx.wake_engine()
    return view


@audited("repairDeploymentRun", "deployment_run", needs="manage_model")
def repair_run(ctx: ServiceContext, caller: Caller, run_id: object) -> RunView:
    """Run again the tasks of an ended run that did not succeed."""
    with ctx.db.write() as session:
        run = _run_for(ctx, session, caller, run_id, needed())
        if run.state not in (runs.FAILED, runs.CANCELLED):
            raise FailedPrecondition(
                f"Deployment run '{run.id}' is {run.state}; only FAILED or CANCELLED runs can be "
                "repaired."
            )
        version = lookup.version_row(session, _model(session, run), run.model_name, run.version)
        if runs.active_run(session, version.id) is not None:
            raise FailedPrecondition(
                f"Version {run.version} of '{run.model_name}' has another run in progress; "
                "cancel it or let it finish first."
            )
        again = runs.repair(session, run, caller.name)
        audit.describe(tasks=again)
        audit.record_in(session)
        view = _view(session, run, with_output=False)
    ctx.wake_engine()
    return view


@audited("startDeploymentRun", "registered_model", needs="manage_model")
def start_run(ctx: ServiceContext, caller: Caller, full_name: object, version: object) -> RunView:
    """Start the model's deployment job for a READY version by hand (for versions that became
    READY before the job was linked, or to deploy again)."""
    name = rules.model_name(full_name)
    number = rules.version_number(version)
    with ctx.db.write() as session:
        model = lookup.model_row(ctx, session, caller, name, needed())
        row = lookup.version_row(session, model, name.full, number)
        if row.status != VersionStatus.READY:
            raise FailedPrecondition(
                f"Version {number} of '{name.full}' is {row.status}; only READY versions deploy."
            )
        state = deployment_jobs.connection_state(session, model.deployment_job_id)
        job = (
            session.get(t.DeploymentJob, model.deployment_job_id)
            if state == deployment_jobs.CONNECTED
            else None
        )
        if job is None:
            raise FailedPrecondition(
                f"Registered model '{name.full}' has no runnable deployment job ({state}); link "
                "one with 'modelcatalog jobs link JOB MODEL'."
            )
        run = runs.start_run(
            ctx,
            session,
            job=job,
            model=model,
            full_name=name.full,
            version=row,
            cause="manual",
            actor=caller.name,
        )
        if run is None:
            raise FailedPrecondition(
                f"Version {number} of '{name.full}' has a deployment run in progress already."
            )
        audit.describe(version=number, run_id=run.id)
        audit.record_in(session)
        view = _view(session, run, with_output=False)
    ctx.wake_engine()
    return view


def _model(session: Session, run: t.JobRun) -> t.RegisteredModel:
    model = session.get(t.RegisteredModel, run.model_id)
    if model is None:
        raise NotFound(f"The model of deployment run '{run.id}' no longer exists.")
    return model
