"""The migration's bulk upload: a PENDING version's files as one uncompressed tar stream."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from modelcatalog.api.deps import caller, context
from modelcatalog.api.request_body import with_body
from modelcatalog.service import bulk_files
from modelcatalog.service.context import Caller

router = APIRouter(prefix="/api/modelcatalog", tags=["modelcatalog"])


@router.put("/migration/versions/{full_name}/{version}/files")
async def upload_files(
    full_name: str, version: str, request: Request, who: Caller = Depends(caller)
) -> dict:
    """Write every member of the tar body (`Content-Type: application/x-tar`) into the PENDING
    version; needs CREATE MODEL VERSION. Answers the path, size and sha256 of each file
    written, as the server computed them."""
    entries = await with_body(
        request, bulk_files.upload_files, context(request), who, full_name, version
    )
    return {
        "full_name": full_name.lower(),
        "version": int(version),
        "files": [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in entries],
    }
