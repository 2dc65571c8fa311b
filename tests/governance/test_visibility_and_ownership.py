"""No leaks, inheritance, ownership and the effective view, through the real server and stock
MLflow acting as principals with limited rights."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import mlflow
import pytest

from support.governance import UC, add_member, add_principal, grant, token_for
from support.http import ok
from support.models import fit_tiny_model, log_tiny_model, mlflow_registry
from support.versions import REGISTRY_2_0, ready_version

# What a principal may see is filtered in each database's queries (nested groups included).
pytestmark = pytest.mark.both_databases


@dataclass
class Estate:
    """Two catalogs; a reader who reaches one model of catalog A through nested groups, and
    catalog B's models through a catalog-level grant."""

    a: str
    b: str
    reader: str
    outer: str
    inner: str
    client: httpx.Client
    token: str


@pytest.fixture(scope="module")
def estate(server) -> Iterator[Estate]:  # type: ignore[no-untyped-def]
    admin = httpx.Client(base_url=server.url, headers=server.headers(), timeout=60)
    tag = uuid.uuid4().hex[:6]
    a, b = f"va_{tag}", f"vb_{tag}"
    for catalog in (a, b):
        ok(admin.post(f"{UC}/catalogs", json={"name": catalog}))
        ok(admin.post(f"{UC}/schemas", json={"name": "s", "catalog_name": catalog}))
        for model in ("seen", "hidden"):
            ok(
                admin.post(
                    f"{UC}/models",
                    json={"catalog_name": catalog, "schema_name": "s", "name": model},
                )
            )
            ready_version(admin, f"{catalog}.s.{model}")
    reader, outer, inner = f"reader-{tag}", f"outer-{tag}", f"inner-{tag}"
    add_principal(admin, reader)
    add_principal(admin, outer, "group")
    add_principal(admin, inner, "group")
    add_member(admin, outer, inner)
    add_member(admin, inner, reader)
    grant(admin, "catalog", a, outer, "USE CATALOG")
    grant(admin, "schema", f"{a}.s", outer, "USE SCHEMA")
    grant(admin, "registered_model", f"{a}.s.seen", outer, "EXECUTE")
    grant(admin, "catalog", b, reader, "USE CATALOG", "USE SCHEMA", "EXECUTE")
    token = token_for(admin, reader)
    client = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    yield Estate(a, b, reader, outer, inner, client, token)
    client.close()
    admin.close()


def _names(items: list[dict]) -> set[str]:
    return {i.get("full_name") or i["name"] for i in items}


def test_lists_show_only_what_the_reader_may_see(estate: Estate) -> None:
    catalogs = _names(ok(estate.client.get(f"{UC}/catalogs"))["catalogs"])
    assert {estate.a, estate.b} <= catalogs
    assert all(not c.startswith(("va_", "vb_")) or c in (estate.a, estate.b) for c in catalogs)
    models_a = ok(
        estate.client.get(f"{UC}/models", params={"catalog_name": estate.a, "schema_name": "s"})
    )
    assert _names(models_a["registered_models"]) == {f"{estate.a}.s.seen"}
    models_b = ok(
        estate.client.get(f"{UC}/models", params={"catalog_name": estate.b, "schema_name": "s"})
    )
    assert _names(models_b["registered_models"]) == {f"{estate.b}.s.seen", f"{estate.b}.s.hidden"}
    found = ok(
        estate.client.get(f"{REGISTRY_2_0}/registered-models/search", params={"max_results": 1000})
    )
    names = {m["name"] for m in found.get("registered_models", [])}
    assert f"{estate.a}.s.seen" in names and f"{estate.a}.s.hidden" not in names


def test_a_catalog_the_reader_cannot_see_is_missing_in_every_dialect(
    server, estate: Estate
) -> None:  # type: ignore[no-untyped-def]
    hidden = f"{estate.a}.s.hidden"
    assert estate.client.get(f"{UC}/models/{hidden}").status_code == 404
    assert (
        estate.client.get(f"{REGISTRY_2_0}/registered-models/get", params={"name": hidden}).json()[
            "error_code"
        ]
        == "RESOURCE_DOES_NOT_EXIST"
    )
    listing = estate.client.get(
        f"{UC}/models", params={"catalog_name": "no_such", "schema_name": "s"}
    )
    assert listing.status_code in (200, 404)


def test_stock_mlflow_loads_through_nested_groups_and_cannot_register(
    server, estate: Estate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    tiny = fit_tiny_model()
    seen = f"{estate.a}.s.seen"
    registry = f"modelcatalog://{urlsplit(server.url).netloc}"
    env = {"MODELCATALOG_CONFIG_DIR": str(tmp_path / "config"), "MODELCATALOG_URL": None}
    with mlflow_registry(
        registry, tmp_path, monkeypatch, MODELCATALOG_TOKEN=server.admin_token, **env
    ):
        logged = log_tiny_model(tiny)
        version = mlflow.register_model(logged.model_uri, seen).version
        admin = httpx.Client(base_url=server.url, headers=server.headers(), timeout=60)
        ok(admin.put(f"{UC}/models/{seen}/aliases/champion", json={"version_num": version}))
        monkeypatch.setenv("MODELCATALOG_TOKEN", estate.token)
        loaded = mlflow.pyfunc.load_model(f"models:/{seen}@champion")
        assert list(loaded.predict(tiny.features)) == list(tiny.expected)
        another = log_tiny_model(tiny)
        with pytest.raises(mlflow.exceptions.MlflowException) as refused:
            mlflow.register_model(another.model_uri, seen)
        assert "CREATE MODEL VERSION" in str(refused.value)
        with pytest.raises(mlflow.exceptions.MlflowException) as hidden:
            mlflow.pyfunc.load_model(f"models:/{estate.a}.s.hidden/1")
        assert "does not exist" in str(hidden.value)


def test_effective_permissions_say_where_each_privilege_comes_from(estate: Estate) -> None:
    seen = ok(
        estate.client.get(
            f"{UC}/effective-permissions/registered_model/{estate.a}.s.seen",
            params={"principal": estate.reader},
        )
    )
    (assignment,) = seen["privilege_assignments"]
    assert assignment["principal"] == estate.reader
    groups = [estate.inner, estate.outer]
    assert assignment["privileges"] == [
        {"privilege": "EXECUTE", "via_groups": groups},
        {
            "privilege": "USE CATALOG",
            "inherited_from_type": "catalog",
            "inherited_from_name": estate.a,
            "via_groups": groups,
        },
        {
            "privilege": "USE SCHEMA",
            "inherited_from_type": "schema",
            "inherited_from_name": f"{estate.a}.s",
            "via_groups": groups,
        },
    ]
    assert "metastore_admin" not in assignment
    in_b = ok(
        estate.client.get(
            f"{UC}/effective-permissions/registered_model/{estate.b}.s.hidden",
            params={"principal": estate.reader},
        )
    )
    from_b = {"inherited_from_type": "catalog", "inherited_from_name": estate.b}
    assert in_b["privilege_assignments"][0]["privileges"] == [
        {"privilege": p, **from_b} for p in ("EXECUTE", "USE CATALOG", "USE SCHEMA")
    ]
    others = estate.client.get(
        f"{UC}/effective-permissions/registered_model/{estate.b}.s.hidden",
        params={"principal": "admin"},
    )
    assert others.status_code == 403


def test_grants_on_a_catalog_reach_models_created_later(server, estate: Estate) -> None:  # type: ignore[no-untyped-def]
    admin = httpx.Client(base_url=server.url, headers=server.headers(), timeout=60)
    ok(
        admin.post(
            f"{UC}/models", json={"catalog_name": estate.b, "schema_name": "s", "name": "new"}
        )
    )
    assert estate.client.get(f"{UC}/models/{estate.b}.s.new").status_code == 200


def test_ownership_moves_only_by_owner_manage_holder_or_admin(server, api: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    tag = uuid.uuid4().hex[:6]
    catalog = f"own_{tag}"
    ok(api.post(f"{UC}/catalogs", json={"name": catalog}))
    ok(api.post(f"{UC}/schemas", json={"name": "s", "catalog_name": catalog}))
    model = f"{catalog}.s.m"
    ok(api.post(f"{UC}/models", json={"catalog_name": catalog, "schema_name": "s", "name": "m"}))
    people = {role: f"{role}-{tag}" for role in ("alice", "bob", "carol", "dave")}
    clients = {}
    for role, name in people.items():
        add_principal(api, name)
        grant(api, "catalog", catalog, name, "USE CATALOG", "USE SCHEMA")
        clients[role] = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token_for(api, name)}"}
        )
    grant(api, "registered_model", model, people["carol"], "MANAGE")
    for role in ("alice", "bob", "dave"):
        grant(api, "registered_model", model, people[role], "EXECUTE")

    def give(role: str, to: str) -> httpx.Response:
        return clients[role].patch(f"{UC}/models/{model}", json={"owner": people[to]})

    ok(api.patch(f"{UC}/models/{model}", json={"owner": people["alice"]}))  # an admin
    ok(give("alice", "bob"))  # the owner
    assert give("alice", "alice").status_code == 403  # no longer the owner
    ok(give("carol", "dave"))  # a MANAGE holder
    assert give("bob", "bob").status_code == 403
    assert ok(api.get(f"{UC}/models/{model}"))["owner"] == people["dave"]
    unknown = api.patch(f"{UC}/models/{model}", json={"owner": "nobody-at-all"})
    assert unknown.status_code == 400 and "owner" in unknown.json()["message"]
