"""Plain, immutable views of securables that the routers translate into each wire dialect."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelcatalog.domain.lineage import Entity


@dataclass(frozen=True)
class CatalogView:
    id: str
    name: str
    comment: str | None
    owner: str
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SchemaView:
    id: str
    catalog_name: str
    name: str
    comment: str | None
    owner: str
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.catalog_name}.{self.name}"


@dataclass(frozen=True)
class AliasView:
    alias: str
    version: int


@dataclass(frozen=True)
class ModelView:
    id: str
    catalog_name: str
    schema_name: str
    name: str
    comment: str | None
    owner: str
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str
    storage_location: str
    deployment_job_id: str | None = None
    #: NOT_SET_UP, CONNECTED, NOT_FOUND or REQUIRED_PARAMETERS_CHANGED.
    deployment_job_state: str = "NOT_SET_UP"
    aliases: tuple[AliasView, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.catalog_name}.{self.schema_name}.{self.name}"


@dataclass(frozen=True)
class VersionLineage:
    """Where a version came from and what read it (see service/lineage.py)."""

    run_id: str | None
    #: The run in the MLflow tracking UI, when the server knows that UI's address.
    run_link: str | None
    logged_model_id: str | None
    #: The catalog version this one is a copy of: name, version, id.
    copied_from: dict[str, str] | None
    #: Tables, notebooks, jobs and pipelines the version came from.
    upstream: tuple[Entity, ...] = ()
    #: Notebooks, jobs and pipelines that read it, most recent first.
    readers: tuple[Entity, ...] = ()


@dataclass(frozen=True)
class VersionView:
    id: str
    model_id: str
    catalog_name: str
    schema_name: str
    model_name: str
    version: int
    source: str | None
    run_id: str | None
    run_tracking_server_id: str | None
    logged_model_id: str | None
    comment: str | None
    status: str
    status_message: str | None
    signature_waiver: str | None
    storage_location: str
    created_at: int
    created_by: str
    updated_at: int
    updated_by: str
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    #: Where a migrated version came from (registry, model, version, run id, run link).
    origin: dict[str, str | None] | None = None
    #: ModelVersionDeploymentJobState: job_id, run_id, job_state, run_state, current_task_name.
    deployment_job_state: dict[str, str] | None = None
    #: Read only where one version is shown whole (see `versions.get_version`).
    lineage: VersionLineage | None = None

    @property
    def full_name(self) -> str:
        """The full name of the version's model."""
        return f"{self.catalog_name}.{self.schema_name}.{self.model_name}"


@dataclass(frozen=True)
class ManifestEntry:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Page:
    """One page of a listing and the token for the next one (None on the last page)."""

    items: list
    next_page_token: str | None
