"""A READY version's signature, read from its MLmodel file: what the model takes and returns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from modelcatalog.domain import rules
from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.service import lookup
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.files import MAX_MLMODEL_BYTES, SAFE_LOADER
from modelcatalog.service.operations import needed
from modelcatalog.storage import keys
from modelcatalog.storage.base import ObjectNotFound


@dataclass(frozen=True)
class Field:
    """One input, output or parameter of a signature, as MLflow describes it."""

    name: str | None
    type: str
    required: bool = True
    detail: str | None = None


@dataclass(frozen=True)
class Signature:
    inputs: tuple[Field, ...]
    outputs: tuple[Field, ...]
    params: tuple[Field, ...] = ()


def _fields(raw: object) -> tuple[Field, ...]:
    """Fields from one part of MLflow's signature (a JSON list, stored as a string)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return ()
    if not isinstance(raw, list):
        return ()
    found = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        detail = _detail(item)
        found.append(
            Field(
                str(item["name"]) if item.get("name") is not None else None,
                str(kind) if kind is not None else "unknown",
                item.get("required", True) is not False,
                detail,
            )
        )
    return tuple(found)


def _detail(item: dict[str, Any]) -> str | None:
    """What a field's type leaves out: a tensor's dtype and shape, a parameter's default."""
    parts = []
    tensor = item.get("tensor-spec")
    if isinstance(tensor, dict):
        parts.append(f"{tensor.get('dtype')} {tuple(tensor.get('shape') or ())}")
    if "default" in item:
        parts.append(f"default {json.dumps(item['default'])}")
    if "shape" in item and item.get("shape") is not None:
        parts.append(f"shape {tuple(item['shape'])}")
    return ", ".join(parts) or None


@audited("getModelVersionSignature", "registered_model", needs="read_model")
def signature(
    ctx: ServiceContext, caller: Caller, full_name: object, version: object
) -> Signature | None:
    """The signature of a READY version (None for a version not READY, or whose MLmodel file
    is missing or unreadable)."""
    name = rules.model_name(full_name)
    number = rules.version_number(version)
    with ctx.db.read() as session:
        model = lookup.model_row(ctx, session, caller, name, needed())
        row = lookup.version_row(session, model, name.full, number)
        if row.status != VersionStatus.READY:
            return None
    try:
        raw = ctx.store.read_bytes(
            keys.version_prefix(model.id, number) + "MLmodel", limit=MAX_MLMODEL_BYTES
        )
        document = yaml.load(raw, Loader=SAFE_LOADER)
    except (ObjectNotFound, yaml.YAMLError):
        return None
    found = document.get("signature") if isinstance(document, dict) else None
    if not isinstance(found, dict):
        return None
    return Signature(
        _fields(found.get("inputs")), _fields(found.get("outputs")), _fields(found.get("params"))
    )
