"""The migration's bulk upload: a PENDING version's files as one uncompressed tar stream."""

from __future__ import annotations

from fastapi import APIRouter, Request

from modelcatalog.api import native_openapi as N
from modelcatalog.api.deps import CallerDep, ContextDep, call
from modelcatalog.api.dialects import NATIVE, speaking
from modelcatalog.api.openapi import described
from modelcatalog.api.request_body import with_body
from modelcatalog.api.uc_shapes import version_json
from modelcatalog.service import bulk_files, versions
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
