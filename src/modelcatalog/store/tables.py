"""The catalog's tables (SQLAlchemy 2 declarative). Alembic migrations mirror this module."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


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


Index("ix_group_members_member", GroupMember.member_id)
Index("ix_grants_principal", Grant.principal_id)
Index("ix_audit_securable", AuditRecord.securable, AuditRecord.seq)
Index("ix_audit_principal", AuditRecord.principal, AuditRecord.seq)
Index("ix_audit_at", AuditRecord.at)
Index("ix_model_versions_model", ModelVersion.model_id, ModelVersion.version)
Index("ix_registered_models_name", RegisteredModel.name)
Index("ix_tokens_principal", Token.principal_id)
