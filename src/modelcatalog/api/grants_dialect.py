"""Grants in the Unity Catalog shape, `/api/2.1/unity-catalog/permissions/...`, and the
effective-permissions view that says where each privilege comes from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request

from modelcatalog.api import uc_openapi as U
from modelcatalog.api.deps import CallerDep, ContextDep, call
from modelcatalog.api.dialects import UNITY_CATALOG, from_databricks_sdk, speaking
from modelcatalog.api.openapi import described
from modelcatalog.api.requests import fields
from modelcatalog.service import grants

router = APIRouter(
    prefix="/api/2.1/unity-catalog", tags=["grants"], route_class=speaking(UNITY_CATALOG)
)


def spelling(request: Request) -> Callable[[str], str]:
    """How this client spells a privilege. The two SDKs call the same paths and parse different
    words: Unity Catalog OSS's (and its `unitycatalog-client`) `USE CATALOG`, Databricks' (and
    databricks-sdk, which drops a word it does not know) `USE_CATALOG`. Only the client's
    User-Agent tells them apart; both spellings are accepted in requests."""
    if from_databricks_sdk(request.headers.get("user-agent", "")):
        return lambda privilege: privilege.replace(" ", "_")
    return lambda privilege: privilege


def _assignments(found: list[grants.Assignment], spell: Callable[[str], str]) -> dict[str, Any]:
    return {
        "privilege_assignments": [
            {"principal": a.principal, "privileges": [spell(p) for p in a.privileges]}
            for a in found
        ]
    }


@router.get("/permissions/{securable_type}/{full_name}")
@described(per="securable_type", variants=U.GET_PERMISSIONS)
async def get_permissions(
    securable_type: str, full_name: str, request: Request, ctx: ContextDep, who: CallerDep
) -> dict:
    """The privileges granted directly on a securable, by principal."""
    found = await call(
        grants.get_permissions,
        ctx,
        who,
        securable_type,
        full_name,
        request.query_params.get("principal"),
    )
    return _assignments(found, spelling(request))


@router.patch("/permissions/{securable_type}/{full_name}")
@described(per="securable_type", variants=U.UPDATE_PERMISSIONS)
async def update_permissions(
    securable_type: str, full_name: str, request: Request, ctx: ContextDep, who: CallerDep
) -> dict:
    """Grant and revoke: `{"changes": [{"principal", "add": [...], "remove": [...]}]}`."""
    f = await fields(request)
    found = await call(
        grants.update_permissions,
        ctx,
        who,
        securable_type,
        full_name,
        f.get("changes"),
    )
    return _assignments(found, spelling(request))


@router.get("/effective-permissions/{securable_type}/{full_name}")
@described(per="securable_type", variants=U.EFFECTIVE_PERMISSIONS)
async def effective_permissions(
    securable_type: str, full_name: str, request: Request, ctx: ContextDep, who: CallerDep
) -> dict:
    """Every privilege reaching a securable, with where it comes from: the container it was
    granted on (`inherited_from_type`, `inherited_from_name`) and the groups it came through."""
    found = await call(
        grants.effective_permissions,
        ctx,
        who,
        securable_type,
        full_name,
        request.query_params.get("principal"),
    )
    spell = spelling(request)
    return {
        "privilege_assignments": [
            {
                "principal": a.principal,
                **({"owner_of": a.owner_of} if a.owner_of else {}),
                **({"metastore_admin": True} if a.is_admin else {}),
                "privileges": [
                    {
                        "privilege": spell(p.privilege),
                        **(
                            {
                                "inherited_from_type": p.inherited_from_type,
                                "inherited_from_name": p.inherited_from_name,
                            }
                            if p.inherited_from_type
                            else {}
                        ),
                        **({"via_groups": list(p.via_groups)} if p.via_groups else {}),
                    }
                    for p in a.privileges
                ],
            }
            for a in found
        ]
    }
