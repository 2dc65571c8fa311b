"""Single sign-on with a real OpenID Connect provider (the certified `oidc-provider`, run by
Node.js on loopback): people sign in from the browser (code flow with PKCE) and from a
terminal (device flow), the provider's access tokens are bearer tokens in every dialect and for
stock MLflow, principals and group memberships follow the provider's claims, keys rotate, and
bad tokens, a misconfigured issuer and turned-off personal tokens are refused with reasons."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import mlflow
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from playwright.sync_api import Browser, sync_playwright

from support.browser import CHROMIUM
from support.governance import NATIVE, UC, audit_records, grant
from support.http import ok, wait_for
from support.identity_provider import (
    OTHER_AUDIENCE,
    SHORT_LIVED_AUDIENCE,
    IdentityProvider,
    access_token,
    run_identity_provider,
)
from support.models import TinyModel, log_tiny_model, mlflow_registry
from support.servers import RunningServer, free_port, run_server

REGISTRY = "/api/2.0/mlflow/unity-catalog"
SCIM = "/api/2.0/preview/scim/v2"
ADMINS = "catalog-admins"


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    return {"provider": free_port(), "catalog": free_port(), "no_pat": free_port()}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory, ports: dict[str, int]) -> Iterator[Any]:
    catalogs = [f"http://127.0.0.1:{ports['catalog']}", f"http://127.0.0.1:{ports['no_pat']}"]
    with run_identity_provider(
        tmp_path_factory.mktemp("idp"), ports["provider"], catalogs
    ) as running:
        yield running


@pytest.fixture(scope="module")
def catalog(
    tmp_path_factory: pytest.TempPathFactory, ports: dict[str, int], provider: IdentityProvider
) -> Iterator[RunningServer]:
    """A catalog that trusts the provider; admins are the provider's `catalog-admins`, and a
    token's times are checked to the second."""
    env = provider.server_env(
        MODELCATALOG_OIDC_ADMIN_GROUP=ADMINS, MODELCATALOG_OIDC_CLOCK_SKEW_SECONDS="1"
    )
    with run_server(
        tmp_path_factory.mktemp("sso-catalog"), port=ports["catalog"], extra_env=env
    ) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def admin(catalog: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=catalog.url, headers=catalog.headers(), timeout=60) as client:
        yield client


def _login() -> str:
    return f"p{uuid.uuid4().hex[:8]}"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _principal(admin: httpx.Client, name: str) -> dict[str, Any]:
    return ok(admin.get(f"{NATIVE}/principals/{name}"))


# -- the provider's access tokens as bearer tokens -------------------------------------------


def test_a_provider_access_token_is_a_bearer_token_in_every_dialect_and_makes_its_person(
    provider: IdentityProvider, catalog: RunningServer, browser: Browser, admin: httpx.Client
) -> None:
    login = _login()
    provider.set_user(login, groups=["Data Science"], name="Ada Lovelace")
    token = access_token(provider, browser, login)
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    email = f"{login}@example.test"
    with httpx.Client(base_url=catalog.url, headers=_bearer(token), timeout=30) as person:
        assert ok(person.get(f"{NATIVE}/me")) == {"name": email, "is_admin": False}
        ok(person.get(f"{UC}/catalogs"))
        ok(person.get(f"{REGISTRY}/registered-models/search"))
    found = _principal(admin, email)
    assert found["kind"] == "user"
    assert found["groups"] == ["Data Science"]
    users = ok(admin.get(f"{SCIM}/Users", params={"filter": f'userName eq "{email}"'}))
    assert users["Resources"][0]["externalId"] == login  # the provider's `sub`
    group = _principal(admin, "Data Science")
    assert group["managed_by"] == "oidc"
    refused = admin.post(f"{NATIVE}/principals/Data Science/members", json={"member": "admin"})
    assert refused.status_code == 400, refused.text
    assert "managed by the identity provider" in refused.json()["message"]
    records = audit_records(admin, principal=email, action="signInWithProvider")
    assert records and records[0]["outcome"] == "ok"
    assert records[0]["parameters"]["via"] == "bearer"


def test_stock_mlflow_registers_and_loads_a_model_with_a_provider_token(
    provider: IdentityProvider,
    catalog: RunningServer,
    browser: Browser,
    admin: httpx.Client,
    tiny_model: TinyModel,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    login = _login()
    token = access_token(provider, browser, login)
    email = f"{login}@example.test"
    ok(httpx.get(f"{catalog.url}{NATIVE}/me", headers=_bearer(token)))
    catalog_name = f"c_{uuid.uuid4().hex[:8]}"
    ok(admin.post(f"{UC}/catalogs", json={"name": catalog_name}))
    ok(admin.post(f"{UC}/schemas", json={"name": "s", "catalog_name": catalog_name}))
    grant(admin, "catalog", catalog_name, email, "USE CATALOG")
    grant(admin, "schema", f"{catalog_name}.s", email, "USE SCHEMA", "CREATE MODEL")
    name = f"{catalog_name}.s.sso_model"
    with mlflow_registry(
        "databricks-uc",
        tmp_path,
        monkeypatch,
        DATABRICKS_HOST=catalog.url,
        DATABRICKS_TOKEN=token,
        DATABRICKS_CLIENT_ID=None,
        DATABRICKS_CLIENT_SECRET=None,
        DATABRICKS_CONFIG_PROFILE=None,
        DATABRICKS_AUTH_TYPE=None,
    ) as client:
        log_tiny_model(tiny_model, registered_name=name)
        assert client.get_model_version(name, "1").status == "READY"
        loaded = mlflow.pyfunc.load_model(f"models:/{name}/1")
        np.testing.assert_array_equal(loaded.predict(tiny_model.features), tiny_model.expected)
    assert ok(admin.get(f"{UC}/models/{name}"))["owner"] == email


def test_group_memberships_and_admin_standing_follow_the_groups_claim(
    provider: IdentityProvider, catalog: RunningServer, browser: Browser, admin: httpx.Client
) -> None:
    login = _login()
    email = f"{login}@example.test"
    provider.set_user(login, groups=["ml-platform", ADMINS])
    first = access_token(provider, browser, login)
    assert ok(httpx.get(f"{catalog.url}{NATIVE}/me", headers=_bearer(first)))["is_admin"]
    assert _principal(admin, email)["groups"] == [ADMINS, "ml-platform"]
    provider.set_user(login, groups=["approvers"])
    second = access_token(provider, browser, login)
    assert not ok(httpx.get(f"{catalog.url}{NATIVE}/me", headers=_bearer(second)))["is_admin"]
    assert _principal(admin, email)["groups"] == ["approvers"]
    records = audit_records(admin, principal=email, action="signInWithProvider")
    changes = [r["parameters"] for r in records if "groups_left" in r["parameters"]]
    assert {"groups_left": [ADMINS, "ml-platform"], "admin": False}.items() <= changes[-1].items()


def test_a_token_for_another_audience_is_refused_in_each_dialects_shape(
    provider: IdentityProvider, catalog: RunningServer, browser: Browser, admin: httpx.Client
) -> None:
    login = _login()
    token = access_token(provider, browser, login, resource=OTHER_AUDIENCE)
    uc = httpx.get(f"{catalog.url}{UC}/catalogs", headers=_bearer(token))
    assert uc.status_code == 401
    assert uc.json()["error_code"] == "UNAUTHENTICATED"
    assert OTHER_AUDIENCE in uc.json()["message"] and "api://modelcatalog" in uc.json()["message"]
    scim = httpx.get(f"{catalog.url}{SCIM}/Users", headers=_bearer(token))
    assert scim.status_code == 401
    assert scim.json()["status"] == "401" and "audience" in scim.json()["detail"]
    # Refused before anyone was made of it.
    assert admin.get(f"{NATIVE}/principals/{login}@example.test").status_code == 404
    denials = audit_records(admin, action="authenticate")
    assert any(OTHER_AUDIENCE in r["parameters"].get("reason", "") for r in denials)


def test_an_expired_provider_token_is_refused_saying_so(
    provider: IdentityProvider, catalog: RunningServer, browser: Browser
) -> None:
    token = access_token(provider, browser, _login(), resource=SHORT_LIVED_AUDIENCE)
    url = f"{catalog.url}{REGISTRY}/registered-models/search"
    ok(httpx.get(url, headers=_bearer(token)))
    refused = wait_for(
        lambda: (r := httpx.get(url, headers=_bearer(token))).status_code == 401 and r,
        "the two-second token to expire",
        timeout=15,
    )
    assert refused.json()["error_code"] == "UNAUTHENTICATED"
    assert "expired" in refused.json()["message"]


def test_a_token_signed_with_a_rotated_key_is_accepted(
    provider: IdentityProvider, catalog: RunningServer, browser: Browser
) -> None:
    before = access_token(provider, browser, _login())
    ok(httpx.get(f"{catalog.url}{NATIVE}/me", headers=_bearer(before)))
    kids = provider.rotate_keys()
    after = access_token(provider, browser, _login())
    assert jwt.get_unverified_header(after)["kid"] == kids[0] != kids[1]
    ok(httpx.get(f"{catalog.url}{NATIVE}/me", headers=_bearer(after)))
    provider.retire_old_keys()
    latest = access_token(provider, browser, _login())
    ok(httpx.get(f"{catalog.url}{NATIVE}/me", headers=_bearer(latest)))


def test_a_token_the_provider_did_not_sign_is_refused(
    provider: IdentityProvider, catalog: RunningServer
) -> None:
    forged_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"sub": "mallory", "email": "mallory@example.test", "aud": "api://modelcatalog"}
    claims |= {"iss": provider.issuer, "iat": 1, "exp": 2**31}
    forged = jwt.encode(claims, forged_key, algorithm="RS256", headers={"kid": "made-up"})
    refused = httpx.get(f"{catalog.url}{NATIVE}/me", headers=_bearer(forged))
    assert refused.status_code == 401
    assert "does not publish" in refused.json()["message"]
