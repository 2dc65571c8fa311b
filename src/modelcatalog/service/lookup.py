"""Finding securables by name inside a session, with precise not-found messages."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelcatalog.domain.rules import ModelName
from modelcatalog.errors import NotFound
from modelcatalog.store import queries
from modelcatalog.store import tables as t


def catalog_row(session: Session, name: str) -> t.Catalog:
    row = session.scalar(select(t.Catalog).where(t.Catalog.name == name))
    if row is None:
        raise NotFound(f"Catalog '{name}' does not exist.")
    return row


def schema_row(session: Session, catalog: str, schema: str) -> tuple[t.Catalog, t.Schema]:
    cat = catalog_row(session, catalog)
    row = session.scalar(
        select(t.Schema).where(t.Schema.catalog_id == cat.id, t.Schema.name == schema)
    )
    if row is None:
        raise NotFound(f"Schema '{catalog}.{schema}' does not exist.")
    return cat, row


def model_row(session: Session, name: ModelName, *, for_update: bool = False) -> t.RegisteredModel:
    query = queries.MODEL_BY_NAME_FOR_UPDATE if for_update else queries.MODEL_BY_NAME
    row = session.scalar(
        query, {"catalog": name.catalog, "schema": name.schema, "model": name.model}
    )
    if row is None:
        raise NotFound(f"Registered model '{name.full}' does not exist.")
    return row


def version_row(
    session: Session, model: t.RegisteredModel, full_name: str, version: int
) -> t.ModelVersion:
    row = session.scalar(
        select(t.ModelVersion).where(
            t.ModelVersion.model_id == model.id, t.ModelVersion.version == version
        )
    )
    if row is None:
        raise NotFound(f"Model version '{full_name}' version {version} does not exist.")
    return row
