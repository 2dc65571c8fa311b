"""Deployment runs: one per model version, a task graph moved forward one state change at a time.

Every change of a run happens in a database transaction together with the events it causes, so
a crash leaves either the old state or the new one, never half of both; the engine and the
workers only ever move states forward with conditional updates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelcatalog.domain import events as ev
from modelcatalog.service import events
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments.definition import JobDefinition, Task
from modelcatalog.service.stamps import new_id, now_ms
from modelcatalog.store import tables as t

# Run states, as the Unity Catalog protos name them (plus CANCELLED, shown as FAILED there).
PENDING = "PENDING"
RUNNING = "RUNNING"
APPROVAL = "APPROVAL"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
RUN_FINISHED = (SUCCEEDED, FAILED, CANCELLED)
RUN_STATES = (PENDING, RUNNING, APPROVAL, SUCCEEDED, FAILED, CANCELLED)

# Task states.
BLOCKED = "BLOCKED"  # waiting for the tasks it depends on
QUEUED = "QUEUED"  # ready; waiting for a worker (after `not_before`, for a retry)
SUBMITTED = "SUBMITTED"  # handed to a worker queue
TASK_RUNNING = "RUNNING"
WAITING_APPROVAL = "WAITING_APPROVAL"
TASK_SUCCEEDED = "SUCCEEDED"
TASK_FAILED = "FAILED"
UPSTREAM_FAILED = "UPSTREAM_FAILED"
REJECTED = "REJECTED"
TASK_CANCELLED = "CANCELLED"
TASK_FINISHED = (TASK_SUCCEEDED, TASK_FAILED, UPSTREAM_FAILED, REJECTED, TASK_CANCELLED)
TASK_UNSUCCESSFUL = (TASK_FAILED, UPSTREAM_FAILED, REJECTED, TASK_CANCELLED)
TASK_ACTIVE = (QUEUED, SUBMITTED, TASK_RUNNING)

APPROVED_DECISION = "APPROVED"
REJECTED_DECISION = "REJECTED"

#: What started a run.
CAUSE_READY = "version_ready"


def active_run(session: Session, version_id: str) -> t.JobRun | None:
    """The run in progress for a version, if any."""
    return session.scalar(select(t.JobRun).where(t.JobRun.active_version_id == version_id))


def start_run(
    ctx: ServiceContext,
    session: Session,
    *,
    job: t.DeploymentJob,
    model: t.RegisteredModel,
    full_name: str,
    version: t.ModelVersion,
    cause: str,
    actor: str,
) -> t.JobRun | None:
    """Create a run in the caller's transaction and queue its first tasks.

    None when the version already has a run in progress (at most one at a time). The caller
    commits, then calls `ctx.wake_engine()`."""
    if active_run(session, version.id) is not None:
        return None
    if cause == CAUSE_READY and session.scalar(
        select(t.JobRun.id).where(t.JobRun.ready_version_id == version.id)
    ):
        return None
    definition = JobDefinition.from_json(job.definition)
    run = t.JobRun(
        id=new_id(),
        job_id=job.id,
        job_name=job.name,
        model_id=model.id,
        model_name=full_name,
        version=version.version,
        definition=job.definition,
        state=PENDING,
        cause=cause,
        created_at=now_ms(),
        created_by=actor,
        active_version_id=version.id,
        ready_version_id=version.id if cause == CAUSE_READY else None,
    )
    session.add(run)
    session.add_all(
        t.TaskRun(id=new_id(), run_id=run.id, task_name=task.name, state=BLOCKED, attempt=0)
        for task in definition.tasks
    )
    session.flush()
    _emit(session, run, ev.RUN_STARTED, actor, cause=cause)
    advance(session, run, actor=actor)
    return run


def task_runs(session: Session, run_id: str) -> dict[str, t.TaskRun]:
    rows = session.scalars(select(t.TaskRun).where(t.TaskRun.run_id == run_id))
    return {row.task_name: row for row in rows}


def _emit(session: Session, run: t.JobRun, kind: str, actor: str, **details: Any) -> None:
    model = session.get(t.RegisteredModel, run.model_id)
    if model is None:
        return
    events.emit(
        session,
        kind,
        model,
        run.model_name,
        actor=actor,
        version=run.version,
        run_id=run.id,
        job_name=run.job_name,
        **details,
    )


def _ready(task: Task, tasks: dict[str, t.TaskRun]) -> bool | None:
    """True when every dependency succeeded, False when one cannot, None while waiting."""
    states = [tasks[d].state for d in task.depends_on]
    if any(s in TASK_UNSUCCESSFUL for s in states):
        return False
    if all(s == TASK_SUCCEEDED for s in states):
        return True
    return None


def advance(session: Session, run: t.JobRun, *, actor: str = "system") -> None:
    """Move a run forward after any change of its tasks: unblock, queue, ask for approval,
    and settle the run's own state."""
    if run.state in RUN_FINISHED:
        return
    definition = JobDefinition.from_json(run.definition)
    tasks = task_runs(session, run.id)
    stamp = now_ms()
    changed = True
    while changed:
        changed = False
        for task in definition.tasks:
            row = tasks[task.name]
            if row.state != BLOCKED:
                continue
            ready = _ready(task, tasks)
            if ready is None:
                continue
            changed = True
            if not ready:
                row.state, row.ended_at = UPSTREAM_FAILED, stamp
                row.message = "not run: a task it depends on did not succeed"
            elif task.kind != "approval":
                row.state, row.not_before = QUEUED, stamp
            elif row.decision == APPROVED_DECISION:
                row.state, row.started_at, row.ended_at = TASK_SUCCEEDED, stamp, stamp
                row.message = f"approved by {row.decided_by} (via {row.decided_via})"
            elif row.decision == REJECTED_DECISION:
                row.state, row.started_at, row.ended_at = REJECTED, stamp, stamp
                row.message = f"rejected by {row.decided_by} (via {row.decided_via})"
            else:
                row.state, row.started_at = WAITING_APPROVAL, stamp
                _emit(
                    session,
                    run,
                    ev.APPROVAL_REQUESTED,
                    actor,
                    task=task.name,
                    group=task.approval_group,
                )
    _settle(session, run, definition, tasks, actor)


def _settle(
    session: Session,
    run: t.JobRun,
    definition: JobDefinition,
    tasks: dict[str, t.TaskRun],
    actor: str,
) -> None:
    ordered = [tasks[task.name] for task in definition.tasks]
    started = [r.started_at for r in ordered if r.started_at is not None]
    if started and run.started_at is None:
        run.started_at = min(started)
    current = next((r for r in ordered if r.state in (*TASK_ACTIVE, WAITING_APPROVAL)), None)
    if current is not None:
        run.current_task_name = current.task_name
        if any(r.state in TASK_ACTIVE for r in ordered):
            run.state = RUNNING if started else PENDING
        else:
            run.state = APPROVAL
        return
    if all(r.state == TASK_SUCCEEDED for r in ordered):
        run.state, run.state_message, run.current_task_name = SUCCEEDED, None, None
        _finish(run)
        _emit(session, run, ev.RUN_SUCCEEDED, actor)
        return
    culprit = next(r for r in ordered if r.state in (TASK_FAILED, REJECTED, TASK_CANCELLED))
    run.current_task_name = culprit.task_name
    if culprit.state == REJECTED:
        run.state_message = f"task '{culprit.task_name}' was {culprit.message}"
    elif culprit.state == TASK_CANCELLED:
        run.state_message = f"task '{culprit.task_name}' was cancelled"
    else:
        run.state_message = f"task '{culprit.task_name}' failed: {culprit.message}"
    run.state = FAILED
    _finish(run)
    _emit(session, run, ev.RUN_FAILED, actor, task=culprit.task_name, reason=run.state_message)


def _finish(run: t.JobRun) -> None:
    run.ended_at = now_ms()
    run.active_version_id = None


def cancel(session: Session, run: t.JobRun, actor: str) -> None:
    """Stop a run: tasks not finished become CANCELLED (a worker running one sees it at its
    next heartbeat and stops the process)."""
    if run.state in RUN_FINISHED:
        return
    stamp = now_ms()
    for row in task_runs(session, run.id).values():
        if row.state not in TASK_FINISHED:
            row.state, row.ended_at = TASK_CANCELLED, stamp
            row.message = f"cancelled by {actor}"
    run.state, run.state_message = CANCELLED, f"cancelled by {actor}"
    _finish(run)
    _emit(session, run, ev.RUN_FAILED, actor, reason=run.state_message)


def repair(session: Session, run: t.JobRun, actor: str) -> list[str]:
    """Run again what did not succeed in a finished run; what succeeded is kept. Returns the
    tasks that will run again. The version must have no other run in progress."""
    tasks = task_runs(session, run.id)
    again = [name for name, row in tasks.items() if row.state in TASK_UNSUCCESSFUL]
    for name in again:
        row = tasks[name]
        row.state, row.message, row.ended_at, row.exit_code = BLOCKED, None, None, None
        row.decision = row.decided_by = row.decided_via = None
        row.started_at = None
    run.state, run.state_message, run.ended_at = PENDING, None, None
    run.active_version_id = _version_id(session, run)
    session.flush()
    _emit(session, run, ev.RUN_STARTED, actor, cause="repair", tasks=sorted(again))
    advance(session, run, actor=actor)
    return again


def _version_id(session: Session, run: t.JobRun) -> str | None:
    return session.scalar(
        select(t.ModelVersion.id).where(
            t.ModelVersion.model_id == run.model_id, t.ModelVersion.version == run.version
        )
    )
