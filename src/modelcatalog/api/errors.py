"""The one place where errors become answers: each in the dialect of the route that met it."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from modelcatalog.api import dialects
from modelcatalog.api.dialects import STATUS, ErrorDialect
from modelcatalog.errors import CatalogError
from modelcatalog.service import measures
from modelcatalog.storage.base import StorageError

log = logging.getLogger("modelcatalog.api")


def dialect_of(request: Request) -> ErrorDialect:
    """The dialect of the route that took `request`, or of its path when none did."""
    route = request.scope.get("route")
    dialect = dialects.unmatched(request.url.path) if route is None else dialects.of_route(route)
    return dialects.for_client(dialect, request.headers.get("user-agent", ""))


def error_response(
    request: Request, kind: str, message: str, status: int | None = None
) -> Response:
    """The answer to `request` for an error of `kind`, by default with that kind's status."""
    code = STATUS.get(kind, 500) if status is None else status
    return dialect_of(request).response(kind, message, code)


async def catalog_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CatalogError)
    response = error_response(request, exc.kind, exc.message)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        problems.append(f"'{where or 'request'}': {err.get('msg', 'invalid')}")
    return error_response(request, "INVALID_PARAMETER", "; ".join(problems) or "Invalid request.")


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = {
        404: "NOT_FOUND",
        405: "INVALID_PARAMETER",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
    }.get(exc.status_code, "INVALID_PARAMETER")
    message = str(exc.detail)
    if exc.status_code == 404:
        message = f"No endpoint {request.method} {request.url.path}."
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    response = error_response(request, kind, message, exc.status_code)
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:
        # Every method the path answers, not only those of the first route that matched it.
        response.headers["allow"] = ", ".join(_allowed_methods(request))
    return response


def _allowed_methods(request: Request) -> list[str]:
    routes = request.app.router.routes
    return [
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        if any(r.matches({**request.scope, "method": method})[0] == Match.FULL for r in routes)
    ]


async def unexpected_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, (StorageError, OSError)):
        measures.storage_errors.labels(type(exc).__name__).inc()
    log.exception("unhandled error", extra={"path": request.url.path})
    return error_response(
        request, "INTERNAL_ERROR", "Internal error; the server log has the details."
    )
