"""The migration path: a version created with its source registry's number (numbers kept,
gaps kept) and its origin recorded, for owners, MANAGE holders and admins."""

from __future__ import annotations

import json
from collections.abc import Mapping

from sqlalchemy import func, select, update

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


def _origin(value: object) -> dict[str, str | None]:
    if not isinstance(value, dict) or not all(
        isinstance(value.get(k), str) and value.get(k) for k in ("registry", "model", "version")
    ):
        raise InvalidParameter(
            "'origin' must be an object with 'registry', 'model' and 'version' (strings) and "
            "optionally 'run_id' and 'run_link'.",
            "origin",
        )
    unknown = sorted(set(value) - set(ORIGIN_FIELDS))
    if unknown:
        raise InvalidParameter(
            f"'origin' has unknown fields {unknown}; allowed: {', '.join(ORIGIN_FIELDS)}.",
            "origin",
        )
    for key in ("run_id", "run_link"):
        if value.get(key) is not None and not isinstance(value.get(key), str):
            raise InvalidParameter(f"'origin.{key}' must be a string.", "origin")
    return {k: value.get(k) for k in ORIGIN_FIELDS}


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
    number = rules.version_number(version, "version")
    clean_origin = _origin(origin)
    text = rules.comment(comment)
    if signature_waiver is not None and (
        not isinstance(signature_waiver, str) or not signature_waiver.strip()
    ):
        raise InvalidParameter(
            "'signature_waiver' must be a non-empty reason, or absent.", "signature_waiver"
        )
    source, run_id = rules.optional_text(source, "source"), rules.optional_text(run_id, "run_id")
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
            if existing.origin and json.loads(existing.origin) == clean_origin:
                return version_views(ctx, session, model, name.catalog, name.schema, [existing])[0]
            raise AlreadyExists(
                f"Model version '{name.full}' version {number} already exists and was not "
                "made by this migration (its origin differs)."
            )
        session.execute(
            update(t.RegisteredModel)
            .where(t.RegisteredModel.id == model.id)
            .values(
                last_version=func.max(t.RegisteredModel.last_version, number)
                if ctx.db.dialect == "sqlite"
                else func.greatest(t.RegisteredModel.last_version, number),
                updated_at=stamp,
            )
        )
        row = t.ModelVersion(
            id=new_id(),
            model_id=model.id,
            version=number,
            source=source,
            run_id=run_id,
            comment=text,
            status=VersionStatus.PENDING_REGISTRATION,
            signature_waiver=signature_waiver.strip() if signature_waiver else None,
            origin=json.dumps(clean_origin, sort_keys=True),
            created_at=stamp,
            created_by=caller.name,
            updated_at=stamp,
            updated_by=caller.name,
        )
        session.add(row)
        session.flush()
        if tags:
            change_tags(session, "model_version", row.id, tags)
        audit.record_in(session)
        return version_views(ctx, session, model, name.catalog, name.schema, [row])[0]
