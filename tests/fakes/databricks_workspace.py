"""A local stand-in for a Databricks workspace's model registry, for tests.

The workspace registry speaks MLflow's REST API for models and versions, so those requests are
forwarded unchanged to a real `mlflow server` (started by the caller). What only Databricks has
is served here, reproducing the request and response shapes of the documented endpoints
(https://docs.databricks.com/api/workspace/modelregistry and /api/workspace/permissions):

- GET  /api/2.0/mlflow/databricks/registered-models/get   (modelregistry/getmodel)
- GET  /api/2.0/permissions/registered-models/{id}         (permissions/get, registered-models)
- PUT  /api/2.0/permissions/registered-models/{id}         (permissions/set)
- PATCH /api/2.0/permissions/registered-models/{id}        (permissions/update)
- GET  /api/2.0/mlflow/transition-requests/list            (modelregistry/listtransitionrequests)
- POST /api/2.0/mlflow/transition-requests/create          (modelregistry/createtransitionrequest)
- POST /api/2.0/mlflow/comments/create                     (modelregistry/createcomment)
- GET  /api/2.0/mlflow/registry-webhooks/list              (modelregistry/listwebhooks)
- POST /api/2.0/mlflow/registry-webhooks/create            (modelregistry/createwebhook)

Every request needs `Authorization: Bearer <token>` for a token the fake was given; a token
maps to the user name the workspace records as the actor (`user_id`).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from fakes import serve_in_thread

ADMINS_GROUP = "admins"


@dataclass
class WorkspaceState:
    """What the fake remembers besides the forwarded registry."""

    tokens: dict[str, str]
    acls: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    requests: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    #: Every request path the fake answered itself, to prove which endpoints a client used.
    served: list[str] = field(default_factory=list)


def _model_id(name: str) -> str:
    # Workspace model ids are opaque hex strings; a hash keeps them stable per name.
    return hashlib.sha1(name.encode()).hexdigest()[:32]


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error_code": code, "message": message}, status_code=status)


def _now() -> int:
    return int(time.time() * 1000)


def build_app(upstream: str, state: WorkspaceState) -> FastAPI:
    """The fake workspace: its own extras, the rest forwarded to the MLflow server `upstream`."""
    app = FastAPI()
    client = httpx.Client(base_url=upstream, timeout=60)
    names_by_id: dict[str, str] = {}

    def user_of(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        return state.tokens.get(header.removeprefix("Bearer ").strip())

    @app.middleware("http")
    async def authenticate(request: Request, call_next):  # type: ignore[no-untyped-def]
        if request.url.path == "/health":
            return await call_next(request)
        if user_of(request) is None:
            return _error(401, "UNAUTHENTICATED", "Invalid access token.")
        return await call_next(request)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    def registered_model(name: str) -> dict[str, Any] | None:
        found = client.get("/api/2.0/mlflow/registered-models/get", params={"name": name})
        return found.json()["registered_model"] if found.status_code == 200 else None

    @app.get("/api/2.0/mlflow/databricks/registered-models/get")
    def get_model(name: str, request: Request) -> Any:
        state.served.append(request.url.path)
        model = registered_model(name)
        if model is None:
            return _error(404, "RESOURCE_DOES_NOT_EXIST", f"Registered Model '{name}' not found")
        model_id = _model_id(name)
        names_by_id[model_id] = name
        return {
            "registered_model_databricks": {
                "name": model["name"],
                "id": model_id,
                "creation_timestamp": model.get("creation_timestamp"),
                "last_updated_timestamp": model.get("last_updated_timestamp"),
                "description": model.get("description", ""),
                "latest_versions": model.get("latest_versions", []),
                "tags": model.get("tags", []),
                "user_id": user_of(request),
                "permission_level": "CAN_MANAGE",
            }
        }

    def permissions_of(model_id: str) -> dict[str, Any]:
        acl = []
        for (kind, principal), level in sorted(state.acls.get(model_id, {}).items()):
            acl.append(
                {
                    f"{kind}_name": principal,
                    "all_permissions": [{"permission_level": level, "inherited": False}],
                }
            )
        # Workspace admins always hold CAN_MANAGE, inherited from the registry root.
        acl.append(
            {
                "group_name": ADMINS_GROUP,
                "all_permissions": [
                    {
                        "permission_level": "CAN_MANAGE",
                        "inherited": True,
                        "inherited_from_object": ["/registered-models/"],
                    }
                ],
            }
        )
        return {
            "object_id": f"/registered-models/{model_id}",
            "object_type": "registered-model",
            "access_control_list": acl,
        }

    @app.get("/api/2.0/permissions/registered-models/{model_id}")
    def get_permissions(model_id: str, request: Request) -> Any:
        state.served.append("/api/2.0/permissions/registered-models/{id}")
        if model_id not in names_by_id:
            return _error(404, "RESOURCE_DOES_NOT_EXIST", f"Registered model {model_id} not found")
        return permissions_of(model_id)

    @app.api_route("/api/2.0/permissions/registered-models/{model_id}", methods=["PUT", "PATCH"])
    async def set_permissions(model_id: str, request: Request) -> Any:
        if model_id not in names_by_id:
            return _error(404, "RESOURCE_DOES_NOT_EXIST", f"Registered model {model_id} not found")
        body = await request.json()
        acl = {} if request.method == "PUT" else dict(state.acls.get(model_id, {}))
        for entry in body.get("access_control_list", []):
            for kind in ("user", "group", "service_principal"):
                if entry.get(f"{kind}_name"):
                    acl[(kind, entry[f"{kind}_name"])] = entry["permission_level"]
        state.acls[model_id] = acl
        return permissions_of(model_id)

    @app.get("/api/2.0/mlflow/transition-requests/list")
    def list_requests(name: str, version: str, request: Request) -> Any:
        state.served.append(request.url.path)
        return {"requests": state.requests.get((name, version), [])}

    @app.post("/api/2.0/mlflow/transition-requests/create")
    async def create_request(request: Request) -> Any:
        body = await request.json()
        found = client.get(
            "/api/2.0/mlflow/model-versions/get",
            params={"name": body["name"], "version": body["version"]},
        )
        if found.status_code != 200:
            return JSONResponse(found.json(), status_code=found.status_code)
        activity = {
            "id": uuid.uuid4().hex,
            "activity_type": "REQUESTED_TRANSITION",
            "from_stage": found.json()["model_version"].get("current_stage", "None"),
            "to_stage": body["stage"],
            "user_id": user_of(request),
            "creation_timestamp": _now(),
            "last_updated_timestamp": _now(),
            "comment": body.get("comment", ""),
            "available_actions": ["APPROVE_TRANSITION_REQUEST", "REJECT_TRANSITION_REQUEST"],
        }
        state.requests.setdefault((body["name"], str(body["version"])), []).append(activity)
        return {"request": activity}

    @app.post("/api/2.0/mlflow/comments/create")
    async def create_comment(request: Request) -> Any:
        body = await request.json()
        comment = {
            "id": uuid.uuid4().hex,
            "user_id": user_of(request),
            "comment": body["comment"],
            "creation_timestamp": _now(),
            "last_updated_timestamp": _now(),
            "available_actions": ["EDIT_COMMENT", "DELETE_COMMENT"],
        }
        state.comments.setdefault((body["name"], str(body["version"])), []).append(comment)
        return {"comment": comment}

    @app.get("/api/2.0/mlflow/registry-webhooks/list")
    def list_webhooks(request: Request, model_name: str | None = None) -> Any:
        state.served.append(request.url.path)
        hooks = [h for h in state.webhooks if model_name in (None, h.get("model_name"))]
        return {"webhooks": hooks}

    @app.post("/api/2.0/mlflow/registry-webhooks/create")
    async def create_webhook(request: Request) -> Any:
        body = await request.json()
        hook: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "events": body["events"],
            "status": body.get("status", "ACTIVE"),
            "creation_timestamp": _now(),
            "last_updated_timestamp": _now(),
        }
        for key in ("model_name", "description"):
            if body.get(key):
                hook[key] = body[key]
        if "http_url_spec" in body:
            spec = body["http_url_spec"]
            # Listed "without secret": secret and authorization are never returned.
            hook["http_url_spec"] = {
                "url": spec["url"],
                "enable_ssl_verification": spec.get("enable_ssl_verification", True),
            }
        if "job_spec" in body:
            spec = body["job_spec"]
            hook["job_spec"] = {
                "job_id": spec["job_id"],
                "workspace_url": spec.get("workspace_url"),
            }
        state.webhooks.append(hook)
        return {"webhook": hook}

    @app.api_route("/{path:path}", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
    async def forward(path: str, request: Request) -> Response:
        upstream_response = client.request(
            request.method,
            "/" + path,
            params=list(request.query_params.multi_items()),
            content=await request.body(),
            headers={"content-type": request.headers.get("content-type", "application/json")},
        )
        return Response(
            upstream_response.content,
            status_code=upstream_response.status_code,
            media_type=upstream_response.headers.get("content-type"),
        )

    return app


@contextmanager
def run_workspace(upstream: str, tokens: dict[str, str], port: int) -> Iterator[WorkspaceState]:
    """Serve the fake workspace on 127.0.0.1:`port` until the block ends."""
    state = WorkspaceState(tokens=tokens)
    with serve_in_thread(build_app(upstream, state), port):
        yield state
