"""Choose the extras readers a source registry URI calls for, and run them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from modelcatalog.migrate.extras.model import Capability, SourceExtras, Unavailable

_NO_ACTIVITY = "MLflow's open-source registry has no comments, transition requests or stage history"


def is_databricks(uri: str) -> bool:
    """True for the Databricks workspace registry (`databricks`, `databricks://<profile>`)."""
    return uri == "databricks" or uri.startswith("databricks://")


def read_extras(
    registry_uri: str,
    tracking_uri: str | None,
    versions_by_model: Iterable[tuple[str, Sequence[str]]],
    auth_users: Sequence[str] | None = None,
) -> SourceExtras:
    """Everything besides models and versions that the source at `registry_uri` can tell.

    Databricks: permissions, open transition requests, registry webhooks (databricks-sdk).
    An MLflow server (http/https): its auth app's permissions and MLflow webhooks.
    An MLflow database: MLflow webhooks (permissions live with the server's auth app).

    `versions_by_model` is iterated only where a reader needs it (it may be read lazily)."""
    if is_databricks(registry_uri):
        # Deferred, as the readers below: each loads its source's SDK (databricks-sdk, MLflow).
        from modelcatalog.migrate.extras import databricks

        return databricks.read_extras(registry_uri, versions_by_model)

    from modelcatalog.migrate.extras import mlflow_webhooks

    extras = SourceExtras(source_kind="mlflow")
    for capability in (Capability.COMMENTS, Capability.TRANSITION_REQUESTS):
        extras.unavailable.append(Unavailable(capability, _NO_ACTIVITY))
    scheme = urlsplit(registry_uri).scheme.lower()
    if scheme in ("http", "https"):
        from modelcatalog.migrate.extras import mlflow_auth

        models = [name for name, _ in versions_by_model]
        extras.merge(mlflow_auth.read_permissions(registry_uri, models, auth_users))
    else:
        extras.unavailable.append(
            Unavailable(
                Capability.PERMISSIONS,
                "the source is a registry database, not a server; per-model permissions live "
                "in the MLflow auth app of the server in front of it (give that server's "
                "http(s) URL as --source to read them)",
            )
        )
    extras.merge(mlflow_webhooks.read_webhooks(registry_uri, tracking_uri))
    return extras
