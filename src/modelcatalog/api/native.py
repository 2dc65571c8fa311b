"""The catalog's own additions, under `/api/modelcatalog/`: identity, the directory of
principals, tokens, manifests, the migration path and the audit log."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request

from modelcatalog.api import native_openapi as N
from modelcatalog.api.deps import CallerDep, ContextDep, call
from modelcatalog.api.dialects import NATIVE, speaking
from modelcatalog.api.openapi import described
from modelcatalog.api.requests import fields
from modelcatalog.api.uc_shapes import model_json, version_json
from modelcatalog.errors import InvalidParameter
from modelcatalog.service import (
    audit_trail,
    client_credentials,
    directory,
    explore,
    migration_path,
    principals,
    signatures,
    versions,
)

router = APIRouter(prefix="/api/modelcatalog", tags=["modelcatalog"], route_class=speaking(NATIVE))


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
@described(N.ME)
async def me(who: CallerDep) -> dict:
    """The principal the presented token belongs to."""
    return {"name": who.name, "is_admin": who.is_admin}


@router.post("/tokens")
@described(N.CREATE_TOKEN)
async def create_token(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """A new personal access token for the caller; the secret is shown only in this answer."""
    f = await fields(request)
    token, view = await call(
        principals.create_token,
        ctx,
        who,
        comment=f.get("comment"),
        lifetime_seconds=f.get("lifetime_seconds"),
        principal=f.get("principal"),
    )
    return {"token": token, **_token_json(view)}


@router.get("/tokens")
@described(N.LIST_TOKENS)
async def list_tokens(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    views = await call(principals.list_tokens, ctx, who, request.query_params.get("principal"))
    return {"tokens": [_token_json(v) for v in views]}


@router.delete("/tokens/{token_id}")
@described(N.REVOKE_TOKEN)
async def revoke_token(token_id: str, ctx: ContextDep, who: CallerDep) -> dict:
    await call(principals.revoke_token, ctx, who, token_id)
    return {}


def _secret_json(view: client_credentials.SecretView) -> dict:
    return {
        "secret_id": view.secret_id,
        "service_principal": view.service_principal,
        "client_id": view.client_id,
        "created_at": view.created_at,
        "created_by": view.created_by,
        "expires_at": view.expires_at,
        "last_used_at": view.last_used_at,
        "expired": view.expired,
    }


@router.post("/service-principals/{name}/secrets")
@described(N.CREATE_SECRET)
async def create_secret(name: str, request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """A new OAuth secret for a service principal (metastore admins); the secret is shown only
    in this answer. Exchange it, with the client id, at `/oidc/v1/token`."""
    f = await fields(request)
    secret, view = await call(
        client_credentials.create_secret, ctx, who, name, lifetime_seconds=f.get("lifetime_seconds")
    )
    return {"secret": secret, **_secret_json(view)}


@router.get("/service-principals/{name}/secrets")
@described(N.LIST_SECRETS)
async def list_secrets(name: str, ctx: ContextDep, who: CallerDep) -> dict:
    """A service principal's OAuth secrets, never the secrets themselves (metastore admins)."""
    views = await call(client_credentials.list_secrets, ctx, who, name)
    return {"secrets": [_secret_json(v) for v in views]}


@router.delete("/service-principals/{name}/secrets/{secret_id}")
@described(N.DELETE_SECRET)
async def delete_secret(name: str, secret_id: str, ctx: ContextDep, who: CallerDep) -> dict:
    """Delete an OAuth secret and end the access tokens it bought (metastore admins)."""
    await call(client_credentials.delete_secret, ctx, who, name, secret_id)
    return {}


@router.get("/search")
@described(N.SEARCH)
async def search_models(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """The models you may see that match words (names, tag keys or values, owners,
    descriptions) and filters, by full name, with where each matched."""
    q = request.query_params
    has_alias = q.get("has_alias") or "false"
    if has_alias not in ("true", "false"):
        raise InvalidParameter(
            f"'has_alias' is {has_alias!r}: expected true or false.", "has_alias"
        )
    filters = explore.Filters(
        catalog=q.get("catalog") or None,
        schema=q.get("schema") or None,
        owner=q.get("owner") or None,
        tag=q.get("tag") or None,
        has_alias=has_alias == "true",
        deployment_state=q.get("deployment_state") or None,
    )
    found = await call(
        explore.search,
        ctx,
        who,
        q.get("q"),
        filters,
        max_results=q.get("max_results"),
        page_token=q.get("page_token"),
    )
    body: dict = {
        "results": [{"model": model_json(f.model), "matched": list(f.reasons)} for f in found.items]
    }
    if found.next_page_token:
        body["next_page_token"] = found.next_page_token
    return body


@router.get("/models/{full_name}/versions/{version}/manifest")
@described(N.MANIFEST)
async def manifest(full_name: str, version: str, ctx: ContextDep, who: CallerDep) -> dict:
    """Path, size and sha256 of every file of a READY version, recorded at finalize."""
    entries = await call(versions.manifest, ctx, who, full_name, version)
    return {
        "full_name": full_name.lower(),
        "version": int(version),
        "files": [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in entries],
    }


@router.get("/models/{full_name}/versions/{version}/signature")
@described(N.SIGNATURE)
async def signature(full_name: str, version: str, ctx: ContextDep, who: CallerDep) -> dict:
    """The inputs, outputs and parameters of a READY version's signature, read from its MLmodel
    file (null for a version that is not READY or has none)."""
    found = await call(signatures.signature, ctx, who, full_name, version)
    return {
        "full_name": full_name.lower(),
        "version": int(version),
        "signature": asdict(found) if found is not None else None,
    }


# Principals ---------------------------------------------------------------------------------


def _principal_json(view: directory.PrincipalView) -> dict:
    body = {
        "name": view.name,
        "kind": view.kind,
        "is_admin": view.is_admin,
        "created_at": view.created_at,
        "groups": list(view.groups),
        "active": view.active,
    }
    if view.kind == "group":
        body["members"] = list(view.members)
    if view.managed_by:
        body["managed_by"] = view.managed_by
    return body


@router.post("/principals")
@described(N.CREATE_PRINCIPAL)
async def create_principal(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """Add a user, service principal or group (`{"name", "kind"}`); metastore admins only."""
    f = await fields(request)
    view = await call(directory.create_principal, ctx, who, f.get("name"), f.get("kind", "user"))
    return _principal_json(view)


@router.get("/principals")
@described(N.LIST_PRINCIPALS)
async def list_principals(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    q = request.query_params
    views = await call(directory.list_principals, ctx, who, q.get("kind"), q.get("name_contains"))
    return {"principals": [_principal_json(v) for v in views]}


@router.get("/principals/{name}")
@described(N.GET_PRINCIPAL)
async def get_principal(name: str, ctx: ContextDep, who: CallerDep) -> dict:
    return _principal_json(await call(directory.get_principal, ctx, who, name))


@router.patch("/principals/{name}")
@described(N.UPDATE_PRINCIPAL)
async def update_principal(name: str, request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """Appoint or remove a metastore admin: `{"is_admin": true|false}`."""
    f = await fields(request)
    view = await call(directory.set_admin, ctx, who, name, f.get("is_admin"))
    return _principal_json(view)


@router.delete("/principals/{name}")
@described(N.DELETE_PRINCIPAL)
async def delete_principal(name: str, ctx: ContextDep, who: CallerDep) -> dict:
    await call(directory.delete_principal, ctx, who, name)
    return {}


@router.post("/principals/{group}/members")
@described(N.ADD_MEMBER)
async def add_member(group: str, request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """Put a principal into a group: `{"member": NAME}`."""
    f = await fields(request)
    view = await call(directory.add_member, ctx, who, group, f.get("member"))
    return _principal_json(view)


@router.delete("/principals/{group}/members/{member}")
@described(N.REMOVE_MEMBER)
async def remove_member(group: str, member: str, ctx: ContextDep, who: CallerDep) -> dict:
    view = await call(directory.remove_member, ctx, who, group, member)
    return _principal_json(view)


# The migration path -------------------------------------------------------------------------


@router.post("/migration/versions")
@described(N.IMPORT_VERSION)
async def import_version(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """Create a version with its source registry's number and origin (owners, MANAGE holders
    and admins); rerunning with the same origin answers the version already made."""
    f = await fields(request)
    view = await call(
        migration_path.import_version,
        ctx,
        who,
        f.get("name"),
        f.get("version"),
        origin=f.get("origin"),
        source=f.get("source"),
        run_id=f.get("run_id"),
        comment=f.get("comment"),
        tags=f.get("tags"),
        signature_waiver=f.get("signature_waiver"),
    )
    return version_json(view)


# The audit log ------------------------------------------------------------------------------


def _audit_json(entry: audit_trail.AuditEntry) -> dict:
    return {
        "seq": entry.seq,
        "time": entry.at,
        "principal": entry.principal,
        "action": entry.action,
        "securable_type": entry.securable_type,
        "securable": entry.securable,
        "parameters": entry.parameters,
        "outcome": entry.outcome,
        "error_code": entry.error_code,
        "request_id": entry.request_id,
        "client_address": entry.client_address,
        "hash": entry.hash,
    }


@router.get("/audit")
@described(N.AUDIT)
async def audit_records(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """Audit records, oldest first (or `order=newest_first`), by securable, principal, action,
    request id, outcome and time range (`since`/`until` in milliseconds); metastore admins
    only."""
    q = request.query_params
    page = await call(
        audit_trail.query,
        ctx,
        who,
        securable=q.get("securable"),
        principal=q.get("principal"),
        action=q.get("action"),
        request_id=q.get("request_id"),
        outcome=q.get("outcome"),
        since=q.get("since"),
        until=q.get("until"),
        max_results=q.get("max_results"),
        page_token=q.get("page_token"),
        order=q.get("order"),
    )
    body: dict = {"records": [_audit_json(e) for e in page.items]}
    if page.next_page_token:
        body["next_page_token"] = page.next_page_token
    return body


@router.get("/audit/verify")
@described(N.VERIFY_AUDIT)
async def verify_audit(ctx: ContextDep, who: CallerDep) -> dict:
    """Check the hash chain; lists every edited, deleted or inserted record found."""
    report = await call(audit_trail.verify, ctx, who)
    return {"records": report.records, "intact": report.intact, "problems": list(report.problems)}
