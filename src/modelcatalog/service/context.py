"""What every service call needs: the database, the artifact store, the caller and the clock."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from modelcatalog.service.deployments.settings import JobSettings
from modelcatalog.storage.base import ArtifactStore
from modelcatalog.store.database import Database

if TYPE_CHECKING:
    from modelcatalog.service.access import RightsCache
    from modelcatalog.service.audit import AuditLog
    from modelcatalog.service.principals import TokenCache
    from modelcatalog.service.secrets import SecretBox


@dataclass(frozen=True)
class Caller:
    """The authenticated principal a request acts for."""

    name: str
    principal_id: int
    is_admin: bool = False
    # Where the request came from, for the audit log.
    request_id: str | None = None
    client_address: str | None = None
    # A deployment task's token acts only on this registered model (and never as an admin).
    scope_model_id: str | None = None


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
    tokens: TokenCache = field(default_factory=lambda: _token_cache())
    rights: RightsCache = field(default_factory=lambda: _rights_cache())
    jobs: JobSettings = field(default_factory=JobSettings)
    # Encrypts webhook secrets and the SMTP password at rest.
    secrets: SecretBox | None = None
    # Woken after commits that made work for the job engine.
    waker: Waker = field(default_factory=NoEngine)

    def wake_engine(self) -> None:
        """Tell the job engine there is work (a queued task, an event, a due delivery)."""
        self.waker.wake()


def _token_cache() -> TokenCache:
    # Imported here: the principals module imports this one (for Caller).
    from modelcatalog.service.principals import TokenCache

    return TokenCache()


def _rights_cache() -> RightsCache:
    # Imported here: the access module imports this one (for Caller).
    from modelcatalog.service.access import RightsCache

    return RightsCache()


def now_ms() -> int:
    """Milliseconds since the epoch, the unit every wire dialect uses for timestamps."""
    return int(time.time() * 1000)


def new_id() -> str:
    """A new opaque object id."""
    return uuid.uuid4().hex
