"""Lineage of model versions: the logged model and run a version came from, the version it was
copied from (MLflow's `copy_model_version` between catalogs, the usual dev → prod promotion),
what MLflow reports in its lineage header and `emit-lineage` calls; served by the Unity Catalog
API, `modelcatalog versions get` and the version page.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_uc_registry_messages_pb2 import (
    DOWNSTREAM,
    Entity,
    Job,
    Lineage,
    LineageHeaderInfo,
    Notebook,
    Securable,
    Table,
)
from mlflow.utils._unity_catalog_utils import emit_model_version_lineage
from mlflow.utils.proto_json_utils import message_to_json
from mlflow.utils.rest_utils import MlflowHostCreds
from test_databricks_uc_flow import databricks_uc, uc_mode  # noqa: F401  (fixtures)

from support.cli import run_cli
from support.governance import add_principal, grant, token_for
from support.http import error_of, ok, unique
from support.models import TinyModel, log_tiny_model
from support.servers import TRACKING_UI

UC = "/api/2.1/unity-catalog"
REGISTRY = "/api/2.0/mlflow/unity-catalog"


def _catalog_schema(api: httpx.Client, catalog: str, schema: str) -> str:
    ok(api.post(f"{UC}/catalogs", json={"name": catalog}))
    ok(api.post(f"{UC}/schemas", json={"name": schema, "catalog_name": catalog}))
    return f"{catalog}.{schema}"


def _lineage(api: httpx.Client, name: str, version: int | str) -> dict[str, Any]:
    return ok(api.get(f"{UC}/models/{name}/versions/{version}"))["lineage"]


def test_copy_to_another_catalog_needs_execute_and_create_version_and_keeps_lineage(
    databricks_uc: mlflow.MlflowClient,  # noqa: F811
    api: httpx.Client,
    server: Any,
    schema: str,
    tiny_model: TinyModel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = f"{schema}.churn"
    info = log_tiny_model(tiny_model, source)
    served = databricks_uc.get_model_version(source, "1")
    # MLflow clears the logged model id when the tracking server is not Databricks; the
    # catalog reads it back from the source, so the version names its logged model.
    assert served.model_id == info.model_id
    assert served.run_id == info.run_id

    prod = _catalog_schema(api, unique("prod"), "ml")
    target = f"{prod}.churn"
    ok(
        api.post(
            f"{UC}/models",
            json={"catalog_name": prod.split(".")[0], "schema_name": "ml", "name": "churn"},
        )
    )
    promoter = unique("promoter")
    add_principal(api, promoter)
    catalog, schema_name = schema.split(".")
    grant(api, "catalog", catalog, promoter, "USE CATALOG")
    grant(api, "schema", schema, promoter, "USE SCHEMA")
    grant(api, "registered_model", source, promoter, "EXECUTE")
    grant(api, "catalog", prod.split(".")[0], promoter, "USE CATALOG")
    grant(api, "schema", prod, promoter, "USE SCHEMA")
    grant(api, "registered_model", target, promoter, "CREATE MODEL VERSION")
    monkeypatch.setenv("DATABRICKS_TOKEN", token_for(api, promoter))

    copy = databricks_uc.copy_model_version(f"models:/{source}/1", target)

    assert (copy.name, copy.version) == (target, "1")
    # Loading the copy is the deployers' business (EXECUTE on it), not the promoter's.
    monkeypatch.setenv("DATABRICKS_TOKEN", server.admin_token)
    loaded = mlflow.pyfunc.load_model(f"models:/{target}/1")
    np.testing.assert_array_equal(loaded.predict(tiny_model.features), tiny_model.expected)
    lineage = _lineage(api, target, 1)
    assert lineage["copied_from"]["name"] == source
    assert lineage["copied_from"]["version"] == "1"
    assert lineage["run_id"] == info.run_id
    assert lineage["model_id"] == info.model_id
    copied = ok(api.get(f"{UC}/models/{target}/versions/1"))
    assert copied["source"] == f"models:/{source}/1"
    assert copied["created_by"] == promoter

    # EXECUTE on the source was needed: without it the promoter cannot read the files to copy.
    ok(
        api.patch(
            f"{UC}/permissions/registered_model/{source}",
            json={"changes": [{"principal": promoter, "remove": ["EXECUTE"]}]},
        )
    )
    monkeypatch.setenv("DATABRICKS_TOKEN", token_for(api, promoter))
    with pytest.raises(MlflowException, match="does not exist"):
        databricks_uc.copy_model_version(f"models:/{source}/1", target)
    monkeypatch.setenv("DATABRICKS_TOKEN", server.admin_token)
    assert [v.version for v in databricks_uc.search_model_versions(f"name='{target}'")] == ["1"]


def test_a_source_the_caller_cannot_read_is_not_recorded_as_copied_from(
    api: httpx.Client,
    schema: str,
    tiny_model: TinyModel,
    databricks_uc: mlflow.MlflowClient,  # noqa: F811
) -> None:
    source = f"{schema}.secret"
    info = log_tiny_model(tiny_model, source)
    outsider = unique("outsider")
    add_principal(api, outsider)
    elsewhere = _catalog_schema(api, unique("own"), "s")
    own_catalog = elsewhere.split(".")[0]
    grant(api, "catalog", own_catalog, outsider, "USE CATALOG", "CREATE SCHEMA")
    grant(api, "schema", elsewhere, outsider, "USE SCHEMA", "CREATE MODEL")
    with httpx.Client(
        base_url=str(api.base_url),
        headers={"Authorization": f"Bearer {token_for(api, outsider)}"},
        timeout=30,
    ) as mine:
        ok(
            mine.post(
                f"{UC}/models", json={"catalog_name": own_catalog, "schema_name": "s", "name": "m"}
            )
        )
        created = ok(
            mine.post(
                f"{UC}/models/versions",
                json={
                    "catalog_name": own_catalog,
                    "schema_name": "s",
                    "model_name": "m",
                    "source": f"models:/{source}/1",
                },
            )
        )
        lineage = _lineage(mine, f"{elsewhere}.m", created["version"])
    # Nothing of the hidden version (its run, its logged model, that it exists) leaks.
    assert "copied_from" not in lineage
    assert lineage.get("run_id") is None
    assert info.run_id not in str(lineage)


def _header(*entities: Any, tables: tuple[tuple[str, str], ...] = ()) -> str:
    """The lineage header MLflow's `databricks-uc` client builds for a notebook or job run."""
    info = LineageHeaderInfo(
        entities=list(entities),
        lineages=[
            Lineage(
                source_securables=[
                    Securable(table=Table(name=name, table_id=table_id))
                    for name, table_id in tables
                ]
            )
        ]
        if tables
        else None,
    )
    return base64.b64encode(message_to_json(info).encode()).decode()


def test_lineage_header_and_readers_are_recorded_and_shown(
    api: httpx.Client, server: Any, schema: str, tmp_path: Path
) -> None:
    name = f"{schema}.scored"
    catalog, schema_name = schema.split(".")
    ok(
        api.post(
            f"{UC}/models",
            json={"catalog_name": catalog, "schema_name": schema_name, "name": "scored"},
        )
    )
    header = _header(
        Entity(notebook=Notebook(id="4242")),
        Entity(job=Job(id="77", job_run_id="8801")),
        tables=(("main.sales.orders", "tbl-1"), ("main.sales.customers", "tbl-2")),
    )
    created = ok(
        api.post(
            f"{REGISTRY}/model-versions/create",
            json={"name": name, "source": "s3://bucket/scored", "run_id": "abc123"},
            headers={"X-Databricks-Lineage-Identifier": header},
        )
    )["model_version"]

    host = MlflowHostCreds(host=server.url, token=server.admin_token)
    emit_model_version_lineage(
        host, name, created["version"], [Entity(notebook=Notebook(id="9001"))], DOWNSTREAM
    )

    lineage = _lineage(api, name, created["version"])
    upstream = {(e["kind"], e.get("name") or e["id"], e.get("run_id")) for e in lineage["upstream"]}
    assert upstream == {
        ("notebook", "4242", None),
        ("job", "77", "8801"),
        ("table", "main.sales.orders", None),
        ("table", "main.sales.customers", None),
    }
    assert [(e["kind"], e["id"]) for e in lineage["readers"]] == [("notebook", "9001")]

    shown = run_cli("versions", "get", name, created["version"], env=server.env())
    assert shown.returncode == 0, shown.stderr
    assert "table main.sales.orders" in shown.stdout
    assert "job 77 (run 8801)" in shown.stdout
    assert "notebook 9001" in shown.stdout

    broken = api.post(
        f"{REGISTRY}/model-versions/create",
        json={"name": name, "source": "s3://bucket/scored"},
        headers={"X-Databricks-Lineage-Identifier": "not base64!"},
    )
    assert "X-Databricks-Lineage-Identifier" in error_of(broken, 400)["message"]
    wrong_direction = api.post(
        f"{REGISTRY}/model-versions/emit-lineage",
        json={
            "name": name,
            "version": created["version"],
            "model_version_lineage_info": {"entities": [], "direction": "SIDEWAYS"},
        },
    )
    assert "direction" in error_of(wrong_direction, 400)["message"]


def test_run_link_follows_the_tracking_ui(api: httpx.Client, schema: str) -> None:
    name = f"{schema}.linked"
    catalog, schema_name = schema.split(".")
    ok(
        api.post(
            f"{UC}/models",
            json={"catalog_name": catalog, "schema_name": schema_name, "name": "linked"},
        )
    )
    created = ok(
        api.post(
            f"{UC}/models/versions",
            json={
                "catalog_name": catalog,
                "schema_name": schema_name,
                "model_name": "linked",
                "source": "s3://b/linked",
                "run_id": "r-1/2",
            },
        )
    )
    lineage = _lineage(api, name, created["version"])
    assert lineage["run_link"] == f"{TRACKING_UI}/#/runs/r-1%2F2"
