"""The sign-in page itself, shared by the token sign-in and single sign-on: where to go
afterwards, what the provider's button says, and the form with its anti-forgery cookie."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import Request
from starlette.responses import Response

from modelcatalog.api.deps import context
from modelcatalog.service.context import ServiceContext
from modelcatalog.web.identity import over_https
from modelcatalog.web.render import page

SIGNIN_COOKIE = "modelcatalog_signin"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this server, never another site."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    ):
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


def provider_name(ctx: ServiceContext) -> str | None:
    """What the sign-in button calls the provider: its host (none when sign-on is off)."""
    if ctx.sso is None:
        return None
    return urlsplit(ctx.sso.settings.issuer_url).netloc or ctx.sso.settings.issuer_url


def signin_page(request: Request, next_path: str, error: str | None, status: int) -> Response:
    """The sign-in page: a personal access token, or the identity provider where there is one."""
    token = secrets.token_urlsafe(24)
    response = page(
        "signin.html",
        status,
        signin_token=token,
        next_path=next_path,
        error=error,
        provider=provider_name(context(request)),
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="lax",
        secure=over_https(request),
        path="/signin",
    )
    return response
