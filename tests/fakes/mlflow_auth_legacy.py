"""The REST API of MLflow's basic-auth app up to MLflow 3.12, for tests.

MLflow 3.13 replaced per-user permission rows with roles, and the installed MLflow (3.17) no
longer serves the old endpoints, so the old API is reproduced here from its documentation
(https://mlflow.org/docs/3.3.2/api_reference/auth/rest-api.html) and the 3.x sources of
`mlflow/server/auth/routes.py` and `entities.py`:

- GET /api/2.0/mlflow/users/get?username=          -> {"user": User}
- GET /api/2.0/mlflow/users/list                   -> {"users": [User]} (later 3.x releases)
- GET /api/2.0/mlflow/registered-models/permissions/get?name=&username=
                                                    -> {"registered_model_permission": {...}}
- GET /version                                      -> the server's MLflow version, as text

User is {"id", "username", "is_admin", "experiment_permissions": [...],
"registered_model_permissions": [{"name", "user_id", "permission"}]}. Missing parameters answer
400 INVALID_PARAMETER_VALUE, unknown users 404 RESOURCE_DOES_NOT_EXIST, requests without valid
basic-auth credentials 401 and non-admins 403. Everything else (the roles API included) is 404.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from fakes import serve_in_thread


@dataclass
class LegacyAuthState:
    """Users (name -> (password, is_admin)) and grants (user, model) -> permission."""

    users: dict[str, tuple[str, bool]]
    grants: dict[tuple[str, str], str] = field(default_factory=dict)
    version: str = "3.12.0"
    #: Whether the server offers /users/list (added in later 3.x releases of the old API).
    can_list_users: bool = True


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error_code": code, "message": message}, status_code=status)


def build_app(state: LegacyAuthState) -> FastAPI:
    app = FastAPI()
    ids = {name: i + 1 for i, name in enumerate(state.users)}

    def caller(request: Request) -> tuple[str, bool] | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return None
        name, _, password = base64.b64decode(header[6:]).decode().partition(":")
        known = state.users.get(name)
        return (name, known[1]) if known and known[0] == password else None

    @app.middleware("http")
    async def authenticate(request: Request, call_next):  # type: ignore[no-untyped-def]
        who = caller(request)
        if who is None:
            return PlainTextResponse(
                "You are not authenticated.",
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="mlflow"'},
            )
        if request.url.path.startswith("/api/") and not who[1]:
            return _error(403, "PERMISSION_DENIED", f"Permission denied for {request.url.path}")
        return await call_next(request)

    def user_json(name: str) -> dict:
        return {
            "id": ids[name],
            "username": name,
            "is_admin": state.users[name][1],
            "experiment_permissions": [],
            "registered_model_permissions": [
                {"name": model, "user_id": ids[name], "permission": permission}
                for (user, model), permission in sorted(state.grants.items())
                if user == name
            ],
        }

    @app.get("/version")
    def version() -> PlainTextResponse:
        return PlainTextResponse(state.version)

    @app.get("/api/2.0/mlflow/users/get")
    def get_user(username: str | None = None) -> object:
        if not username:
            return _error(
                400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'username'."
            )
        if username not in state.users:
            return _error(
                404, "RESOURCE_DOES_NOT_EXIST", f"User with username={username} not found"
            )
        return {"user": user_json(username)}

    @app.get("/api/2.0/mlflow/users/list")
    def list_users() -> object:
        if not state.can_list_users:
            return _error(404, "ENDPOINT_NOT_FOUND", "Not Found")
        return {"users": [user_json(name) for name in state.users]}

    @app.get("/api/2.0/mlflow/registered-models/permissions/get")
    def get_permission(name: str | None = None, username: str | None = None) -> object:
        if not name or not username:
            missing = "name" if not name else "username"
            return _error(
                400, "INVALID_PARAMETER_VALUE", f"Missing value for required parameter '{missing}'."
            )
        permission = state.grants.get((username, name))
        if permission is None:
            return _error(
                404,
                "RESOURCE_DOES_NOT_EXIST",
                f"Registered model permission with name={name} and username={username} not found",
            )
        return {
            "registered_model_permission": {
                "name": name,
                "user_id": ids[username],
                "permission": permission,
            }
        }

    return app


@contextmanager
def run_legacy_auth(state: LegacyAuthState, port: int) -> Iterator[str]:
    """Serve the old auth API on 127.0.0.1:`port`; yields its base URL."""
    with serve_in_thread(build_app(state), port) as url:
        yield url
