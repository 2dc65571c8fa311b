"""The authorization matrix: every operation of every wire dialect, tried by every kind of
principal, against the outcome DESIGN.md's privilege table predicts; and every request of the
matrix leaves exactly one audit record with the matching outcome.

The expected outcome is computed from two tables that read like DESIGN.md's: what each kind of
principal holds (`HOLDINGS`) and what each operation needs (`OPERATIONS`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from support.governance import (
    NATIVE,
    UC,
    add_member,
    add_principal,
    grant,
    records_of_request,
    token_for,
)
from support.http import ok
from support.models import SIGNED_MLMODEL
from support.versions import REGISTRY_2_0, create_version, files_path, put_file, ready_version

OWNER = "OWNER"
CATALOG, SCHEMA, MODEL = "catalog", "schema", "registered_model"
LEVELS = (CATALOG, SCHEMA, MODEL)

# What each kind of principal holds, level by level ("OWNER" = owns the object at that level).
HOLDINGS: dict[str, dict[str, set[str]]] = {
    "owner": {CATALOG: {"USE CATALOG"}, SCHEMA: {"USE SCHEMA"}, MODEL: {OWNER}},
    "execute": {CATALOG: {"USE CATALOG"}, SCHEMA: {"USE SCHEMA"}, MODEL: {"EXECUTE"}},
    "create_version": {
        CATALOG: {"USE CATALOG"},
        SCHEMA: {"USE SCHEMA"},
        MODEL: {"CREATE MODEL VERSION"},
    },
    "apply_tag": {CATALOG: {"USE CATALOG"}, SCHEMA: {"USE SCHEMA"}, MODEL: {"APPLY TAG"}},
    "manage": {CATALOG: {"USE CATALOG"}, SCHEMA: {"USE SCHEMA"}, MODEL: {"MANAGE"}},
    "create_model": {CATALOG: {"USE CATALOG"}, SCHEMA: {"USE SCHEMA", "CREATE MODEL"}},
    # Through a group, through a group inside a group, through a grant on the catalog.
    "group": {CATALOG: {"USE CATALOG"}, SCHEMA: {"USE SCHEMA"}, MODEL: {"EXECUTE"}},
    "nested_group": {CATALOG: {"USE CATALOG"}, SCHEMA: {"USE SCHEMA"}, MODEL: {"EXECUTE"}},
    "parent": {CATALOG: {"USE CATALOG", "USE SCHEMA", "EXECUTE"}},
    "no_usage": {MODEL: {"EXECUTE"}},
    "nobody": {},
}
KINDS = ("admin", *HOLDINGS)
GRANTABLE = {
    CATALOG: {"USE CATALOG", "CREATE SCHEMA", "USE SCHEMA", "CREATE MODEL", "EXECUTE"}
    | {"CREATE MODEL VERSION", "APPLY TAG", "MANAGE"},
    SCHEMA: {"USE SCHEMA", "CREATE MODEL", "EXECUTE", "CREATE MODEL VERSION", "APPLY TAG"}
    | {"MANAGE"},
    MODEL: {"EXECUTE", "CREATE MODEL VERSION", "APPLY TAG", "MANAGE"},
}
USAGE = {CATALOG: "USE CATALOG", SCHEMA: "USE SCHEMA"}


def expected_status(kind: str, level: str, needs: str | None) -> int:
    """DESIGN.md's rules: grants on a container reach its children; owners and MANAGE holders
    pass every rule; usage on each container is needed; an invisible object is not found."""
    if kind == "admin":
        return 200
    holds = HOLDINGS[kind]
    depth = LEVELS.index(level)

    def effective(at: int) -> set[str]:
        found: set[str] = set()
        for above in LEVELS[: at + 1]:
            found |= holds.get(above, set())
        return found

    owner = OWNER in effective(depth)
    privileges = effective(depth) & GRANTABLE[level]
    if not owner and not privileges:
        return 404
    for at, container in enumerate(LEVELS[: depth + 1]):
        if container in USAGE and USAGE[container] not in effective(at) | (
            {USAGE[container]} if OWNER in effective(at) else set()
        ):
            return 403
    if owner or "MANAGE" in privileges or (needs is not None and needs in privileges):
        return 200
    return 403


@dataclass
class World:
    """One catalog with a schema and a model, principals of every kind, and their clients."""

    server_url: str
    catalog: str
    model: str  # catalog.s.m
    admin: httpx.Client
    clients: dict[str, httpx.Client]
    #: Kind of principal → that principal's name.
    names: dict[str, str]

    @property
    def schema(self) -> str:
        return f"{self.catalog}.s"


def apply_model_rights(admin: httpx.Client, world_names: dict[str, str], model: str) -> None:
    """Grant on `model` what HOLDINGS says each principal holds at the model level."""
    for kind, name in world_names.items():
        for privilege in HOLDINGS[kind].get(MODEL, set()) - {OWNER}:
            if kind in ("group", "nested_group"):
                continue  # held through the group, granted below
            grant(admin, MODEL, model, name, privilege)
    grant(admin, MODEL, model, world_names["group"] + "-team", "EXECUTE")
    ok(admin.patch(f"{UC}/models/{model}", json={"owner": world_names["owner"]}))


@pytest.fixture(scope="module")
def world(server) -> Iterator[World]:  # type: ignore[no-untyped-def]
    admin = httpx.Client(base_url=server.url, headers=server.headers(), timeout=60)
    tag = uuid.uuid4().hex[:8]
    catalog = f"gov_{tag}"
    ok(admin.post(f"{UC}/catalogs", json={"name": catalog}))
    ok(admin.post(f"{UC}/schemas", json={"name": "s", "catalog_name": catalog}))
    model = f"{catalog}.s.m"
    ok(admin.post(f"{UC}/models", json={"catalog_name": catalog, "schema_name": "s", "name": "m"}))
    ready_version(admin, model)
    ok(admin.put(f"{UC}/models/{model}/aliases/champion", json={"version_num": 1}))

    names = {kind: f"{kind}-{tag}" for kind in HOLDINGS}
    for name in names.values():
        add_principal(admin, name)
    team, inner = names["group"] + "-team", names["nested_group"] + "-inner"
    add_principal(admin, team, "group")
    add_principal(admin, inner, "group")
    add_member(admin, team, names["group"])
    add_member(admin, team, inner)
    add_member(admin, inner, names["nested_group"])
    for kind, name in names.items():
        holder = team if kind in ("group", "nested_group") else name
        for level, full_name in ((CATALOG, catalog), (SCHEMA, f"{catalog}.s")):
            if HOLDINGS[kind].get(level):
                grant(admin, level, full_name, holder, *sorted(HOLDINGS[kind][level]))
    apply_model_rights(admin, names, model)

    clients = {"admin": admin}
    for kind, name in names.items():
        clients[kind] = httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {token_for(admin, name)}"},
            timeout=60,
        )
    yield World(server.url, catalog, model, admin, clients, names)
    for client in clients.values():
        client.close()


Request = Callable[[httpx.Client, World, str], httpx.Response]


@dataclass(frozen=True)
class Operation:
    name: str
    level: str
    needs: str | None  # None: owner or MANAGE only
    send: Request


def _fresh_version(world: World) -> str:
    return ready_version(world.admin, world.model)


def _fresh_model(world: World) -> str:
    name = f"m_{uuid.uuid4().hex[:8]}"
    full = f"{world.schema}.{name}"
    ok(
        world.admin.post(
            f"{UC}/models", json={"catalog_name": world.catalog, "schema_name": "s", "name": name}
        )
    )
    apply_model_rights(world.admin, world.names, full)
    return full


def _temp_alias(world: World) -> str:
    alias = f"t{uuid.uuid4().hex[:6]}"
    ok(world.admin.put(f"{UC}/models/{world.model}/aliases/{alias}", json={"version_num": 1}))
    return alias


def _uploaded(world: World) -> str:
    """A PENDING version whose signed MLmodel is uploaded: ready to be finalized."""
    version = create_version(world.admin, world.model)
    put_file(world.admin, world.model, version, "MLmodel", SIGNED_MLMODEL)
    return version


def _pending(world: World) -> str:
    return create_version(world.admin, world.model)


def _uc_version_body(world: World) -> dict:
    catalog, schema, model = world.model.split(".")
    return {"catalog_name": catalog, "schema_name": schema, "model_name": model}


M = MODEL
OPERATIONS = [
    # Unity Catalog REST (2.1)
    Operation("uc get model", M, "EXECUTE", lambda c, w, k: c.get(f"{UC}/models/{w.model}")),
    Operation(
        "uc get version", M, "EXECUTE", lambda c, w, k: c.get(f"{UC}/models/{w.model}/versions/1")
    ),
    Operation(
        "uc list versions", M, "EXECUTE", lambda c, w, k: c.get(f"{UC}/models/{w.model}/versions")
    ),
    Operation(
        "uc resolve alias",
        M,
        "EXECUTE",
        lambda c, w, k: c.get(f"{UC}/models/{w.model}/aliases/champion"),
    ),
    Operation(
        "uc read credentials",
        M,
        "EXECUTE",
        lambda c, w, k: c.post(
            f"{UC}/temporary-model-version-credentials",
            json={**_uc_version_body(w), "version": 1, "operation": "READ_MODEL_VERSION"},
        ),
    ),
    Operation(
        "uc create version",
        M,
        "CREATE MODEL VERSION",
        lambda c, w, k: c.post(
            f"{UC}/models/versions", json={**_uc_version_body(w), "source": "x"}
        ),
    ),
    Operation(
        "uc write credentials",
        M,
        "CREATE MODEL VERSION",
        lambda c, w, k: c.post(
            f"{UC}/temporary-model-version-credentials",
            json={
                **_uc_version_body(w),
                "version": int(_pending(w)),
                "operation": "READ_WRITE_MODEL_VERSION",
            },
        ),
    ),
    Operation(
        "uc set model tag",
        M,
        "APPLY TAG",
        lambda c, w, k: c.patch(
            f"{UC}/securable-tags/registered_model/{w.model}",
            json={"changes": {"add_tags": [{"key": "k", "value": k}]}},
        ),
    ),
    Operation(
        "uc set version tag",
        M,
        "APPLY TAG",
        lambda c, w, k: c.patch(
            f"{UC}/subentity-tags/registered_model/{w.model}/1",
            json={"changes": {"add_tags": [{"key": "k", "value": k}]}},
        ),
    ),
    Operation(
        "uc set alias",
        M,
        None,
        lambda c, w, k: c.put(f"{UC}/models/{w.model}/aliases/challenger", json={"version_num": 1}),
    ),
    Operation(
        "uc delete alias",
        M,
        None,
        lambda c, w, k: c.delete(f"{UC}/models/{w.model}/aliases/{_temp_alias(w)}"),
    ),
    Operation(
        "uc edit description",
        M,
        None,
        lambda c, w, k: c.patch(f"{UC}/models/{w.model}", json={"comment": f"by {k}"}),
    ),
    Operation(
        "uc delete version",
        M,
        None,
        lambda c, w, k: c.delete(f"{UC}/models/{w.model}/versions/{_fresh_version(w)}"),
    ),
    Operation(
        "uc delete model",
        M,
        None,
        lambda c, w, k: c.delete(f"{UC}/models/{_fresh_model(w)}"),
    ),
    Operation(
        "uc change grants",
        M,
        None,
        lambda c, w, k: c.patch(
            f"{UC}/permissions/registered_model/{w.model}",
            json={"changes": [{"principal": w.names["nobody"], "add": [], "remove": ["EXECUTE"]}]},
        ),
    ),
    # The model-registry dialect (2.0) that MLflow's databricks-uc store speaks
    Operation(
        "2.0 get model",
        M,
        "EXECUTE",
        lambda c, w, k: c.get(f"{REGISTRY_2_0}/registered-models/get", params={"name": w.model}),
    ),
    Operation(
        "2.0 get version",
        M,
        "EXECUTE",
        lambda c, w, k: c.get(
            f"{REGISTRY_2_0}/model-versions/get", params={"name": w.model, "version": "1"}
        ),
    ),
    Operation(
        "2.0 resolve alias",
        M,
        "EXECUTE",
        lambda c, w, k: c.get(
            f"{REGISTRY_2_0}/registered-models/alias", params={"name": w.model, "alias": "champion"}
        ),
    ),
    Operation(
        "2.0 read credentials",
        M,
        "EXECUTE",
        lambda c, w, k: c.post(
            f"{REGISTRY_2_0}/model-versions/generate-temporary-credentials",
            json={"name": w.model, "version": "1", "operation": "MODEL_VERSION_OPERATION_READ"},
        ),
    ),
    Operation(
        "2.0 create version",
        M,
        "CREATE MODEL VERSION",
        lambda c, w, k: c.post(
            f"{REGISTRY_2_0}/model-versions/create", json={"name": w.model, "source": "x"}
        ),
    ),
    Operation(
        "2.0 set model tag",
        M,
        "APPLY TAG",
        lambda c, w, k: c.post(
            f"{REGISTRY_2_0}/registered-models/set-tag",
            json={"name": w.model, "key": "k2", "value": k},
        ),
    ),
    Operation(
        "2.0 set version tag",
        M,
        "APPLY TAG",
        lambda c, w, k: c.post(
            f"{REGISTRY_2_0}/model-versions/set-tag",
            json={"name": w.model, "version": "1", "key": "k2", "value": k},
        ),
    ),
    Operation(
        "2.0 set alias",
        M,
        None,
        lambda c, w, k: c.post(
            f"{REGISTRY_2_0}/registered-models/alias",
            json={"name": w.model, "alias": "challenger", "version": "1"},
        ),
    ),
    Operation(
        "2.0 edit description",
        M,
        None,
        lambda c, w, k: c.patch(
            f"{REGISTRY_2_0}/registered-models/update",
            json={"name": w.model, "description": f"by {k}"},
        ),
    ),
    Operation(
        "2.0 finalize version",
        M,
        "CREATE MODEL VERSION",
        lambda c, w, k: c.post(
            f"{REGISTRY_2_0}/model-versions/finalize",
            json={"name": w.model, "version": _uploaded(w)},
        ),
    ),
    Operation(
        "2.0 download uri",
        M,
        "EXECUTE",
        lambda c, w, k: c.get(
            f"{REGISTRY_2_0}/model-versions/get-download-uri",
            params={"name": w.model, "version": "1"},
        ),
    ),
    Operation(
        "2.0 search versions",
        M,
        "EXECUTE",
        lambda c, w, k: c.get(
            f"{REGISTRY_2_0}/model-versions/search", params={"filter": f"name = '{w.model}'"}
        ),
    ),
    Operation(
        "2.0 delete version tag",
        M,
        "APPLY TAG",
        lambda c, w, k: c.request(
            "DELETE",
            f"{REGISTRY_2_0}/model-versions/delete-tag",
            json={"name": w.model, "version": "1", "key": "k2"},
        ),
    ),
    Operation(
        "2.0 edit version description",
        M,
        None,
        lambda c, w, k: c.patch(
            f"{REGISTRY_2_0}/model-versions/update",
            json={"name": w.model, "version": "1", "description": f"by {k}"},
        ),
    ),
    Operation(
        "2.0 delete alias",
        M,
        None,
        lambda c, w, k: c.request(
            "DELETE",
            f"{REGISTRY_2_0}/registered-models/alias",
            json={"name": w.model, "alias": _temp_alias(w)},
        ),
    ),
    Operation(
        "2.0 delete model",
        M,
        None,
        lambda c, w, k: c.request(
            "DELETE", f"{REGISTRY_2_0}/registered-models/delete", json={"name": _fresh_model(w)}
        ),
    ),
    Operation(
        "uc finalize version",
        M,
        "CREATE MODEL VERSION",
        lambda c, w, k: c.patch(f"{UC}/models/{w.model}/versions/{_uploaded(w)}/finalize", json={}),
    ),
    Operation(
        "uc edit version description",
        M,
        None,
        lambda c, w, k: c.patch(f"{UC}/models/{w.model}/versions/1", json={"comment": k}),
    ),
    # Files API and the catalog's own additions
    Operation(
        "files download url",
        M,
        "EXECUTE",
        lambda c, w, k: c.post(
            "/api/2.0/fs/create-download-url", json={"path": files_path(w.model, 1, "MLmodel")}
        ),
    ),
    Operation(
        "files list directory",
        M,
        "EXECUTE",
        lambda c, w, k: c.get(f"/api/2.0/fs/directories{files_path(w.model, 1)}"),
    ),
    Operation(
        "files upload url",
        M,
        "CREATE MODEL VERSION",
        lambda c, w, k: c.post(
            "/api/2.0/fs/create-upload-url",
            json={"path": files_path(w.model, _pending(w), "MLmodel")},
        ),
    ),
    Operation(
        "native manifest",
        M,
        "EXECUTE",
        lambda c, w, k: c.get(f"{NATIVE}/models/{w.model}/versions/1/manifest"),
    ),
    Operation(
        "native migration import",
        M,
        None,
        lambda c, w, k: c.post(
            f"{NATIVE}/migration/versions",
            json={
                "name": w.model,
                "version": 1000 + KINDS.index(k),
                "origin": {"registry": "sqlite:///src.db", "model": "m", "version": "1"},
            },
        ),
    ),
    # Containers
    Operation(
        "uc get catalog",
        CATALOG,
        "USE CATALOG",
        lambda c, w, k: c.get(f"{UC}/catalogs/{w.catalog}"),
    ),
    Operation(
        "uc get schema", SCHEMA, "USE SCHEMA", lambda c, w, k: c.get(f"{UC}/schemas/{w.schema}")
    ),
    Operation(
        "uc create schema",
        CATALOG,
        "CREATE SCHEMA",
        lambda c, w, k: c.post(
            f"{UC}/schemas", json={"catalog_name": w.catalog, "name": f"s_{uuid.uuid4().hex[:6]}"}
        ),
    ),
    Operation(
        "uc create model",
        SCHEMA,
        "CREATE MODEL",
        lambda c, w, k: c.post(
            f"{UC}/models",
            json={
                "catalog_name": w.catalog,
                "schema_name": "s",
                "name": f"n_{uuid.uuid4().hex[:6]}",
            },
        ),
    ),
    Operation(
        "uc edit catalog",
        CATALOG,
        None,
        lambda c, w, k: c.patch(f"{UC}/catalogs/{w.catalog}", json={"comment": k}),
    ),
    Operation(
        "uc tag catalog",
        CATALOG,
        "APPLY TAG",
        lambda c, w, k: c.patch(
            f"{UC}/securable-tags/catalog/{w.catalog}",
            json={"changes": {"add_tags": [{"key": "k", "value": k}]}},
        ),
    ),
    Operation(
        "uc edit schema",
        SCHEMA,
        None,
        lambda c, w, k: c.patch(f"{UC}/schemas/{w.schema}", json={"comment": k}),
    ),
    Operation(
        "uc tag schema",
        SCHEMA,
        "APPLY TAG",
        lambda c, w, k: c.patch(
            f"{UC}/securable-tags/schema/{w.schema}",
            json={"changes": {"add_tags": [{"key": "k", "value": k}]}},
        ),
    ),
]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[o.name for o in OPERATIONS])
def test_every_kind_of_principal_gets_what_the_privilege_table_says(
    world: World, operation: Operation
) -> None:
    failures = []
    for kind in KINDS:
        response = operation.send(world.clients[kind], world, kind)
        expected = expected_status(kind, operation.level, operation.needs)
        actual = 200 if response.is_success else response.status_code
        if actual != expected:
            failures.append(
                f"{kind}: expected {expected}, got {response.status_code} {response.text}"
            )
            continue
        records = records_of_request(world.admin, response.headers["x-request-id"])
        outcome = "ok" if expected == 200 else "denied"
        if len(records) != 1 or records[0]["outcome"] != outcome:
            failures.append(f"{kind}: expected one '{outcome}' audit record, found {records}")
        elif expected != 200 and kind != "admin":
            assert records[0]["principal"] == world.names[kind]
    assert not failures, "\n".join(failures)


def test_a_hidden_model_answers_exactly_like_a_missing_one(world: World) -> None:
    outsider = world.clients["nobody"]
    hidden = outsider.get(f"{UC}/models/{world.model}")
    missing = outsider.get(f"{UC}/models/{world.schema}.does_not_exist")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error_code"] == missing.json()["error_code"]
    assert hidden.json()["message"].replace(world.model, "X") == missing.json()["message"].replace(
        f"{world.schema}.does_not_exist", "X"
    )
