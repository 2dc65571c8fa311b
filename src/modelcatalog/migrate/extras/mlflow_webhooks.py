"""MLflow's own webhooks (MLflow 3.x `MlflowClient.list_webhooks`) as source webhooks.

MLflow webhooks are registry-wide: each watches events of every model and prompt. Only the
model events matter to the migration; prompt-only webhooks are left out.
"""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from modelcatalog.migrate.extras.model import (
    Capability,
    ExtrasError,
    SourceExtras,
    SourceWebhook,
    Unavailable,
    display_url,
)

#: Entities of MLflow webhook events that concern registered models (not prompts or budgets).
MODEL_ENTITIES = frozenset(
    {"registered_model", "model_version", "model_version_tag", "model_version_alias"}
)
_PAGE = 100


def read_webhooks(registry_uri: str, tracking_uri: str | None = None) -> SourceExtras:
    """Every webhook of the registry that fires on a model event; secrets are not kept."""
    client = MlflowClient(tracking_uri=tracking_uri or registry_uri, registry_uri=registry_uri)
    extras = SourceExtras(source_kind="mlflow")
    token: str | None = None
    try:
        while True:
            page = client.list_webhooks(max_results=_PAGE, page_token=token)
            for hook in page:
                events = tuple(str(e) for e in hook.events)
                model_events = tuple(e for e in events if e.split(".")[0] in MODEL_ENTITIES)
                if not model_events:
                    continue
                extras.webhooks.append(
                    SourceWebhook(
                        id=hook.webhook_id,
                        name=hook.name,
                        description=hook.description,
                        events=model_events,
                        model_name=None,
                        target_kind="http",
                        target=display_url(hook.url),
                        status=str(hook.status),
                        has_secret=True if hook.secret else None,
                        origin="mlflow",
                    )
                )
            token = page.token
            if not token:
                break
    except MlflowException as exc:
        if _undecryptable(exc):
            extras.unavailable.append(
                Unavailable(
                    Capability.WEBHOOKS,
                    f"MLflow cannot decrypt the webhook secrets stored in {registry_uri}; set "
                    "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY to the key the registry's MLflow server "
                    "uses (the secrets themselves are never kept), or assess through the server",
                )
            )
            return extras
        if _unsupported(exc):
            extras.unavailable.append(
                Unavailable(
                    Capability.WEBHOOKS,
                    f"the registry at {registry_uri} does not support webhooks "
                    f"({exc.error_code}); MLflow added them in 3.3",
                )
            )
            return extras
        detail = exc.message or repr(exc.__cause__)
        raise ExtrasError(f"listing webhooks of {registry_uri} failed: {detail}") from exc
    except NotImplementedError:
        extras.unavailable.append(
            Unavailable(
                Capability.WEBHOOKS,
                f"the registry store for {registry_uri} does not implement webhooks",
            )
        )
    return extras


def _undecryptable(exc: BaseException) -> bool:
    """True when a SQL registry's webhook secrets were encrypted with another key."""
    cause = exc.__cause__
    while cause is not None:
        if type(cause).__name__ == "InvalidToken":
            return True
        cause = cause.__cause__
    return False


def _unsupported(exc: MlflowException) -> bool:
    return exc.error_code in ("ENDPOINT_NOT_FOUND", "NOT_IMPLEMENTED", "FEATURE_DISABLED") or (
        "404" in str(exc.message) and "webhooks" in str(exc.message)
    )
