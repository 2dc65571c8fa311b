"""What every route needs: the service context, the authenticated caller, a worker thread.

Routes name the first two by type: `ctx: ContextDep, who: CallerDep`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from modelcatalog.api.requests import checked_address
from modelcatalog.errors import InvalidParameter, TooManyRequests, Unauthenticated
from modelcatalog.service import audit, bearer, principals
from modelcatalog.service.caller import Caller
from modelcatalog.service.context import ServiceContext

T = TypeVar("T")


def context(request: Request) -> ServiceContext:
    return request.app.state.ctx


async def service_context(request: Request) -> ServiceContext:
    """The service context as a dependency; a coroutine, since FastAPI runs a plain function
    dependency in a worker thread."""
    return context(request)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def anonymous(request: Request) -> Caller:
    """Whoever sent the request, before any credential names them."""
    return Caller(
        "anonymous", 0, request_id=request.state.request_id, client_address=_client(request)
    )


def url_bearer(request: Request) -> Caller:
    """Whoever presents a presigned URL: anonymous until its signature names the principal."""
    who = anonymous(request)
    _check_address(request, who)
    return who


async def caller(request: Request) -> Caller:
    """The authenticated principal of this request (401 without a valid bearer token, 429 from
    an address that failed too often), with its path and query checked against the text rules."""
    token = bearer_token(request)
    ctx = context(request)
    # A token verified moments ago is answered from memory, without a trip to a worker thread.
    found = principals.cached_caller(ctx, token)
    if found is None:
        throttle = request.app.state.auth_throttle
        address = _client(request)
        try:
            throttle.check(address)
        except TooManyRequests as exc:
            audit.record_refused_credentials(
                ctx.audit, anonymous(request), request.url.path, exc.message, exc.kind
            )
            raise
        try:
            found = await run_in_threadpool(bearer.authenticate, ctx, token)
        except Unauthenticated as exc:
            throttle.failed(address)
            audit.record_refused_credentials(
                ctx.audit, anonymous(request), request.url.path, exc.message
            )
            raise
    request.state.principal = found.name
    who = replace(found, request_id=request.state.request_id, client_address=_client(request))
    _check_address(request, who)
    return who


def _check_address(request: Request, who: Caller) -> None:
    try:
        checked_address(request)
    except InvalidParameter as exc:
        audit.record_refused_input(context(request).audit, who, request.url.path, exc.message)
        raise


ContextDep = Annotated[ServiceContext, Depends(service_context)]
"""The service context of the application."""

CallerDep = Annotated[Caller, Depends(caller)]
"""The authenticated principal of the request (see `caller`)."""


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking service call off the event loop."""
    return await run_in_threadpool(fn, *args, **kwargs)
