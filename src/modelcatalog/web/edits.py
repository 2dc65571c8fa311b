"""The forms of the pages: descriptions, tags, aliases, grants, approvals, tokens.

Each form calls the one service operation the matching API call calls, as the signed-in
person, after its anti-forgery token was checked (`EditorDep`). A success goes back to the page
with what changed (`?done=`); a refusal shows the page again with the reason next to the field
(an invalid tag or alias) or at the top (a missing privilege, which names who can grant it)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from modelcatalog.api.deps import ContextDep
from modelcatalog.api.dialects import speaking
from modelcatalog.errors import (
    AlreadyExists,
    CatalogError,
    FailedPrecondition,
    InvalidParameter,
    NotFound,
)
from modelcatalog.service import (
    aliases,
    directory,
    grants,
    models,
    principals,
    securables,
    tags,
    versions,
)
from modelcatalog.service.deployments import approvals
from modelcatalog.web.dialect import WEB_UI
from modelcatalog.web.identity import EditorDep, form
from modelcatalog.web.pages import (
    chrome,
    render_container,
    render_model,
    render_principals,
    render_version,
)
from modelcatalog.web.render import page
from modelcatalog.web.signin_page import safe_next
from modelcatalog.web.threads import call

router = APIRouter(route_class=speaking(WEB_UI), include_in_schema=False)


def model_address(full_name: str, tab: str | None = None, done: str | None = None) -> str:
    query = "&".join(f"{k}={v}" for k, v in (("tab", tab), ("done", done)) if v)
    return f"/m/{quote(full_name, safe='')}" + (f"?{query}" if query else "")


def version_address(full_name: str, version: int | str, done: str | None = None) -> str:
    return f"/m/{quote(full_name, safe='')}/v/{version}" + (f"?done={done}" if done else "")


def back(address: str) -> Response:
    return RedirectResponse(address, status_code=303)


# The fields of a model, catalog or schema a form changes, by the address's last part: (form
# field, argument of the update operation, what the page then says changed).
EDITABLE_FIELDS = {
    "description": ("comment", "comment", "description"),
    "owner": ("owner", "owner", "owner"),
}


@router.post("/m/{full_name}/description")
@router.post("/m/{full_name}/owner")
async def model_field(
    request: Request, ctx: ContextDep, who: EditorDep, full_name: str
) -> Response:
    """Change the model's description or transfer its ownership."""
    name, argument, done = EDITABLE_FIELDS[request.url.path.rsplit("/", 1)[1]]
    fields = await form(request)
    try:
        await call(models.update_model, ctx, who.caller, full_name, **{argument: fields.get(name)})
    except InvalidParameter as exc:
        return await render_model(
            request, ctx, who, full_name, status=400, errors={name: exc.message}, entered=fields
        )
    return back(model_address(full_name, done=done))


@router.post("/c/{catalog}/description")
@router.post("/c/{catalog}/owner")
@router.post("/c/{catalog}/{schema}/description")
@router.post("/c/{catalog}/{schema}/owner")
async def container_field(
    request: Request, ctx: ContextDep, who: EditorDep, catalog: str, schema: str | None = None
) -> Response:
    """Change a catalog's or schema's description, or transfer its ownership."""
    name, argument, done = EDITABLE_FIELDS[request.url.path.rsplit("/", 1)[1]]
    fields = await form(request)
    change = {argument: fields.get(name)}
    address = f"/c/{quote(catalog, safe='')}"
    try:
        if schema is None:
            await call(securables.update_catalog, ctx, who.caller, catalog, **change)
        else:
            await call(securables.update_schema, ctx, who.caller, f"{catalog}.{schema}", **change)
            address += f"/{quote(schema, safe='')}"
    except InvalidParameter as exc:
        return await render_container(
            request, ctx, who, catalog, schema, status=400, errors={name: exc.message}
        )
    return back(f"{address}?done={done}")


@router.post("/m/{full_name}/tags")
async def model_tag(request: Request, ctx: ContextDep, who: EditorDep, full_name: str) -> Response:
    """Set a tag (key and value) or, with `remove`, delete one."""
    fields = await form(request)
    removing = "remove" in fields
    try:
        if removing:
            await call(tags.change_model_tags, ctx, who.caller, full_name, {}, [fields["remove"]])
        else:
            added = {fields.get("key", ""): fields.get("value", "")}
            await call(tags.change_model_tags, ctx, who.caller, full_name, added)
    except InvalidParameter as exc:
        message = exc.message
        return await render_model(
            request, ctx, who, full_name, status=400, errors={"tag": message}, entered=fields
        )
    return back(model_address(full_name, done="tag-removed" if removing else "tag-set"))


@router.post("/m/{full_name}/aliases")
async def model_alias(
    request: Request, ctx: ContextDep, who: EditorDep, full_name: str
) -> Response:
    """Set or move an alias or, with `remove`, delete one."""
    fields = await form(request)
    removing = "remove" in fields
    try:
        if removing:
            await call(aliases.delete_alias, ctx, who.caller, full_name, fields["remove"])
        else:
            await call(
                aliases.set_alias,
                ctx,
                who.caller,
                full_name,
                fields.get("alias", ""),
                fields.get("version", ""),
            )
    except (InvalidParameter, CatalogError) as exc:
        if exc.kind not in ("INVALID_PARAMETER", "NOT_FOUND", "FAILED_PRECONDITION"):
            raise
        return await render_model(
            request, ctx, who, full_name, status=400, errors={"alias": exc.message}, entered=fields
        )
    return back(model_address(full_name, done="alias-removed" if removing else "alias-set"))


@router.post("/m/{full_name}/v/{version}/description")
async def version_description(
    request: Request, ctx: ContextDep, who: EditorDep, full_name: str, version: str
) -> Response:
    fields = await form(request)
    try:
        await call(
            versions.update_version,
            ctx,
            who.caller,
            full_name,
            version,
            comment=fields.get("comment"),
        )
    except InvalidParameter as exc:
        return await render_version(
            request, ctx, who, full_name, version, status=400, errors={"comment": exc.message}
        )
    return back(version_address(full_name, version, "description"))


@router.post("/m/{full_name}/v/{version}/tags")
async def version_tag(
    request: Request, ctx: ContextDep, who: EditorDep, full_name: str, version: str
) -> Response:
    fields = await form(request)
    removing = "remove" in fields
    try:
        if removing:
            await call(
                tags.change_version_tags,
                ctx,
                who.caller,
                full_name,
                version,
                {},
                [fields["remove"]],
            )
        else:
            added = {fields.get("key", ""): fields.get("value", "")}
            await call(tags.change_version_tags, ctx, who.caller, full_name, version, added)
    except InvalidParameter as exc:
        return await render_version(
            request, ctx, who, full_name, version, status=400, errors={"tag": exc.message}
        )
    return back(version_address(full_name, version, "tag-removed" if removing else "tag-set"))


@router.post("/runs/{run_id}/tasks/{task}/decide")
async def decide(
    request: Request, ctx: ContextDep, who: EditorDep, run_id: str, task: str
) -> Response:
    """Approve or reject an approval task, with an optional comment kept in the audit log."""
    fields = await form(request)
    choice = fields.get("decision")
    if choice not in ("approve", "reject"):
        raise InvalidParameter("'decision' must be approve or reject.", "decision")
    await call(
        approvals.decide,
        ctx,
        who.caller,
        run_id,
        task,
        approve=choice == "approve",
        via="ui",
        comment=fields.get("comment") or None,
    )
    after = safe_next(fields.get("next") or "/approvals")
    sep = "&" if "?" in after else "?"
    return back(f"{after}{sep}done={'approved' if choice == 'approve' else 'rejected'}")


_PERMISSION_PAGES = {
    "catalog": lambda name: f"/c/{quote(name, safe='')}?tab=permissions",
    "schema": lambda name: "/c/{}/{}?tab=permissions".format(
        *(quote(p, safe="") for p in name.split(".", 1))
    ),
    "registered_model": lambda name: model_address(name, "permissions"),
}


@router.post("/permissions/{securable_type}/{full_name}")
async def change_permissions(
    request: Request, ctx: ContextDep, who: EditorDep, securable_type: str, full_name: str
) -> Response:
    """Grant or revoke one privilege to or from one principal."""
    fields = await form(request)
    address = _PERMISSION_PAGES.get(securable_type)
    if address is None:
        raise InvalidParameter(
            f"'securable_type' is {securable_type!r}: expected catalog, schema or "
            "registered_model.",
            "securable_type",
        )
    granting = fields.get("change") != "revoke"
    change = {
        "principal": fields.get("principal", "").strip(),
        "add" if granting else "remove": [fields.get("privilege", "")],
    }
    await call(grants.update_permissions, ctx, who.caller, securable_type, full_name, [change])
    target = address(full_name)
    return back(f"{target}&done={'granted' if granting else 'revoked'}")


@router.post("/me/tokens")
async def create_token(request: Request, ctx: ContextDep, who: EditorDep) -> Response:
    """A new token for the signed-in person, shown once on the page that answers."""
    fields = await form(request)
    days = fields.get("lifetime_days", "").strip()
    lifetime: object
    try:
        lifetime = round(float(days) * 86_400) if days else None
    except ValueError:
        lifetime = days  # refused below, with the rule
    try:
        token, _ = await call(
            principals.create_token,
            ctx,
            who.caller,
            comment=fields.get("comment") or None,
            lifetime_seconds=lifetime,
        )
    except InvalidParameter as exc:
        listed = await call(principals.list_tokens, ctx, who.caller)
        return page(
            "tokens.html",
            400,
            tokens=listed,
            new_token=None,
            errors={"lifetime": exc.message},
            **await chrome(ctx, request, who),
        )
    listed = await call(principals.list_tokens, ctx, who.caller)
    return page("tokens.html", tokens=listed, new_token=token, **await chrome(ctx, request, who))


@router.post("/me/tokens/{token_id}/revoke")
async def revoke_token(
    request: Request, ctx: ContextDep, who: EditorDep, token_id: str
) -> Response:
    await call(principals.revoke_token, ctx, who.caller, token_id)
    return back("/me/tokens?done=token-revoked")


@router.post("/admin/principals")
async def create_principal(request: Request, ctx: ContextDep, who: EditorDep) -> Response:
    """Add a user, service principal or group (metastore admins)."""
    fields = await form(request)
    try:
        await call(
            directory.create_principal,
            ctx,
            who.caller,
            fields.get("name", "").strip(),
            fields.get("kind", "user"),
        )
    except (InvalidParameter, AlreadyExists) as exc:
        return await render_principals(request, ctx, who, status=400, error=exc.message)
    return back("/admin/principals?done=principal-created")


@router.post("/admin/principals/{name}/members")
async def change_member(request: Request, ctx: ContextDep, who: EditorDep, name: str) -> Response:
    """Add a member to a group or, with `remove`, take one out (metastore admins)."""
    fields = await form(request)
    removing = "remove" in fields
    try:
        if removing:
            await call(directory.remove_member, ctx, who.caller, name, fields["remove"])
        else:
            await call(
                directory.add_member, ctx, who.caller, name, fields.get("member", "").strip()
            )
    except (InvalidParameter, NotFound) as exc:
        return await render_principals(request, ctx, who, status=400, error=exc.message)
    return back(f"/admin/principals?done={'member-removed' if removing else 'member-added'}")


@router.post("/admin/principals/{name}/admin")
async def change_admin(request: Request, ctx: ContextDep, who: EditorDep, name: str) -> Response:
    """Make a principal a metastore admin, or no longer one (metastore admins)."""
    fields = await form(request)
    try:
        await call(directory.set_admin, ctx, who.caller, name, fields.get("is_admin") == "true")
    except (InvalidParameter, NotFound, FailedPrecondition) as exc:
        return await render_principals(request, ctx, who, status=400, error=exc.message)
    return back("/admin/principals?done=admin-changed")
