"""The catalog's own additions, under `/api/modelcatalog/`: identity, tokens, manifests."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from modelcatalog.api.deps import call, caller, context
from modelcatalog.api.requests import fields
from modelcatalog.service import principals, versions
from modelcatalog.service.context import Caller

router = APIRouter(prefix="/api/modelcatalog", tags=["modelcatalog"])


def _token_json(view: principals.TokenView) -> dict:
    return {
        "token_id": view.token_id,
        "principal": view.principal,
        "comment": view.comment,
        "created_at": view.created_at,
        "expires_at": view.expires_at,
        "revoked": view.revoked,
    }


@router.get("/me")
async def me(who: Caller = Depends(caller)) -> dict:
    """The principal the presented token belongs to."""
    return {"name": who.name, "is_admin": who.is_admin}


@router.post("/tokens")
async def create_token(request: Request, who: Caller = Depends(caller)) -> dict:
    """A new personal access token for the caller; the secret is shown only in this answer."""
    f = await fields(request)
    token, view = await call(
        principals.create_token,
        context(request),
        who,
        comment=f.get("comment"),
        lifetime_seconds=f.get("lifetime_seconds"),
    )
    return {"token": token, **_token_json(view)}


@router.get("/tokens")
async def list_tokens(request: Request, who: Caller = Depends(caller)) -> dict:
    views = await call(principals.list_tokens, context(request), who)
    return {"tokens": [_token_json(v) for v in views]}


@router.delete("/tokens/{token_id}")
async def revoke_token(token_id: str, request: Request, who: Caller = Depends(caller)) -> dict:
    await call(principals.revoke_token, context(request), who, token_id)
    return {}


@router.get("/models/{full_name}/versions/{version}/manifest")
async def manifest(
    full_name: str, version: str, request: Request, who: Caller = Depends(caller)
) -> dict:
    """Path, size and sha256 of every file of a READY version, recorded at finalize."""
    entries = await call(versions.manifest, context(request), who, full_name, version)
    return {
        "full_name": full_name.lower(),
        "version": int(version),
        "files": [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in entries],
    }
