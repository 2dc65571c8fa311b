"""Extras of the Databricks workspace model registry (`databricks` registry URI), through
`databricks-sdk`.

Read: each model's access-control list (`GET /api/2.0/permissions/registered-models/{id}`, the
id from `GET /api/2.0/mlflow/databricks/registered-models/get`), each version's open transition
requests (`GET /api/2.0/mlflow/transition-requests/list`) and the registry webhooks
(`GET /api/2.0/mlflow/registry-webhooks/list`).

Not readable: the public REST API can create, edit and delete comments but not list them, and
it exposes neither a version's stage history nor e-mail subscriptions; the extras say so, so
the report can tell people to copy what matters by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import TypeVar

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError, NotFound, PermissionDenied
from databricks.sdk.service.ml import Activity, RegisteredModelAccessControlResponse

from modelcatalog.migrate.extras.levels import NO_ACCESS, granted_level
from modelcatalog.migrate.extras.model import (
    Capability,
    ExtrasError,
    ModelPermission,
    PrincipalKind,
    SourceExtras,
    SourceWebhook,
    TransitionRequest,
    Unavailable,
    UnmappedPermission,
    VersionActivity,
    display_url,
    from_millis,
)

T = TypeVar("T")

API_NAME = "Databricks workspace model registry REST API 2.0 (databricks-sdk)"
_NOT_LISTABLE = (
    (
        Capability.COMMENTS,
        "the workspace registry's REST API can create, edit and delete comments but has no "
        "endpoint that lists them",
    ),
    (
        Capability.STAGE_HISTORY,
        "the workspace registry's REST API does not expose a version's stage history (only open "
        "transition requests)",
    ),
    (
        Capability.EMAIL_SUBSCRIPTIONS,
        "the workspace registry's REST API does not expose e-mail subscriptions",
    ),
)


def workspace_client(registry_uri: str) -> WorkspaceClient:
    """A client for the workspace a `databricks` or `databricks://<profile>` URI names."""
    profile = registry_uri.split("://", 1)[1] if "://" in registry_uri else None
    try:
        return WorkspaceClient(profile=profile) if profile else WorkspaceClient()
    except (ValueError, DatabricksError) as exc:
        # The SDK's message names the missing setting; it never contains the token itself.
        raise ExtrasError(f"cannot configure a Databricks client for {registry_uri}: {exc}") from (
            exc
        )


def read_extras(
    registry_uri: str,
    versions_by_model: Iterable[tuple[str, Sequence[str]]],
    client: WorkspaceClient | None = None,
) -> SourceExtras:
    """Permissions, open transition requests and webhooks of the given models and versions."""
    w = client or workspace_client(registry_uri)
    extras = SourceExtras(source_kind="databricks", api=API_NAME)
    extras.unavailable.extend(Unavailable(c, reason) for c, reason in _NOT_LISTABLE)
    permissions_available = True
    for model, versions in versions_by_model:
        if permissions_available:
            permissions_available = _read_permissions(w, model, extras)
        for version in versions:
            requests = _call(
                partial(_transition_requests, w, model, version),
                f"transition requests of {model} version {version}",
            )
            activity = VersionActivity(transition_requests=tuple(_request(a) for a in requests))
            if not activity.is_empty:
                extras.activity[(model, str(version))] = activity
    extras.webhooks.extend(_webhooks(w))
    return extras


def _transition_requests(w: WorkspaceClient, model: str, version: str) -> list[Activity]:
    return list(w.model_registry.list_transition_requests(model, version))


def _call(fetch: Callable[[], T], what: str) -> T:
    try:
        return fetch()
    except DatabricksError as exc:
        raise ExtrasError(f"reading {what} failed: {type(exc).__name__}: {exc}") from exc


def _read_permissions(w: WorkspaceClient, model: str, extras: SourceExtras) -> bool:
    """Read one model's ACL; False (and a note) if the workspace offers no permissions API."""
    details = _call(lambda: w.model_registry.get_model(model), f"model {model}")
    registered = details.registered_model_databricks
    model_id = registered.id if registered else None
    if not model_id:
        raise ExtrasError(f"the workspace returned no id for model {model}")
    try:
        acl = w.model_registry.get_permissions(model_id)
    except (NotFound, PermissionDenied) as exc:
        extras.unavailable.append(
            Unavailable(
                Capability.PERMISSIONS,
                f"GET /api/2.0/permissions/registered-models/{model_id} answered "
                f"{type(exc).__name__}: {exc} (model ACLs need a Premium workspace and the "
                "CAN_MANAGE level or workspace admin)",
            )
        )
        return False
    except DatabricksError as exc:
        raise ExtrasError(f"reading permissions of model {model} failed: {exc}") from exc
    grants = extras.permissions.setdefault(model, [])
    for entry in acl.access_control_list or []:
        principal, kind = _principal(entry)
        for permission in entry.all_permissions or []:
            raw = permission.permission_level.value if permission.permission_level else ""
            level = granted_level(raw)
            if level is None:
                if raw not in NO_ACCESS:
                    extras.unmapped_permissions.setdefault(model, []).append(
                        UnmappedPermission(principal, kind, raw, f"level {raw!r} is not known")
                    )
                continue
            grant = ModelPermission(principal, kind, level, raw, bool(permission.inherited))
            if grant not in grants:
                grants.append(grant)
    return True


def _principal(entry: RegisteredModelAccessControlResponse) -> tuple[str, PrincipalKind]:
    if entry.user_name:
        return entry.user_name, PrincipalKind.USER
    if entry.group_name:
        return entry.group_name, PrincipalKind.GROUP
    if entry.service_principal_name:
        return entry.service_principal_name, PrincipalKind.SERVICE_PRINCIPAL
    return entry.display_name or "<unnamed principal>", PrincipalKind.USER


def _request(activity: Activity) -> TransitionRequest:
    # The list endpoint returns only open requests; their activity type is REQUESTED_TRANSITION.
    return TransitionRequest(
        from_stage=activity.from_stage,
        to_stage=activity.to_stage or "",
        requester=activity.user_id,
        time=from_millis(activity.creation_timestamp),
        status="PENDING",
        comment=activity.comment,
    )


def _webhooks(w: WorkspaceClient) -> list[SourceWebhook]:
    hooks = _call(lambda: list(w.model_registry.list_webhooks()), "registry webhooks")
    found = []
    for hook in hooks:
        if hook.http_url_spec is not None:
            kind, target = "http", display_url(hook.http_url_spec.url or "")
        elif hook.job_spec is not None:
            workspace = display_url(hook.job_spec.workspace_url or "") or "this workspace"
            kind, target = "job", f"job {hook.job_spec.job_id} in {workspace}"
        else:
            kind, target = "http", ""
        found.append(
            SourceWebhook(
                id=hook.id or "",
                events=tuple(e.value for e in hook.events or []),
                model_name=hook.model_name or None,
                target_kind=kind,
                target=target,
                status=hook.status.value if hook.status else "ACTIVE",
                # The API returns specs "without secret": whether one is set cannot be told.
                has_secret=None,
                description=hook.description,
                origin="databricks",
            )
        )
    return found
