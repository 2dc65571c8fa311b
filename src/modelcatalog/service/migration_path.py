"""The migration path: a version created with its source registry's number (numbers kept,
gaps kept) and its origin recorded, for owners, MANAGE holders and admins."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from modelcatalog.domain import rules
from modelcatalog.domain.statuses import VersionStatus
from modelcatalog.errors import AlreadyExists, InvalidParameter
from modelcatalog.service import audit, lookup
from modelcatalog.service.audit import audited
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.operations import needed
from modelcatalog.service.stamps import new_id, now_ms
from modelcatalog.service.tags import change_tags
from modelcatalog.service.versions import version_views
from modelcatalog.service.views import VersionView
from modelcatalog.store import queries
from modelcatalog.store import tables as t

ORIGIN_FIELDS = ("registry", "model", "version", "run_id", "run_link")


def _origin(value: object, field: str = "origin") -> dict[str, str | None]:
    if not isinstance(value, dict) or not all(
        isinstance(value.get(k), str) and value.get(k) for k in ("registry", "model", "version")
    ):
        raise InvalidParameter(
            f"'{field}' must be an object with 'registry', 'model' and 'version' (strings) and "
            "optionally 'run_id' and 'run_link'.",
            field,
        )
    unknown = sorted(set(value) - set(ORIGIN_FIELDS))
    if unknown:
        raise InvalidParameter(
            f"'{field}' has unknown fields {unknown}; allowed: {', '.join(ORIGIN_FIELDS)}.",
            field,
        )
    for key in ("run_id", "run_link"):
        if value.get(key) is not None and not isinstance(value.get(key), str):
            raise InvalidParameter(f"'{field}.{key}' must be a string.", field)
    return {k: value.get(k) for k in ORIGIN_FIELDS}


@dataclass(frozen=True)
class ImportedFields:
    """What the migration path records of a version besides its files, checked."""

    number: int
    origin: dict[str, str | None]
    source: str | None
    run_id: str | None
    comment: str | None
    tags: dict[str, str]
    signature_waiver: str | None

    @property
    def origin_json(self) -> str:
        """The origin as the version row stores it."""
        return json.dumps(self.origin, sort_keys=True)


def imported_fields(
    version: object,
    *,
    origin: object,
    source: object = None,
    run_id: object = None,
    comment: object = None,
    tags: object = None,
    signature_waiver: object = None,
    prefix: str = "",
) -> ImportedFields:
    """Check what a migrated version is created with; an error names the field, after `prefix`
    (`versions[2].` for one version of many)."""
    number = rules.version_number(version, f"{prefix}version")
    clean_origin = _origin(origin, f"{prefix}origin")
    text = rules.comment(comment, f"{prefix}comment")
    if signature_waiver is not None and (
        not isinstance(signature_waiver, str) or not signature_waiver.strip()
    ):
        raise InvalidParameter(
            f"'{prefix}signature_waiver' must be a non-empty reason, or absent.",
            f"{prefix}signature_waiver",
        )
    source = rules.optional_text(source, f"{prefix}source")
    run_id = rules.optional_text(run_id, f"{prefix}run_id")
    if tags is not None and not isinstance(tags, Mapping):
        field = f"{prefix}tags"
        raise InvalidParameter(f"'{field}' must be an object of key to value.", field)
    clean_tags = {
        rules.tag_key(k, f"{prefix}tags"): rules.tag_value(v, f"{prefix}tags.{k}")
        for k, v in (tags or {}).items()
    }
    return ImportedFields(
        number=number,
        origin=clean_origin,
        source=source,
        run_id=run_id,
        comment=text,
        tags=clean_tags,
        signature_waiver=signature_waiver.strip() if signature_waiver else None,
    )


def raise_last_version(ctx: ServiceContext, session: Session, model_id: str, number: int) -> None:
    """Keep the model's version counter at least `number`: a version made later by the usual
    path never takes a migrated number."""
    session.execute(
        update(t.RegisteredModel)
        .where(t.RegisteredModel.id == model_id)
        .values(
            last_version=func.max(t.RegisteredModel.last_version, number)
            if ctx.db.dialect == "sqlite"
            else func.greatest(t.RegisteredModel.last_version, number),
            updated_at=now_ms(),
        )
        # The counter is read from the row whenever it is needed: no object to keep in step.
        .execution_options(synchronize_session=False)
    )


def new_version_row(
    model_id: str, fields: ImportedFields, caller: Caller, stamp: int
) -> t.ModelVersion:
    """The row of a migrated version, PENDING_REGISTRATION."""
    return t.ModelVersion(
        id=new_id(),
        model_id=model_id,
        version=fields.number,
        source=fields.source,
        run_id=fields.run_id,
        comment=fields.comment,
        status=VersionStatus.PENDING_REGISTRATION,
        signature_waiver=fields.signature_waiver,
        origin=fields.origin_json,
        created_at=stamp,
        created_by=caller.name,
        updated_at=stamp,
        updated_by=caller.name,
    )


def foreign_version(full_name: str, number: int) -> AlreadyExists:
    return AlreadyExists(
        f"Model version '{full_name}' version {number} already exists and was not "
        "made by this migration (its origin differs)."
    )


def same_origin(row: t.ModelVersion, fields: ImportedFields) -> bool:
    """Whether a version was made by the migration that imports `fields` (its origin)."""
    return row.origin is not None and json.loads(row.origin) == fields.origin


@audited("importModelVersion", "registered_model", needs="manage_model")
def import_version(
    ctx: ServiceContext,
    caller: Caller,
    full_name: object,
    version: object,
    *,
    origin: object,
    source: object = None,
    run_id: object = None,
    comment: object = None,
    tags: Mapping[str, object] | None = None,
    signature_waiver: object = None,
) -> VersionView:
    """The migration path: create version `version` exactly (numbers kept, gaps kept) with its
    origin recorded. Needs ownership of or MANAGE on the model (or a metastore admin).

    Rerunning with the same origin answers the version already made, whatever its status, so
    an interrupted migration can carry on where it stopped."""
    name = rules.model_name(full_name)
    fields = imported_fields(
        version,
        origin=origin,
        source=source,
        run_id=run_id,
        comment=comment,
        tags=tags,
        signature_waiver=signature_waiver,
    )
    number = fields.number
    audit.describe(version=number)
    stamp = now_ms()
    with ctx.db.write() as session:
        model = lookup.model_row(ctx, session, caller, name, needed(), lock=queries.UPDATE)
        existing = session.scalar(
            select(t.ModelVersion).where(
                t.ModelVersion.model_id == model.id, t.ModelVersion.version == number
            )
        )
        if existing is not None:
            if same_origin(existing, fields):
                return version_views(ctx, session, model, name.catalog, name.schema, [existing])[0]
            raise foreign_version(name.full, number)
        raise_last_version(ctx, session, model.id, number)
        row = new_version_row(model.id, fields, caller, stamp)
        session.add(row)
        session.flush()
        if fields.tags:
            change_tags(session, "model_version", row.id, fields.tags)
        audit.record_in(session)
        return version_views(ctx, session, model, name.catalog, name.schema, [row])[0]
