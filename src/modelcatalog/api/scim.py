"""SCIM 2.0 provisioning (RFC 7643, RFC 7644) at the paths Databricks serves it, so that the
identity provider connectors made for Databricks (Okta, Entra ID, ...) provision the catalog:
`/api/2.0/preview/scim/v2/Users`, `/Groups` and `/ServicePrincipals`, with filtering, paging,
PATCH and `active: false` deactivation, for metastore admins (the connector's token).

Bodies and answers are `application/scim+json`; errors take SCIM's shape (RFC 7644 section
3.12)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from modelcatalog.api.deps import CallerDep, ContextDep, call
from modelcatalog.api.dialects import SCIM, SCIM_ERROR, SCIM_MEDIA, speaking
from modelcatalog.errors import InvalidParameter, NotFound
from modelcatalog.service import provisioning as pr
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext

PREFIX = "/api/2.0/preview/scim/v2"
MEDIA = SCIM_MEDIA
CORE = "urn:ietf:params:scim:schemas:core:2.0:"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = SCIM_ERROR
MAX_BODY = 1024 * 1024


router = APIRouter(route_class=speaking(SCIM), include_in_schema=False)

# The resource types, by path segment: what kind of principal, which core schema.
RESOURCES = {
    "Users": (pr.USER, "User"),
    "Groups": (pr.GROUP, "Group"),
    "ServicePrincipals": (pr.SERVICE_PRINCIPAL, "ServicePrincipal"),
}


def _scim(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=MEDIA)


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def _ref(base: str, member: pr.Member) -> dict[str, str]:
    segment = {v[0]: k for k, v in RESOURCES.items()}[member.kind]
    return {
        "value": str(member.id),
        "display": member.name,
        "$ref": f"{base}/{segment}/{member.id}",
        "type": {"user": "User", "group": "Group"}.get(member.kind, "ServicePrincipal"),
    }


def _resource(base: str, found: pr.Provisioned) -> dict[str, Any]:
    segment = {v[0]: k for k, v in RESOURCES.items()}[found.kind]
    schema = RESOURCES[segment][1]
    body: dict[str, Any] = {"schemas": [CORE + schema], "id": str(found.id)}
    if found.kind == pr.USER:
        body["userName"] = found.name
        if found.display_name:
            body["displayName"] = found.display_name
        body["active"] = found.active
        if found.email:
            body["emails"] = [{"value": found.email}]
    elif found.kind == pr.SERVICE_PRINCIPAL:
        body["applicationId"] = found.application_id or found.name
        if found.display_name:
            body["displayName"] = found.display_name
        body["active"] = found.active
    else:
        body["displayName"] = found.name
        body["members"] = [_ref(base, m) for m in found.members]
    if found.external_id:
        body["externalId"] = found.external_id
    if found.kind != pr.GROUP:
        body["groups"] = [_ref(base, g) for g in found.groups]
    if found.owns:
        # A deactivated principal's ownerships, for an admin to transfer.
        body["urn:modelcatalog:params:scim:schemas:extension:2.0:Ownership"] = {
            "owns": list(found.owns)
        }
    body["meta"] = {
        "resourceType": schema,
        "created": _iso(found.created_at),
        "lastModified": _iso(found.updated_at or found.created_at),
        "location": f"{base}/{segment}/{found.id}",
    }
    return body


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _kind(resource: str) -> str:
    if resource not in RESOURCES:
        raise NotFound(f"'{resource}' is not a resource type here: {', '.join(RESOURCES)}.")
    return RESOURCES[resource][0]


async def _body(request: Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in (MEDIA, "application/json"):
        raise InvalidParameter(f"SCIM bodies are {MEDIA} (or application/json), not '{kind}'.")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise InvalidParameter(f"The body is larger than {MAX_BODY // 1024} KiB.")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise InvalidParameter("The body is not JSON.") from None
    if not isinstance(body, dict):
        raise InvalidParameter("The body must be a JSON object.")
    return body


def _active(value: object) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"  # Entra ID sends "False"
    if not isinstance(value, bool):
        raise InvalidParameter(f"'active' is {value!r}: expected true or false.", "active")
    return value


def _email(value: object) -> str | None:
    if value is None or value == pr.CLEARED:
        return value  # type: ignore[return-value]
    if not isinstance(value, list):
        raise InvalidParameter("'emails' must be a list of {\"value\": address}.", "emails")
    chosen = next((e for e in value if isinstance(e, dict) and e.get("primary")), None)
    chosen = chosen or next((e for e in value if isinstance(e, dict)), None)
    return pr.text_field(chosen.get("value") if chosen else None, "emails")


def _changes(attributes: dict[str, Any], *, replace_members: bool) -> pr.Changes:
    """The changes the attributes of a body (or of a PATCH value without a path) make."""
    lowered = {k.lower(): v for k, v in attributes.items()}
    members = lowered.get("members")
    return pr.Changes(
        display_name=pr.text_field(lowered.get("displayname"), "displayName"),
        active=_active(lowered.get("active")),
        external_id=pr.text_field(lowered.get("externalid"), "externalId"),
        email=_email(lowered.get("emails")),
        replace_members=(
            pr.member_ids(members) if replace_members and "members" in lowered else None
        ),
        add_members=(pr.member_ids(members) if not replace_members and members is not None else ()),
    )


_MEMBER_PATH = re.compile(r'^members\[\s*value\s+eq\s+"?([^"\]]+)"?\s*\]$', re.IGNORECASE)


def _patch(body: dict[str, Any]) -> pr.Changes:
    """The changes of a PATCH request's operations (RFC 7644 section 3.5.2), op names in any
    case as Entra ID sends them."""
    if PATCH_OP not in (body.get("schemas") or []):
        raise InvalidParameter(f"A PATCH body names the schema {PATCH_OP}.", "schemas")
    operations = body.get("Operations", body.get("operations"))
    if not isinstance(operations, list) or not operations:
        raise InvalidParameter("A PATCH body holds a list of 'Operations'.", "Operations")
    merged: dict[str, Any] = {}
    add: list[int] = []
    remove: list[int] = []
    replace: list[int] | None = None
    for operation in operations:
        if not isinstance(operation, dict):
            raise InvalidParameter("Each operation is an object.", "Operations")
        op = str(operation.get("op", "")).lower()
        path = str(operation.get("path") or "").strip()
        value = operation.get("value")
        if op not in ("add", "replace", "remove"):
            raise InvalidParameter(
                f"'op' is {operation.get('op')!r}: expected add, replace or remove.", "op"
            )
        member_path = _MEMBER_PATH.match(path)
        if op == "remove":
            if member_path:
                remove += pr.member_ids([{"value": member_path.group(1)}])
            elif path.lower() == "members":
                if value is None:
                    replace = []
                else:
                    remove += pr.member_ids(value)
            elif path.lower() in ("displayname", "externalid", "emails"):
                merged[path] = pr.CLEARED
            else:
                raise InvalidParameter(f"'{path}' cannot be removed here.", "path")
            continue
        if path.lower() == "members":
            if op == "replace":
                replace = pr.member_ids(value)
            else:
                add += pr.member_ids(value)
        elif path:
            merged[path] = value
        elif isinstance(value, dict):
            for key, item in value.items():
                if key.lower() == "members":
                    add += pr.member_ids(item)
                else:
                    merged[key] = item
        else:
            raise InvalidParameter("An operation without a path sets an object.", "value")
    known = {"active", "displayname", "externalid", "emails"}
    unknown = [k for k in merged if k.lower() not in known and not k.lower().startswith("name")]
    if unknown:
        raise InvalidParameter(f"'{unknown[0]}' cannot be changed here.", "path")
    found = _changes(merged, replace_members=False)
    return pr.Changes(
        display_name=found.display_name,
        active=found.active,
        external_id=found.external_id,
        email=found.email,
        add_members=add,
        remove_members=remove,
        replace_members=replace,
    )


def _name(kind: str, body: dict[str, Any]) -> object:
    lowered = {k.lower(): v for k, v in body.items()}
    key = {pr.USER: "username", pr.GROUP: "displayname"}.get(kind, "applicationid")
    return lowered.get(key)


def _number(value: object, field: str, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        return int(str(value))
    except ValueError:
        raise InvalidParameter(f"'{field}' is {value!r}: expected a whole number.", field) from None


@router.get(f"{PREFIX}/ServiceProviderConfig")
async def service_provider_config(who: CallerDep) -> Response:
    """What this SCIM service supports (RFC 7643 section 5)."""
    return _scim(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": pr.MAX_PAGE},
            "changePassword": {"supported": False},
            "sort": {"supported": False},
            "etag": {"supported": False},
            "authenticationSchemes": [
                {
                    "type": "oauthbearertoken",
                    "name": "Bearer token",
                    "description": "A metastore admin's token or OAuth access token.",
                    "primary": True,
                }
            ],
        }
    )


def _listing(resources: list[dict[str, Any]], start_index: int = 1, total: int | None = None):  # type: ignore[no-untyped-def]
    return {
        "schemas": [LIST],
        "totalResults": len(resources) if total is None else total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def _resource_types(base: str) -> dict[str, dict[str, Any]]:
    return {
        schema: {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": schema,
            "name": schema,
            "endpoint": f"/{segment}",
            "schema": CORE + schema,
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{schema}"},
        }
        for segment, (_, schema) in RESOURCES.items()
    }


@router.get(f"{PREFIX}/ResourceTypes")
async def resource_types(request: Request, who: CallerDep) -> Response:
    """The three resource types served (RFC 7643 section 6)."""
    return _scim(_listing(list(_resource_types(_base(request)).values())))


def _one(documents: dict[str, dict[str, Any]], key: str, noun: str) -> Response:
    if key not in documents:
        raise NotFound(f"No {noun} is called '{key}': {', '.join(documents)}.")
    return _scim(documents[key])


@router.get(f"{PREFIX}/ResourceTypes/{{name}}")
async def resource_type(name: str, request: Request, who: CallerDep) -> Response:
    return _one(_resource_types(_base(request)), name, "resource type")


def _attribute(
    name: str,
    kind: str = "string",
    *,
    required: bool = False,
    multi: bool = False,
    mutability: str = "readWrite",
    unique: str = "none",
    case_exact: bool = False,
    sub: tuple[dict[str, Any], ...] = (),
    references: tuple[str, ...] = (),
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": name,
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": unique,
    }
    if sub:
        found["subAttributes"] = list(sub)
    if references:
        found["referenceTypes"] = list(references)
    return found


def _member_attribute(name: str, mutability: str) -> dict[str, Any]:
    return _attribute(
        name,
        "complex",
        multi=True,
        mutability=mutability,
        sub=(
            _attribute("value", mutability="immutable"),
            _attribute("display", mutability="readOnly"),
            _attribute("$ref", "reference", mutability="readOnly", references=("User", "Group")),
            _attribute("type", mutability="readOnly"),
        ),
    )


# Exactly the attributes the catalog keeps: a connector (or a checker) sees what it can set.
SCHEMAS = {
    "User": (
        # Names are immutable: grants and ownerships name a principal.
        _attribute("userName", required=True, unique="server", mutability="immutable"),
        _attribute("displayName"),
        _attribute("active", "boolean", required=True),
        _attribute(
            "emails",
            "complex",
            multi=True,
            # One address is kept, the primary one (or the first given).
            sub=(_attribute("value"),),
        ),
        _member_attribute("groups", "readOnly"),
    ),
    "Group": (
        _attribute("displayName", required=True, unique="server", mutability="immutable"),
        _member_attribute("members", "readWrite"),
    ),
    "ServicePrincipal": (
        _attribute("applicationId", mutability="immutable", unique="server", case_exact=True),
        _attribute("displayName"),
        _attribute("active", "boolean", required=True),
        _member_attribute("groups", "readOnly"),
    ),
}


def _schemas(base: str) -> dict[str, dict[str, Any]]:
    return {
        CORE + name: {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": CORE + name,
            "name": name,
            "description": name,
            "attributes": list(attributes),
            "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{CORE}{name}"},
        }
        for name, attributes in SCHEMAS.items()
    }


@router.get(f"{PREFIX}/Schemas")
async def schemas(request: Request, who: CallerDep) -> Response:
    """The attributes of each resource type (RFC 7643 section 7)."""
    return _scim(_listing(list(_schemas(_base(request)).values())))


@router.get(f"{PREFIX}/Schemas/{{schema_id}}")
async def schema(schema_id: str, request: Request, who: CallerDep) -> Response:
    return _one(_schemas(_base(request)), schema_id, "schema")


DISCOVERY = ("ServiceProviderConfig", "ResourceTypes", "Schemas")


async def _read_only(request: Request, who: CallerDep) -> Response:
    """The discovery documents answer GET only."""
    return JSONResponse(
        {"schemas": [ERROR], "status": "405", "detail": f"{request.url.path} is read only."},
        status_code=405,
        media_type=MEDIA,
        headers={"Allow": "GET"},
    )


for _document in DISCOVERY:
    router.add_api_route(
        f"{PREFIX}/{_document}", _read_only, methods=["POST", "PUT", "PATCH", "DELETE"]
    )


def _selected(body: dict[str, Any], attributes: str | None, excluded: str | None) -> dict[str, Any]:
    """Only the attributes asked for (RFC 7644 section 3.4.2.5); `id` and `schemas` always."""
    if attributes:
        wanted = {a.strip().split(".")[0].split(":")[-1].lower() for a in attributes.split(",")}
        wanted |= {"id", "schemas"}
        return {k: v for k, v in body.items() if k.lower() in wanted}
    if excluded:
        unwanted = {a.strip().split(".")[0].split(":")[-1].lower() for a in excluded.split(",")}
        unwanted -= {"id", "schemas"}
        return {k: v for k, v in body.items() if k.lower() not in unwanted}
    return body


@router.get(f"{PREFIX}/{{resource}}")
async def list_resources(
    resource: str, request: Request, ctx: ContextDep, who: CallerDep
) -> Response:
    """A page of principals of one type, by id, filtered (`filter`, RFC 7644 section 3.4.2)."""
    return await _query(request, ctx, who, _kind(resource), request.query_params)


@router.post(f"{PREFIX}/.search")
async def search_everything(request: Request, ctx: ContextDep, who: CallerDep) -> Response:
    """A query across every resource type, in a body (RFC 7644 section 3.4.3)."""
    return await _search(request, ctx, who, None)


@router.post(f"{PREFIX}/{{resource}}/.search")
async def search_resources(
    resource: str, request: Request, ctx: ContextDep, who: CallerDep
) -> Response:
    """The same query as GET, in a body (RFC 7644 section 3.4.3)."""
    return await _search(request, ctx, who, _kind(resource))


async def _search(request: Request, ctx: ServiceContext, who: Caller, kind: str | None) -> Response:
    body = await _body(request)
    # A body lists attributes as JSON arrays; a query string as comma-separated text.
    joined = {k: ",".join(v) if isinstance(v, list) else v for k, v in body.items()}
    return await _query(request, ctx, who, kind, joined)


async def _query(
    request: Request, ctx: ServiceContext, who: Caller, kind: str | None, asked: Mapping[str, Any]
) -> Response:
    """A page of principals for a GET's query or a `.search` body (the same parameters)."""
    found = await call(
        pr.list_provisioned,
        ctx,
        who,
        kind,
        filter_text=asked.get("filter"),
        start_index=_number(asked.get("startIndex"), "startIndex", 1),
        count=_number(asked.get("count"), "count", 100),
    )
    base = _base(request)
    shown = [
        _selected(_resource(base, f), asked.get("attributes"), asked.get("excludedAttributes"))
        for f in found.items
    ]
    return _scim(_listing(shown, found.start_index, found.total))


@router.get(f"{PREFIX}/{{resource}}/{{principal_id}}")
async def get_resource(
    resource: str, principal_id: str, request: Request, ctx: ContextDep, who: CallerDep
) -> Response:
    found = await call(pr.get_provisioned, ctx, who, _kind(resource), principal_id)
    q = request.query_params
    return _scim(
        _selected(
            _resource(_base(request), found), q.get("attributes"), q.get("excludedAttributes")
        )
    )


@router.post(f"{PREFIX}/{{resource}}")
async def create_resource(
    resource: str, request: Request, ctx: ContextDep, who: CallerDep
) -> Response:
    kind = _kind(resource)
    body = await _body(request)
    changes = _changes(body, replace_members=True)
    found = await call(pr.create_provisioned, ctx, who, kind, _name(kind, body), changes)
    made = _resource(_base(request), found)
    return JSONResponse(
        made, status_code=201, media_type=MEDIA, headers={"Location": made["meta"]["location"]}
    )


@router.put(f"{PREFIX}/{{resource}}/{{principal_id}}")
async def replace_resource(
    resource: str, principal_id: str, request: Request, ctx: ContextDep, who: CallerDep
) -> Response:
    kind = _kind(resource)
    body = await _body(request)
    changes = _changes(body, replace_members=True)
    if kind == pr.GROUP and changes.replace_members is None:
        changes = replace(changes, replace_members=[])  # a PUT without members leaves none
    found = await call(
        pr.update_provisioned, ctx, who, kind, principal_id, changes, name=_name(kind, body)
    )
    return _scim(_resource(_base(request), found))


@router.patch(f"{PREFIX}/{{resource}}/{{principal_id}}")
async def patch_resource(
    resource: str, principal_id: str, request: Request, ctx: ContextDep, who: CallerDep
) -> Response:
    kind = _kind(resource)
    changes = _patch(await _body(request))
    found = await call(pr.update_provisioned, ctx, who, kind, principal_id, changes)
    return _scim(_resource(_base(request), found))


@router.delete(f"{PREFIX}/{{resource}}/{{principal_id}}")
async def delete_resource(
    resource: str, principal_id: str, ctx: ContextDep, who: CallerDep
) -> Response:
    await call(pr.delete_provisioned, ctx, who, _kind(resource), principal_id)
    return Response(status_code=204)
