"""Signing in to the web UI with the organisation's identity provider (OpenID Connect,
authorization code flow with PKCE), and out of it.

- `GET /signin/sso?next=PATH` sends the browser to the provider, with a fresh `state`, `nonce`
  and PKCE verifier kept in a short-lived cookie that this server signs (so any replica can
  finish the sign-in);
- `GET /signin/sso?terminal=http://127.0.0.1:PORT/&challenge=C` is the same for a terminal's
  `modelcatalog login --sso` when the provider has no device flow: at the end the browser is
  sent to the terminal's loopback listener with a short-lived code, which the terminal exchanges
  (with the verifier of its challenge) at `POST /api/modelcatalog/sso/terminal-tokens`;
- `GET /signin/sso/callback` is the redirect URI registered at the provider: the `state` must
  match the cookie's, the code is exchanged with the verifier and the client secret, the ID
  token's signature, issuer, audience, expiry and `nonce` are checked, and the person gets a
  browser session (their principal created or linked at the first sign-in);
- signing out (`POST /signout`) ends the catalog session and, when the session began at the
  provider and the provider has an `end_session_endpoint`, the provider's too, which then
  comes back to `GET /signin/sso/signed-out`.

These are browser paths, kept apart from `/oidc/...`, where machines get OAuth tokens."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from modelcatalog.api.deps import anonymous, context
from modelcatalog.api.dialects import speaking
from modelcatalog.errors import CatalogError, TooManyRequests, Unauthenticated
from modelcatalog.service import audit, sessions, single_sign_on, sso_handoff
from modelcatalog.web.dialect import WEB_UI
from modelcatalog.web.identity import hand_session, over_https
from modelcatalog.web.render import page
from modelcatalog.web.signin_page import provider_name, safe_next, signin_page
from modelcatalog.web.threads import call

router = APIRouter(route_class=speaking(WEB_UI), include_in_schema=False)

START_PATH = "/signin/sso"
CALLBACK_PATH = "/signin/sso/callback"
SIGNED_OUT_PATH = "/signin/sso/signed-out"
FLOW_COOKIE = "modelcatalog_sso_flow"
"""The sign-in in progress: state, nonce, PKCE verifier and where to go back (signed)."""
SSO_SESSION_COOKIE = "modelcatalog_sso"
"""Marks a session begun at the provider, so that signing out ends the provider's too."""
FLOW_SECONDS = 600
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _terminal(address: str | None) -> str | None:
    """The loopback address a terminal's `login --sso` listens on; None if it is not one (a
    code is never handed to another machine)."""
    if not address:
        return None
    parts = urlsplit(address)
    if (
        parts.scheme != "http"
        or parts.hostname not in LOOPBACK
        or parts.port is None
        or parts.query
        or parts.fragment
        or parts.username
    ):
        return None
    return address


def _problem(request: Request, message: str, status: int) -> Response:
    """Back to the sign-in page, saying what went wrong."""
    return signin_page(request, "/", message, status)


@router.get(START_PATH)
async def start(
    request: Request,
    next: str | None = None,
    terminal: str | None = None,
    challenge: str | None = None,
) -> Response:
    """Go and sign in at the identity provider, then come back to `next`; or, for a
    terminal's `login --sso` listening at `terminal` (loopback) with a PKCE `challenge`,
    hand it a code for a catalog token instead of starting a browser session."""
    ctx = context(request)
    loopback = _terminal(terminal)
    if terminal is not None and (loopback is None or not challenge or len(challenge) > 128):
        return _problem(
            request, "A terminal's sign-in needs its loopback address and a challenge.", 400
        )
    try:
        sso = single_sign_on.provider(ctx)
        verifier = secrets.token_urlsafe(48)
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        target = await call(
            sso.authorization_url,
            redirect_uri=_base(request) + CALLBACK_PATH,
            state=state,
            nonce=nonce,
            code_challenge=sso_handoff.challenge_of(verifier),
        )
    except CatalogError as exc:
        return _problem(request, exc.message, 503 if exc.kind != "INVALID_PARAMETER" else 404)
    flow = {
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "next": safe_next(next),
    }
    if loopback is not None and challenge:
        flow |= {"terminal": loopback, "challenge": challenge}
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        sso_handoff.seal(ctx, sso_handoff.FLOW, flow),
        max_age=FLOW_SECONDS,
        httponly=True,
        samesite="lax",
        secure=over_https(request),
        path=START_PATH,
    )
    return response


@router.get(CALLBACK_PATH)
async def callback(request: Request) -> Response:
    """The provider sends the browser back here with a code (or an error)."""
    ctx = context(request)
    who = anonymous(request)
    query = request.query_params
    flow = sso_handoff.unseal(ctx, sso_handoff.FLOW, request.cookies.get(FLOW_COOKIE), FLOW_SECONDS)
    throttle = request.app.state.auth_throttle
    address = who.client_address
    try:
        throttle.check(address)
        if flow is None:
            raise Unauthenticated(
                "The sign-in took too long or did not start on this catalog: sign in again."
            )
        sent_state = query.get("state") or ""
        if not hmac.compare_digest(sent_state.encode(), str(flow["state"]).encode()):
            raise Unauthenticated("The sign-in's state does not match: sign in again.")
        if query.get("error"):
            detail = query.get("error_description") or query["error"]
            raise Unauthenticated(f"The identity provider did not sign you in: {detail}.")
        code = query.get("code")
        if not code:
            raise Unauthenticated("The identity provider sent no authorization code.")
        sso = single_sign_on.provider(ctx)
        tokens = await call(
            sso.exchange_code,
            code,
            redirect_uri=_base(request) + CALLBACK_PATH,
            code_verifier=flow["verifier"],
        )
        identity = await call(
            single_sign_on.verified_identity,
            ctx,
            tokens.id_token,
            tokens.access_token,
            nonce=flow["nonce"],
        )
        terminal = flow.get("terminal")
        via = "terminal" if terminal else "browser"
        caller = await call(single_sign_on.sign_in, ctx, who, identity, via)
        if terminal:
            code = sso_handoff.terminal_code(ctx, caller, str(flow["challenge"]))
            handed = RedirectResponse(f"{terminal}?{urlencode({'code': code})}", status_code=303)
            handed.delete_cookie(FLOW_COOKIE, path=START_PATH)
            return handed
        secret, _ = await call(sessions.start, ctx, caller)
    except (Unauthenticated, TooManyRequests) as exc:
        if isinstance(exc, Unauthenticated):
            throttle.failed(address)
        audit.record_refused_credentials(ctx.audit, who, CALLBACK_PATH, exc.message, exc.kind)
        response = _problem(request, exc.message, 401 if exc.kind == "UNAUTHENTICATED" else 429)
        response.delete_cookie(FLOW_COOKIE, path=START_PATH)
        return response
    except CatalogError as exc:
        return _problem(request, exc.message, 503)
    request.state.principal = caller.name
    response = RedirectResponse(flow["next"], status_code=303)
    hand_session(response, request, secret, ctx.sessions.max_seconds)
    response.set_cookie(
        SSO_SESSION_COOKIE,
        "1",
        max_age=ctx.sessions.max_seconds,
        httponly=True,
        samesite="lax",
        secure=over_https(request),
        path="/",
    )
    response.delete_cookie(FLOW_COOKIE, path=START_PATH)
    return response


def provider_sign_out(request: Request) -> Response | None:
    """Where the browser goes to end the provider's session after the catalog's, when the
    session began there and the provider says how (none otherwise)."""
    ctx = context(request)
    if ctx.sso is None or request.cookies.get(SSO_SESSION_COOKIE) != "1":
        return None
    try:
        target = ctx.sso.end_session_url(_base(request) + SIGNED_OUT_PATH)
    except CatalogError:
        return None
    if target is None:
        return None
    if request.headers.get("hx-request"):
        # An in-page request: htmx goes there itself (a form may not redirect off-site).
        response: Response = Response(status_code=204, headers={"HX-Redirect": target})
    else:
        response = page(
            "signed_out.html", provider=provider_name(ctx), provider_url=target, refresh=target
        )
    response.delete_cookie(SSO_SESSION_COOKIE, path="/")
    return response


@router.get(SIGNED_OUT_PATH)
async def signed_out() -> Response:
    """Back from the provider's sign-out."""
    return RedirectResponse("/signin", status_code=303)
