"""Notifications over REST: destinations, the delivery log and the SMTP settings, under
`/api/modelcatalog/`."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request

from modelcatalog.api import jobs_openapi as J
from modelcatalog.api.deps import CallerDep, ContextDep, call
from modelcatalog.api.dialects import NATIVE, speaking
from modelcatalog.api.openapi import described
from modelcatalog.api.requests import fields
from modelcatalog.service import notifications

router = APIRouter(prefix="/api/modelcatalog", tags=["notifications"], route_class=speaking(NATIVE))

SMTP_FIELDS = ("host", "port", "username", "password", "from_address", "security")


@router.post("/notification-destinations")
@described(J.CREATE_DESTINATION)
async def create_destination(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """Create a destination: `{"name", "kind": "email"|"webhook", "address", "secret"?}`.

    A webhook's secret signs its requests as MLflow does; it is never shown again."""
    f = await fields(request)
    view = await call(
        notifications.create_destination,
        ctx,
        who,
        name=f.get("name"),
        kind=f.get("kind"),
        address=f.get("address"),
        secret=f.get("secret"),
    )
    return asdict(view)


@router.get("/notification-destinations")
@described(J.LIST_DESTINATIONS)
async def list_destinations(ctx: ContextDep, who: CallerDep) -> dict:
    views = await call(notifications.list_destinations, ctx, who)
    return {"destinations": [asdict(v) for v in views]}


@router.get("/notification-destinations/{name}")
@described(J.GET_DESTINATION)
async def get_destination(name: str, ctx: ContextDep, who: CallerDep) -> dict:
    return asdict(await call(notifications.get_destination, ctx, who, name))


@router.delete("/notification-destinations/{name}")
@described(J.DELETE_DESTINATION)
async def delete_destination(name: str, ctx: ContextDep, who: CallerDep) -> dict:
    await call(notifications.delete_destination, ctx, who, name)
    return {}


@router.post("/notification-destinations/{name}/test")
@described(J.SEND_TEST)
async def send_test(name: str, ctx: ContextDep, who: CallerDep) -> dict:
    """Queue a TEST notification; the answer is its entry in the delivery log."""
    return asdict(await call(notifications.send_test, ctx, who, name))


@router.get("/deliveries")
@described(J.LIST_DELIVERIES)
async def list_deliveries(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """The delivery log, newest first: `?destination=&state=PENDING|DELIVERED|FAILED`."""
    q = request.query_params
    page = await call(
        notifications.list_deliveries,
        ctx,
        who,
        destination=q.get("destination"),
        state=q.get("state"),
        max_results=q.get("max_results"),
        page_token=q.get("page_token"),
    )
    body: dict = {"deliveries": [asdict(d) for d in page.items]}
    if page.next_page_token:
        body["next_page_token"] = page.next_page_token
    return body


@router.get("/notifications/smtp")
@described(J.GET_SMTP)
async def get_smtp(ctx: ContextDep, who: CallerDep) -> dict:
    """The SMTP settings, without the password; metastore admins only."""
    return await call(notifications.get_smtp, ctx, who)


@router.put("/notifications/smtp")
@described(J.SET_SMTP)
async def set_smtp(request: Request, ctx: ContextDep, who: CallerDep) -> dict:
    """Set the SMTP server: `{"host", "port"?, "security"?: "starttls"|"ssl"|"none",
    "from_address", "username"?, "password"?}`; metastore admins only."""
    f = await fields(request)
    given = {k: f.get(k) for k in SMTP_FIELDS}
    return await call(notifications.set_smtp, ctx, who, **given)


@router.delete("/notifications/smtp")
@described(J.DELETE_SMTP)
async def delete_smtp(ctx: ContextDep, who: CallerDep) -> dict:
    await call(notifications.delete_smtp, ctx, who)
    return {}
