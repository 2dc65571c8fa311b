"""Fixtures of the deployment job, trigger and notification tests: a catalog server whose job
engine is quick (short poll, lease and backoff) and lets webhooks reach this machine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from support.jobs import QUICK_ENGINE
from support.servers import BackendServers, RunningServer


@pytest.fixture(scope="session")
def job_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendServers]:
    """The session's catalogs with a quick job engine, one per backend."""
    with ExitStack() as stack:
        yield BackendServers(
            stack, lambda b: tmp_path_factory.mktemp(f"jobs-{b}"), extra_env=QUICK_ENGINE
        )


@pytest.fixture(scope="session")
def job_server(backend: str, job_servers: BackendServers) -> RunningServer:
    """A running catalog with a quick job engine on the test's backend (shared by the session)."""
    return job_servers.on(backend)


@pytest.fixture
def jobs_api(job_server: RunningServer) -> Iterator[httpx.Client]:
    """An HTTP client of the job server, authenticated as the admin."""
    with httpx.Client(base_url=job_server.url, headers=job_server.headers(), timeout=60) as client:
        yield client


@pytest.fixture
def job_schema(jobs_api: httpx.Client) -> str:
    """A fresh `catalog.schema` on the job server for one test."""
    catalog = f"c_{uuid.uuid4().hex[:10]}"
    jobs_api.post("/api/2.1/unity-catalog/catalogs", json={"name": catalog}).raise_for_status()
    jobs_api.post(
        "/api/2.1/unity-catalog/schemas", json={"name": "s", "catalog_name": catalog}
    ).raise_for_status()
    return f"{catalog}.s"
