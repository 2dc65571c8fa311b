"""The error dialect is the one the route's router declares; a request no route took gets the
dialect of its path's prefix; an application with an undeclared route does not start."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from modelcatalog.api import errors
from modelcatalog.api.dialects import (
    MLFLOW_REGISTRY,
    UNITY_CATALOG,
    ErrorDialect,
    require_declared,
    speaking,
)
from modelcatalog.errors import CatalogError, NotFound


class OAuthErrors:
    """RFC 6749's error shape: a dialect that is not a table of codes."""

    name = "OAuth 2.0"

    def response(self, kind: str, message: str, status: int) -> Response:
        error = "invalid_request" if status == 400 else "server_error"
        return JSONResponse({"error": error, "error_description": message}, status_code=status)


def _app(*routers: APIRouter) -> FastAPI:
    app = FastAPI()
    for router in routers:
        app.include_router(router)
    app.add_exception_handler(CatalogError, errors.catalog_error)
    app.add_exception_handler(RequestValidationError, errors.validation_error)
    app.add_exception_handler(HTTPException, errors.http_error)
    return app


def _router(prefix: str, dialect: ErrorDialect) -> APIRouter:
    router = APIRouter(prefix=prefix, route_class=speaking(dialect))

    @router.get("/thing")
    async def missing_thing() -> dict:
        raise NotFound("No such thing.")

    return router


@pytest.fixture(scope="module")
def client() -> TestClient:
    # Both routers live under /api/2.0/, which the registry's codes answer by prefix: the
    # declarations, not the paths, decide.
    app = _app(
        _router("/api/2.0/uc", UNITY_CATALOG),
        _router("/api/2.0/oauth", OAuthErrors()),
    )
    require_declared(app)
    return TestClient(app)


def test_a_typed_error_takes_the_dialect_its_router_declares(client: TestClient) -> None:
    answer = client.get("/api/2.0/uc/thing")
    assert (answer.status_code, answer.json()) == (
        404,
        {"error_code": "NOT_FOUND", "message": "No such thing."},
    )


def test_a_dialect_may_write_its_own_shape(client: TestClient) -> None:
    answer = client.get("/api/2.0/oauth/thing")
    assert (answer.status_code, answer.json()) == (
        404,
        {"error": "server_error", "error_description": "No such thing."},
    )


def test_a_method_the_path_does_not_answer_takes_the_routes_dialect(client: TestClient) -> None:
    answer = client.post("/api/2.0/uc/thing")
    assert answer.status_code == 405
    assert answer.json()["error_code"] == "INVALID_ARGUMENT"
    assert answer.headers["allow"] == "GET"


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/2.0/nothing", "RESOURCE_DOES_NOT_EXIST"),
        ("/api/2.0/fs/nothing", "NOT_FOUND"),
        ("/api/2.1/nothing", "NOT_FOUND"),
        ("/nothing", "NOT_FOUND"),
    ],
    ids=["registry", "files", "unity-catalog", "native"],
)
def test_a_path_no_route_takes_gets_the_dialect_of_its_prefix(
    client: TestClient, path: str, code: str
) -> None:
    answer = client.get(path)
    assert (answer.status_code, answer.json()["error_code"]) == (404, code)


def test_an_application_with_a_route_of_no_dialect_does_not_start() -> None:
    plain = APIRouter(prefix="/api/2.1/plain")

    @plain.get("/thing")
    async def thing() -> dict:
        return {}

    app = _app(_router("/api/2.0/mlflow", MLFLOW_REGISTRY), plain)
    with pytest.raises(RuntimeError, match="/api/2.1/plain/thing"):
        require_declared(app)
