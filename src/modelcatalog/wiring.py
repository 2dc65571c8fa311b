"""One place that builds the service context, for every process of the catalog: the server's
processes and `modelcatalog worker` (Celery) processes."""

from __future__ import annotations

from modelcatalog.config import ServerSettings
from modelcatalog.service import principals
from modelcatalog.service.audit import AuditLog
from modelcatalog.service.context import NoEngine, ServiceContext, Waker
from modelcatalog.service.identity_provider import IdentityProvider
from modelcatalog.service.secrets import SecretBox, load_key
from modelcatalog.storage import open_store
from modelcatalog.store.database import Database


def build_context(settings: ServerSettings, *, waker: Waker | None = None) -> ServiceContext:
    """Open the database and the artifact store that the server's start made ready.

    `waker` is the job engine this process runs, if any. The secret key is read when a secret
    is first sealed or opened, so a process that handles none never needs it."""
    db = Database(settings.database_uri)
    return ServiceContext(
        db=db,
        store=open_store(settings.storage_root),
        signing_secret=principals.signing_secret(db),
        audit=AuditLog(db),
        url_lifetime_seconds=settings.url_lifetime_seconds,
        jobs=settings.jobs,
        sessions=settings.sessions,
        secrets=SecretBox(lambda: load_key(settings.secret_key_file)),
        waker=waker or NoEngine(),
        tracking_ui_url=settings.tracking_ui_url,
        sso=IdentityProvider(settings.sso) if settings.sso is not None else None,
        personal_tokens_for_users=settings.personal_tokens_for_users,
    )
