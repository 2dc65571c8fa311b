"""Model event triggers over REST, under `/api/modelcatalog/triggers`."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request

from modelcatalog.api import jobs_openapi as J
from modelcatalog.api.deps import CallerDep, ContextDep, call
from modelcatalog.api.dialects import NATIVE, speaking
from modelcatalog.api.openapi import described
from modelcatalog.api.requests import fields
from modelcatalog.service import triggers

router = APIRouter(
    prefix="/api/modelcatalog/triggers", tags=["triggers"], route_class=speaking(NATIVE)
)

FIELDS = (
    "scope_type",
    "scope",
    "events",
    "aliases",
    "min_time_between_triggers_seconds",
    "wait_after_last_change_seconds",
    "job",
    "destinations",
)


@router.post("")
@described(J.CREATE_TRIGGER)
async def create_trigger(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """Create a trigger: `{"name", "scope_type", "scope", "events", "aliases"?,
    "min_time_between_triggers_seconds"?, "wait_after_last_change_seconds"?, "job" |
    "destinations"}`."""
    f = await fields(request)
    given = {k: f[k] for k in FIELDS if f.get(k) is not None}
    view = await call(triggers.create_trigger, ctx, who, name=f.get("name"), **given)
    return asdict(view)


@router.get("")
@described(J.LIST_TRIGGERS)
async def list_triggers(ctx: ContextDep, who: CallerDep) -> dict:
    views = await call(triggers.list_triggers, ctx, who)
    return {"triggers": [asdict(v) for v in views]}


@router.get("/{name}")
@described(J.GET_TRIGGER)
async def get_trigger(name: str, ctx: ContextDep, who: CallerDep) -> dict:
    return asdict(await call(triggers.get_trigger, ctx, who, name))


@router.delete("/{name}")
@described(J.DELETE_TRIGGER)
async def delete_trigger(name: str, ctx: ContextDep, who: CallerDep) -> dict:
    await call(triggers.delete_trigger, ctx, who, name)
    return {}
