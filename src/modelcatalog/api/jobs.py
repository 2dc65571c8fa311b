"""Deployment jobs, their runs, approvals and approvers over REST, under `/api/modelcatalog/`.

A model is linked to a job through the registered-model update every dialect already carries
(`deployment_job_id`)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request

from modelcatalog.api import jobs_openapi as J
from modelcatalog.api.deps import CallerDep, ContextDep, call
from modelcatalog.api.dialects import NATIVE, speaking
from modelcatalog.api.openapi import described
from modelcatalog.api.requests import fields
from modelcatalog.service.deployments import approvals, inbox
from modelcatalog.service.deployments import jobs as deployment_jobs
from modelcatalog.service.deployments import run_actions as deployment_runs

router = APIRouter(
    prefix="/api/modelcatalog", tags=["deployment jobs"], route_class=speaking(NATIVE)
)


@router.post("/jobs")
@described(J.CREATE_JOB)
async def create_job(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """Create a job: `{"definition": "<YAML text>"}` or the definition as a JSON object."""
    f = await fields(request)
    view = await call(deployment_jobs.create_job, ctx, who, f.get("definition"))
    return asdict(view)


@router.get("/jobs")
@described(J.LIST_JOBS)
async def list_jobs(ctx: ContextDep, who: CallerDep) -> dict:
    views = await call(deployment_jobs.list_jobs, ctx, who)
    return {"jobs": [asdict(v) for v in views]}


@router.get("/jobs/{name}")
@described(J.GET_JOB)
async def get_job(name: str, ctx: ContextDep, who: CallerDep) -> dict:
    return asdict(await call(deployment_jobs.get_job, ctx, who, name))


@router.put("/jobs/{name}")
@described(J.UPDATE_JOB)
async def update_job(name: str, request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """Replace a job's definition: `{"definition": ...}`; runs under way keep theirs."""
    f = await fields(request)
    view = await call(deployment_jobs.update_job, ctx, who, name, f.get("definition"))
    return asdict(view)


@router.delete("/jobs/{name}")
@described(J.DELETE_JOB)
async def delete_job(name: str, ctx: ContextDep, who: CallerDep) -> dict:
    await call(deployment_jobs.delete_job, ctx, who, name)
    return {}


@router.get("/models/{full_name}/deployment-runs")
@described(J.LIST_RUNS)
async def list_runs(full_name: str, request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """A model's deployment runs, newest first (`?version=N`, `max_results`, `page_token`)."""
    q = request.query_params
    views, token = await call(
        deployment_runs.list_runs,
        ctx,
        who,
        full_name,
        # An optional parameter sent empty is read as absent.
        version=q.get("version") or None,
        max_results=q.get("max_results") or None,
        page_token=q.get("page_token") or None,
    )
    body: dict = {"runs": [asdict(v) for v in views]}
    if token:
        body["next_page_token"] = token
    return body


@router.post("/models/{full_name}/versions/{version}/deployment-runs")
@described(J.START_RUN)
async def start_run(full_name: str, version: str, ctx: ContextDep, who: CallerDep) -> dict:
    """Start the model's deployment job for a READY version by hand."""
    view = await call(deployment_runs.start_run, ctx, who, full_name, version)
    return asdict(view)


@router.get("/deployment-runs/{run_id}")
@described(J.GET_RUN)
async def get_run(run_id: str, ctx: ContextDep, who: CallerDep) -> dict:
    """A run: its tasks with state, attempts, output, exit status and timing."""
    return asdict(await call(deployment_runs.get_run, ctx, who, run_id))


@router.post("/deployment-runs/{run_id}/cancel")
@described(J.CANCEL_RUN)
async def cancel_run(run_id: str, ctx: ContextDep, who: CallerDep) -> dict:
    return asdict(await call(deployment_runs.cancel_run, ctx, who, run_id))


@router.post("/deployment-runs/{run_id}/repair")
@described(J.REPAIR_RUN)
async def repair_run(run_id: str, ctx: ContextDep, who: CallerDep) -> dict:
    """Run again what did not succeed in a FAILED or CANCELLED run."""
    return asdict(await call(deployment_runs.repair_run, ctx, who, run_id))


@router.post("/deployment-runs/{run_id}/tasks/{task}/approve")
@described(J.APPROVE)
async def approve(
    run_id: str, task: str, request: Request, ctx: ContextDep, who: CallerDep
) -> dict:
    await call(approvals.decide, ctx, who, run_id, task, approve=True, via=_via(request))
    return asdict(await call(deployment_runs.get_run, ctx, who, run_id))


@router.post("/deployment-runs/{run_id}/tasks/{task}/reject")
@described(J.REJECT)
async def reject(run_id: str, task: str, request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """Reject an approval task: the run fails and nothing after the task runs."""
    await call(approvals.decide, ctx, who, run_id, task, approve=False, via=_via(request))
    return {}


def _via(request: Request) -> str:
    # The CLI says so; anything else is the REST API.
    return "cli" if request.headers.get("user-agent", "").startswith("modelcatalog-cli") else "api"


@router.get("/approvals")
@described(J.LIST_APPROVALS)
async def list_approvals(ctx: ContextDep, who: CallerDep) -> dict:
    """Every approval task waiting for a decision the caller may take, across all models,
    oldest run first, with the output of the tasks it depends on."""
    waiting = await call(inbox.waiting_for, ctx, who)
    return {"approvals": [asdict(w) for w in waiting]}


@router.get("/models/{full_name}/deployment-approvers")
@described(J.LIST_APPROVERS)
async def list_approvers(full_name: str, ctx: ContextDep, who: CallerDep) -> dict:
    names = await call(approvals.list_approvers, ctx, who, full_name)
    return {"approvers": names}


@router.put("/models/{full_name}/deployment-approvers/{principal}")
@described(J.ADD_APPROVER)
async def add_approver(full_name: str, principal: str, ctx: ContextDep, who: CallerDep) -> dict:
    """Let a principal (or a group's members) approve the model's deployment runs."""
    await call(approvals.add_approver, ctx, who, full_name, principal)
    return {}


@router.delete("/models/{full_name}/deployment-approvers/{principal}")
@described(J.REMOVE_APPROVER)
async def remove_approver(full_name: str, principal: str, ctx: ContextDep, who: CallerDep) -> dict:
    await call(approvals.remove_approver, ctx, who, full_name, principal)
    return {}
