"""The catalog's tables (SQLAlchemy 2 declarative). Alembic migrations mirror this module."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


def table_of(model: type[Base]) -> Table:
    """The table a model is mapped to (declarative types it as any selectable)."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


class Setting(Base):
    """Server-wide values shared by every replica (for example the URL-signing secret)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Principal(Base):
    """A user, a service principal or a group."""

    __tablename__ = "principals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # A service principal's OAuth client id, given with its first secret.
    application_id: Mapped[str | None] = mapped_column(String(36), nullable=True, unique=True)
    # Provisioning (SCIM): a deactivated principal keeps its name and ownerships, nothing else.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    external_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    display_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Who alone changes a group's members: "scim" for a provisioned group, none for the catalog.
    managed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    updated_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Token(Base):
    """A personal access token; only its SHA-256 is stored."""

    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # A token handed to a deployment task acts only on this one registered model.
    scope_model_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # An OAuth access token: the service principal's secret it was exchanged for (deleting the
    # secret deletes it).
    secret_id: Mapped[str | None] = mapped_column(
        ForeignKey("service_principal_secrets.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # How the token came to be: none for a personal access token, "sso" for one issued when a
    # person signed in with the identity provider from a terminal.
    origin: Mapped[str | None] = mapped_column(String(16), nullable=True)


class ExternalIdentity(Base):
    """A principal as the identity provider knows it: its issuer and subject (`sub`), linked at
    its first sign-in."""

    __tablename__ = "external_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), index=True
    )
    issuer: Mapped[str] = mapped_column(String(512))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_sign_in_at: Mapped[int] = mapped_column(BigInteger)
    # Whether the principal is a metastore admin because the provider's admin group says so
    # (and stops being one when it leaves the group), rather than by an admin's appointment.
    admin_from_group: Mapped[bool] = mapped_column(Boolean, default=False)


class ServicePrincipalSecret(Base):
    """An OAuth secret of a service principal; only its SHA-256 is stored."""

    __tablename__ = "service_principal_secrets"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[int] = mapped_column(BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class BrowserSession(Base):
    """A person signed in to the web UI: the browser holds the secret in a cookie, the database
    its hash, so that every replica knows the session and a database leak reveals none."""

    __tablename__ = "browser_sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id", ondelete="CASCADE"))
    # Sent back with every form and in-place edit: a request from another site lacks it.
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_seen_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Stamped:
    """Who created and last changed a securable, and when (milliseconds since the epoch)."""

    created_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(255))


class Catalog(Stamped, Base):
    __tablename__ = "catalogs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str] = mapped_column(String(255))


class Schema(Stamped, Base):
    __tablename__ = "schemas"
    __table_args__ = (UniqueConstraint("catalog_id", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    catalog_id: Mapped[str] = mapped_column(ForeignKey("catalogs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str] = mapped_column(String(255))


class RegisteredModel(Stamped, Base):
    __tablename__ = "registered_models"
    __table_args__ = (UniqueConstraint("schema_id", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    schema_id: Mapped[str] = mapped_column(ForeignKey("schemas.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str] = mapped_column(String(255))
    # The highest version number ever handed out: numbers are never reused after a delete.
    last_version: Mapped[int] = mapped_column(Integer, default=0)
    deployment_job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ModelVersion(Stamped, Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    run_tracking_server_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    logged_model_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    status_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    signature_waiver: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Where a migrated version came from (JSON: registry, model, version, run id, run link).
    origin: Mapped[str | None] = mapped_column(Text, nullable=True)


class ModelAlias(Base):
    """An alias names exactly one version of its model: the primary key makes that so."""

    __tablename__ = "model_aliases"
    model_id: Mapped[str] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True
    )
    # Lower-cased for uniqueness; `alias` keeps the spelling the owner chose.
    alias_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    alias: Mapped[str] = mapped_column(String(255))
    version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))


class Tag(Base):
    """A key/value tag on a catalog, schema, model or version."""

    __tablename__ = "tags"
    securable_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    securable_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class VersionFile(Base):
    """The manifest recorded at finalize: one row per file of a READY version."""

    __tablename__ = "version_files"
    version_id: Mapped[str] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))


class VersionLineage(Base):
    """One thing a version came from (upstream) or was read by (downstream): a table, a
    notebook, a job, a pipeline, or the catalog version it was copied from."""

    __tablename__ = "version_lineage"
    version_id: Mapped[str] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    direction: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    identifier: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(512), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(255), nullable=True)
    recorded_at: Mapped[int] = mapped_column(BigInteger)
    recorded_by: Mapped[str] = mapped_column(String(255))


class GroupMember(Base):
    """A member (user, service principal or group) of a group; groups may nest."""

    __tablename__ = "group_members"
    group_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )


class Grant(Base):
    """One privilege granted to one principal on one securable (the metastore, a catalog, a
    schema or a registered model)."""

    __tablename__ = "grants"
    securable_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    securable_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )
    privilege: Mapped[str] = mapped_column(String(64), primary_key=True)


class AuditRecord(Base):
    """One append-only audit record; `hash` chains it to the record before it."""

    __tablename__ = "audit_records"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[int] = mapped_column(BigInteger)
    principal: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(100))
    securable_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    securable: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    parameters: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client_address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class DeploymentJob(Stamped, Base):
    """A deployment job: a graph of tasks, defined in YAML, that each new READY version of a
    linked model runs."""

    __tablename__ = "deployment_jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    owner: Mapped[str] = mapped_column(String(255))
    # The validated definition, as JSON (see jobs/definition.py).
    definition: Mapped[str] = mapped_column(Text)


class JobRun(Base):
    """One run of a deployment job for one model version. The definition is copied at start,
    so later edits of the job never change a run under way."""

    __tablename__ = "job_runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(32))
    job_name: Mapped[str] = mapped_column(String(255))
    model_id: Mapped[str] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"))
    model_name: Mapped[str] = mapped_column(String(800))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[str] = mapped_column(Text)
    # PENDING, RUNNING, APPROVAL, SUCCEEDED, FAILED, CANCELLED.
    state: Mapped[str] = mapped_column(String(32))
    state_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The task under way (or waiting for approval, or the one that failed).
    current_task_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # When its first task started.
    started_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # What started it: version_ready, trigger, manual.
    cause: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(255))
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Set to the version's id while the run is not finished: at most one run per version at a
    # time, enforced by the database.
    active_version_id: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)
    # Set for the run a version's READY starts: each version starts that run exactly once.
    ready_version_id: Mapped[str | None] = mapped_column(String(32), nullable=True, unique=True)


class TaskRun(Base):
    """One task of a run: its state, attempts, output and timing."""

    __tablename__ = "task_runs"
    __table_args__ = (UniqueConstraint("run_id", "task_name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("job_runs.id", ondelete="CASCADE"))
    task_name: Mapped[str] = mapped_column(String(255))
    # BLOCKED, QUEUED, RUNNING, WAITING_APPROVAL, SUCCEEDED, FAILED, UPSTREAM_FAILED,
    # REJECTED, CANCELLED.
    state: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    # When a QUEUED task may start (a retry waits out its delay).
    not_before: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    started_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The worker running it and its last sign of life: a stale heartbeat means a lost worker.
    worker: Mapped[str | None] = mapped_column(String(255), nullable=True)
    heartbeat_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    output: Mapped[str | None] = mapped_column(Text, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # For approval tasks: APPROVED or REJECTED, who decided, and how (tag, cli, rest). A decision
    # made before the task is reached is kept and applies when it is.
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    decided_via: Mapped[str | None] = mapped_column(String(32), nullable=True)


class DeploymentApprover(Base):
    """A principal (or group) allowed to approve deployment runs of one model, besides its
    owner and MANAGE holders: where "Can Manage Staging/Production Versions" lands."""

    __tablename__ = "deployment_approvers"
    model_id: Mapped[str] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True
    )
    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )


class TaskAttempt(Base):
    """Every attempt of a task, kept after retries so earlier output stays viewable."""

    __tablename__ = "task_attempts"
    task_run_id: Mapped[str] = mapped_column(
        ForeignKey("task_runs.id", ondelete="CASCADE"), primary_key=True
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    output: Mapped[str | None] = mapped_column(Text, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The token handed to the attempt's process (none when the model's owner is a group),
    # revoked by this id when the attempt ends or is taken for lost.
    token_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ModelEvent(Base):
    """A model event (created, version ready, alias set, run and approval changes), written in
    the transaction of the change it records and consumed by triggers and notifications."""

    __tablename__ = "model_events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    at: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(255))
    catalog_id: Mapped[str] = mapped_column(String(32))
    schema_id: Mapped[str] = mapped_column(String(32))
    model_id: Mapped[str] = mapped_column(String(32))
    model_name: Mapped[str] = mapped_column(String(800))
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    alias: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Everything else the event says, as JSON.
    details: Mapped[str] = mapped_column(Text, default="{}")
    dispatched: Mapped[bool] = mapped_column(Boolean, default=False)


class Trigger(Base):
    """Fires on model events in a scope (a model, a schema or a catalog), throttled, and starts a
    job run or sends notifications."""

    __tablename__ = "triggers"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    owner: Mapped[str] = mapped_column(String(255))
    scope_type: Mapped[str] = mapped_column(String(32))
    scope_id: Mapped[str] = mapped_column(String(32))
    scope_name: Mapped[str] = mapped_column(String(800))
    # JSON list of event kinds; JSON list of alias names (empty: any alias).
    events: Mapped[str] = mapped_column(Text)
    aliases: Mapped[str] = mapped_column(Text, default="[]")
    min_time_between_triggers_seconds: Mapped[int] = mapped_column(Integer, default=0)
    wait_after_last_change_seconds: Mapped[int] = mapped_column(Integer, default=60)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # JSON list of notification destination names.
    destinations: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_fired_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The first and last change waiting in the current batch (none waiting: both null).
    first_pending_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_pending_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class TriggerChange(Base):
    """A model event waiting in a trigger's batch until the trigger fires."""

    __tablename__ = "trigger_changes"
    trigger_id: Mapped[str] = mapped_column(
        ForeignKey("triggers.id", ondelete="CASCADE"), primary_key=True
    )
    event_seq: Mapped[int] = mapped_column(Integer, primary_key=True)


class NotificationDestination(Base):
    """Where notifications go: an email address or a webhook URL (with its signing secret,
    encrypted at rest)."""

    __tablename__ = "notification_destinations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(Text)
    encrypted_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(BigInteger)


class Delivery(Base):
    """One notification to one destination, retried with backoff; the delivery log."""

    __tablename__ = "deliveries"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    destination_id: Mapped[str] = mapped_column(
        ForeignKey("notification_destinations.id", ondelete="CASCADE")
    )
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    # PENDING, DELIVERED, FAILED.
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


Index("ix_group_members_member", GroupMember.member_id)
Index("ix_grants_principal", Grant.principal_id)
Index("ix_audit_securable", AuditRecord.securable, AuditRecord.seq)
Index("ix_audit_principal", AuditRecord.principal, AuditRecord.seq)
Index("ix_audit_at", AuditRecord.at)
Index("ix_model_versions_model", ModelVersion.model_id, ModelVersion.version)
Index("ix_model_versions_run", ModelVersion.run_id, ModelVersion.id)
Index("ix_registered_models_name", RegisteredModel.name)
Index("ix_tokens_principal", Token.principal_id)
Index("ix_job_runs_model", JobRun.model_id, JobRun.version)
Index("ix_task_runs_state", TaskRun.state)
Index("ix_model_events_dispatched", ModelEvent.dispatched, ModelEvent.seq)
Index("ix_deliveries_due", Delivery.state, Delivery.next_attempt_at)
Index("ix_browser_sessions_principal", BrowserSession.principal_id)
