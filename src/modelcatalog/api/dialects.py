"""Error dialects: the shape in which a router's errors reach its clients.

Each router declares the dialect its clients speak through its route class,
`APIRouter(..., route_class=speaking(UNITY_CATALOG))`, and every error raised while one of its
routes handles a request (a typed error, bad input, a refused credential, a method the path does
not answer) takes that shape. A router for a protocol with its own error shape (SCIM's RFC 7644
errors, OAuth's RFC 6749 `error`) brings an `ErrorDialect` of its own and declares it the same
way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol, cast

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.responses import Response

from modelcatalog.api.openapi import api_routes

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
"""The HTTP status of each kind of error, whatever the dialect."""


class ErrorDialect(Protocol):
    """How one family of routes writes an error on the wire."""

    @property
    def name(self) -> str:
        """What the dialect is called, in messages about it."""
        ...

    def response(self, kind: str, message: str, status: int) -> Response:
        """The answer for an error of this `kind` (see `modelcatalog.errors`) and `status`."""
        ...


@dataclass(frozen=True, eq=False)
class ErrorCodes:
    """`{"error_code", "message"}`, the Databricks REST shape, with this dialect's code for each
    kind of error (a kind without one is sent as it is)."""

    name: str
    codes: Mapping[str, str]

    def response(self, kind: str, message: str, status: int) -> Response:
        return JSONResponse(
            status_code=status,
            content={"error_code": self.codes.get(kind, kind), "message": message},
        )


MLFLOW_REGISTRY = ErrorCodes(
    "MLflow model registry",
    {
        "NOT_FOUND": "RESOURCE_DOES_NOT_EXIST",
        "ALREADY_EXISTS": "RESOURCE_ALREADY_EXISTS",
        "INVALID_PARAMETER": "INVALID_PARAMETER_VALUE",
        "REQUEST_TOO_LARGE": "INVALID_PARAMETER_VALUE",
        "FAILED_PRECONDITION": "INVALID_STATE",
        "ABORTED": "RESOURCE_CONFLICT",
    },
)
"""The model registry `/api/2.0/mlflow/...`: MLflow's own codes."""

_UC_CODES = {
    "NOT_FOUND": "NOT_FOUND",
    "ALREADY_EXISTS": "ALREADY_EXISTS",
    "INVALID_PARAMETER": "INVALID_ARGUMENT",
    "REQUEST_TOO_LARGE": "INVALID_ARGUMENT",
    "FAILED_PRECONDITION": "FAILED_PRECONDITION",
    "REQUEST_LIMIT_EXCEEDED": "RESOURCE_EXHAUSTED",
    "ABORTED": "ABORTED",
}

UNITY_CATALOG = ErrorCodes("Unity Catalog", _UC_CODES)
"""Unity Catalog REST `/api/2.1/unity-catalog/...`: the codes of its specification."""

DATABRICKS_UNITY_CATALOG = ErrorCodes(
    "Unity Catalog (Databricks clients)",
    {**_UC_CODES, "ALREADY_EXISTS": "RESOURCE_ALREADY_EXISTS"},
)
"""Unity Catalog REST as Databricks answers it, for clients made for Databricks (databricks-sdk,
and MLflow's `databricks-uc` client through it): an existing object is
`RESOURCE_ALREADY_EXISTS`, which MLflow's `copy_model_version` waits for before it adds a
version to a model that already exists."""


def from_databricks_sdk(user_agent: str) -> bool:
    """Whether a request comes from databricks-sdk (alone or under MLflow). Unity Catalog OSS's
    `unitycatalog-client` and databricks-sdk call the same paths; only the User-Agent tells
    them apart."""
    return "databricks-sdk" in user_agent


def for_client(dialect: ErrorDialect, user_agent: str) -> ErrorDialect:
    """`dialect` as the client that sent `user_agent` reads it."""
    if dialect is UNITY_CATALOG and from_databricks_sdk(user_agent):
        return DATABRICKS_UNITY_CATALOG
    return dialect


FILES = ErrorCodes("Files API", {**MLFLOW_REGISTRY.codes, "NOT_FOUND": "NOT_FOUND"})
"""The Files API and the presigned URLs it hands out: MLflow's codes, except that a missing path
is the platform's NOT_FOUND, which is exactly what MLflow's presigned-URL repository takes to
mean "not a directory"."""

NATIVE = ErrorCodes("modelcatalog", _UC_CODES)
"""The catalog's own routes (`/api/modelcatalog/...`, health, metrics): Unity Catalog's codes."""


SCIM_MEDIA = "application/scim+json"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass(frozen=True, eq=False)
class ScimErrors:
    """RFC 7644's error body (section 3.12): the status as a string, the detail, and a
    `scimType` where the RFC names one (a duplicate is `uniqueness`, a bad filter
    `invalidFilter`)."""

    name: str = "SCIM 2.0"

    def response(self, kind: str, message: str, status: int) -> Response:
        body: dict[str, object] = {
            "schemas": [SCIM_ERROR],
            "status": str(status),
            "detail": message,
        }
        if kind == "ALREADY_EXISTS":
            body["scimType"] = "uniqueness"
        elif kind == "INVALID_PARAMETER":
            body["scimType"] = "invalidFilter" if "filter" in message.lower() else "invalidValue"
        return JSONResponse(body, status_code=status, media_type=SCIM_MEDIA)


SCIM = ScimErrors()
"""SCIM provisioning, `/api/2.0/preview/scim/v2/...` (api/scim.py)."""


class DialectRoute(APIRoute):
    """A route whose errors take the shape of the dialect its router declared."""

    error_dialect: ClassVar[ErrorDialect]


def speaking(dialect: ErrorDialect) -> type[APIRoute]:
    """The route class of a router whose clients speak `dialect`."""
    return cast(
        type[APIRoute],
        type(
            f"{DialectRoute.__name__}[{dialect.name}]", (DialectRoute,), {"error_dialect": dialect}
        ),
    )


# A request no route matched (404) has no router to ask: it gets the dialect its path's prefix
# promises, so that a client calling a missing endpoint of its API reads the error it expects.
UNMATCHED = (
    ("/api/2.0/preview/scim/", SCIM),
    ("/api/2.0/fs/", FILES),
    ("/api/modelcatalog/presigned/", FILES),
    ("/api/2.0/", MLFLOW_REGISTRY),
    ("/api/2.1/", UNITY_CATALOG),
)


def unmatched(path: str) -> ErrorDialect:
    """The dialect of a request for `path` that no route matched."""
    for prefix, dialect in UNMATCHED:
        if path.startswith(prefix):
            return dialect
    return NATIVE


def of_route(route: object) -> ErrorDialect:
    """The dialect `route` declared; the routes FastAPI adds itself (the OpenAPI document and
    its pages) declare none and speak the catalog's own."""
    return getattr(route, "error_dialect", NATIVE)


def require_declared(app: FastAPI) -> None:
    """Refuse an application with a route whose router declared no dialect."""
    undeclared = [r.path for r in api_routes(app.routes) if not isinstance(r, DialectRoute)]
    if undeclared:
        raise RuntimeError(f"no error dialect declared for {', '.join(undeclared)}")
