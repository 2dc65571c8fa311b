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
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from support.browser import CHROMIUM
from support.servers import BACKENDS, TRACKING_UI, BackendServers, RunningServer
from support.tls import share_default_context

share_default_context()


#: The modules that take longest, longest first (from `--durations`). `.ci/run` hands whole
#: modules to its workers in collection order (`--dist loadfile --no-loadscope-reorder`), so
#: these start first and the run does not end with one worker busy with a long module while
#: the others wait. A module left out only costs balance, never a result; a name that is no
#: module fails collection, so that a renamed module does not drop out of the list unnoticed.
LONGEST_FIRST = (
    "e2e/test_openapi_fuzz.py",
    "jobs/test_scale_out.py",
    "e2e/test_oidc_sign_in.py",
    "governance/test_audit_log.py",
    "web/test_model_pages.py",
    "governance/test_authorization_matrix.py",
    "jobs/test_durability.py",
    "rewrite/test_corpus_runs.py",
    "migrate/test_extras_mlflow_auth.py",
    "e2e/test_s3_direct.py",
    "ops/test_backup_restore.py",
    "jobs/test_notification_destinations.py",
    "e2e/test_hostile_text.py",
    "storage/test_storage_contract.py",
    "e2e/test_replicas_postgres.py",
    "e2e/test_modelcatalog_scheme.py",
    "web/test_admin_pages.py",
    "web/test_layout.py",
    "ops/test_backup_refusals.py",
    "migrate/test_hooks_to_triggers.py",
)


_MISSING = [name for name in LONGEST_FIRST if not (Path(__file__).parent / name).is_file()]
assert not _MISSING, f"LONGEST_FIRST names modules that do not exist: {_MISSING}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the modules of LONGEST_FIRST first, in its order; the rest keep theirs."""
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}

    def position(item: pytest.Item) -> int:
        module = item.nodeid.split("::", 1)[0].removeprefix("tests/")
        return rank.get(module, len(rank))

    items.sort(key=position)


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


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, launched once per test process by the first test that asks for it.
    Playwright's sync API keeps an event loop running in this thread while it is open: code
    that needs a loop of its own runs it in another thread."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()
