"""The approvals inbox: every approval task waiting for a decision that the caller may take."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelcatalog.errors import NotFound, PermissionDenied
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments import runs
from modelcatalog.service.deployments.approvals import require_approver
from modelcatalog.service.deployments.definition import JobDefinition, Task
from modelcatalog.store import tables as t


@dataclass(frozen=True)
class Evidence:
    """What a task the approval depends on reported: the evaluation a decision rests on."""

    task_name: str
    state: str
    exit_code: int | None
    output: str | None


@dataclass(frozen=True)
class WaitingApproval:
    """An approval task waiting for this caller (among others) to decide it."""

    run_id: str
    job_name: str
    model_name: str
    version: int
    task_name: str
    approval_group: str | None
    waiting_since: int
    evidence: tuple[Evidence, ...]


def _decidable(
    ctx: ServiceContext, session: Session, caller: Caller, run_id: str | None = None
) -> Iterator[tuple[t.JobRun, t.TaskRun, Task]]:
    """Approval tasks waiting for a decision that the caller may take, oldest run first."""
    query = (
        select(t.TaskRun, t.JobRun)
        .join(t.JobRun, t.JobRun.id == t.TaskRun.run_id)
        .where(t.TaskRun.state == runs.WAITING_APPROVAL)
        .order_by(t.JobRun.created_at, t.TaskRun.task_name)
    )
    if run_id is not None:
        query = query.where(t.JobRun.id == run_id)
    for row, run in session.execute(query).all():
        definition = JobDefinition.from_json(run.definition)
        task = next((x for x in definition.tasks if x.name == row.task_name), None)
        if task is None:
            continue
        try:
            require_approver(ctx, session, caller, run, task)
        except (PermissionDenied, NotFound):
            continue
        yield run, row, task


@audited("listApprovalTasks")
def waiting_for(ctx: ServiceContext, caller: Caller) -> list[WaitingApproval]:
    """Approval tasks the caller may decide, oldest first, with the output of the tasks each
    depends on."""
    found = []
    with ctx.db.read() as session:
        for run, row, task in _decidable(ctx, session, caller):
            before = runs.task_runs(session, run.id)
            evidence = tuple(
                Evidence(name, before[name].state, before[name].exit_code, before[name].output)
                for name in task.depends_on
                if name in before
            )
            found.append(
                WaitingApproval(
                    run.id,
                    run.job_name,
                    run.model_name,
                    run.version,
                    task.name,
                    task.approval_group,
                    row.started_at or run.created_at,
                    evidence,
                )
            )
    return found


def count_waiting(ctx: ServiceContext, caller: Caller) -> int:
    """How many approval tasks wait for the caller: the count pages show in their header."""
    with ctx.db.read() as session:
        return sum(1 for _ in _decidable(ctx, session, caller))


def decidable_tasks(ctx: ServiceContext, caller: Caller, run_id: str) -> frozenset[str]:
    """The approval tasks of one run that wait for a decision the caller may take: where a
    page offers Approve and Reject."""
    with ctx.db.read() as session:
        return frozenset(task.name for _, _, task in _decidable(ctx, session, caller, run_id))
