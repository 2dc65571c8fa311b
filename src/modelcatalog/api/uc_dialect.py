"""Unity Catalog REST, `/api/2.1/unity-catalog/...`: catalogs, schemas, models, versions,
aliases, tags and storage credentials, in the shapes of the Unity Catalog OSS specification.

Spoken by MLflow's `uc:` store, its `databricks-uc` store in native mode, and the
`unitycatalog-client` SDK. Single objects are returned bare; lists are wrapped and paged."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.convertors import Convertor, register_url_convertor

from modelcatalog.api import uc_openapi as U
from modelcatalog.api.deps import CallerDep, ContextDep, call
from modelcatalog.api.dialects import UNITY_CATALOG, speaking
from modelcatalog.api.openapi import described
from modelcatalog.api.requests import fields, flag, reported_lineage, tag_pairs
from modelcatalog.api.storage_access import temporary_credentials
from modelcatalog.api.uc_shapes import (
    catalog_json,
    model_json,
    page_json,
    schema_json,
    version_json,
)
from modelcatalog.errors import InvalidParameter
from modelcatalog.service import aliases, models, securables, tags, versions

router = APIRouter(
    prefix="/api/2.1/unity-catalog",
    tags=["unity catalog (2.1)"],
    route_class=speaking(UNITY_CATALOG),
)

MODEL_TYPES = {"function", "registered_model", "model"}


class ModelFullName(Convertor[str]):
    """A model's full name in a path, never `versions`: `/models/versions` answers POST only
    (405 otherwise) instead of reading `versions` as a model's name."""

    regex = "(?!versions$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("model_full_name", ModelFullName())


# Catalogs ---------------------------------------------------------------------------------


@router.post("/catalogs")
@described(U.CREATE_CATALOG)
async def create_catalog(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    return catalog_json(
        await call(securables.create_catalog, ctx, who, f.get("name"), f.get("comment"))
    )


@router.get("/catalogs")
@described(U.LIST_CATALOGS)
async def list_catalogs(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    page = await call(securables.list_catalogs, ctx, who, f.get("max_results"), f.get("page_token"))
    return page_json("catalogs", page, catalog_json)


@router.get("/catalogs/{name}")
@described(U.GET_CATALOG)
async def get_catalog(name: str, ctx: ContextDep, who: CallerDep) -> dict:
    return catalog_json(await call(securables.get_catalog, ctx, who, name))


@router.patch("/catalogs/{name}")
@described(U.UPDATE_CATALOG)
async def update_catalog(name: str, request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    return catalog_json(
        await call(
            securables.update_catalog,
            ctx,
            who,
            name,
            new_name=f.get("new_name"),
            comment=f.get("comment"),
            owner=f.get("owner"),
        )
    )


@router.delete("/catalogs/{name}")
@described(U.DELETE_CATALOG)
async def delete_catalog(name: str, request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    force = flag(f.get("force"), "force")
    await call(securables.delete_catalog, ctx, who, name, force)
    return {}


# Schemas ----------------------------------------------------------------------------------


@router.post("/schemas")
@described(U.CREATE_SCHEMA)
async def create_schema(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    return schema_json(
        await call(
            securables.create_schema,
            ctx,
            who,
            f.get("catalog_name"),
            f.get("name"),
            f.get("comment"),
        )
    )


@router.get("/schemas")
@described(U.LIST_SCHEMAS)
async def list_schemas(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    page = await call(
        securables.list_schemas,
        ctx,
        who,
        f.get("catalog_name"),
        f.get("max_results"),
        f.get("page_token"),
    )
    return page_json("schemas", page, schema_json)


@router.get("/schemas/{full_name}")
@described(U.GET_SCHEMA)
async def get_schema(full_name: str, ctx: ContextDep, who: CallerDep) -> dict:
    return schema_json(await call(securables.get_schema, ctx, who, full_name))


@router.patch("/schemas/{full_name}")
@described(U.UPDATE_SCHEMA)
async def update_schema(full_name: str, request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    return schema_json(
        await call(
            securables.update_schema,
            ctx,
            who,
            full_name,
            new_name=f.get("new_name"),
            comment=f.get("comment"),
            owner=f.get("owner"),
        )
    )


@router.delete("/schemas/{full_name}")
@described(U.DELETE_SCHEMA)
async def delete_schema(full_name: str, request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    force = flag(f.get("force"), "force")
    await call(securables.delete_schema, ctx, who, full_name, force)
    return {}


# Registered models ------------------------------------------------------------------------


@router.post("/models")
@described(U.CREATE_MODEL)
async def create_model(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    parts = [f.get("catalog_name"), f.get("schema_name"), f.get("name")]
    for field, value in zip(("catalog_name", "schema_name", "name"), parts, strict=True):
        if not isinstance(value, str) or not value:
            problem = "is required" if value in (None, "") else "must be a string"
            raise InvalidParameter(f"'{field}' {problem}.", field)
    m = await call(
        models.create_model,
        ctx,
        who,
        ".".join(parts),  # type: ignore[arg-type]
        comment=f.get("comment"),
        tags=tag_pairs(f.get("tags")),
        deployment_job_id=f.get("deployment_job_id"),
    )
    return model_json(m)


@router.get("/models")
@described(U.LIST_MODELS)
async def list_models(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    page = await call(
        models.list_models,
        ctx,
        who,
        catalog_name=f.get("catalog_name"),
        schema_name=f.get("schema_name"),
        max_results=f.get("max_results"),
        page_token=f.get("page_token"),
    )
    return page_json("registered_models", page, model_json)


@router.post("/models/versions")
@described(U.CREATE_VERSION)
async def create_version(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    parts = [f.get("catalog_name"), f.get("schema_name"), f.get("model_name")]
    for field, value in zip(("catalog_name", "schema_name", "model_name"), parts, strict=True):
        if not isinstance(value, str) or not value:
            problem = "is required" if value in (None, "") else "must be a string"
            raise InvalidParameter(f"'{field}' {problem}.", field)
    v = await call(
        versions.create_version,
        ctx,
        who,
        ".".join(parts),  # type: ignore[arg-type]
        source=f.get("source"),
        run_id=f.get("run_id"),
        comment=f.get("comment"),
        tags=tag_pairs(f.get("tags")),
        run_tracking_server_id=f.get("run_tracking_server_id"),
        logged_model_id=f.get("model_id"),
        lineage=reported_lineage(request),
    )
    return version_json(v)


@router.get("/models/{full_name:model_full_name}")
@described(U.GET_MODEL)
async def get_model(full_name: str, ctx: ContextDep, who: CallerDep) -> dict:
    return model_json(await call(models.get_model, ctx, who, full_name))


@router.patch("/models/{full_name:model_full_name}")
@described(U.UPDATE_MODEL)
async def update_model(full_name: str, request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    m = await call(
        models.update_model,
        ctx,
        who,
        full_name,
        new_name=f.get("new_name"),
        comment=f.get("comment"),
        owner=f.get("owner"),
        deployment_job_id=f.get("deployment_job_id"),
    )
    return model_json(m)


@router.delete("/models/{full_name:model_full_name}")
@described(U.DELETE_MODEL)
async def delete_model(full_name: str, request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    force = flag(f.get("force"), "force")
    await call(models.delete_model, ctx, who, full_name, force=force)
    return {}


# Model versions ---------------------------------------------------------------------------


@router.get("/models/{full_name}/versions")
@described(U.LIST_VERSIONS)
async def list_versions(full_name: str, request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    page = await call(
        versions.list_versions,
        ctx,
        who,
        full_name,
        max_results=f.get("max_results"),
        page_token=f.get("page_token"),
    )
    return page_json("model_versions", page, version_json)


@router.get("/models/{full_name}/versions/{version}")
@described(U.GET_VERSION)
async def get_version(full_name: str, version: str, ctx: ContextDep, who: CallerDep) -> dict:
    v = await call(versions.get_version, ctx, who, full_name, version, with_lineage=True)
    return version_json(v)


@router.patch("/models/{full_name}/versions/{version}")
@described(U.UPDATE_VERSION)
async def update_version(
    full_name: str, version: str, request: Request, ctx: ContextDep, who: CallerDep
) -> dict:
    f = await fields(request)
    return version_json(
        await call(
            versions.update_version,
            ctx,
            who,
            full_name,
            version,
            comment=f.get("comment"),
        )
    )


@router.delete("/models/{full_name}/versions/{version}")
@described(U.DELETE_VERSION)
async def delete_version(full_name: str, version: str, ctx: ContextDep, who: CallerDep) -> dict:
    await call(versions.delete_version, ctx, who, full_name, version)
    return {}


@router.patch("/models/{full_name}/versions/{version}/finalize")
@described(U.FINALIZE_VERSION)
async def finalize_version(full_name: str, version: str, ctx: ContextDep, who: CallerDep) -> dict:
    return version_json(await call(versions.finalize_version, ctx, who, full_name, version))


@router.post("/temporary-model-version-credentials")
@described(U.VERSION_CREDENTIALS)
async def model_version_credentials(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    operation = f.get("operation")
    if operation not in ("READ_MODEL_VERSION", "READ_WRITE_MODEL_VERSION"):
        raise InvalidParameter(
            f"'operation' is {operation!r}: expected READ_MODEL_VERSION or "
            "READ_WRITE_MODEL_VERSION.",
            "operation",
        )
    full_name = ".".join(str(f.get(k)) for k in ("catalog_name", "schema_name", "model_name"))
    return await temporary_credentials(
        ctx, who, full_name, f.get("version"), write=operation == "READ_WRITE_MODEL_VERSION"
    )


# Aliases ----------------------------------------------------------------------------------


@router.put("/models/{full_name}/aliases/{alias}")
@described(U.SET_ALIAS)
async def set_alias(
    full_name: str, alias: str, request: Request, ctx: ContextDep, who: CallerDep
) -> dict:
    f = await fields(request)
    v = await call(
        aliases.set_alias,
        ctx,
        who,
        full_name,
        alias,
        f.get("version_num", f.get("version")),
    )
    return {
        "alias_name": alias,
        "version_num": v.version,
        "id": v.id,
        "model_name": v.model_name,
        "catalog_name": v.catalog_name,
        "schema_name": v.schema_name,
    }


@router.get("/models/{full_name}/aliases/{alias}")
@described(U.GET_ALIAS)
async def get_alias(full_name: str, alias: str, ctx: ContextDep, who: CallerDep) -> dict:
    v = await call(aliases.get_version_by_alias, ctx, who, full_name, alias)
    return version_json(v)


@router.delete("/models/{full_name}/aliases/{alias}")
@described(U.DELETE_ALIAS)
async def delete_alias(full_name: str, alias: str, ctx: ContextDep, who: CallerDep) -> dict:
    await call(aliases.delete_alias, ctx, who, full_name, alias)
    return {}


# Tags -------------------------------------------------------------------------------------


def _changes(f: dict[str, Any]) -> tuple[dict[str, object], list[object]]:
    changes = f.get("changes")
    if not isinstance(changes, dict):
        raise InvalidParameter(
            '\'changes\' is required: {"add_tags": [{"key", "value"}], "remove": [key]}.',
            "changes",
        )
    remove = changes.get("remove")
    remove = [] if remove is None else remove
    if not isinstance(remove, list):
        raise InvalidParameter("'changes.remove' must be a list of tag keys.", "changes.remove")
    return tag_pairs(changes.get("add_tags"), "changes.add_tags"), remove


@router.patch("/securable-tags/{securable_type}/{full_name}")
@described(per="securable_type", variants=U.SECURABLE_TAGS)
async def change_securable_tags(
    securable_type: str, full_name: str, request: Request, ctx: ContextDep, who: CallerDep
) -> dict:
    add, remove = _changes(await fields(request))
    kind = securable_type.lower()
    if kind in MODEL_TYPES:
        await call(tags.change_model_tags, ctx, who, full_name, add, remove)
    elif kind in ("catalog", "schema"):
        await call(tags.change_container_tags, ctx, who, kind, full_name, add, remove)
    else:
        raise InvalidParameter(
            f"'securable_type' is '{securable_type}': expected catalog, schema or "
            "registered_model (FUNCTION).",
            "securable_type",
        )
    return {}


@router.patch("/subentity-tags/{securable_type}/{full_name}/{subentity}")
@described(per="securable_type", variants=U.VERSION_TAGS)
async def change_version_tags(
    securable_type: str,
    full_name: str,
    subentity: str,
    request: Request,
    ctx: ContextDep,
    who: CallerDep,
) -> dict:
    add, remove = _changes(await fields(request))
    if securable_type.lower() not in MODEL_TYPES:
        raise InvalidParameter(
            f"'securable_type' is '{securable_type}': version tags live under "
            "registered_model (FUNCTION).",
            "securable_type",
        )
    await call(tags.change_version_tags, ctx, who, full_name, subentity, add, remove)
    return {}
