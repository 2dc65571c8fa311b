"""Opening the target a plan names: the one place where the target URL chooses the implementation.

`http(s)://…` is a catalog server (its token from $MODELCATALOG_TOKEN or the login file);
`databricks-uc` and `databricks-uc://PROFILE` are a Unity Catalog reached through MLflow.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from modelcatalog.client import CatalogClient, credentials
from modelcatalog.client.credentials import CredentialsFileError
from modelcatalog.migrate.plan_model import UC_TARGET, Plan
from modelcatalog.migrate.targets.catalog import CatalogTarget
from modelcatalog.migrate.targets.protocol import Target, TargetError

CLIENT_TIMEOUT = 120.0
"""Seconds a request to a catalog target may take."""


@contextmanager
def open_target(url: str, plan: Plan, *, workers: int = 4) -> Iterator[Target]:
    """The target at `url`, closed on exit; `TargetError` (before any write) when it cannot be
    used as configured. `workers` sizes the connection pool for that many concurrent versions."""
    with ExitStack() as stack:
        target: Target
        if url.startswith(UC_TARGET):
            target = _unity_catalog(url, plan)
        else:
            target = _catalog(stack, url, workers)
        stack.callback(target.close)
        yield target


def _unity_catalog(url: str, plan: Plan) -> Target:
    # Deferred: MLflow's Unity Catalog store and databricks-sdk load only for this target.
    from modelcatalog.migrate.targets.unity_catalog import DatabricksUcTarget

    return DatabricksUcTarget(url, plan)


def _catalog(stack: ExitStack, url: str, workers: int) -> Target:
    try:
        token = credentials.resolve_token(credentials.normalize_url(url))
    except (CredentialsFileError, ValueError) as exc:
        raise TargetError(str(exc)) from exc
    client = stack.enter_context(CatalogClient(url, token, timeout=CLIENT_TIMEOUT))
    return CatalogTarget(client, workers=workers)
