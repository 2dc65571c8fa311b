"""The migration's artifact uploads, each an uncompressed tar stream: a PENDING version's files
(the bulk upload), and whole small versions of a model created, written and finalized in one
call (the import)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from modelcatalog.api import native_openapi as N
from modelcatalog.api.deps import CallerDep, ContextDep, call
from modelcatalog.api.dialects import NATIVE, speaking
from modelcatalog.api.openapi import described
from modelcatalog.api.request_body import with_body
from modelcatalog.api.uc_shapes import version_json
from modelcatalog.service import bulk_files, version_import, versions
from modelcatalog.service.views import ManifestEntry

router = APIRouter(prefix="/api/modelcatalog", tags=["modelcatalog"], route_class=speaking(NATIVE))


def _files_json(entries: list[ManifestEntry]) -> list[dict]:
    return [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in entries]


@router.put("/migration/versions/{full_name}/{version}/files")
@described(N.UPLOAD_FILES)
async def upload_files(
    full_name: str, version: str, request: Request, ctx: ContextDep, who: CallerDep
) -> dict:
    """Write every member of the tar body (`Content-Type: application/x-tar`) into the PENDING
    version; needs CREATE MODEL VERSION. Answers the path, size and sha256 of each file
    written, as the server computed them.

    With `?finalize=true` the version is then finalized as by `PATCH .../finalize` (its own
    audit record, the same checks), and the answer adds the finalized version and the manifest
    recorded for it: one request instead of three for a small version."""
    entries = await with_body(request, bulk_files.upload_files, ctx, who, full_name, version)
    body: dict = {
        "full_name": full_name.lower(),
        "version": int(version),
        "files": _files_json(entries),
    }
    if request.query_params.get("finalize", "").lower() == "true":
        view = await call(versions.finalize_version, ctx, who, full_name, version)
        body["model_version"] = version_json(view)
        body["manifest"] = _files_json(await call(versions.manifest, ctx, who, full_name, version))
    return body


@router.post("/migration/versions/{full_name}/import")
@described(N.IMPORT_VERSIONS)
async def import_versions(
    full_name: str, request: Request, ctx: ContextDep, who: CallerDep
) -> dict:
    """Create, write and finalize versions of a model from one tar body
    (`Content-Type: application/x-tar`): owners, MANAGE holders and admins, as for
    `POST .../migration/versions`. Each version keeps its source registry's number and origin;
    every file's sha256 is checked against the digests the archive declares; the versions are
    created in one transaction, each with its audit record and event. A version already made
    by the same origin is answered as it is, so the call can be sent again after any failure."""
    imported = await with_body(request, version_import.import_versions, ctx, who, full_name)
    return {
        "full_name": full_name.lower(),
        "versions": [
            {
                "outcome": item.outcome,
                "model_version": version_json(item.version),
                "manifest": _files_json(item.manifest),
            }
            for item in imported
        ],
    }
