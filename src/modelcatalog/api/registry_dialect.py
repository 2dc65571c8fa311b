"""The Unity Catalog model-registry dialect, `/api/2.0/mlflow/unity-catalog/...`.

What MLflow's `databricks-uc` store speaks: wrapped responses, string version numbers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from modelcatalog.api import registry_openapi as R
from modelcatalog.api import storage_access
from modelcatalog.api.deps import CallerDep, ContextDep, call
from modelcatalog.api.dialects import MLFLOW_REGISTRY, speaking
from modelcatalog.api.openapi import described
from modelcatalog.api.requests import fields, reported_lineage, tag_pairs
from modelcatalog.domain import lineage
from modelcatalog.errors import InvalidParameter
from modelcatalog.service import aliases, models, tags, versions
from modelcatalog.service import lineage as lineage_rows
from modelcatalog.service.views import ModelView, VersionView

router = APIRouter(
    prefix="/api/2.0/mlflow/unity-catalog",
    tags=["model registry (2.0)"],
    route_class=speaking(MLFLOW_REGISTRY),
)

READ_OPERATIONS = {"MODEL_VERSION_OPERATION_READ"}
WRITE_OPERATIONS = {"MODEL_VERSION_OPERATION_READ_WRITE"}


def model_json(m: ModelView) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": m.full_name,
        "creation_timestamp": m.created_at,
        "last_updated_timestamp": m.updated_at,
        "user_id": m.owner,
        "description": m.comment or "",
        "aliases": [{"alias": a.alias, "version": str(a.version)} for a in m.aliases],
        "tags": [{"key": k, "value": v} for k, v in m.tags.items()],
    }
    if m.deployment_job_id:
        body["deployment_job_id"] = m.deployment_job_id
        body["deployment_job_state"] = m.deployment_job_state
    return body


def version_json(v: VersionView) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": v.full_name,
        "version": str(v.version),
        "creation_timestamp": v.created_at,
        "last_updated_timestamp": v.updated_at,
        "user_id": v.created_by,
        "description": v.comment or "",
        "source": v.source or "",
        "run_id": v.run_id or "",
        "status": v.status,
        "storage_location": v.storage_location,
        "aliases": [{"alias": a, "version": str(v.version)} for a in v.aliases],
        "tags": [{"key": k, "value": val} for k, val in v.tags.items()],
    }
    if v.status_message:
        body["status_message"] = v.status_message
    if v.run_tracking_server_id:
        body["run_tracking_server_id"] = v.run_tracking_server_id
    if v.logged_model_id:
        body["model_id"] = v.logged_model_id
    if v.deployment_job_state:
        body["deployment_job_state"] = v.deployment_job_state
    return body


def _one_tag(f: dict[str, Any]) -> dict[str, object]:
    key = f.get("key")
    if not isinstance(key, str):
        raise InvalidParameter("'key' is required: a tag key (a string).", "key")
    return {key: f.get("value")}


@router.post("/registered-models/create")
@described(R.CREATE_MODEL)
async def create_model(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    m = await call(
        models.create_model,
        ctx,
        who,
        f.get("name"),
        comment=f.get("description"),
        tags=tag_pairs(f.get("tags")),
        deployment_job_id=f.get("deployment_job_id"),
    )
    return {"registered_model": model_json(m)}


@router.patch("/registered-models/update")
@described(R.UPDATE_MODEL)
async def update_model(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    m = await call(
        models.update_model,
        ctx,
        who,
        f.get("name"),
        new_name=f.get("new_name"),
        comment=f.get("description"),
        deployment_job_id=f.get("deployment_job_id"),
    )
    return {"registered_model": model_json(m)}


@router.delete("/registered-models/delete")
@described(R.DELETE_MODEL)
async def delete_model(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    # MLflow's meaning: deleting a registered model deletes its versions with it.
    await call(models.delete_model, ctx, who, f.get("name"), force=True)
    return {}


@router.get("/registered-models/get")
@described(R.GET_MODEL)
async def get_model(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    return {"registered_model": model_json(await call(models.get_model, ctx, who, f.get("name")))}


@router.get("/registered-models/search")
@described(R.SEARCH_MODELS)
async def search_models(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    page = await call(
        models.list_models,
        ctx,
        who,
        max_results=f.get("max_results"),
        page_token=f.get("page_token"),
    )
    body: dict[str, Any] = {"registered_models": [model_json(m) for m in page.items]}
    if page.next_page_token:
        body["next_page_token"] = page.next_page_token
    return body


@router.get("/registered-models:is-databricks-sdk-models-artifact-repository-enabled")
@described(R.SDK_PROBE)
async def sdk_repository_probe(who: CallerDep) -> dict:
    # Files move through this server's presigned URLs, not the vendor SDK's Files client.
    return {"is_databricks_sdk_models_artifact_repository_enabled": False}


@router.post("/registered-models/set-tag")
@described(R.SET_MODEL_TAG)
async def set_model_tag(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    await call(tags.change_model_tags, ctx, who, f.get("name"), _one_tag(f))
    return {}


@router.delete("/registered-models/delete-tag")
@described(R.DELETE_MODEL_TAG)
async def delete_model_tag(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    await call(tags.change_model_tags, ctx, who, f.get("name"), {}, [f.get("key")])
    return {}


@router.post("/registered-models/alias")
@described(R.SET_ALIAS)
async def set_alias(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    await call(aliases.set_alias, ctx, who, f.get("name"), f.get("alias"), f.get("version"))
    return {}


@router.delete("/registered-models/alias")
@described(R.DELETE_ALIAS)
async def delete_alias(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    await call(aliases.delete_alias, ctx, who, f.get("name"), f.get("alias"))
    return {}


@router.get("/registered-models/alias")
@described(R.VERSION_BY_ALIAS)
async def version_by_alias(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    v = await call(aliases.get_version_by_alias, ctx, who, f.get("name"), f.get("alias"))
    return {"model_version": version_json(v)}


@router.post("/model-versions/create")
@described(R.CREATE_VERSION)
async def create_version(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    v = await call(
        versions.create_version,
        ctx,
        who,
        f.get("name"),
        source=f.get("source"),
        run_id=f.get("run_id"),
        comment=f.get("description"),
        tags=tag_pairs(f.get("tags")),
        run_tracking_server_id=f.get("run_tracking_server_id"),
        logged_model_id=f.get("model_id"),
        lineage=reported_lineage(request),
    )
    return {"model_version": version_json(v)}


@router.patch("/model-versions/update")
@described(R.UPDATE_VERSION)
async def update_version(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    v = await call(
        versions.update_version,
        ctx,
        who,
        f.get("name"),
        f.get("version"),
        comment=f.get("description"),
    )
    return {"model_version": version_json(v)}


@router.delete("/model-versions/delete")
@described(R.DELETE_VERSION)
async def delete_version(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    await call(versions.delete_version, ctx, who, f.get("name"), f.get("version"))
    return {}


@router.get("/model-versions/get")
@described(R.GET_VERSION)
async def get_version(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    v = await call(versions.get_version, ctx, who, f.get("name"), f.get("version"))
    return {"model_version": version_json(v)}


@router.get("/model-versions/search")
@described(R.SEARCH_VERSIONS)
async def search_versions(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    page = await call(
        versions.search_versions,
        ctx,
        who,
        f.get("filter"),
        max_results=f.get("max_results"),
        page_token=f.get("page_token"),
    )
    body: dict[str, Any] = {"model_versions": [version_json(v) for v in page.items]}
    if page.next_page_token:
        body["next_page_token"] = page.next_page_token
    return body


@router.post("/model-versions/finalize")
@described(R.FINALIZE_VERSION)
async def finalize_version(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    v = await call(versions.finalize_version, ctx, who, f.get("name"), f.get("version"))
    return {"model_version": version_json(v)}


@router.post("/model-versions/generate-temporary-credentials")
@described(R.TEMPORARY_CREDENTIALS)
async def temporary_credentials(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    operation = f.get("operation")
    if not isinstance(operation, str) or operation not in READ_OPERATIONS | WRITE_OPERATIONS:
        raise InvalidParameter(
            f"'operation' is {operation!r}: expected MODEL_VERSION_OPERATION_READ or "
            "MODEL_VERSION_OPERATION_READ_WRITE.",
            "operation",
        )
    return {
        "credentials": await storage_access.temporary_credentials(
            ctx, who, f.get("name"), f.get("version"), write=operation in WRITE_OPERATIONS
        )
    }


@router.get("/model-versions/get-download-uri")
@described(R.DOWNLOAD_URI)
async def download_uri(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    v = await call(versions.get_version, ctx, who, f.get("name"), f.get("version"))
    return {"artifact_uri": v.storage_location}


@router.post("/model-versions/set-tag")
@described(R.SET_VERSION_TAG)
async def set_version_tag(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    await call(
        tags.change_version_tags,
        ctx,
        who,
        f.get("name"),
        f.get("version"),
        _one_tag(f),
    )
    return {}


@router.delete("/model-versions/delete-tag")
@described(R.DELETE_VERSION_TAG)
async def delete_version_tag(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    await call(
        tags.change_version_tags,
        ctx,
        who,
        f.get("name"),
        f.get("version"),
        {},
        [f.get("key")],
    )
    return {}


@router.post("/model-versions/emit-lineage")
@described(R.EMIT_LINEAGE)
async def emit_lineage(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    info = f.get("model_version_lineage_info") or {}
    if not isinstance(info, dict):
        raise InvalidParameter(
            "'model_version_lineage_info' must be an object.", "model_version_lineage_info"
        )
    field = "model_version_lineage_info"
    reported = lineage.entities(info.get("entities"), f"{field}.entities")
    if f.get("securable"):
        reported.append(lineage.table(f["securable"], "securable"))
    await call(
        lineage_rows.emit,
        ctx,
        who,
        f.get("name"),
        f.get("version"),
        lineage.direction(info.get("direction"), f"{field}.direction"),
        reported,
    )
    return {}
