"""Fixtures shared by the end-to-end tests: a real catalog server per database backend.

The backends come from MODELCATALOG_TEST_BACKENDS (default "sqlite,postgresql"); PostgreSQL is
reached at MODELCATALOG_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from support.servers import BACKENDS, RunningServer, backend_server


@pytest.fixture(
    scope="session",
    # `-m postgres` selects (and `-m "not postgres"` leaves out) every test run on PostgreSQL.
    params=[
        pytest.param(b, marks=pytest.mark.postgres) if b == "postgresql" else b for b in BACKENDS
    ],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A running catalog server (one per backend for the whole session), admin token included."""
    with backend_server(request.param, tmp_path_factory.mktemp(f"server-{request.param}")) as up:
        yield up


@pytest.fixture
def api(server: RunningServer) -> Iterator[httpx.Client]:
    """An HTTP client authenticated as the admin."""
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as client:
        yield client


@pytest.fixture
def schema(api: httpx.Client) -> str:
    """A fresh `catalog.schema` for one test, so tests never see each other's models."""
    catalog = f"c_{uuid.uuid4().hex[:10]}"
    api.post("/api/2.1/unity-catalog/catalogs", json={"name": catalog}).raise_for_status()
    api.post(
        "/api/2.1/unity-catalog/schemas", json={"name": "s", "catalog_name": catalog}
    ).raise_for_status()
    return f"{catalog}.s"
