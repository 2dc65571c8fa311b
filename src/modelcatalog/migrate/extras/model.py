"""What a source registry holds besides models and versions, as plain values.

Readers for each kind of source (MLflow's auth app, MLflow webhooks, the Databricks workspace
registry) return these; the assessment reports them and the migration carries them over.
Secrets (webhook secrets, tokens, passwords) are never kept: a webhook says only whether it
had one, and its URL is kept without credentials for display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit


class PrincipalKind(StrEnum):
    """Who a permission is granted to."""

    USER = "user"
    GROUP = "group"
    SERVICE_PRINCIPAL = "service_principal"


class Level(StrEnum):
    """Permission levels on a registered model, normalised to the workspace registry's names."""

    CAN_READ = "CAN_READ"
    CAN_EDIT = "CAN_EDIT"
    CAN_MANAGE_STAGING_VERSIONS = "CAN_MANAGE_STAGING_VERSIONS"
    CAN_MANAGE_PRODUCTION_VERSIONS = "CAN_MANAGE_PRODUCTION_VERSIONS"
    CAN_MANAGE = "CAN_MANAGE"


@dataclass(frozen=True)
class ModelPermission:
    """One principal's level on one registered model."""

    principal: str
    kind: PrincipalKind
    level: Level
    #: The level as the source spelled it (`EDIT`, `CAN_EDIT`, ...), for the report.
    source_level: str
    #: True when the level comes from a parent object (the workspace's registry-wide ACL, or
    #: a wildcard grant in MLflow's auth app) rather than from the model itself.
    inherited: bool = False


@dataclass(frozen=True)
class UnmappedPermission:
    """A grant the catalog cannot express (an explicit deny, an unknown level)."""

    principal: str
    kind: PrincipalKind
    source_level: str
    reason: str


@dataclass(frozen=True)
class Comment:
    """A comment on a model version."""

    author: str | None
    time: datetime | None
    text: str


@dataclass(frozen=True)
class TransitionRequest:
    """A request to move a version from one stage to another."""

    from_stage: str | None
    to_stage: str
    requester: str | None
    time: datetime | None
    #: PENDING, APPROVED, REJECTED or CANCELLED.
    status: str
    comment: str | None = None


@dataclass(frozen=True)
class StageChange:
    """A stage transition that was applied to a version."""

    from_stage: str | None
    to_stage: str
    actor: str | None
    time: datetime | None
    comment: str | None = None


@dataclass(frozen=True)
class VersionActivity:
    """Everything people said and asked about one model version."""

    comments: tuple[Comment, ...] = ()
    transition_requests: tuple[TransitionRequest, ...] = ()
    stage_history: tuple[StageChange, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.comments or self.transition_requests or self.stage_history)


@dataclass(frozen=True)
class SourceWebhook:
    """A webhook or job trigger that fires on registry events."""

    id: str
    events: tuple[str, ...]
    #: The model it watches; None for registry-wide hooks.
    model_name: str | None
    #: "http" (a URL is called) or "job" (a job is started).
    target_kind: str
    #: The URL without credentials, query or fragment, or `job <id>` for job triggers.
    target: str
    #: ACTIVE, TEST_MODE or DISABLED.
    status: str
    #: True if it signs or authenticates its calls with a secret; None when the source does
    #: not say (MLflow never returns webhook secrets over REST).
    has_secret: bool | None
    name: str | None = None
    description: str | None = None
    #: Where it was read from: "mlflow" or "databricks".
    origin: str = "mlflow"


@dataclass(frozen=True)
class EmailSubscription:
    """A person subscribed to e-mail about a model or version."""

    subscriber: str
    model_name: str
    version: str | None
    status: str


class Capability(StrEnum):
    """Kinds of extras a reader may or may not be able to read from its source."""

    PERMISSIONS = "permissions"
    COMMENTS = "comments"
    TRANSITION_REQUESTS = "transition_requests"
    STAGE_HISTORY = "stage_history"
    WEBHOOKS = "webhooks"
    EMAIL_SUBSCRIPTIONS = "email_subscriptions"


@dataclass(frozen=True)
class Unavailable:
    """A kind of extras that could not be read, and why (shown in the report)."""

    capability: Capability
    reason: str


@dataclass
class SourceExtras:
    """All the extras read from one source registry."""

    #: What kind of source they came from, e.g. "mlflow", "mlflow basic-auth", "databricks".
    source_kind: str
    #: Which API dialect answered, e.g. "MLflow auth roles API (3.13+)"; None if not applicable.
    api: str | None = None
    permissions: dict[str, list[ModelPermission]] = field(default_factory=dict)
    unmapped_permissions: dict[str, list[UnmappedPermission]] = field(default_factory=dict)
    #: Keyed by (model name, version string).
    activity: dict[tuple[str, str], VersionActivity] = field(default_factory=dict)
    webhooks: list[SourceWebhook] = field(default_factory=list)
    email_subscriptions: list[EmailSubscription] = field(default_factory=list)
    unavailable: list[Unavailable] = field(default_factory=list)

    def activity_of(self, model: str, version: str) -> VersionActivity:
        return self.activity.get((model, version), VersionActivity())

    def webhooks_of(self, model: str) -> list[SourceWebhook]:
        """Webhooks that watch `model`, registry-wide ones included."""
        return [w for w in self.webhooks if w.model_name in (None, model)]

    def merge(self, other: SourceExtras) -> None:
        """Add what another reader found about the same source."""
        for name, grants in other.permissions.items():
            self.permissions.setdefault(name, []).extend(grants)
        for name, unmapped in other.unmapped_permissions.items():
            self.unmapped_permissions.setdefault(name, []).extend(unmapped)
        self.activity.update(other.activity)
        self.webhooks.extend(other.webhooks)
        self.email_subscriptions.extend(other.email_subscriptions)
        self.unavailable.extend(other.unavailable)
        if other.api:
            self.api = f"{self.api}; {other.api}" if self.api else other.api
        if other.source_kind not in self.source_kind:
            self.source_kind = f"{self.source_kind} + {other.source_kind}"


class ExtrasError(RuntimeError):
    """A source's extras could not be read; the message says which endpoint and why."""


def display_url(url: str) -> str:
    """A URL fit for a report: scheme, host, port and path only.

    Credentials in the authority and anything in the query or fragment (where tokens often
    live) are dropped."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def from_millis(value: int | str | None) -> datetime | None:
    """A Unix time in milliseconds as an aware UTC datetime (None stays None)."""
    if value in (None, "", 0, "0"):
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
