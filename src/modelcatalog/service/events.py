"""Model events: small typed records of what happened to a model, written in the transaction of
the change itself (an outbox), so that a committed change always has its event and a rolled-back
one never does. The engine hands each event once to triggers and notifications."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, insert, select
from sqlalchemy.orm import Session

from modelcatalog.service import measures
from modelcatalog.service.stamps import now_ms
from modelcatalog.store import tables as t
from modelcatalog.store.database import after_commit


@dataclass(frozen=True)
class ModelEvent:
    """An event as triggers and notifications see it."""

    seq: int
    kind: str
    at: int
    actor: str
    catalog_id: str
    schema_id: str
    model_id: str
    model_name: str
    version: int | None
    alias: str | None
    details: dict[str, Any]

    @classmethod
    def of(cls, row: t.ModelEvent | Row[Any]) -> ModelEvent:
        """The event of a row (ORM, or Core with the table's columns)."""
        return cls(
            row.seq,
            row.kind,
            row.at,
            row.actor,
            row.catalog_id,
            row.schema_id,
            row.model_id,
            row.model_name,
            row.version,
            row.alias,
            json.loads(row.details or "{}"),
        )

    def payload(self) -> dict[str, Any]:
        """The event as notifications carry it."""
        body: dict[str, Any] = {
            "event": self.kind,
            "timestamp": self.at,
            "actor": self.actor,
            "model_name": self.model_name,
        }
        if self.version is not None:
            body["version"] = str(self.version)
        if self.alias is not None:
            body["alias"] = self.alias
        body.update(self.details)
        return body


#: The catalog of each schema an event was recorded in: a schema never moves to another catalog
#: and an id is never reused, so an entry never goes stale (and a create saves a query).
_catalog_of_schema: dict[str, str] = {}


def emit(
    session: Session,
    kind: str,
    model: t.RegisteredModel,
    full_name: str,
    *,
    actor: str,
    version: int | None = None,
    alias: str | None = None,
    **details: Any,
) -> None:
    """Record an event in the session's transaction (it exists only if the change commits)."""
    after_commit(session, measures.model_events.labels(kind).inc)
    catalog_id = _catalog_of_schema.get(model.schema_id)
    if catalog_id is None:
        catalog_id = session.scalar(
            select(t.Schema.catalog_id).where(t.Schema.id == model.schema_id)
        )
        if catalog_id:
            _catalog_of_schema[model.schema_id] = catalog_id
    session.connection().execute(
        _INSERT,
        {
            "kind": kind,
            "at": now_ms(),
            "actor": actor,
            "catalog_id": catalog_id or "",
            "schema_id": model.schema_id,
            "model_id": model.id,
            "model_name": full_name,
            "version": version,
            "alias": alias,
            "details": json.dumps(details, sort_keys=True),
            "dispatched": False,
        },
    )


# Built once; the row goes in at once (a Core insert costs a fraction of an ORM object flushed
# at commit), so events keep the order in which the transaction emitted them.
_INSERT = insert(t.table_of(t.ModelEvent))
