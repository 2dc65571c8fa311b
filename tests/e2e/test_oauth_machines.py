"""OAuth for machines: a service principal's secret, exchanged at the token endpoint that
databricks-sdk finds by itself, lets stock MLflow register and load a model with no personal
token; a deleted, expired or wrong secret buys nothing, and errors speak OAuth (RFC 6749)."""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
from databricks.sdk import WorkspaceClient

from support.governance import NATIVE, UC, add_principal, audit_records, grant
from support.http import ok
from support.models import TinyModel, log_tiny_model, mlflow_registry

TOKEN = "/oidc/v1/token"


def _secrets(name: str) -> str:
    return f"{NATIVE}/service-principals/{name}/secrets"


@pytest.fixture
def machine(api: httpx.Client, schema: str) -> dict[str, Any]:
    """A service principal that may create models in `schema`, and one OAuth secret of it."""
    name = f"deployer-{uuid.uuid4().hex[:8]}"
    add_principal(api, name, kind="service_principal")
    catalog = schema.split(".")[0]
    grant(api, "catalog", catalog, name, "USE CATALOG")
    grant(api, "schema", schema, name, "USE SCHEMA", "CREATE MODEL", "CREATE MODEL VERSION")
    created = ok(api.post(_secrets(name), json={}))
    return {"name": name, **created}


def _basic(client_id: str, secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def test_stock_mlflow_registers_and_loads_a_model_with_client_credentials_alone(
    server: Any,
    api: httpx.Client,
    schema: str,
    machine: dict[str, Any],
    tiny_model: TinyModel,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"{schema}.oauth_model"
    with mlflow_registry(
        "databricks-uc",
        tmp_path,
        monkeypatch,
        DATABRICKS_HOST=server.url,
        DATABRICKS_CLIENT_ID=machine["client_id"],
        DATABRICKS_CLIENT_SECRET=machine["secret"],
        DATABRICKS_TOKEN=None,
        DATABRICKS_CONFIG_PROFILE=None,
        DATABRICKS_AUTH_TYPE=None,
    ) as client:
        info = log_tiny_model(tiny_model, registered_name=name)
        version = client.get_model_version(name, "1")
        assert version.status == "READY"
        loaded = mlflow.pyfunc.load_model(f"models:/{name}/1")
        np.testing.assert_array_equal(loaded.predict(tiny_model.features), tiny_model.expected)
        assert str(info.registered_model_version) == "1"
    model = ok(api.get(f"{UC}/models/{name}"))
    assert model["owner"] == machine["name"]
    records = audit_records(api, principal=machine["name"])
    actions = {r["action"] for r in records if r["outcome"] == "ok"}
    assert {"issueOAuthToken", "createRegisteredModel", "createModelVersion"} <= actions
    listed = ok(api.get(_secrets(machine["name"])))["secrets"]
    assert [s["secret_id"] for s in listed] == [machine["secret_id"]]
    assert listed[0]["last_used_at"] is not None and "secret" not in listed[0]


def test_databricks_sdk_finds_the_token_endpoint_and_the_token_works_in_every_dialect(
    server: Any, machine: dict[str, Any]
) -> None:
    workspace = WorkspaceClient(
        host=server.url,
        client_id=machine["client_id"],
        client_secret=machine["secret"],
        auth_type="oauth-m2m",
    )
    headers = workspace.config.authenticate()
    assert headers["Authorization"].startswith("Bearer ")
    catalogs = [c.name for c in workspace.catalogs.list()]
    assert catalogs  # the service principal may use the schema's catalog
    with httpx.Client(base_url=server.url, headers=headers) as client:
        assert ok(client.get(f"{NATIVE}/me"))["name"] == machine["name"]
        found = client.get("/api/2.0/mlflow/unity-catalog/registered-models/search")
        assert found.status_code == 200


def test_the_token_answer_follows_rfc_6749(server: Any, machine: dict[str, Any]) -> None:
    answer = httpx.post(
        f"{server.url}{TOKEN}",
        data={"grant_type": "client_credentials", "scope": "all-apis"},
        headers=_basic(machine["client_id"], machine["secret"]),
    )
    body = ok(answer)
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "all-apis"
    assert answer.headers["cache-control"] == "no-store"
    # Credentials in the form (client_secret_post) are accepted too.
    posted = httpx.post(
        f"{server.url}{TOKEN}",
        data={
            "grant_type": "client_credentials",
            "client_id": machine["client_id"],
            "client_secret": machine["secret"],
        },
    )
    assert ok(posted)["access_token"] != body["access_token"]


@pytest.mark.parametrize(
    ("form", "how", "status", "error"),
    [
        ({"grant_type": "password"}, "right", 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "scope": "sql"}, "right", 400, "invalid_scope"),
        ({"grant_type": "client_credentials"}, "wrong secret", 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, "wrong client", 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, "none", 401, "invalid_client"),
    ],
)
def test_a_refused_token_request_says_why_in_oauths_words(
    server: Any, machine: dict[str, Any], form: dict, how: str, status: int, error: str
) -> None:
    headers = {
        "right": _basic(machine["client_id"], machine["secret"]),
        "wrong secret": _basic(machine["client_id"], machine["secret"] + "x"),
        "wrong client": _basic(str(uuid.uuid4()), machine["secret"]),
        "none": {},
    }[how]
    answer = httpx.post(f"{server.url}{TOKEN}", data=form, headers=headers)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == error and body["error_description"]
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Basic")
    assert machine["secret"] not in answer.text


def test_deleting_a_secret_ends_its_tokens_and_an_expired_secret_buys_none(
    server: Any, api: httpx.Client, machine: dict[str, Any]
) -> None:
    credentials = _basic(machine["client_id"], machine["secret"])
    form = {"grant_type": "client_credentials"}
    access = ok(httpx.post(f"{server.url}{TOKEN}", data=form, headers=credentials))
    bearer = {"Authorization": f"Bearer {access['access_token']}"}
    assert httpx.get(f"{server.url}{NATIVE}/me", headers=bearer).status_code == 200
    ok(api.delete(f"{_secrets(machine['name'])}/{machine['secret_id']}"))
    assert httpx.get(f"{server.url}{NATIVE}/me", headers=bearer).status_code == 401
    refused = httpx.post(f"{server.url}{TOKEN}", data=form, headers=credentials)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"

    short = ok(api.post(_secrets(machine["name"]), json={"lifetime_seconds": 1}))
    time.sleep(1.1)
    expired = httpx.post(
        f"{server.url}{TOKEN}", data=form, headers=_basic(short["client_id"], short["secret"])
    )
    assert expired.status_code == 401 and "expired" in expired.json()["error_description"]
    assert short["client_id"] == machine["client_id"]  # one client id, many secrets


def test_only_admins_manage_secrets_and_only_service_principals_hold_them(
    server: Any, api: httpx.Client, machine: dict[str, Any]
) -> None:
    access = ok(
        httpx.post(
            f"{server.url}{TOKEN}",
            data={"grant_type": "client_credentials"},
            headers=_basic(machine["client_id"], machine["secret"]),
        )
    )
    as_machine = {"Authorization": f"Bearer {access['access_token']}"}
    refused = httpx.post(f"{server.url}{_secrets(machine['name'])}", json={}, headers=as_machine)
    assert refused.status_code == 403 and "admins" in refused.json()["message"]
    person = f"person-{uuid.uuid4().hex[:8]}@example.com"
    add_principal(api, person)
    not_a_machine = api.post(_secrets(person), json={})
    assert not_a_machine.status_code == 400
    assert "service principals" in not_a_machine.json()["message"]
    too_long = api.post(_secrets(machine["name"]), json={"lifetime_seconds": 10**9})
    assert too_long.status_code == 400 and "lifetime_seconds" in too_long.json()["message"]
    assert ok(api.get(f"{NATIVE}/tokens", params={"principal": machine["name"]}))["tokens"] == []
