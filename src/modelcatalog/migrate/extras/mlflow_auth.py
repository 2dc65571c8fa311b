"""Per-model permissions from MLflow's basic-auth app (`mlflow server --app-name basic-auth`).

The app changed its API. Up to MLflow 3.12 permissions were rows of (user, model, level):
`GET /api/2.0/mlflow/users/get` returns a user with its `registered_model_permissions`, and
`/api/2.0/mlflow/registered-models/permissions/{create,get,update,delete}` manage them. From
3.13 permissions live on roles: `GET /api/3.0/mlflow/roles/list` returns every role with its
`permissions` (resource_type, resource_pattern, permission); a user's direct grants sit on a
hidden role named `__user_<id>__`, and the old per-model endpoints are gone.

Which API a server speaks is found by asking: the roles listing answers only on 3.13+, and the
old permission endpoint answers (with a missing-parameter error) only before. Requests go
through MLflow's own REST helper, with the credentials MLflow's clients use
(MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN); the reader needs
an admin of the auth app.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request

from modelcatalog.migrate.extras.levels import DENY, NO_ACCESS, granted_level
from modelcatalog.migrate.extras.model import (
    Capability,
    ExtrasError,
    ModelPermission,
    PrincipalKind,
    SourceExtras,
    Unavailable,
    UnmappedPermission,
)

ROLES_API = "roles"
LEGACY_API = "per-user"
API_NAMES = {
    ROLES_API: "MLflow auth app, roles API (MLflow 3.13+)",
    LEGACY_API: "MLflow auth app, per-user permissions API (MLflow 3.12 and earlier)",
}

LIST_ROLES = "/api/3.0/mlflow/roles/list"
LIST_USERS = "/api/2.0/mlflow/users/list"
GET_USER = "/api/2.0/mlflow/users/get"
LEGACY_GET_MODEL_PERMISSION = "/api/2.0/mlflow/registered-models/permissions/get"
SERVER_VERSION = "/version"

_SYNTHETIC_ROLE = re.compile(r"^__user_(\d+)__$")
_REGISTERED_MODEL = "registered_model"
_WORKSPACE = "workspace"


class _AuthApp:
    """Thin access to one tracking server's auth endpoints."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        self.creds = get_default_host_creds(self.tracking_uri)

    def call(self, endpoint: str, params: dict[str, str] | None = None) -> Any:
        response = self.raw(endpoint, params)
        if response.status_code != 200:
            raise ExtrasError(self._failure(endpoint, response))
        try:
            return response.json()
        except ValueError as exc:
            raise ExtrasError(
                f"{self.tracking_uri}{endpoint} answered 200 with a body that is not JSON"
            ) from exc

    def raw(self, endpoint: str, params: dict[str, str] | None = None) -> Any:
        try:
            return http_request(
                self.creds, endpoint, "GET", params=params, max_retries=1, timeout=30
            )
        except Exception as exc:  # MlflowException wraps every transport failure
            raise ExtrasError(
                f"cannot reach {self.tracking_uri}{endpoint}: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}"
            ) from exc

    def _failure(self, endpoint: str, response: Any) -> str:
        where = f"{self.tracking_uri}{endpoint}"
        if response.status_code == 401:
            return (
                f"{where} refused the credentials (401): set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD to an admin of the MLflow auth app"
            )
        if response.status_code == 403:
            return (
                f"{where} answered 403: the user in MLFLOW_TRACKING_USERNAME is not an admin "
                "of the MLflow auth app, and only admins may list every user's permissions"
            )
        detail = ""
        try:
            detail = str(response.json().get("message", ""))[:300]
        except ValueError:
            detail = response.text[:200]
        return f"{where} answered {response.status_code}" + (f": {detail}" if detail else "")


def detect_api(tracking_uri: str) -> str | None:
    """Which auth API the server speaks: `roles`, `per-user`, or None if it runs no auth app."""
    app = _AuthApp(tracking_uri)
    return _detect(app)


def _detect(app: _AuthApp) -> str | None:
    roles = app.raw(LIST_ROLES)
    if roles.status_code == 200:
        return ROLES_API
    if roles.status_code in (401, 403):
        raise ExtrasError(app._failure(LIST_ROLES, roles))
    legacy = app.raw(LEGACY_GET_MODEL_PERMISSION)
    # Without parameters the old endpoint answers 400 (missing 'name'); a server without the
    # auth app answers 404 to both.
    if legacy.status_code in (200, 400):
        return LEGACY_API
    if legacy.status_code in (401, 403):
        raise ExtrasError(app._failure(LEGACY_GET_MODEL_PERMISSION, legacy))
    return None


def read_permissions(
    tracking_uri: str,
    model_names: Iterable[str],
    usernames: Sequence[str] | None = None,
) -> SourceExtras:
    """Every principal's level on each of `model_names`, from the server's auth app.

    `usernames` is needed only for servers of MLflow 3.12 and earlier that cannot list users.
    A server without the auth app yields extras that say permissions are unavailable."""
    app = _AuthApp(tracking_uri)
    names = list(model_names)
    api = _detect(app)
    if api is None:
        extras = SourceExtras(source_kind="mlflow")
        extras.unavailable.append(
            Unavailable(
                Capability.PERMISSIONS,
                f"{app.tracking_uri} runs no MLflow auth app (neither {LIST_ROLES} nor "
                f"{LEGACY_GET_MODEL_PERMISSION} exists), so every user could use every model",
            )
        )
        return extras
    extras = SourceExtras(source_kind="mlflow basic-auth", api=_describe(app, api))
    if api == ROLES_API:
        _read_roles(app, names, extras)
    else:
        _read_legacy(app, names, usernames, extras)
    for name in names:
        extras.permissions.setdefault(name, [])
    return extras


def _describe(app: _AuthApp, api: str) -> str:
    response = app.raw(SERVER_VERSION)
    version = response.text.strip() if response.status_code == 200 else ""
    suffix = f"; server reports MLflow {version}" if version and len(version) < 40 else ""
    return API_NAMES[api] + suffix


def _add(
    extras: SourceExtras,
    model: str,
    principal: str,
    kind: PrincipalKind,
    raw_level: str,
    inherited: bool,
) -> None:
    level = granted_level(raw_level)
    if level is not None:
        grant = ModelPermission(principal, kind, level, raw_level, inherited)
        existing = extras.permissions.setdefault(model, [])
        if grant not in existing:
            existing.append(grant)
        return
    if raw_level.upper() in NO_ACCESS:
        return
    reason = (
        "an explicit deny overrides other grants in MLflow; the catalog has no deny, so the "
        "principal simply gets no grant on this model"
        if raw_level.upper() == DENY
        else f"level {raw_level!r} is not one the catalog can map"
    )
    extras.unmapped_permissions.setdefault(model, []).append(
        UnmappedPermission(principal, kind, raw_level, reason)
    )


def _read_roles(app: _AuthApp, names: list[str], extras: SourceExtras) -> None:
    users = {str(u["id"]): u["username"] for u in app.call(LIST_USERS).get("users", [])}
    for role in app.call(LIST_ROLES).get("roles", []):
        synthetic = _SYNTHETIC_ROLE.fullmatch(role.get("name") or "")
        if synthetic:
            principal = users.get(synthetic.group(1), f"user id {synthetic.group(1)}")
            kind = PrincipalKind.USER
        else:
            # A role several users share is what a group is to the catalog.
            principal, kind = role["name"], PrincipalKind.GROUP
        for grant in role.get("permissions", []):
            resource_type = grant.get("resource_type")
            pattern = grant.get("resource_pattern")
            level = grant.get("permission", "")
            if resource_type == _REGISTERED_MODEL and pattern in names:
                _add(extras, pattern, principal, kind, level, inherited=False)
            elif resource_type in (_REGISTERED_MODEL, _WORKSPACE) and pattern == "*":
                for name in names:
                    _add(extras, name, principal, kind, level, inherited=True)


def _read_legacy(
    app: _AuthApp, names: list[str], usernames: Sequence[str] | None, extras: SourceExtras
) -> None:
    if usernames is None:
        listing = app.raw(LIST_USERS)
        if listing.status_code == 404:
            extras.unavailable.append(
                Unavailable(
                    Capability.PERMISSIONS,
                    f"{app.tracking_uri} has no {LIST_USERS} endpoint (older MLflow auth app), "
                    "so its users cannot be listed; name them with --source-auth-users",
                )
            )
            return
        if listing.status_code != 200:
            raise ExtrasError(app._failure(LIST_USERS, listing))
        usernames = [u["username"] for u in listing.json().get("users", [])]
    wanted = set(names)
    for username in usernames:
        user = app.call(GET_USER, {"username": username}).get("user", {})
        for grant in user.get("registered_model_permissions", []):
            if grant.get("name") in wanted:
                _add(
                    extras,
                    grant["name"],
                    username,
                    PrincipalKind.USER,
                    grant.get("permission", ""),
                    inherited=False,
                )
