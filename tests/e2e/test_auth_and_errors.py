"""Authentication on every endpoint, the operational endpoints, and each dialect's error codes."""

from __future__ import annotations

import time

import httpx
import pytest

from support.http import error_of, ok, unique
from support.versions import REGISTRY_2_0, UC_2_1, create_model

M = "c.s.m"
PROTECTED = [
    ("POST", f"{UC_2_1}/catalogs"),
    ("GET", f"{UC_2_1}/catalogs"),
    ("GET", f"{UC_2_1}/catalogs/c"),
    ("PATCH", f"{UC_2_1}/catalogs/c"),
    ("DELETE", f"{UC_2_1}/catalogs/c"),
    ("POST", f"{UC_2_1}/schemas"),
    ("GET", f"{UC_2_1}/schemas"),
    ("GET", f"{UC_2_1}/schemas/c.s"),
    ("PATCH", f"{UC_2_1}/schemas/c.s"),
    ("DELETE", f"{UC_2_1}/schemas/c.s"),
    ("POST", f"{UC_2_1}/models"),
    ("GET", f"{UC_2_1}/models"),
    ("POST", f"{UC_2_1}/models/versions"),
    ("GET", f"{UC_2_1}/models/{M}"),
    ("PATCH", f"{UC_2_1}/models/{M}"),
    ("DELETE", f"{UC_2_1}/models/{M}"),
    ("GET", f"{UC_2_1}/models/{M}/versions"),
    ("GET", f"{UC_2_1}/models/{M}/versions/1"),
    ("PATCH", f"{UC_2_1}/models/{M}/versions/1"),
    ("DELETE", f"{UC_2_1}/models/{M}/versions/1"),
    ("PATCH", f"{UC_2_1}/models/{M}/versions/1/finalize"),
    ("POST", f"{UC_2_1}/temporary-model-version-credentials"),
    ("PUT", f"{UC_2_1}/models/{M}/aliases/a"),
    ("GET", f"{UC_2_1}/models/{M}/aliases/a"),
    ("DELETE", f"{UC_2_1}/models/{M}/aliases/a"),
    ("PATCH", f"{UC_2_1}/securable-tags/registered_model/{M}"),
    ("PATCH", f"{UC_2_1}/subentity-tags/registered_model/{M}/1"),
    ("PATCH", f"{UC_2_1}/securable-tags/catalog/c"),
    ("PATCH", f"{UC_2_1}/securable-tags/schema/c.s"),
    ("PATCH", f"{UC_2_1}/securable-tags/FUNCTION/{M}"),
    ("PATCH", f"{UC_2_1}/subentity-tags/FUNCTION/{M}/1"),
    ("POST", f"{REGISTRY_2_0}/registered-models/create"),
    ("PATCH", f"{REGISTRY_2_0}/registered-models/update"),
    ("DELETE", f"{REGISTRY_2_0}/registered-models/delete"),
    ("GET", f"{REGISTRY_2_0}/registered-models/get"),
    ("GET", f"{REGISTRY_2_0}/registered-models/search"),
    (
        "GET",
        f"{REGISTRY_2_0}/registered-models:is-databricks-sdk-models-artifact-repository-enabled",
    ),
    ("POST", f"{REGISTRY_2_0}/registered-models/set-tag"),
    ("DELETE", f"{REGISTRY_2_0}/registered-models/delete-tag"),
    ("POST", f"{REGISTRY_2_0}/registered-models/alias"),
    ("DELETE", f"{REGISTRY_2_0}/registered-models/alias"),
    ("GET", f"{REGISTRY_2_0}/registered-models/alias"),
    ("POST", f"{REGISTRY_2_0}/model-versions/create"),
    ("PATCH", f"{REGISTRY_2_0}/model-versions/update"),
    ("DELETE", f"{REGISTRY_2_0}/model-versions/delete"),
    ("GET", f"{REGISTRY_2_0}/model-versions/get"),
    ("GET", f"{REGISTRY_2_0}/model-versions/search"),
    ("POST", f"{REGISTRY_2_0}/model-versions/finalize"),
    ("POST", f"{REGISTRY_2_0}/model-versions/generate-temporary-credentials"),
    ("GET", f"{REGISTRY_2_0}/model-versions/get-download-uri"),
    ("POST", f"{REGISTRY_2_0}/model-versions/set-tag"),
    ("DELETE", f"{REGISTRY_2_0}/model-versions/delete-tag"),
    ("POST", f"{REGISTRY_2_0}/model-versions/emit-lineage"),
    ("POST", "/api/2.0/fs/create-upload-url"),
    ("POST", "/api/2.0/fs/create-download-url"),
    ("GET", "/api/2.0/fs/directories/Models/c/s/m/1/"),
    ("GET", "/api/modelcatalog/me"),
    ("POST", "/api/modelcatalog/tokens"),
    ("GET", "/api/modelcatalog/tokens"),
    ("DELETE", "/api/modelcatalog/tokens/t"),
    ("POST", "/api/modelcatalog/service-principals/sp/secrets"),
    ("GET", "/api/modelcatalog/service-principals/sp/secrets"),
    ("DELETE", "/api/modelcatalog/service-principals/sp/secrets/s"),
    ("GET", f"/api/modelcatalog/models/{M}/versions/1/manifest"),
    ("PUT", f"/api/modelcatalog/migration/versions/{M}/1/files"),
    ("POST", f"/api/modelcatalog/migration/versions/{M}/import"),
    ("GET", f"{UC_2_1}/permissions/registered_model/{M}"),
    ("PATCH", f"{UC_2_1}/permissions/registered_model/{M}"),
    ("GET", f"{UC_2_1}/effective-permissions/registered_model/{M}"),
    *(
        (method, f"{UC_2_1}/{kind}/{name}")
        for kind in ("permissions", "effective-permissions")
        for name in ("catalog/c", "schema/c.s", "metastore/metastore")
        for method in (("GET", "PATCH") if kind == "permissions" else ("GET",))
    ),
    ("POST", "/api/modelcatalog/principals"),
    ("GET", "/api/modelcatalog/principals"),
    ("GET", "/api/modelcatalog/principals/p"),
    ("PATCH", "/api/modelcatalog/principals/p"),
    ("DELETE", "/api/modelcatalog/principals/p"),
    ("POST", "/api/modelcatalog/principals/g/members"),
    ("DELETE", "/api/modelcatalog/principals/g/members/p"),
    ("POST", "/api/modelcatalog/migration/versions"),
    ("GET", "/api/modelcatalog/audit"),
    ("GET", "/api/modelcatalog/audit/verify"),
    ("POST", "/api/modelcatalog/jobs"),
    ("GET", "/api/modelcatalog/jobs"),
    ("GET", "/api/modelcatalog/approvals"),
    ("GET", "/api/modelcatalog/search"),
    ("GET", "/api/modelcatalog/jobs/j"),
    ("PUT", "/api/modelcatalog/jobs/j"),
    ("DELETE", "/api/modelcatalog/jobs/j"),
    ("GET", f"/api/modelcatalog/models/{M}/deployment-runs"),
    ("POST", f"/api/modelcatalog/models/{M}/versions/1/deployment-runs"),
    ("GET", "/api/modelcatalog/deployment-runs/r"),
    ("POST", "/api/modelcatalog/deployment-runs/r/cancel"),
    ("POST", "/api/modelcatalog/deployment-runs/r/repair"),
    ("POST", "/api/modelcatalog/deployment-runs/r/tasks/t/approve"),
    ("POST", "/api/modelcatalog/deployment-runs/r/tasks/t/reject"),
    ("GET", f"/api/modelcatalog/models/{M}/deployment-approvers"),
    ("PUT", f"/api/modelcatalog/models/{M}/deployment-approvers/p"),
    ("DELETE", f"/api/modelcatalog/models/{M}/deployment-approvers/p"),
    ("POST", "/api/modelcatalog/triggers"),
    ("GET", "/api/modelcatalog/triggers"),
    ("GET", "/api/modelcatalog/triggers/t"),
    ("DELETE", "/api/modelcatalog/triggers/t"),
    ("POST", "/api/modelcatalog/notification-destinations"),
    ("GET", "/api/modelcatalog/notification-destinations"),
    ("GET", "/api/modelcatalog/notification-destinations/d"),
    ("DELETE", "/api/modelcatalog/notification-destinations/d"),
    ("POST", "/api/modelcatalog/notification-destinations/d/test"),
    ("GET", "/api/modelcatalog/deliveries"),
    ("GET", "/api/modelcatalog/notifications/smtp"),
    ("PUT", "/api/modelcatalog/notifications/smtp"),
    ("DELETE", "/api/modelcatalog/notifications/smtp"),
    ("GET", "/metrics"),
    ("GET", f"/api/modelcatalog/models/{M}/versions/1/signature"),
]
# Served without a bearer token: liveness, documentation, and URLs whose signature is the
# credential. (OAuth's discovery documents and token endpoint, where the client's credentials
# are the credential, are outside the OpenAPI document: see test_oauth_machines.py.)
OPEN = {
    "/health",
    "/docs",
    "/openapi.json",
    "/.well-known/databricks-config",
    "/api/modelcatalog/presigned/{key}",
}


def _template(path: str) -> str:
    return path.replace("{key:path}", "{key}").replace("{path:path}", "{path}")


def test_the_unauthenticated_table_covers_every_route(server: object) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()  # type: ignore[attr-defined]
    served = {
        (method.upper(), _template(path))
        for path, operations in spec["paths"].items()
        for method in operations
    }
    listed = set()
    for method, path in PROTECTED:
        match = [(m, p) for m, p in served if m == method and _matches(p, path)]
        assert match, f"{method} {path} is not a route of the server"
        listed.update(match)
    missing = {(m, p) for m, p in served if p not in OPEN} - listed
    assert not missing, f"routes missing from PROTECTED: {sorted(missing)}"


def _matches(template: str, path: str) -> bool:
    t_parts, p_parts = template.strip("/").split("/"), path.strip("/").split("/")
    if template.endswith("{path}"):
        return p_parts[: len(t_parts) - 1] == t_parts[:-1]
    if len(t_parts) != len(p_parts):
        return False
    return all(
        t == p or (t.startswith("{") and t.endswith("}"))
        for t, p in zip(t_parts, p_parts, strict=True)
    )


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", "Bearer"], ids=["no-token", "wrong", "empty"]
)
@pytest.mark.parametrize(("method", "path"), PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_every_endpoint_needs_a_valid_token(
    server: object, method: str, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = httpx.request(
        method,
        f"{server.url}{path}",
        headers=headers,  # type: ignore[attr-defined]
        json={} if method != "GET" else None,
    )
    body = error_of(response, 401)
    assert body["error_code"] == "UNAUTHENTICATED"


def test_non_bearer_scheme_is_unauthenticated(server: object) -> None:
    response = httpx.get(
        f"{server.url}{UC_2_1}/catalogs",  # type: ignore[attr-defined]
        headers={"Authorization": f"Basic {server.admin_token}"},
    )  # type: ignore[attr-defined]
    assert error_of(response, 401)["error_code"] == "UNAUTHENTICATED"


def test_health_docs_and_openapi_are_served(server: object) -> None:
    url = server.url  # type: ignore[attr-defined]
    health = httpx.get(f"{url}/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    docs = httpx.get(f"{url}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = httpx.get(f"{url}/openapi.json")
    assert spec.status_code == 200
    assert f"{UC_2_1}/models/{{full_name}}" in spec.json()["paths"]


def test_metrics_count_requests_by_route_and_status(api: httpx.Client) -> None:
    api.get(f"{UC_2_1}/catalogs/{unique('absent')}")
    text = api.get("/metrics").text
    assert api.get("/metrics").status_code == 200
    lines = [
        line for line in text.splitlines() if line.startswith("modelcatalog_http_requests_total{")
    ]
    assert any(
        'route="/api/2.1/unity-catalog/catalogs/{name}"' in line and 'status="404"' in line
        for line in lines
    ), lines


@pytest.fixture
def model(api: httpx.Client, schema: str) -> str:
    name = f"{schema}.{unique()}"
    create_model(api, name)
    return name


def test_registry_dialect_error_codes(api: httpx.Client, schema: str, model: str) -> None:
    missing = api.get(f"{REGISTRY_2_0}/registered-models/get", params={"name": f"{schema}.nope"})
    body = error_of(missing, 404)
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert f"{schema}.nope" in body["message"]

    twice = api.post(f"{REGISTRY_2_0}/registered-models/create", json={"name": model})
    body = error_of(twice, 409)
    assert body["error_code"] == "RESOURCE_ALREADY_EXISTS"
    assert model in body["message"]

    bad = api.post(f"{REGISTRY_2_0}/registered-models/create", json={"name": "only.two"})
    body = error_of(bad, 400)
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "'name'" in body["message"]

    no_version = api.get(f"{REGISTRY_2_0}/model-versions/get", params={"name": model})
    body = error_of(no_version, 400)
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "'version'" in body["message"]


def test_unity_catalog_dialect_error_codes(api: httpx.Client, schema: str, model: str) -> None:
    body = error_of(api.get(f"{UC_2_1}/models/{schema}.nope"), 404)
    assert body["error_code"] == "NOT_FOUND"
    assert f"{schema}.nope" in body["message"]

    catalog, schema_name, name = model.split(".")
    twice = api.post(
        f"{UC_2_1}/models", json={"catalog_name": catalog, "schema_name": schema_name, "name": name}
    )
    assert error_of(twice, 409)["error_code"] == "ALREADY_EXISTS"

    no_schema = api.post(f"{UC_2_1}/models", json={"catalog_name": catalog, "name": "x"})
    body = error_of(no_schema, 400)
    assert body["error_code"] == "INVALID_ARGUMENT"
    assert "'schema_name'" in body["message"]

    bad_credentials = api.post(
        f"{UC_2_1}/temporary-model-version-credentials",
        json={
            "catalog_name": catalog,
            "schema_name": schema_name,
            "model_name": name,
            "version": 1,
            "operation": "DANCE",
        },
    )
    body = error_of(bad_credentials, 400)
    assert body["error_code"] == "INVALID_ARGUMENT"
    assert "'operation'" in body["message"]


def test_unknown_route_answers_in_the_dialect(api: httpx.Client) -> None:
    assert error_of(api.get(f"{UC_2_1}/no-such-thing"), 404)["error_code"] == "NOT_FOUND"
    assert error_of(api.get(f"{REGISTRY_2_0}/no-such-thing"), 404)["error_code"] == (
        "RESOURCE_DOES_NOT_EXIST"
    )


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (f"{UC_2_1}/models", "INVALID_ARGUMENT"),
        (f"{UC_2_1}/catalogs", "INVALID_ARGUMENT"),
        (f"{REGISTRY_2_0}/registered-models/search", "INVALID_PARAMETER_VALUE"),
    ],
)
def test_negative_max_results_is_refused(api: httpx.Client, path: str, code: str) -> None:
    body = error_of(api.get(path, params={"max_results": -1}), 400)
    assert body["error_code"] == code
    assert "'max_results'" in body["message"]


def test_max_results_10000_is_clamped_and_works(api: httpx.Client, model: str) -> None:
    catalog, schema_name, _ = model.split(".")
    listed = ok(
        api.get(
            f"{UC_2_1}/models",
            params={"catalog_name": catalog, "schema_name": schema_name, "max_results": 10_000},
        )
    )
    assert [m["full_name"] for m in listed["registered_models"]] == [model]
    searched = ok(
        api.get(f"{REGISTRY_2_0}/registered-models/search", params={"max_results": 10_000})
    )
    assert searched["registered_models"]
    versions = ok(
        api.get(
            f"{REGISTRY_2_0}/model-versions/search",
            params={"filter": f"name='{model}'", "max_results": 10_000},
        )
    )
    assert versions["model_versions"] == []


def test_created_token_works_until_revoked(server: object, api: httpx.Client) -> None:
    created = ok(api.post("/api/modelcatalog/tokens", json={"comment": "e2e"}))
    headers = {"Authorization": f"Bearer {created['token']}"}
    me = httpx.get(f"{server.url}/api/modelcatalog/me", headers=headers)  # type: ignore[attr-defined]
    assert ok(me)["is_admin"] is True
    listed = ok(api.get("/api/modelcatalog/tokens"))["tokens"]
    assert created["token_id"] in {t["token_id"] for t in listed}
    assert created["token"] not in str(listed)

    ok(api.delete(f"/api/modelcatalog/tokens/{created['token_id']}"))
    after = httpx.get(f"{server.url}{UC_2_1}/catalogs", headers=headers)  # type: ignore[attr-defined]
    body = error_of(after, 401)
    assert body["error_code"] == "UNAUTHENTICATED" and "revoked" in body["message"]


def test_expired_token_is_refused(server: object, api: httpx.Client) -> None:
    created = ok(api.post("/api/modelcatalog/tokens", json={"lifetime_seconds": 1}))
    headers = {"Authorization": f"Bearer {created['token']}"}
    url = f"{server.url}/api/modelcatalog/me"  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while (response := httpx.get(url, headers=headers)).status_code == 200:
        assert time.monotonic() < deadline, "a 1-second token was still accepted after 10 s"
        time.sleep(0.1)
    body = error_of(response, 401)
    assert body["error_code"] == "UNAUTHENTICATED" and "expired" in body["message"]
    assert created["expires_at"] - created["created_at"] == 1000


@pytest.mark.parametrize("lifetime", [-1, 0.5, "soon", True])
def test_token_lifetime_must_be_whole_positive_seconds(api: httpx.Client, lifetime: object) -> None:
    body = error_of(api.post("/api/modelcatalog/tokens", json={"lifetime_seconds": lifetime}), 400)
    assert body["error_code"] == "INVALID_ARGUMENT"
    assert "'lifetime_seconds'" in body["message"]
