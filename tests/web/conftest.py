"""Fixtures of the web UI tests: a catalog server with a quick job engine, Debian's Chromium
driven by Playwright, and people with their own tokens and grants."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from support.browser import Cast, Person
from support.governance import add_principal, grant, token_for
from support.jobs import QUICK_ENGINE
from support.servers import BackendServers, RunningServer
from support.versions import create_model, ready_version


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One catalog for the web UI tests (SQLite: the pages add nothing the database decides),
    with a quick job engine so that approvals move runs on at once."""
    with ExitStack() as stack:
        servers = BackendServers(
            stack, lambda b: tmp_path_factory.mktemp(f"web-{b}"), extra_env=QUICK_ENGINE
        )
        yield servers.on("sqlite")


@pytest.fixture
def admin_api(web_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web_server.url, headers=web_server.headers(), timeout=60) as c:
        yield c


@pytest.fixture
def cast(admin_api: httpx.Client, web_server: RunningServer) -> Cast:
    suffix = uuid.uuid4().hex[:8]
    catalog = f"c_{suffix}"
    admin_api.post("/api/2.1/unity-catalog/catalogs", json={"name": catalog}).raise_for_status()
    admin_api.post(
        "/api/2.1/unity-catalog/schemas", json={"name": "ml", "catalog_name": catalog}
    ).raise_for_status()
    people = {}
    for role in ("owner", "reader", "approver", "nobody"):
        name = f"{role}-{suffix}@example.com"
        add_principal(admin_api, name)
        people[role] = Person(name, token_for(admin_api, name))
    model = f"{catalog}.ml.churn"
    create_model(admin_api, model)
    ready_version(admin_api, model)
    ready_version(admin_api, model)
    admin_api.patch(
        f"/api/2.1/unity-catalog/models/{model}", json={"owner": people["owner"].name}
    ).raise_for_status()
    for role in ("owner", "reader", "approver"):
        grant(admin_api, "catalog", catalog, people[role].name, "USE CATALOG", "USE SCHEMA")
    grant(admin_api, "registered_model", model, people["reader"].name, "EXECUTE")
    grant(admin_api, "registered_model", model, people["approver"].name, "EXECUTE")
    return Cast(
        model,
        people["owner"],
        people["reader"],
        people["approver"],
        people["nobody"],
        Person("admin", web_server.admin_token),
    )
