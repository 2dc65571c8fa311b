"""Signing in from a terminal with the organisation's identity provider (`modelcatalog login
--sso`), through the provider's device authorization flow (RFC 8628) brokered by the catalog:

1. `POST /api/modelcatalog/sso/device-authorizations` starts it at the provider (with the
   catalog's client credentials, which the terminal never holds) and answers the code the
   person confirms in a browser, where, and the `device_code` to poll with;
2. `POST /api/modelcatalog/sso/device-tokens` with `{"device_code"}` answers 202
   `{"status": "pending" | "slow_down"}` until the person is done, then 200 with a catalog
   token for them (created or linked at their first sign-in, groups brought up to date).

Where the provider has no device flow, the terminal signs in through a browser instead (see
`web/sso.py`) and exchanges the code it is handed at `POST /api/modelcatalog/sso/terminal-tokens`
(`{"code", "code_verifier"}`). `GET /api/modelcatalog/sso` says which ways are offered.

These paths answer without a bearer token (the person has none yet); they are apart from
`/oidc/...`, where machines get OAuth tokens, and from the browser's `/signin/sso/...`."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from modelcatalog.api.deps import ContextDep, anonymous, call
from modelcatalog.api.dialects import NATIVE, speaking
from modelcatalog.api.requests import fields
from modelcatalog.errors import InvalidParameter, TooManyRequests, Unauthenticated
from modelcatalog.service import audit, single_sign_on, sso_handoff
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext
from modelcatalog.service.identity_provider import DeviceFlowPending

router = APIRouter(
    prefix="/api/modelcatalog/sso", route_class=speaking(NATIVE), include_in_schema=False
)
NO_STORE = {"Cache-Control": "no-store"}


@router.get("")
async def offered(ctx: ContextDep) -> dict:
    """Whether single sign-on is on, with which provider, and whether it has a device flow."""
    if ctx.sso is None:
        return {"enabled": False}
    metadata = await call(ctx.sso.metadata)
    return {
        "enabled": True,
        "issuer": ctx.sso.settings.issuer_url,
        "device_flow": bool(metadata.get("device_authorization_endpoint")),
        "browser_sign_in": "/signin/sso",
    }


@router.post("/device-authorizations")
async def start_device_sign_in(ctx: ContextDep) -> JSONResponse:
    """Start a sign-in from a terminal: the code to confirm, and where."""
    sso = single_sign_on.provider(ctx)
    started = await call(sso.start_device)
    keys = (
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    )
    body = {k: started[k] for k in keys if k in started}
    body.setdefault("interval", 5)
    return JSONResponse(body, headers=NO_STORE)


@router.post("/device-tokens")
async def finish_device_sign_in(request: Request, ctx: ContextDep) -> JSONResponse:
    """A catalog token once the person confirmed the code at the provider (202 until then)."""
    sso = single_sign_on.provider(ctx)
    device_code = (await fields(request)).get("device_code")
    if not isinstance(device_code, str) or not device_code:
        raise InvalidParameter("'device_code' is required (from device-authorizations).")
    who = anonymous(request)
    throttle = request.app.state.auth_throttle
    address = who.client_address
    try:
        throttle.check(address)
        try:
            tokens = await call(sso.poll_device, device_code)
        except DeviceFlowPending as pending:
            status = "slow_down" if pending.slow_down else "pending"
            return JSONResponse({"status": status}, status_code=202, headers=NO_STORE)
        identity = await call(
            single_sign_on.verified_identity,
            ctx,
            tokens.id_token,
            tokens.access_token,
            nonce=None,
        )
        caller = await call(single_sign_on.sign_in, ctx, who, identity, "terminal")
    except (Unauthenticated, TooManyRequests) as exc:
        if isinstance(exc, Unauthenticated):
            throttle.failed(address)
        audit.record_refused_credentials(ctx.audit, who, request.url.path, exc.message, exc.kind)
        raise
    return await _issued(request, ctx, who, caller)


async def _issued(
    request: Request, ctx: ServiceContext, who: Caller, caller: Caller
) -> JSONResponse:
    caller = replace(caller, request_id=who.request_id, client_address=who.client_address)
    token, expires_at = await call(single_sign_on.issue_terminal_token, ctx, caller)
    request.state.principal = caller.name
    return JSONResponse(
        {"token": token, "principal": caller.name, "expires_at": expires_at},
        headers=NO_STORE,
    )


@router.post("/terminal-tokens")
async def finish_terminal_sign_in(request: Request, ctx: ContextDep) -> JSONResponse:
    """A catalog token for the code a browser sign-in handed this terminal."""
    single_sign_on.provider(ctx)
    sent = await fields(request)
    who = anonymous(request)
    throttle = request.app.state.auth_throttle
    try:
        throttle.check(who.client_address)
        caller = await call(
            sso_handoff.redeem_terminal_code, ctx, sent.get("code"), sent.get("code_verifier")
        )
    except (Unauthenticated, TooManyRequests) as exc:
        if isinstance(exc, Unauthenticated):
            throttle.failed(who.client_address)
        audit.record_refused_credentials(ctx.audit, who, request.url.path, exc.message, exc.kind)
        raise
    return await _issued(request, ctx, who, caller)
