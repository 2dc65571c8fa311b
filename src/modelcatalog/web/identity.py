"""Who a browser is: the session its cookie names, and the checks every form post passes.

Pages take `who: ViewerDep` (the signed-in principal, or a redirect to sign in); forms and
in-place edits take `who: EditorDep`, which also requires the session's anti-forgery token,
sent as the `csrf_token` form field or the `X-CSRF-Token` header, and a same-origin request."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated
from urllib.parse import parse_qsl, quote, urlsplit

from fastapi import Depends, Request
from starlette.responses import Response

from modelcatalog.api.deps import context
from modelcatalog.errors import InvalidParameter, PermissionDenied, Unauthenticated
from modelcatalog.service import sessions
from modelcatalog.service.caller import Caller
from modelcatalog.service.sessions import BrowserSession
from modelcatalog.web.threads import call

COOKIE = "modelcatalog_session"


def over_https(request: Request) -> bool:
    """Whether the browser reached the server over HTTPS (cookies are then marked Secure)."""
    return request.url.scheme == "https"


def hand_session(response: Response, request: Request, secret: str, max_seconds: int) -> None:
    """Give the browser its session: a cookie for this server's paths, hidden from scripts."""
    response.set_cookie(
        COOKIE,
        secret,
        max_age=max_seconds,
        httponly=True,
        samesite="lax",
        secure=over_https(request),
        path="/",
    )


# The largest form a page sends (a description is the longest field).
MAX_FORM_BYTES = 256 * 1024


class SignInRequired(Exception):
    """A page was asked for without a live session: the browser is sent to sign in."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class Viewer:
    """The signed-in person behind a page request: their principal and their session."""

    def __init__(self, browser: BrowserSession, caller: Caller) -> None:
        self.session = browser
        self.caller = caller

    @property
    def name(self) -> str:
        return self.caller.name

    @property
    def is_admin(self) -> bool:
        return self.caller.is_admin

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


async def viewer(request: Request) -> Viewer:
    """The person signed in on this browser; SignInRequired without a live session."""
    secret = request.cookies.get(COOKIE)
    try:
        browser = await call(sessions.resume, context(request), secret)
    except Unauthenticated:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target) from None
    request.state.principal = browser.caller.name
    who = replace(
        browser.caller, request_id=request.state.request_id, client_address=_client(request)
    )
    return Viewer(browser, who)


async def form(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded form (the one encoding pages send); a field sent twice
    keeps its last value."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise InvalidParameter(
            f"Forms are sent as application/x-www-form-urlencoded, not '{kind or 'nothing'}'."
        )
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidParameter(f"The form is larger than {MAX_FORM_BYTES // 1024} KiB.")
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        raise InvalidParameter("The form is not UTF-8 text.") from None


def same_origin(request: Request) -> bool:
    """Whether the request says it comes from a page of this server (or says nothing, as
    some clients do; the anti-forgery token still decides then)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    here = urlsplit(str(request.base_url))
    there = urlsplit(origin)
    return (there.scheme, there.netloc) == (here.scheme, here.netloc)


async def editor(request: Request, who: Annotated[Viewer, Depends(viewer)]) -> Viewer:
    """The signed-in person behind a form post or in-place edit, who must have sent the
    session's anti-forgery token from a page of this server."""
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        sent = (await form(request)).get("csrf_token")
    if not same_origin(request) or not sessions.csrf_matches(who.session, sent):
        raise PermissionDenied(
            "The form was not sent from a page of this catalog (its anti-forgery token is "
            "missing or wrong): reload the page and try again."
        )
    return who


def sign_in_address(next_path: str) -> str:
    """The sign-in page, coming back to `next_path` afterwards."""
    return "/signin" if next_path in ("", "/") else f"/signin?next={quote(next_path, safe='/')}"


ViewerDep = Annotated[Viewer, Depends(viewer)]
"""The signed-in person behind a page (see `viewer`)."""

EditorDep = Annotated[Viewer, Depends(editor)]
"""The signed-in person behind a form post, its anti-forgery token checked (see `editor`)."""
