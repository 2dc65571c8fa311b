"""The one place where typed errors become each wire dialect's error codes and statuses."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from modelcatalog.errors import CatalogError

log = logging.getLogger("modelcatalog.api")

STATUS = {
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "INVALID_PARAMETER": 400,
    "REQUEST_TOO_LARGE": 413,
    "FAILED_PRECONDITION": 400,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "TEMPORARILY_UNAVAILABLE": 503,
    "ABORTED": 409,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "INTERNAL_ERROR": 500,
}

# The model-registry dialect (/api/2.0) speaks MLflow's codes; Unity Catalog REST speaks its own.
MLFLOW_CODES = {
    "NOT_FOUND": "RESOURCE_DOES_NOT_EXIST",
    "ALREADY_EXISTS": "RESOURCE_ALREADY_EXISTS",
    "INVALID_PARAMETER": "INVALID_PARAMETER_VALUE",
    "REQUEST_TOO_LARGE": "INVALID_PARAMETER_VALUE",
    "FAILED_PRECONDITION": "INVALID_STATE",
    "ABORTED": "RESOURCE_CONFLICT",
}
UC_CODES = {
    "NOT_FOUND": "NOT_FOUND",
    "ALREADY_EXISTS": "ALREADY_EXISTS",
    "INVALID_PARAMETER": "INVALID_ARGUMENT",
    "REQUEST_TOO_LARGE": "INVALID_ARGUMENT",
    "FAILED_PRECONDITION": "FAILED_PRECONDITION",
    "REQUEST_LIMIT_EXCEEDED": "RESOURCE_EXHAUSTED",
    "ABORTED": "ABORTED",
}


# The Files API answers a missing path with the platform's NOT_FOUND, which is exactly what
# MLflow's presigned-URL repository takes to mean "not a directory". The presigned URLs it hands
# out answer in the same dialect.
FILES_CODES = {**MLFLOW_CODES, "NOT_FOUND": "NOT_FOUND"}
FILES_PREFIXES = ("/api/2.0/fs/", "/api/modelcatalog/presigned/")


def error_body(kind: str, message: str, path: str) -> JSONResponse:
    if path.startswith(FILES_PREFIXES):
        codes = FILES_CODES
    else:
        codes = MLFLOW_CODES if path.startswith("/api/2.0/") else UC_CODES
    return JSONResponse(
        status_code=STATUS.get(kind, 500),
        content={"error_code": codes.get(kind, kind), "message": message},
    )


async def catalog_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CatalogError)
    response = error_body(exc.kind, exc.message, request.url.path)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        problems.append(f"'{where or 'request'}': {err.get('msg', 'invalid')}")
    return error_body(
        "INVALID_PARAMETER", "; ".join(problems) or "Invalid request.", request.url.path
    )


async def http_error(request: Request, exc: Exception) -> JSONResponse:
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
    response = error_body(kind, message, request.url.path)
    response.status_code = exc.status_code
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


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"path": request.url.path})
    return error_body(
        "INTERNAL_ERROR", "Internal error; the server log has the details.", request.url.path
    )
