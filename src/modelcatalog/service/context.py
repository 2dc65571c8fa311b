"""What every service call shares: the database, the artifact store, the caches, the audit log
and the job engine to wake."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from modelcatalog.service.access import RightsCache
from modelcatalog.service.deployments.settings import JobSettings
from modelcatalog.service.session_lifetimes import SessionLifetimes
from modelcatalog.service.token_cache import TokenCache
from modelcatalog.storage.base import ArtifactStore
from modelcatalog.store.database import Database

if TYPE_CHECKING:
    from modelcatalog.service.audit import AuditLog
    from modelcatalog.service.identity_provider import IdentityProvider
    from modelcatalog.service.secrets import SecretBox


class Waker(Protocol):
    """Whatever moves jobs forward in this process (the job engine), told that there is work."""

    def wake(self) -> None: ...


class NoEngine:
    """The waker of a process that runs no job engine (a Celery worker, a server started without
    one): other replicas' engines find the work when they next look."""

    def wake(self) -> None:
        return None


@dataclass
class ServiceContext:
    """Shared, long-lived collaborators of the service layer."""

    db: Database
    store: ArtifactStore
    signing_secret: bytes
    # Writes queued audit records.
    audit: AuditLog
    # How long a presigned URL or temporary credential stays valid.
    url_lifetime_seconds: int = 900
    tokens: TokenCache = field(default_factory=TokenCache)
    rights: RightsCache = field(default_factory=RightsCache)
    jobs: JobSettings = field(default_factory=JobSettings)
    # How long a web UI session lives unused and at most.
    sessions: SessionLifetimes = field(default_factory=SessionLifetimes)
    # Encrypts webhook secrets and the SMTP password at rest.
    secrets: SecretBox | None = None
    # Woken after commits that made work for the job engine.
    waker: Waker = field(default_factory=NoEngine)
    # The MLflow tracking UI, for links to the runs versions came from.
    tracking_ui_url: str | None = None
    # The organisation's OpenID Connect provider (none: single sign-on is off).
    sso: IdentityProvider | None = None
    # False: people's personal access tokens are refused (service principals keep theirs).
    personal_tokens_for_users: bool = True

    def wake_engine(self) -> None:
        """Tell the job engine there is work (a queued task, an event, a due delivery)."""
        self.waker.wake()
