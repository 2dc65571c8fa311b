"""What every route needs: the service context, the authenticated caller, a worker thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from modelcatalog.errors import Unauthenticated
from modelcatalog.service import audit, principals
from modelcatalog.service.context import Caller, ServiceContext

T = TypeVar("T")


def context(request: Request) -> ServiceContext:
    return request.app.state.ctx


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def url_bearer(request: Request) -> Caller:
    """Whoever presents a presigned URL: anonymous until its signature names the principal."""
    return Caller(
        "anonymous", 0, request_id=request.state.request_id, client_address=_client(request)
    )


async def caller(request: Request) -> Caller:
    """The authenticated principal of this request (401 without a valid bearer token)."""
    token = bearer_token(request)
    # A token verified moments ago is answered from memory, without a trip to a worker thread.
    found = principals.cached_caller(context(request), token)
    if found is None:
        try:
            found = await run_in_threadpool(principals.authenticate, context(request), token)
        except Unauthenticated as exc:
            audit.record_refused_credentials(
                context(request).audit, url_bearer(request), request.url.path, exc.message
            )
            raise
    request.state.principal = found.name
    return replace(found, request_id=request.state.request_id, client_address=_client(request))


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking service call off the event loop."""
    return await run_in_threadpool(fn, *args, **kwargs)
