"""The Files API that MLflow's presigned-URL repository speaks, and the signed URLs themselves.

`/api/2.0/fs/create-upload-url|create-download-url` hand out URLs: the bucket's own presigned
URLs where clients reach the store directly, else URLs that this server signs and
`/api/modelcatalog/presigned/<key>` serves, authenticated by the signature alone."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from modelcatalog.api import registry_openapi as R
from modelcatalog.api.deps import CallerDep, ContextDep, call, url_bearer
from modelcatalog.api.dialects import FILES, speaking
from modelcatalog.api.openapi import described
from modelcatalog.api.request_body import with_body
from modelcatalog.api.requests import fields
from modelcatalog.errors import NotFound
from modelcatalog.service import file_access
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.storage.base import ObjectNotFound

router = APIRouter(tags=["files"], route_class=speaking(FILES))


async def temporary_credentials(
    ctx: ServiceContext, who: Caller, full_name: object, version: object, *, write: bool
) -> dict[str, Any]:
    """Credentials for a version's files, as both Unity Catalog dialects carry them: AWS
    session credentials scoped to the version's prefix where the store issues them (MLflow
    then reads and writes the bucket with boto3), else DEFAULT_STORAGE, which sends MLflow's
    `databricks-uc` client to the Files API's presigned URLs."""
    grant = await call(file_access.storage_credentials, ctx, who, full_name, version, write=write)
    if grant.credentials is None:
        return {"storage_mode": "DEFAULT_STORAGE", "expiration_time": grant.expires_at_ms}
    found = grant.credentials
    return {
        "aws_temp_credentials": {
            "access_key_id": found.access_key_id,
            "secret_access_key": found.secret_access_key,
            "session_token": found.session_token,
        },
        "expiration_time": grant.expires_at_ms,
    }


def _headers(signed: file_access.SignedRequest) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in signed.headers.items()]


def _base_url(request: Request) -> str:
    return str(request.base_url)


@router.post("/api/2.0/fs/create-upload-url")
@described(R.CREATE_UPLOAD_URL)
async def create_upload_url(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    signed = await call(file_access.upload_url, ctx, who, f.get("path"), _base_url(request))
    return {"url": signed.url, "headers": _headers(signed)}


@router.post("/api/2.0/fs/create-download-url")
@described(R.CREATE_DOWNLOAD_URL)
async def create_download_url(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    f = await fields(request)
    signed = await call(file_access.download_url, ctx, who, f.get("path"), _base_url(request))
    return {"url": signed.url, "headers": _headers(signed)}


@router.get("/api/2.0/fs/directories/{path:path}")
@described(R.LIST_DIRECTORY)
async def list_directory(path: str, ctx: ContextDep, who: CallerDep) -> dict:
    contents = await call(file_access.list_directory, ctx, who, "/" + path)
    return {"contents": contents}


@router.put("/api/modelcatalog/presigned/{key:path}")
@described(R.PUT_OBJECT)
async def put_object(key: str, request: Request, ctx: ContextDep) -> Response:
    clean, request.state.principal = await call(
        file_access.authorize_presigned,
        ctx,
        url_bearer(request),
        "PUT",
        key,
        dict(request.query_params),
    )
    await with_body(request, file_access.store_object, ctx, clean)
    return Response(status_code=200)


@router.get("/api/modelcatalog/presigned/{key:path}")
@described(R.GET_OBJECT)
async def get_object(key: str, request: Request, ctx: ContextDep) -> Response:
    clean, request.state.principal = await call(
        file_access.authorize_presigned,
        ctx,
        url_bearer(request),
        "GET",
        key,
        dict(request.query_params),
    )
    try:
        local = ctx.store.local_path(clean)
    except ObjectNotFound:
        raise NotFound("The file does not exist.") from None
    if local is not None:
        return FileResponse(local)
    try:
        stat = await call(ctx.store.stat, clean)
    except ObjectNotFound:
        raise NotFound("The file does not exist.") from None
    return StreamingResponse(
        ctx.store.iter_bytes(clean),
        media_type="application/octet-stream",
        headers={"content-length": str(stat.size)},
    )
