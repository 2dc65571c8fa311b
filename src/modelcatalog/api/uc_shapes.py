"""Unity Catalog REST shapes: how catalogs, schemas, models and versions look on `/api/2.1`.

Field names follow the Unity Catalog OSS specification; MLflow's native store and the
`unitycatalog-client` SDK read them (unknown fields are ignored by both)."""

from __future__ import annotations

from typing import Any

from modelcatalog.domain.lineage import JOB, NOTEBOOK, PIPELINE, TABLE, Entity
from modelcatalog.service.views import (
    CatalogView,
    ModelView,
    Page,
    SchemaView,
    VersionLineage,
    VersionView,
)


def tag_list(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def catalog_json(c: CatalogView) -> dict[str, Any]:
    return {
        "name": c.name,
        "comment": c.comment,
        "properties": {},
        "owner": c.owner,
        "created_at": c.created_at,
        "created_by": c.created_by,
        "updated_at": c.updated_at,
        "updated_by": c.updated_by,
        "id": c.id,
        "tags": tag_list(c.tags),
    }


def schema_json(s: SchemaView) -> dict[str, Any]:
    return {
        "name": s.name,
        "catalog_name": s.catalog_name,
        "full_name": s.full_name,
        "comment": s.comment,
        "properties": {},
        "owner": s.owner,
        "created_at": s.created_at,
        "created_by": s.created_by,
        "updated_at": s.updated_at,
        "updated_by": s.updated_by,
        "schema_id": s.id,
        "tags": tag_list(s.tags),
    }


def model_json(m: ModelView) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": m.name,
        "catalog_name": m.catalog_name,
        "schema_name": m.schema_name,
        "full_name": m.full_name,
        "comment": m.comment,
        "storage_location": m.storage_location,
        "owner": m.owner,
        "created_at": m.created_at,
        "created_by": m.created_by,
        "updated_at": m.updated_at,
        "updated_by": m.updated_by,
        "id": m.id,
        "browse_only": False,
        "aliases": [
            {
                "alias_name": a.alias,
                "version_num": a.version,
                "catalog_name": m.catalog_name,
                "schema_name": m.schema_name,
                "model_name": m.name,
            }
            for a in m.aliases
        ],
        "tags": tag_list(m.tags),
    }
    if m.deployment_job_id:
        body["deployment_job_id"] = m.deployment_job_id
        body["deployment_job_state"] = m.deployment_job_state
    return body


def version_json(v: VersionView) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model_name": v.model_name,
        "catalog_name": v.catalog_name,
        "schema_name": v.schema_name,
        "version": v.version,
        "source": v.source or "",
        "run_id": v.run_id,
        "comment": v.comment,
        "status": v.status,
        "storage_location": v.storage_location,
        "created_at": v.created_at,
        "created_by": v.created_by,
        "updated_at": v.updated_at,
        "updated_by": v.updated_by,
        "id": v.id,
        "aliases": [{"alias_name": a, "version_num": v.version} for a in v.aliases],
        "tags": tag_list(v.tags),
    }
    if v.logged_model_id:
        body["model_id"] = v.logged_model_id
    if v.status_message:
        body["status_message"] = v.status_message
    if v.signature_waiver:
        body["signature_waiver"] = v.signature_waiver
    if v.origin:
        body["origin"] = v.origin
    if v.deployment_job_state:
        body["deployment_job_state"] = v.deployment_job_state
    if v.lineage:
        body["lineage"] = lineage_json(v.lineage)
    return body


#: What an entity's detail is, by kind.
_DETAIL = {NOTEBOOK: "run_id", JOB: "run_id", PIPELINE: "update_id", TABLE: "detail"}


def _entity_json(e: Entity) -> dict[str, str]:
    body = {"kind": e.kind, "id": e.identifier}
    if e.name:
        body["name"] = e.name
    if e.detail:
        body[_DETAIL[e.kind]] = e.detail
    return body


def lineage_json(lineage: VersionLineage) -> dict[str, Any]:
    """A version's lineage (an extension of the version's shape, as `origin` is)."""
    body: dict[str, Any] = {
        "upstream": [_entity_json(e) for e in lineage.upstream],
        "readers": [_entity_json(e) for e in lineage.readers],
    }
    for key, value in (
        ("run_id", lineage.run_id),
        ("run_link", lineage.run_link),
        ("model_id", lineage.logged_model_id),
        ("copied_from", lineage.copied_from),
    ):
        if value:
            body[key] = value
    return body


def page_json(key: str, page: Page, render: Any) -> dict[str, Any]:
    body: dict[str, Any] = {key: [render(item) for item in page.items]}
    if page.next_page_token:
        body["next_page_token"] = page.next_page_token
    return body
