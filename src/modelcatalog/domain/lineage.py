"""Lineage of a model version: what it came from and what read it, in the words MLflow uses.

MLflow reports lineage in Unity Catalog's shapes: when it registers a version from a run made in
a notebook or a job, the create request carries a header holding the notebook or job and the
tables the run read (`LineageHeaderInfo`, base64-encoded JSON); when it loads a version it may
report the notebook or job that read it (`emit-lineage`, direction DOWNSTREAM). This module turns
those shapes into `Entity` values and refuses what is malformed, naming the field.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from modelcatalog.errors import InvalidParameter

UPSTREAM = "upstream"
DOWNSTREAM = "downstream"
DIRECTIONS = {"UPSTREAM": UPSTREAM, "DOWNSTREAM": DOWNSTREAM}

TABLE, NOTEBOOK, JOB, PIPELINE, MODEL_VERSION = (
    "table",
    "notebook",
    "job",
    "pipeline",
    "model_version",
)

#: The header MLflow's `databricks-uc` client sends with a create request made from a notebook
#: or job run.
HEADER = "X-Databricks-Lineage-Identifier"

#: Upstream tables MLflow reports for one version (it sends at most 10) and the most downstream
#: readers kept for one version (the oldest is replaced once the limit is reached).
MAX_TABLES = 10
MAX_READERS = 100

_TEXT_LIMIT = 255
_LOGGED_MODEL = re.compile(r"(?:^models:/|/models/)(m-[0-9a-f]{32})(?:/artifacts)?/?$")
_CATALOG_VERSION = re.compile(r"^models:/([^/@.]+\.[^/@.]+\.[^/@.]+)(?:/(\d+)|@([^/@]+))/?$")


@dataclass(frozen=True)
class Entity:
    """A table, notebook, job, pipeline or catalog version, by its identifier."""

    kind: str
    identifier: str
    name: str | None = None
    detail: str | None = None


def logged_model_in(source: str | None) -> str | None:
    """The id of the MLflow logged model a version's source names, if it names one
    (`models:/m-…`, or the logged model's artifact folder `…/models/m-…/artifacts`)."""
    if not source:
        return None
    found = _LOGGED_MODEL.search(source)
    return found.group(1) if found else None


def catalog_version_in(source: str | None) -> tuple[str, int | None, str | None] | None:
    """The catalog version a source names (`models:/c.s.m/3` or `models:/c.s.m@alias`) as
    (full name, number, alias): MLflow's `copy_model_version` registers copies from such a
    source."""
    found = _CATALOG_VERSION.match(source or "")
    if found is None:
        return None
    name, number, alias = found.groups()
    return name, int(number) if number else None, alias


def _text(value: Any, field: str, *, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise InvalidParameter(f"'{field}' is required: a non-empty string.", field)
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidParameter(f"'{field}' must be a string, not {type(value).__name__}.", field)
    if len(value) > _TEXT_LIMIT:
        raise InvalidParameter(f"'{field}' is longer than {_TEXT_LIMIT} characters.", field)
    return value


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidParameter(f"'{field}' must be an object.", field)
    return value


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidParameter(f"'{field}' must be a list.", field)
    return value


#: Unity Catalog's entity objects: key → (kind, identifier field, run field).
_ENTITY_FIELDS = {
    "notebook": (NOTEBOOK, "id", "notebook_run_id"),
    "job": (JOB, "id", "job_run_id"),
    "pipeline": (PIPELINE, "pipeline_id", "pipeline_update_id"),
}


def entities(value: Any, field: str) -> list[Entity]:
    """Notebooks, jobs and pipelines from a list of Unity Catalog `Entity` objects."""
    found: list[Entity] = []
    for i, item in enumerate(_list(value, field)):
        where = f"{field}[{i}]"
        key = next((k for k in _ENTITY_FIELDS if k in _object(item, where)), None)
        if key is None:
            raise InvalidParameter(
                f"'{where}' must hold one of 'notebook', 'job' or 'pipeline'.", where
            )
        kind, id_field, run_field = _ENTITY_FIELDS[key]
        inner = _object(item[key], f"{where}.{key}")
        ident = _text(inner.get(id_field), f"{where}.{key}.{id_field}")
        run = _text(inner.get(run_field), f"{where}.{key}.{run_field}", required=False)
        task = _text(inner.get("task_key"), f"{where}.{key}.task_key", required=False)
        found.append(Entity(kind, str(ident), name=task, detail=run))
    return found


def table(securable: Any, field: str) -> Entity:
    """A table from a Unity Catalog `Securable` object (`{"table": {"name", "table_id"}}`)."""
    found = _object(_object(securable, field).get("table"), f"{field}.table")
    name = _text(found.get("name"), f"{field}.table.name")
    ident = _text(found.get("table_id", found.get("tableId")), f"{field}.table.table_id")
    return Entity(TABLE, str(ident), name=name)


def tables(value: Any, field: str) -> list[Entity]:
    """Tables from a list of Unity Catalog `Lineage` objects (their source securables)."""
    found: list[Entity] = []
    for i, lineage in enumerate(_list(value, field)):
        lineage = _object(lineage, f"{field}[{i}]")
        securables = lineage.get("source_securables", lineage.get("sourceSecurables"))
        where = f"{field}[{i}].source_securables"
        found += [table(s, f"{where}[{j}]") for j, s in enumerate(_list(securables, where))]
    if len(found) > MAX_TABLES:
        raise InvalidParameter(
            f"'{field}' names {len(found)} tables; at most {MAX_TABLES} are recorded.", field
        )
    return found


def from_header(value: str | None) -> list[Entity]:
    """What a create request's lineage header reports: the notebook or job and the tables read."""
    if not value:
        return []
    try:
        info = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidParameter(
            f"The {HEADER} header must be base64-encoded JSON (LineageHeaderInfo).", HEADER
        ) from None
    info = _object(info, HEADER)
    return entities(info.get("entities"), f"{HEADER}.entities") + tables(
        info.get("lineages"), f"{HEADER}.lineages"
    )


def direction(value: Any, field: str) -> str:
    """`UPSTREAM` or `DOWNSTREAM` (MLflow sends the enum's name; 0 and 1 are accepted too)."""
    if value in (None, "", 0, "0"):
        return UPSTREAM
    if value in (1, "1"):
        return DOWNSTREAM
    if isinstance(value, str) and value.upper() in DIRECTIONS:
        return DIRECTIONS[value.upper()]
    raise InvalidParameter(f"'{field}' must be UPSTREAM or DOWNSTREAM, not {value!r}.", field)


def run_link(tracking_ui_url: str | None, run_id: str | None) -> str | None:
    """Where a run is shown in the MLflow tracking UI, when the catalog knows that UI."""
    if not tracking_ui_url or not run_id:
        return None
    return f"{tracking_ui_url.rstrip('/')}/#/runs/{quote(run_id, safe='')}"
