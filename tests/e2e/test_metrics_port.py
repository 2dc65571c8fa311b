"""Prometheus scrapes the metrics port without a token; the API port keeps requiring one; the
metrics count what an operator watches (model events, failed registrations, denials, the
database pools, deployment runs by state)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from support.governance import add_principal, token_for
from support.http import metric_value, ok, unique
from support.models import SIGNED_MLMODEL
from support.servers import RunningServer, free_port, run_server
from support.versions import create_model, create_version, finalize, put_file, ready_version

UC = "/api/2.1/unity-catalog"


@pytest.fixture(scope="module", params=[1, 2], ids=["one-worker", "two-workers"])
def scraped(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, str]]:
    port = free_port()
    with run_server(
        tmp_path_factory.mktemp("metrics"),
        workers=request.param,
        extra_env={"MODELCATALOG_METRICS_PORT": str(port)},
    ) as server:
        yield server, f"http://127.0.0.1:{port}"


def test_the_metrics_port_needs_no_token_and_serves_nothing_else(
    scraped: tuple[RunningServer, str],
) -> None:
    server, metrics_url = scraped
    answer = httpx.get(f"{metrics_url}/metrics")
    assert answer.status_code == 200
    assert "modelcatalog_http_requests_total" in answer.text
    assert "modelcatalog_database_connections" in answer.text
    assert "modelcatalog_audit_records_unwritten" in answer.text

    elsewhere = httpx.get(f"{metrics_url}{UC}/catalogs")
    assert elsewhere.status_code == 404
    assert "Only GET /metrics" in elsewhere.text
    assert httpx.get(f"{metrics_url}/health").status_code == 404
    # The API port still wants a token for its /metrics.
    assert httpx.get(f"{server.url}/metrics").status_code == 401


def test_events_failures_and_denials_are_counted(scraped: tuple[RunningServer, str]) -> None:
    server, metrics_url = scraped
    with httpx.Client(base_url=server.url, headers=server.headers(), timeout=30) as api:
        catalog = unique("c")
        ok(api.post(f"{UC}/catalogs", json={"name": catalog}))
        ok(api.post(f"{UC}/schemas", json={"name": "s", "catalog_name": catalog}))
        name = f"{catalog}.s.m"
        create_model(api, name)
        ready_version(api, name)
        ok(api.put(f"{UC}/models/{name}/aliases/champion", json={"version_num": 1}))
        unsigned = create_version(api, name)
        put_file(api, name, unsigned, "MLmodel", SIGNED_MLMODEL.split("signature:")[0])
        assert finalize(api, name, unsigned).status_code != 200
        outsider = unique("outsider")
        add_principal(api, outsider)
        refused = httpx.get(
            f"{server.url}{UC}/catalogs/{catalog}",
            headers=server.headers(token_for(api, outsider)),
        )
        assert refused.status_code in (403, 404)

    # With two workers the requests land on either; the scrape sums both.
    text = httpx.get(f"{metrics_url}/metrics").text
    events = "modelcatalog_model_events_total"
    assert metric_value(text, events, event="MODEL_VERSION_CREATED") == 2
    assert metric_value(text, events, event="MODEL_VERSION_READY") == 1
    assert metric_value(text, events, event="MODEL_ALIAS_SET") == 1
    assert metric_value(text, "modelcatalog_versions_failed_registration_total") == 1
    assert (
        metric_value(text, "modelcatalog_authorization_denials_total", privilege="USE CATALOG") == 1
    )
    assert (
        metric_value(
            text,
            "modelcatalog_http_requests_total",
            method="POST",
            route="/api/2.1/unity-catalog/catalogs",
            status="200",
        )
        == 1
    )
