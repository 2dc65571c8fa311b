"""Unity Catalog's own answers where a looser server would quietly do something else.

What Unity Catalog OSS does (server `ModelRepository`, `CatalogRepository`, `SchemaRepository`
and its OpenAPI spec), and what the model-registry dialect MLflow speaks keeps instead:
- deleting a model that still has versions needs `force=true` on /api/2.1 (409 ABORTED without
  it); a non-empty catalog or schema needs it too (400 FAILED_PRECONDITION). On /api/2.0 a
  model's delete takes its versions with it, as MLflow means it.
- an update that changes nothing: catalogs and schemas answer as they are, untouched; models
  and versions are refused ("No updated fields defined").
- a version needs a `source` (required by both dialects' specifications).
"""

from __future__ import annotations

import httpx
import pytest

from support.http import error_of, ok, unique
from support.versions import REGISTRY_2_0, UC_2_1, create_model, create_version, ready_version

# Cascading deletes and uniqueness are kept by each database's constraints.
pytestmark = pytest.mark.both_databases


@pytest.fixture
def model(api: httpx.Client, schema: str) -> str:
    name = f"{schema}.{unique()}"
    create_model(api, name)
    return name


def _exists(api: httpx.Client, path: str) -> bool:
    response = api.get(path)
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


# Deleting with and without force ------------------------------------------------------------


@pytest.mark.parametrize("status", ["READY", "PENDING_REGISTRATION"])
def test_uc_model_with_versions_is_deleted_only_with_force(
    api: httpx.Client, model: str, status: str
) -> None:
    version = ready_version(api, model) if status == "READY" else create_version(api, model)

    refused = error_of(api.delete(f"{UC_2_1}/models/{model}"), 409)
    assert refused["error_code"] == "ABORTED"
    assert model in refused["message"] and "force=true" in refused["message"]
    assert ok(api.get(f"{UC_2_1}/models/{model}/versions/{version}"))["status"] == status

    refused = error_of(api.delete(f"{UC_2_1}/models/{model}", params={"force": "false"}), 409)
    assert refused["error_code"] == "ABORTED"

    ok(api.delete(f"{UC_2_1}/models/{model}", params={"force": "true"}))
    assert not _exists(api, f"{UC_2_1}/models/{model}")


def test_uc_model_without_versions_is_deleted_without_force(api: httpx.Client, model: str) -> None:
    version = create_version(api, model)
    ok(api.delete(f"{UC_2_1}/models/{model}/versions/{version}"))
    ok(api.delete(f"{UC_2_1}/models/{model}"))
    assert not _exists(api, f"{UC_2_1}/models/{model}")


@pytest.mark.parametrize("value", ["maybe", "1", "yes", ""])
def test_force_that_is_not_a_boolean_is_refused(api: httpx.Client, model: str, value: str) -> None:
    ready_version(api, model)
    refused = error_of(api.delete(f"{UC_2_1}/models/{model}", params={"force": value}), 400)
    assert refused["error_code"] == "INVALID_ARGUMENT"
    assert "'force'" in refused["message"] and "true or false" in refused["message"]
    assert _exists(api, f"{UC_2_1}/models/{model}")


def test_force_may_come_in_the_json_body(api: httpx.Client, model: str) -> None:
    ready_version(api, model)
    ok(api.request("DELETE", f"{UC_2_1}/models/{model}", json={"force": True}))
    assert not _exists(api, f"{UC_2_1}/models/{model}")


def test_registry_dialect_model_delete_takes_its_versions(api: httpx.Client, model: str) -> None:
    ready_version(api, model)
    create_version(api, model)
    ok(api.request("DELETE", f"{REGISTRY_2_0}/registered-models/delete", json={"name": model}))
    assert not _exists(api, f"{UC_2_1}/models/{model}")


def test_uc_schema_and_catalog_with_children_are_deleted_only_with_force(
    api: httpx.Client, schema: str, model: str
) -> None:
    catalog = schema.split(".")[0]
    ready_version(api, model)

    refused = error_of(api.delete(f"{UC_2_1}/schemas/{schema}"), 400)
    assert refused["error_code"] == "FAILED_PRECONDITION"
    assert schema in refused["message"] and "force=true" in refused["message"]
    refused = error_of(api.delete(f"{UC_2_1}/catalogs/{catalog}"), 400)
    assert refused["error_code"] == "FAILED_PRECONDITION"
    assert catalog in refused["message"] and "force=true" in refused["message"]
    assert _exists(api, f"{UC_2_1}/models/{model}")

    # A forced delete of the catalog goes down through its schemas to every model's versions.
    ok(api.delete(f"{UC_2_1}/catalogs/{catalog}", params={"force": "true"}))
    for gone in (f"catalogs/{catalog}", f"schemas/{schema}", f"models/{model}"):
        assert not _exists(api, f"{UC_2_1}/{gone}")


def test_uc_forced_schema_delete_takes_models_with_versions(
    api: httpx.Client, schema: str, model: str
) -> None:
    ready_version(api, model)
    ok(api.delete(f"{UC_2_1}/schemas/{schema}", params={"force": "true"}))
    assert not _exists(api, f"{UC_2_1}/schemas/{schema}")
    assert not _exists(api, f"{UC_2_1}/models/{model}")


# Updates that change nothing ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["catalog", "schema"])
def test_uc_empty_update_of_a_container_answers_it_untouched(
    api: httpx.Client, schema: str, kind: str
) -> None:
    path = (
        f"{UC_2_1}/catalogs/{schema.split('.')[0]}"
        if kind == "catalog"
        else (f"{UC_2_1}/schemas/{schema}")
    )
    before = ok(api.get(path))
    for body in ({}, {"comment": None, "new_name": None}):
        assert ok(api.patch(path, json=body)) == before
    assert ok(api.get(path)) == before  # updated_at and updated_by included


def test_uc_empty_model_update_is_refused(api: httpx.Client, model: str) -> None:
    before = ok(api.get(f"{UC_2_1}/models/{model}"))
    for body in ({}, {"comment": None}):
        refused = error_of(api.patch(f"{UC_2_1}/models/{model}", json=body), 400)
        assert refused["error_code"] == "INVALID_ARGUMENT"
        assert "No updated fields" in refused["message"] and "comment" in refused["message"]
    assert ok(api.get(f"{UC_2_1}/models/{model}")) == before


def test_uc_empty_version_update_is_refused(api: httpx.Client, model: str) -> None:
    version = ready_version(api, model)
    path = f"{UC_2_1}/models/{model}/versions/{version}"
    before = ok(api.get(path))
    refused = error_of(api.patch(path, json={}), 400)
    assert refused["error_code"] == "INVALID_ARGUMENT"
    assert "No updated fields" in refused["message"] and "comment" in refused["message"]
    assert ok(api.get(path))["updated_at"] == before["updated_at"]


def test_registry_dialect_empty_updates_are_refused(api: httpx.Client, model: str) -> None:
    version = ready_version(api, model)
    refused = error_of(
        api.patch(f"{REGISTRY_2_0}/registered-models/update", json={"name": model}), 400
    )
    assert refused["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "No updated fields" in refused["message"]
    refused = error_of(
        api.patch(
            f"{REGISTRY_2_0}/model-versions/update", json={"name": model, "version": version}
        ),
        400,
    )
    assert refused["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "description" in refused["message"]


def test_an_empty_comment_is_an_update(api: httpx.Client, model: str) -> None:
    version = ready_version(api, model)
    ok(api.patch(f"{UC_2_1}/models/{model}", json={"comment": "about"}))
    assert ok(api.patch(f"{UC_2_1}/models/{model}", json={"comment": ""}))["comment"] in ("", None)
    path = f"{UC_2_1}/models/{model}/versions/{version}"
    assert ok(api.patch(path, json={"comment": ""}))["comment"] in ("", None)


# A version's source ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", [None, ""], ids=["absent", "empty"])
def test_version_without_source_is_refused_on_both_dialects(
    api: httpx.Client, model: str, source: str | None
) -> None:
    catalog, schema_name, model_name = model.split(".")
    extra = {} if source is None else {"source": source}
    refused = error_of(
        api.post(
            f"{UC_2_1}/models/versions",
            json={
                "catalog_name": catalog,
                "schema_name": schema_name,
                "model_name": model_name,
                **extra,
            },
        ),
        400,
    )
    assert refused["error_code"] == "INVALID_ARGUMENT"
    assert "'source' is required" in refused["message"]
    refused = error_of(
        api.post(f"{REGISTRY_2_0}/model-versions/create", json={"name": model, **extra}), 400
    )
    assert refused["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "'source' is required" in refused["message"]
    # Nothing was created, and no number was used up.
    assert ok(api.get(f"{UC_2_1}/models/{model}/versions"))["model_versions"] == []
    assert create_version(api, model) == "1"
