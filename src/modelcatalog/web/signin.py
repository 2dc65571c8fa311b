"""Signing in with a token, and out: the only pages reached without a session.

The sign-in form carries its own anti-forgery token, paired with a short-lived cookie, so that
another site cannot sign a browser in under someone else's token."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from modelcatalog.api.deps import anonymous, context
from modelcatalog.api.dialects import speaking
from modelcatalog.errors import Unauthenticated
from modelcatalog.service import audit, principals, sessions
from modelcatalog.web.dialect import WEB_UI
from modelcatalog.web.identity import (
    COOKIE,
    EditorDep,
    SignInRequired,
    form,
    hand_session,
    same_origin,
    sign_in_address,
)
from modelcatalog.web.signin_page import SIGNIN_COOKIE, safe_next, signin_page
from modelcatalog.web.sso import provider_sign_out
from modelcatalog.web.threads import call

router = APIRouter(route_class=speaking(WEB_UI), include_in_schema=False)


@router.get("/signin")
async def signin_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return signin_page(request, safe_next(next), None, 200)


@router.post("/signin")
async def signin(request: Request) -> Response:
    """Exchange a personal access token for a browser session."""
    fields = await form(request)
    next_path = safe_next(fields.get("next"))
    expected = request.cookies.get(SIGNIN_COOKIE)
    sent = fields.get("csrf_token")
    if not expected or not sent or not secrets.compare_digest(expected, sent):
        return signin_page(
            request, next_path, "The sign-in form expired: sign in again from this page.", 400
        )
    if not same_origin(request):
        return signin_page(request, next_path, "Sign in from this catalog's own page.", 400)
    ctx = context(request)
    throttle = request.app.state.auth_throttle
    address = request.client.host if request.client else None
    token = fields.get("token", "").strip()
    try:
        throttle.check(address)
        caller = await call(principals.authenticate, ctx, token)
        secret, _ = await call(sessions.start, ctx, caller)
    except Unauthenticated as exc:
        throttle.failed(address)
        audit.record_refused_credentials(ctx.audit, anonymous(request), "/signin", exc.message)
        return signin_page(request, next_path, exc.message, 401)
    response = RedirectResponse(next_path, status_code=303)
    hand_session(response, request, secret, ctx.sessions.max_seconds)
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


@router.post("/signout")
async def signout(request: Request, who: EditorDep) -> Response:
    """End this browser's session, here and on every replica (and at the identity provider,
    when the session began there)."""
    await call(sessions.end, context(request), who.caller, who.session.id)
    response = provider_sign_out(request) or RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


async def to_sign_in(request: Request, exc: Exception) -> Response:
    """A page asked for without a live session: go and sign in, then come back."""
    assert isinstance(exc, SignInRequired)
    if request.method != "GET":
        # A form posted after the session ended: its page is where to come back to.
        return RedirectResponse("/signin", status_code=303)
    return RedirectResponse(sign_in_address(exc.next_path), status_code=303)
