"""Fixtures shared by the end-to-end tests: a real catalog server per database backend.

A test runs on SQLite, unless its module is marked `both_databases`: then it runs on SQLite and
on PostgreSQL. MODELCATALOG_TEST_BACKENDS (default "sqlite,postgresql") restricts the backends;
when it leaves SQLite out, every test runs on PostgreSQL. PostgreSQL is reached at
MODELCATALOG_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from support.servers import BACKENDS, TRACKING_UI, BackendServers, RunningServer


def backends_of(test: pytest.Item) -> list[str]:
    """The databases a test runs on: both for a `both_databases` module, else SQLite alone."""
    if test.get_closest_marker("both_databases") or "sqlite" not in BACKENDS:
        return BACKENDS
    return ["sqlite"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that needs a database once per backend it is meant for (`backends_of`)."""
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize(
            "backend",
            [
                # `-m postgres` selects (and `-m "not postgres"` leaves out) every test run on
                # PostgreSQL.
                pytest.param(b, marks=pytest.mark.postgres, id=b) if b == "postgresql" else b
                for b in backends_of(metafunc.definition)
            ],
            indirect=True,
            scope="session",
        )


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    """The database of a test: "sqlite" or "postgresql" (chosen by `pytest_generate_tests`)."""
    return request.param


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendServers]:
    """The session's catalog servers, one per backend."""
    with ExitStack() as stack:
        yield BackendServers(
            stack,
            lambda b: tmp_path_factory.mktemp(f"server-{b}"),
            extra_env={"MODELCATALOG_TRACKING_UI_URL": TRACKING_UI},
        )


@pytest.fixture(scope="session")
def server(backend: str, servers: BackendServers) -> RunningServer:
    """A running catalog server on the test's backend (shared by the session), admin token
    included."""
    return servers.on(backend)


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
