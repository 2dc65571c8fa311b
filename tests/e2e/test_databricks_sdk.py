"""databricks-sdk against the catalog, as a Databricks user scripts Unity Catalog: catalogs,
schemas, registered models, model versions and grants, end to end. Grants reach it in
Databricks' spelling (`USE_CATALOG`), which its enums parse, while the `unitycatalog-client`
SDK keeps Unity Catalog OSS's (`USE CATALOG`), on the same paths."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.catalog import PermissionsChange, Privilege

from support.governance import UC, add_principal
from support.http import ok
from support.versions import ready_version


def _workspace(server: Any) -> WorkspaceClient:
    return WorkspaceClient(host=server.url, token=server.admin_token, auth_type="pat")


def test_catalogs_schemas_models_and_versions_through_databricks_sdk(
    server: Any, api: httpx.Client
) -> None:
    w = _workspace(server)
    name = f"sdk_{uuid.uuid4().hex[:8]}"
    made = w.catalogs.create(name=name, comment="made by databricks-sdk")
    assert made.name == name and made.comment == "made by databricks-sdk"
    assert w.catalogs.get(name).owner == "admin"
    assert name in {c.name for c in w.catalogs.list()}
    w.schemas.create(name="ml", catalog_name=name)
    assert [s.name for s in w.schemas.list(catalog_name=name)] == ["ml"]
    model = w.registered_models.create(catalog_name=name, schema_name="ml", name="churn")
    assert model.full_name == f"{name}.ml.churn"
    ready_version(api, model.full_name)
    listed = list(w.registered_models.list(catalog_name=name, schema_name="ml"))
    assert [m.full_name for m in listed] == [model.full_name]
    versions = list(w.model_versions.list(model.full_name))
    assert [v.version for v in versions] == [1]
    version = w.model_versions.get(model.full_name, 1)
    assert version.status is not None and version.status.value == "READY"


def test_grants_are_read_back_in_databricks_spelling(server: Any, api: httpx.Client) -> None:
    w = _workspace(server)
    catalog = f"sdkgrants_{uuid.uuid4().hex[:8]}"
    w.catalogs.create(name=catalog)
    w.schemas.create(name="ml", catalog_name=catalog)
    reader = f"reader-{uuid.uuid4().hex[:8]}@example.com"
    add_principal(api, reader)
    w.grants.update(
        "catalog",
        catalog,
        changes=[PermissionsChange(principal=reader, add=[Privilege.USE_CATALOG])],
    )
    w.grants.update(
        "schema",
        f"{catalog}.ml",
        changes=[PermissionsChange(principal=reader, add=[Privilege.USE_SCHEMA])],
    )
    direct = w.grants.get("catalog", catalog).privilege_assignments or []
    assert [(a.principal, a.privileges) for a in direct] == [(reader, [Privilege.USE_CATALOG])]
    effective = w.grants.get_effective("schema", f"{catalog}.ml", principal=reader)
    reached = {
        (p.privilege, p.inherited_from_name)
        for a in effective.privilege_assignments or []
        for p in a.privileges or []
    }
    assert reached == {(Privilege.USE_CATALOG, catalog), (Privilege.USE_SCHEMA, None)}
    # Another client on the same path reads Unity Catalog OSS's spelling.
    plain = ok(api.get(f"{UC}/permissions/catalog/{catalog}"))
    assert plain["privilege_assignments"][0]["privileges"] == ["USE CATALOG"]
