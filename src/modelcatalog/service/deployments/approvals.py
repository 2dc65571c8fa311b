"""Approval tasks: who may approve, and the three ways a decision arrives (the version tag
`<task name>=Approved`, the CLI, REST).

May approve: the model's owner, a MANAGE holder, a metastore admin, or a principal (or member of
a group) added as the model's approver, which is where the old registry's "Can Manage
Staging/Production Versions" lands. A task restricted to a group is decided by that group's
members (who must be able to read the model). A deployment task's own token never approves."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from modelcatalog.domain import events as ev
from modelcatalog.domain import rules
from modelcatalog.errors import FailedPrecondition, InvalidParameter, NotFound, PermissionDenied
from modelcatalog.service import access, audit, events, lookup, principals
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments import runs
from modelcatalog.service.deployments.definition import JobDefinition, Task
from modelcatalog.service.operations import needed, needed_by
from modelcatalog.service.stamps import now_ms
from modelcatalog.store import queries
from modelcatalog.store import tables as t

DECISIONS = {"approved": runs.APPROVED_DECISION, "rejected": runs.REJECTED_DECISION}


def model_name_of(session: Session, model_id: str) -> rules.ModelName:
    """A model's current full name (it may have been renamed since a run started)."""
    found = session.execute(
        select(t.Catalog.name, t.Schema.name, t.RegisteredModel.name)
        .join(t.Schema, t.Schema.id == t.RegisteredModel.schema_id)
        .join(t.Catalog, t.Catalog.id == t.Schema.catalog_id)
        .where(t.RegisteredModel.id == model_id)
    ).first()
    if found is None:
        raise NotFound("The run's registered model no longer exists.")
    return rules.ModelName(*found)


def _decision_on_model(
    ctx: ServiceContext, session: Session, caller: Caller, name: rules.ModelName
) -> access.Decision:
    found = session.execute(
        queries.MODEL_BY_NAME, {"catalog": name.catalog, "schema": name.schema, "model": name.model}
    ).first()
    missing = f"Registered model '{name.full}' does not exist."
    if found is None:
        raise NotFound(missing)
    chain = lookup.model_chain(name, found, found[0].id, found[0].owner)
    # However the decision arrives (REST, CLI or a version tag), it needs what deciding directly
    # declares; the approver list below is the rest of the rule.
    action = needed_by("decideApprovalTask")
    return lookup.authorize(ctx, session, caller, action, chain, missing)


def require_approver(
    ctx: ServiceContext, session: Session, caller: Caller, run: t.JobRun, task: Task
) -> None:
    """Raise PermissionDenied unless the caller may decide this approval task."""
    where = f"task '{task.name}' of the deployment run of '{run.model_name}' version {run.version}"
    if caller.scope_model_id is not None:
        raise PermissionDenied(
            f"Permission denied: a deployment task's token cannot decide {where}; a person must."
        )
    decision = _decision_on_model(ctx, session, caller, model_name_of(session, run.model_id))
    rights = access.rights_of(ctx.rights, session, caller)
    if task.approval_group:
        if rights is None or task.approval_group in rights.names:
            return
        raise PermissionDenied(
            f"Permission denied: only members of group '{task.approval_group}' may decide {where}."
        )
    if rights is None or decision.manages:
        return
    granted = session.scalar(
        select(t.DeploymentApprover.principal_id).where(
            t.DeploymentApprover.model_id == run.model_id,
            t.DeploymentApprover.principal_id.in_(rights.principal_ids),
        )
    )
    if granted is None:
        raise PermissionDenied(
            f"Permission denied: deciding {where} needs ownership of the model, MANAGE on it, "
            "or to be one of its approvers ('modelcatalog jobs approvers add')."
        )


def _record(
    session: Session, run: t.JobRun, row: t.TaskRun, decision: str, who: str, via: str
) -> None:
    row.decision, row.decided_by, row.decided_via = decision, who, via
    if row.state != runs.WAITING_APPROVAL:
        return  # kept; applies when the task is reached
    stamp = now_ms()
    approved = decision == runs.APPROVED_DECISION
    row.state = runs.TASK_SUCCEEDED if approved else runs.REJECTED
    row.ended_at = stamp
    row.message = f"{'approved' if approved else 'rejected'} by {who} (via {via})"
    model = session.get(t.RegisteredModel, run.model_id)
    if model is not None:
        events.emit(
            session,
            ev.APPROVED if approved else ev.REJECTED,
            model,
            run.model_name,
            actor=who,
            version=run.version,
            run_id=run.id,
            job_name=run.job_name,
            task=row.task_name,
            via=via,
        )
    runs.advance(session, run, actor=who)


def apply_version_tags(
    ctx: ServiceContext,
    session: Session,
    caller: Caller,
    version: t.ModelVersion,
    added: Mapping[str, object],
) -> bool:
    """In the transaction that sets version tags: a tag named after an approval task of the
    version's run in progress, valued Approved or Rejected (any case), decides it. Returns
    whether a decision was taken. A caller who may not decide is refused, and the tag with it."""
    run = runs.active_run(session, version.id)
    if run is None:
        return False
    definition = JobDefinition.from_json(run.definition)
    approval_tasks = {task.name: task for task in definition.tasks if task.kind == "approval"}
    decided = False
    tasks = None
    for key, value in added.items():
        task = approval_tasks.get(key)
        choice = DECISIONS.get(str(value).strip().lower()) if task else None
        if task is None or choice is None:
            continue
        tasks = tasks or runs.task_runs(session, run.id)
        row = tasks[task.name]
        if row.state in runs.TASK_FINISHED:
            continue
        require_approver(ctx, session, caller, run, task)
        _record(session, run, row, choice, caller.name, "tag")
        decided = True
    return decided


@audited("decideApprovalTask", "deployment_run", needs="read_model")
def decide(
    ctx: ServiceContext,
    caller: Caller,
    run_id: str,
    task_name: object,
    *,
    approve: bool,
    via: str = "api",
    comment: object = None,
) -> None:
    """Approve or reject an approval task of a run (before it is reached, too); a `comment`
    on the decision is kept in its audit record."""
    rules.comment(comment)
    with ctx.db.write() as session:
        run = session.get(t.JobRun, run_id)
        if run is None:
            raise NotFound(f"Deployment run '{run_id}' does not exist.")
        audit.describe(run.model_name, "registered_model", run_id=run_id, task=task_name)
        definition = JobDefinition.from_json(run.definition)
        task = next((x for x in definition.tasks if x.name == task_name), None)
        if task is None or task.kind != "approval":
            names = ", ".join(x.name for x in definition.tasks if x.kind == "approval") or "none"
            raise InvalidParameter(
                f"'task' is {task_name!r}: not an approval task of this run (approval tasks: "
                f"{names}).",
                "task",
            )
        require_approver(ctx, session, caller, run, task)
        row = runs.task_runs(session, run.id)[task.name]
        if run.state in runs.RUN_FINISHED or row.state in runs.TASK_FINISHED:
            raise FailedPrecondition(
                f"Task '{task.name}' is {row.state} and the run is {run.state}: there is nothing "
                "left to decide (repair the run to ask again)."
            )
        choice = runs.APPROVED_DECISION if approve else runs.REJECTED_DECISION
        _record(session, run, row, choice, caller.name, via)
        audit.record_in(session)
    ctx.wake_engine()


@audited("addDeploymentApprover", "registered_model", needs="manage_model")
def add_approver(ctx: ServiceContext, caller: Caller, full_name: object, principal: object) -> None:
    """Let a principal (or a group's members) approve the model's deployment runs."""
    name = rules.model_name(full_name)
    with ctx.db.write() as session:
        model = lookup.model_row(ctx, session, caller, name, needed(), lock=queries.UPDATE)
        who = principals.existing_principal(session, principal, "principal")
        principal_id = session.scalar(select(t.Principal.id).where(t.Principal.name == who))
        exists = session.get(t.DeploymentApprover, (model.id, principal_id))
        if exists is None:
            session.add(t.DeploymentApprover(model_id=model.id, principal_id=principal_id))
        audit.describe(principal=who)
        audit.record_in(session)


@audited("removeDeploymentApprover", "registered_model", needs="manage_model")
def remove_approver(
    ctx: ServiceContext, caller: Caller, full_name: object, principal: object
) -> None:
    name = rules.model_name(full_name)
    with ctx.db.write() as session:
        model = lookup.model_row(ctx, session, caller, name, needed(), lock=queries.UPDATE)
        who = principals.existing_principal(session, principal, "principal")
        principal_id = session.scalar(select(t.Principal.id).where(t.Principal.name == who))
        session.execute(
            delete(t.DeploymentApprover).where(
                t.DeploymentApprover.model_id == model.id,
                t.DeploymentApprover.principal_id == principal_id,
            )
        )
        audit.describe(principal=who)
        audit.record_in(session)


@audited("listDeploymentApprovers", "registered_model", needs="read_model")
def list_approvers(ctx: ServiceContext, caller: Caller, full_name: object) -> list[str]:
    name = rules.model_name(full_name)
    with ctx.db.read() as session:
        model = lookup.model_row(ctx, session, caller, name, needed())
        return list(
            session.scalars(
                select(t.Principal.name)
                .join(t.DeploymentApprover, t.DeploymentApprover.principal_id == t.Principal.id)
                .where(t.DeploymentApprover.model_id == model.id)
                .order_by(t.Principal.name)
            )
        )
