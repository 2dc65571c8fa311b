"""Single sign-on with a real OpenID Connect provider (the certified `oidc-provider`, run by
Node.js on loopback): people sign in from the browser (code flow with PKCE) and from a
terminal (device flow), the provider's access tokens are bearer tokens in every dialect and for
stock MLflow, principals and group memberships follow the provider's claims, keys rotate, and
bad tokens, a misconfigured issuer and turned-off personal tokens are refused with reasons."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
from playwright.sync_api import Browser

from support.governance import NATIVE, UC, add_principal, audit_records, grant, token_for
from support.http import ok, wait_for
from support.identity_provider import (
    OTHER_AUDIENCE,
    SHORT_LIVED_AUDIENCE,
    IdentityProvider,
    access_token,
    confirm_device_code,
    loopback_only,
    run_identity_provider,
    sign_in_at_provider,
)
from support.models import TinyModel, log_tiny_model, mlflow_registry
from support.servers import RunningServer, free_port, run_server

REGISTRY = "/api/2.0/mlflow/unity-catalog"
SCIM = "/api/2.0/preview/scim/v2"
ADMINS = "catalog-admins"


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    """The catalogs' ports, known before they start: the provider must trust their addresses."""
    return {"catalog": free_port(), "no_pat": free_port()}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory, ports: dict[str, int]) -> Iterator[Any]:
    with run_identity_provider(tmp_path_factory.mktemp("idp")) as running:
        running.trust([f"http://127.0.0.1:{port}" for port in ports.values()])
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


def test_a_person_provisioned_by_scim_is_linked_by_sub_and_deactivating_them_ends_it(
    provider: IdentityProvider, catalog: RunningServer, browser: Browser, admin: httpx.Client
) -> None:
    login = _login()
    provider.set_user(login, email=f"{login}@mail.example.test")
    scim = {"Content-Type": "application/scim+json"}
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"{login}@corp.example.test",
        "externalId": login,
    }
    made = admin.post(f"{SCIM}/Users", json=user, headers=scim)
    assert made.status_code == 201, made.text
    token = access_token(provider, browser, login)
    me = f"{catalog.url}{NATIVE}/me"
    # Linked to the provisioned user by its externalId, not made anew from the e-mail address.
    assert ok(httpx.get(me, headers=_bearer(token)))["name"] == f"{login}@corp.example.test"
    assert admin.get(f"{NATIVE}/principals/{login}@mail.example.test").status_code == 404
    off = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    changed = admin.patch(f"{SCIM}/Users/{made.json()['id']}", json=off, headers=scim)
    assert changed.status_code == 200, changed.text
    # At once on this (single-process) server: the token cache forgets the person's tokens.
    refused = httpx.get(me, headers=_bearer(token))
    assert refused.status_code == 401
    assert "deactivated" in refused.json()["message"]


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


# -- signing in from a terminal --------------------------------------------------------------


def _login_sso(catalog: RunningServer, config_dir: Path, *args: str) -> subprocess.Popen:
    """`modelcatalog login --sso` as a person runs it: a child process that shows a code."""
    env = catalog.env(MODELCATALOG_CONFIG_DIR=str(config_dir))
    env.pop("MODELCATALOG_TOKEN")
    return subprocess.Popen(
        [sys.executable, "-m", "modelcatalog", "login", "--sso", "--url", catalog.url, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _device_link(process: subprocess.Popen) -> str:
    """The link the command tells the person to open."""
    assert process.stderr is not None
    for line in process.stderr:
        if "open http" in line:
            return line.split("open ", 1)[1].split(" and confirm")[0]
    raise AssertionError(f"no link shown; exit {process.wait()}")


def test_login_sso_signs_in_with_the_device_flow_and_saves_a_catalog_token(
    provider: IdentityProvider,
    catalog: RunningServer,
    browser: Browser,
    admin: httpx.Client,
    tmp_path: Path,
) -> None:
    login = _login()
    provider.set_user(login, groups=["forecasting"])
    process = _login_sso(catalog, tmp_path, "--profile", "work")
    try:
        confirm_device_code(browser, _device_link(process), login)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    email = f"{login}@example.test"
    assert f"as profile 'work' as {email}" in out + err
    saved = json.loads((tmp_path / "credentials.json").read_text())
    assert saved["profiles"]["work"]["url"] == catalog.url
    token = saved["servers"][catalog.url]["token"]
    assert token.startswith("mc_")
    assert ok(httpx.get(f"{catalog.url}{NATIVE}/me", headers=_bearer(token)))["name"] == email
    assert _principal(admin, email)["groups"] == ["forecasting"]
    records = audit_records(admin, principal=email)
    assert {("signInWithProvider", "terminal"), ("createToken", None)} <= {
        (r["action"], r["parameters"].get("via")) for r in records if r["outcome"] == "ok"
    }


def test_login_sso_in_a_local_browser_comes_back_to_the_terminal_with_a_token(
    provider: IdentityProvider, catalog: RunningServer, browser: Browser, tmp_path: Path
) -> None:
    login = _login()
    process = _login_sso(catalog, tmp_path, "--browser")
    try:
        assert process.stderr is not None
        line = next(line for line in process.stderr if "open http" in line)
        address = line.split("open ", 1)[1].split(" in a browser")[0]
        assert address.startswith(f"{catalog.url}/signin/sso?terminal=http")
        context = browser.new_context()
        page = context.new_page()
        loopback_only(page)
        page.goto(address)
        sign_in_at_provider(page, login)
        page.wait_for_selector("text=Signed in to the catalog")
        assert page.url.startswith("http://127.0.0.1:") and "code=" in page.url
        context.close()
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    saved = json.loads((tmp_path / "credentials.json").read_text())
    token = saved["servers"][catalog.url]["token"]
    me = ok(httpx.get(f"{catalog.url}{NATIVE}/me", headers=_bearer(token)))
    assert me["name"] == f"{login}@example.test"


def test_a_terminal_code_is_worth_nothing_without_its_verifier(catalog: RunningServer) -> None:
    offered = ok(httpx.get(f"{catalog.url}{NATIVE}/sso"))
    assert offered == {
        "enabled": True,
        "issuer": offered["issuer"],
        "device_flow": True,
        "browser_sign_in": "/signin/sso",
    }
    refused = httpx.post(
        f"{catalog.url}{NATIVE}/sso/terminal-tokens",
        json={"code": "forged.0123", "code_verifier": "v"},
    )
    assert refused.status_code == 401
    assert "not valid or has expired" in refused.json()["message"]
    elsewhere = httpx.get(
        f"{catalog.url}/signin/sso",
        params={"terminal": "http://attacker.example/", "challenge": "c"},
        follow_redirects=False,
    )
    assert elsewhere.status_code == 400
    assert "loopback" in elsewhere.text


def test_a_device_code_nobody_confirms_buys_no_token(catalog: RunningServer) -> None:
    started = ok(httpx.post(f"{catalog.url}{NATIVE}/sso/device-authorizations", json={}))
    assert started["user_code"] and started["verification_uri"].startswith("http://127.0.0.1")
    pending = httpx.post(
        f"{catalog.url}{NATIVE}/sso/device-tokens", json={"device_code": started["device_code"]}
    )
    assert pending.status_code == 202 and pending.json()["status"] in ("pending", "slow_down")
    made_up = httpx.post(f"{catalog.url}{NATIVE}/sso/device-tokens", json={"device_code": "x"})
    assert made_up.status_code == 401
    assert made_up.json()["error_code"] == "UNAUTHENTICATED"


# -- signing in from the browser -------------------------------------------------------------


def test_a_person_signs_in_with_the_provider_and_out_of_both(
    provider: IdentityProvider, catalog: RunningServer, browser: Browser, admin: httpx.Client
) -> None:
    login = _login()
    provider.set_user(login, groups=["Data Science"])
    context = browser.new_context(base_url=catalog.url)
    page = context.new_page()
    loopback_only(page)
    page.goto("/approvals")
    page.click("#sso")
    assert page.url.startswith(provider.issuer)
    sign_in_at_provider(page, login)
    email = f"{login}@example.test"
    page.wait_for_url(f"{catalog.url}/approvals")
    assert page.locator(".me").inner_text() == email
    sessions = [c for c in context.cookies() if c["name"] == "modelcatalog_session"]
    assert sessions and sessions[0]["httpOnly"]
    page.click("button:has-text('Sign out')")
    page.wait_for_url(f"{provider.issuer}/**")
    page.click("button[autofocus]")  # the provider asks whether to sign out: yes
    page.wait_for_url(f"{catalog.url}/signin")
    page.goto("/")
    page.wait_for_url(f"{catalog.url}/signin")
    page.click("#sso")
    page.wait_for_selector("input[name=login]")  # the provider's session ended too
    context.close()
    actions = [r["action"] for r in audit_records(admin, principal=email) if r["outcome"] == "ok"]
    assert {"signInWithProvider", "signIn", "signOut"} <= set(actions)


def test_a_callback_without_its_sign_in_is_refused_and_audited(
    catalog: RunningServer, admin: httpx.Client
) -> None:
    answer = httpx.get(f"{catalog.url}/signin/sso/callback", params={"code": "c", "state": "s"})
    assert answer.status_code == 401
    assert "did not start on this catalog" in answer.text
    assert "modelcatalog_session" not in answer.headers.get("set-cookie", "")
    denials = audit_records(admin, action="authenticate")
    assert any(r["parameters"].get("path") == "/signin/sso/callback" for r in denials)


# -- a misconfigured issuer, turned-off personal tokens -------------------------------------


def _start_refused(tmp_path: Path, issuer: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MODELCATALOG_OIDC_CLIENT_SECRET": "s",
        "MODELCATALOG_ADMIN_TOKEN": "mc_test_admin",
    }
    return subprocess.run(
        [
            *(sys.executable, "-m", "modelcatalog", "server", "--data-dir", str(tmp_path)),
            *("--port", str(free_port()), "--oidc-issuer", issuer, "--oidc-client-id", "c"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_server_does_not_start_with_an_issuer_it_cannot_use(
    provider: IdentityProvider, tmp_path: Path
) -> None:
    unreachable = _start_refused(tmp_path / "a", f"http://127.0.0.1:{free_port()}")
    assert unreachable.returncode == 2
    assert "discovery document" in unreachable.stderr
    assert "cannot be read" in unreachable.stderr
    other_name = provider.issuer.replace("127.0.0.1", "localhost")
    misnamed = _start_refused(tmp_path / "b", other_name)
    assert misnamed.returncode == 2
    assert f"names the issuer '{provider.issuer}'" in misnamed.stderr


def test_with_personal_tokens_off_people_use_single_sign_on_and_machines_keep_theirs(
    provider: IdentityProvider,
    browser: Browser,
    ports: dict[str, int],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data_dir = tmp_path_factory.mktemp("no-pat")
    env = provider.server_env()
    with run_server(data_dir, port=ports["no_pat"], extra_env=env) as before:
        with httpx.Client(base_url=before.url, headers=before.headers()) as admin:
            add_principal(admin, "bob@example.test")
            add_principal(admin, "deployer", kind="service_principal")
            bobs = token_for(admin, "bob@example.test")
            machines = token_for(admin, "deployer")
            secret = ok(admin.post(f"{NATIVE}/service-principals/deployer/secrets", json={}))
    with run_server(
        data_dir, port=ports["no_pat"], extra_env=env, args=("--disable-pat-for-users",)
    ) as server:
        me = f"{server.url}{NATIVE}/me"
        refused = httpx.get(me, headers=_bearer(bobs))
        assert refused.status_code == 401
        assert "Personal access tokens are turned off" in refused.json()["message"]
        assert ok(httpx.get(me, headers=_bearer(machines)))["name"] == "deployer"
        assert ok(httpx.get(me, headers=server.headers()))["name"] == "admin"
        issued = ok(
            httpx.post(
                f"{server.url}/oidc/v1/token",
                data={"grant_type": "client_credentials", "scope": "all-apis"},
                auth=(secret["client_id"], secret["secret"]),
            )
        )
        assert ok(httpx.get(me, headers=_bearer(issued["access_token"])))["name"] == "deployer"
        made = httpx.post(
            f"{server.url}{NATIVE}/tokens",
            json={"principal": "bob@example.test"},
            headers=server.headers(),
        )
        assert made.status_code == 403
        login = _login()
        jwt_token = access_token(provider, browser, login)
        assert ok(httpx.get(me, headers=_bearer(jwt_token)))["name"] == f"{login}@example.test"
        started = ok(httpx.post(f"{server.url}{NATIVE}/sso/device-authorizations", json={}))
        confirm_device_code(browser, started["verification_uri_complete"], login)
        finished = wait_for(
            lambda: (
                (
                    r := httpx.post(
                        f"{server.url}{NATIVE}/sso/device-tokens",
                        json={"device_code": started["device_code"]},
                    )
                ).status_code
                == 200
                and r.json()
            ),
            "the device sign-in to finish",
            timeout=30,
            interval=5,
        )
        assert (
            ok(httpx.get(me, headers=_bearer(finished["token"])))["name"] == f"{login}@example.test"
        )
        signin = httpx.get(f"{server.url}/signin")
        assert "Sign in with 127.0.0.1" in signin.text
