"""The pages people read: catalogs, schemas, models, versions, search, approvals, audit.

Every page reads through the same service operations as the API, with the signed-in person as
the caller: it is authorized and audited as the API call it mirrors, and shows only what that
person may see. State lives in the URL (filters, tabs, pages), so any page can be pasted into a
ticket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import iterate_in_threadpool
from starlette.responses import RedirectResponse, Response, StreamingResponse

from modelcatalog.api.deps import ContextDep
from modelcatalog.api.dialects import speaking
from modelcatalog.domain import privileges as pv
from modelcatalog.service import (
    audit_trail,
    directory,
    explore,
    file_access,
    grants,
    models,
    notifications,
    principals,
    securables,
    signatures,
    triggers,
    versions,
)
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.deployments import inbox, run_actions
from modelcatalog.service.deployments import jobs as deployment_jobs
from modelcatalog.service.deployments.runs import RUN_STATES
from modelcatalog.web.dialect import WEB_UI
from modelcatalog.web.identity import Viewer, ViewerDep
from modelcatalog.web.notices import notice_for
from modelcatalog.web.render import PAGE_HEADERS, page
from modelcatalog.web.threads import call

router = APIRouter(route_class=speaking(WEB_UI), include_in_schema=False)

MODEL_TABS = ("overview", "versions", "permissions", "deployment")
MANAGE_ACTION = {pv.CATALOG: "manage_catalog", pv.SCHEMA: "manage_schema", pv.MODEL: "manage_model"}


async def chrome(ctx: ServiceContext, request: Request, who: Viewer) -> dict[str, Any]:
    """What every signed-in page shows around its content: who is signed in, how many
    approvals wait for them, and the outcome of the edit that led here."""
    return {
        "who": who,
        "waiting": await call(inbox.count_waiting, ctx, who.caller),
        "notice": notice_for(request.query_params.get("done")),
        "server_url": str(request.base_url).rstrip("/"),
    }


@router.get("/")
async def home(request: Request, ctx: ContextDep, who: ViewerDep) -> Response:
    """The catalogs this person may see."""
    found = await call(
        securables.list_catalogs, ctx, who.caller, 100, request.query_params.get("page")
    )
    return page(
        "home.html",
        catalogs=found.items,
        next_page=found.next_page_token,
        **await chrome(ctx, request, who),
    )


@router.get("/c/{catalog}")
async def catalog_page(request: Request, ctx: ContextDep, who: ViewerDep, catalog: str) -> Response:
    """A catalog: its schemas, owner and tags, and its Permissions tab."""
    return await render_container(request, ctx, who, catalog, None)


@router.get("/c/{catalog}/{schema}")
async def schema_page(
    request: Request, ctx: ContextDep, who: ViewerDep, catalog: str, schema: str
) -> Response:
    """A schema: its models, paged, and its Permissions tab."""
    return await render_container(request, ctx, who, catalog, schema)


async def render_container(
    request: Request,
    ctx: ServiceContext,
    who: Viewer,
    catalog: str,
    schema: str | None,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    """A catalog's page (its schemas) or a schema's (its models); a refused edit shows it
    again with the reason by its field."""
    page_token = request.query_params.get("page")
    permissions = request.query_params.get("tab") == "permissions"
    values: dict[str, Any] = {"errors": errors or {}}
    if schema is None:
        view: Any = await call(securables.get_catalog, ctx, who.caller, catalog)
        found = await call(securables.list_schemas, ctx, who.caller, catalog, 100, page_token)
        kind, full_name, template, listed = pv.CATALOG, view.name, "catalog.html", "schemas"
        values.update(catalog=view, tab="permissions" if permissions else "schemas")
    else:
        view = await call(securables.get_schema, ctx, who.caller, f"{catalog}.{schema}")
        found = await call(
            models.list_models,
            ctx,
            who.caller,
            catalog_name=catalog,
            schema_name=schema,
            max_results=100,
            page_token=page_token,
        )
        kind, full_name, template, listed = pv.SCHEMA, view.full_name, "schema.html", "models"
        values.update(schema=view, tab="permissions" if permissions else "models")
    values["may"] = await call(grants.abilities, ctx, who.caller, kind, full_name)
    if permissions:
        values.update(await _permissions(ctx, who, kind, full_name, values["may"]))
    return page(
        template,
        status,
        next_page=found.next_page_token,
        **{listed: found.items},
        **values,
        **await chrome(ctx, request, who),
    )


async def _permissions(
    ctx: ServiceContext, who: Viewer, securable_type: str, full_name: str, may: frozenset[str]
) -> dict[str, Any]:
    """The Permissions tab: direct grants, effective privileges and where each comes from;
    `may` is what the page already knows the caller may do there."""
    direct = await call(grants.get_permissions, ctx, who.caller, securable_type, full_name)
    effective = await call(grants.effective_permissions, ctx, who.caller, securable_type, full_name)
    return {
        "can_manage": MANAGE_ACTION[securable_type] in may,
        "direct": direct,
        "effective": effective,
        "grantable": [p.value for p in pv.GRANTABLE[securable_type]],
        "securable_type": securable_type,
    }


@router.get("/m/{full_name}")
async def model_page(request: Request, ctx: ContextDep, who: ViewerDep, full_name: str) -> Response:
    """A model: Overview, Versions, Permissions and Deployment tabs."""
    return await render_model(request, ctx, who, full_name)


async def render_model(
    request: Request,
    ctx: ServiceContext,
    who: Viewer,
    full_name: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    entered: dict[str, str] | None = None,
) -> Response:
    """The model page; an edit that was refused shows it again with the reason by its field."""
    view = await call(models.get_model, ctx, who.caller, full_name)
    tab = request.query_params.get("tab", "overview")
    tab = tab if tab in MODEL_TABS else "overview"
    may = await call(grants.abilities, ctx, who.caller, pv.MODEL, view.full_name)
    newest = await call(
        versions.list_versions,
        ctx,
        who.caller,
        view.full_name,
        max_results=100 if tab == "versions" else 10,
        page_token=request.query_params.get("page") if tab == "versions" else None,
        newest_first=True,
    )
    values: dict[str, Any] = {}
    if tab == "permissions":
        values = await _permissions(ctx, who, pv.MODEL, view.full_name, may)
    if tab == "deployment":
        runs, _ = await call(run_actions.list_runs, ctx, who.caller, view.full_name, max_results=50)
        values["runs"] = runs
    return page(
        "model.html",
        status,
        model=view,
        versions=newest.items,
        next_page=newest.next_page_token,
        tab=tab,
        may=may,
        errors=errors or {},
        entered=entered or {},
        **values,
        **{**await chrome(ctx, request, who), **({"problem": problem} if problem else {})},
    )


@router.get("/m/{full_name}/v/{version}")
async def version_page(
    request: Request, ctx: ContextDep, who: ViewerDep, full_name: str, version: str
) -> Response:
    """A version: signature, files, lineage, tags, its deployment run, approve or reject."""
    return await render_version(request, ctx, who, full_name, version)


async def render_version(
    request: Request,
    ctx: ServiceContext,
    who: Viewer,
    full_name: str,
    version: str,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
) -> Response:
    view = await call(versions.get_version, ctx, who.caller, full_name, version, with_lineage=True)
    may = await call(grants.abilities, ctx, who.caller, pv.MODEL, view.full_name)
    signature = await call(signatures.signature, ctx, who.caller, view.full_name, view.version)
    files = (
        await call(versions.manifest, ctx, who.caller, view.full_name, view.version)
        if view.status == "READY"
        else []
    )
    runs, _ = await call(
        run_actions.list_runs, ctx, who.caller, view.full_name, version=view.version, max_results=5
    )
    run = await call(run_actions.get_run, ctx, who.caller, runs[0].run_id) if runs else None
    decidable = (
        await call(inbox.decidable_tasks, ctx, who.caller, run.run_id) if run else frozenset()
    )
    return page(
        "version.html",
        status,
        version=view,
        may=may,
        signature=signature,
        files=files,
        run=run,
        older_runs=runs[1:],
        decidable=decidable,
        errors=errors or {},
        **{**await chrome(ctx, request, who), **({"problem": problem} if problem else {})},
    )


@router.get("/m/{full_name}/compare")
async def compare_page(
    request: Request, ctx: ContextDep, who: ViewerDep, full_name: str, a: str, b: str
) -> Response:
    """Two versions side by side: signature, files, tags and description."""
    sides = []
    for number in (a, b):
        view = await call(versions.get_version, ctx, who.caller, full_name, number)
        signature = await call(signatures.signature, ctx, who.caller, view.full_name, number)
        files = (
            await call(versions.manifest, ctx, who.caller, view.full_name, number)
            if view.status == "READY"
            else []
        )
        sides.append({"version": view, "signature": signature, "files": files})
    return page("compare.html", sides=sides, **await chrome(ctx, request, who))


@router.get("/m/{full_name}/v/{version}/files/{path:path}")
async def download(
    request: Request, ctx: ContextDep, who: ViewerDep, full_name: str, version: str, path: str
) -> Response:
    """A file of a READY version, through a short-lived signed URL."""
    catalog, schema, model = (full_name.split(".", 2) + ["", ""])[:3]
    files_path = f"/Models/{catalog}/{schema}/{model}/{version}/{path}"
    signed = await call(
        file_access.download_url, ctx, who.caller, files_path, str(request.base_url).rstrip("/")
    )
    return RedirectResponse(signed.url, status_code=303)


@router.get("/search")
async def search_page(request: Request, ctx: ContextDep, who: ViewerDep) -> Response:
    """Models found by name, tag key or value, owner or description, with filters."""
    params = request.query_params
    filters = explore.Filters(
        catalog=params.get("catalog") or None,
        schema=params.get("schema") or None,
        owner=params.get("owner") or None,
        tag=params.get("tag") or None,
        has_alias=params.get("has_alias") == "1",
        deployment_state=params.get("deployment") or None,
    )
    q = params.get("q", "")
    found = await call(
        explore.search, ctx, who.caller, q, filters, max_results=50, page_token=params.get("page")
    )
    return page(
        "search.html",
        run_states=RUN_STATES,
        q=q,
        filters=filters,
        results=found.items,
        next_page=found.next_page_token,
        **await chrome(ctx, request, who),
    )


@router.get("/approvals")
async def approvals_page(request: Request, ctx: ContextDep, who: ViewerDep) -> Response:
    """Every approval task this person may decide, oldest first."""
    waiting = await call(inbox.waiting_for, ctx, who.caller)
    return page("approvals.html", tasks=waiting, **await chrome(ctx, request, who))


AUDIT_FILTERS = ("principal", "action", "securable", "outcome")
EXPORT_PAGE = 10_000


@router.get("/audit/export")
async def audit_export(request: Request, ctx: ContextDep, who: ViewerDep) -> Response:
    """The audit records the filters select, as JSON lines (metastore admins), streamed page
    by page so that millions of records never sit in memory at once."""
    filters = {key: request.query_params.get(key) or None for key in AUDIT_FILTERS}
    # Asked once before streaming: a refusal is answered as a page, not as a cut-off file.
    first = await call(audit_trail.query, ctx, who.caller, max_results=EXPORT_PAGE, **filters)

    def lines() -> Iterator[str]:
        found = first
        while True:
            for entry in found.items:
                yield json.dumps(asdict(entry), ensure_ascii=False) + "\n"
            if not found.next_page_token:
                return
            found = audit_trail.query(
                ctx,
                who.caller,
                max_results=EXPORT_PAGE,
                page_token=found.next_page_token,
                **filters,
            )

    return StreamingResponse(
        iterate_in_threadpool(lines()),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="audit.jsonl"', **PAGE_HEADERS},
    )


@router.get("/audit")
async def audit_page(request: Request, ctx: ContextDep, who: ViewerDep) -> Response:
    """The audit log, filtered and paged (metastore admins): newest first, as an auditor
    starts from what just happened, or oldest first."""
    params = request.query_params
    filters = {key: params.get(key) or None for key in AUDIT_FILTERS}
    order = params.get("order") or audit_trail.NEWEST_FIRST
    found = await call(
        audit_trail.query,
        ctx,
        who.caller,
        securable=filters["securable"],
        principal=filters["principal"],
        action=filters["action"],
        outcome=filters["outcome"],
        max_results=100,
        page_token=params.get("page"),
        order=order,
    )
    report = None
    if params.get("verify") == "1":
        report = await call(audit_trail.verify, ctx, who.caller)
    return page(
        "audit.html",
        records=found.items,
        filters=filters,
        order=order,
        next_page=found.next_page_token,
        report=report,
        **await chrome(ctx, request, who),
    )


@router.get("/me/tokens")
async def tokens_page(request: Request, ctx: ContextDep, who: ViewerDep) -> Response:
    """This person's tokens: create one, revoke one."""
    tokens = await call(principals.list_tokens, ctx, who.caller)
    return page("tokens.html", tokens=tokens, new_token=None, **await chrome(ctx, request, who))


@router.get("/admin/principals")
async def principals_page(request: Request, ctx: ContextDep, who: ViewerDep) -> Response:
    """Users, service principals and groups (metastore admins)."""
    return await render_principals(request, ctx, who)


async def render_principals(
    request: Request,
    ctx: ServiceContext,
    who: Viewer,
    *,
    status: int = 200,
    error: str | None = None,
) -> Response:
    found = await call(directory.list_principals, ctx, who.caller)
    return page(
        "principals.html",
        status,
        principals=found,
        kinds=directory.KINDS,
        error=error,
        **await chrome(ctx, request, who),
    )


@router.get("/automation")
async def automation_page(request: Request, ctx: ContextDep, who: ViewerDep) -> Response:
    """Deployment jobs, triggers and notification destinations, with recent deliveries."""
    jobs = await call(deployment_jobs.list_jobs, ctx, who.caller)
    found_triggers = await call(triggers.list_triggers, ctx, who.caller)
    destinations = await call(notifications.list_destinations, ctx, who.caller)
    deliveries = await call(notifications.list_deliveries, ctx, who.caller, max_results=50)
    # A Page of DeliveryView, newest first.
    return page(
        "automation.html",
        jobs=jobs,
        triggers=found_triggers,
        destinations=destinations,
        deliveries=deliveries,
        **await chrome(ctx, request, who),
    )


@router.get("/docs")
async def api_documentation() -> Response:
    """The API's documentation (Swagger UI over `/openapi.json`), open to all like the
    document it shows."""
    return page("docs.html")


@router.get("/favicon.ico")
async def favicon() -> Response:
    return RedirectResponse("/static/favicon.svg", status_code=301)
