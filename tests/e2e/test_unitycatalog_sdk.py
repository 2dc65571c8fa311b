"""The `unitycatalog-client` SDK (generated from the Unity Catalog OSS spec) reads the catalog.

The SDK validates every answer against its pydantic models and rejects enum values it does not
know, so these tests prove the response shapes of /api/2.1/unity-catalog.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from e2e_support import UC_2_1, create_model, create_version, ready_version
from unitycatalog.client import (
    ApiClient,
    CatalogsApi,
    Configuration,
    ModelVersionsApi,
    RegisteredModelsApi,
    SchemasApi,
)
from unitycatalog.client.exceptions import ApiException

T = TypeVar("T")


def _run(server: Any, use: Callable[[ApiClient], Awaitable[T]]) -> T:
    """Run one SDK conversation with a fresh client authenticated as the admin."""

    async def conversation() -> T:
        configuration = Configuration(host=f"{server.url}{UC_2_1}")
        async with ApiClient(
            configuration, header_name="Authorization", header_value=f"Bearer {server.admin_token}"
        ) as client:
            return await use(client)

    return asyncio.run(conversation())


@pytest.fixture
def model_with_versions(api: httpx.Client, schema: str) -> str:
    """A model with one READY version (2) after a PENDING one (1), with a tag and an alias."""
    name = f"{schema}.sdk_model"
    create_model(api, name)
    create_version(api, name)
    ready_version(api, name)
    api.patch(
        f"{UC_2_1}/securable-tags/registered_model/{name}",
        json={"changes": {"add_tags": [{"key": "team", "value": "sdk"}]}},
    ).raise_for_status()
    api.put(f"{UC_2_1}/models/{name}/aliases/champion", json={"version_num": 2}).raise_for_status()
    return name


def test_sdk_lists_catalogs_and_schemas(server: Any, schema: str) -> None:
    catalog, schema_name = schema.split(".")

    async def use(client: ApiClient) -> tuple[Any, Any, Any]:
        catalogs = await CatalogsApi(client).list_catalogs(max_results=1000)
        schemas = await SchemasApi(client).list_schemas(catalog_name=catalog)
        one = await SchemasApi(client).get_schema(full_name=schema)
        return catalogs, schemas, one

    catalogs, schemas, one = _run(server, use)
    assert catalog in {c.name for c in catalogs.catalogs or []}
    assert [s.full_name for s in schemas.schemas or []] == [schema]
    assert (one.catalog_name, one.name) == (catalog, schema_name)


def test_sdk_lists_models_and_versions_and_gets_a_version(
    server: Any, model_with_versions: str
) -> None:
    name = model_with_versions
    catalog, schema_name, model = name.split(".")

    async def use(client: ApiClient) -> tuple[Any, Any, Any, Any]:
        models = RegisteredModelsApi(client)
        versions = ModelVersionsApi(client)
        listed = await models.list_registered_models(
            catalog_name=catalog, schema_name=schema_name, max_results=50
        )
        got = await models.get_registered_model(full_name=name)
        listed_versions = await versions.list_model_versions(full_name=name, max_results=50)
        version = await versions.get_model_version(full_name=name, version=2)
        return listed, got, listed_versions, version

    listed, got, listed_versions, version = _run(server, use)
    assert [m.full_name for m in listed.registered_models or []] == [name]
    assert (got.catalog_name, got.schema_name, got.name) == (catalog, schema_name, model)
    statuses = {v.version: str(v.status.value) for v in listed_versions.model_versions or []}
    assert statuses == {1: "PENDING_REGISTRATION", 2: "READY"}
    assert (version.model_name, version.version, version.status.value) == (model, 2, "READY")
    assert version.storage_location


def test_sdk_reports_a_missing_model_as_not_found(server: Any, schema: str) -> None:
    async def use(client: ApiClient) -> Any:
        return await RegisteredModelsApi(client).get_registered_model(full_name=f"{schema}.nope")

    with pytest.raises(ApiException) as raised:
        _run(server, use)
    assert raised.value.status == 404
    assert "NOT_FOUND" in str(raised.value.body)
