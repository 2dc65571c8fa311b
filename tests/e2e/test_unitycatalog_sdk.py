"""The `unitycatalog-client` SDK (generated from the Unity Catalog OSS spec) reads the catalog.

The SDK validates every answer against its pydantic models and rejects enum values it does not
know, so these tests prove the response shapes of /api/2.1/unity-catalog.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest
from unitycatalog.client import (
    ApiClient,
    CatalogsApi,
    Configuration,
    ModelVersionsApi,
    RegisteredModelsApi,
    SchemasApi,
    UpdateCatalog,
    UpdateModelVersion,
    UpdateRegisteredModel,
    UpdateSchema,
)
from unitycatalog.client.exceptions import ApiException

from support.versions import UC_2_1, create_model, create_version, ready_version

T = TypeVar("T")


def _run(server: Any, use: Callable[[ApiClient], Awaitable[T]]) -> T:
    """Run one SDK conversation with a fresh client authenticated as the admin."""

    async def conversation() -> T:
        configuration = Configuration(host=f"{server.url}{UC_2_1}")
        async with ApiClient(
            configuration, header_name="Authorization", header_value=f"Bearer {server.admin_token}"
        ) as client:
            return await use(client)

    # In a thread of its own: a worker that drives a browser (Playwright's sync API) keeps an
    # event loop running in the main thread, where asyncio.run refuses to start another.
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, conversation()).result()


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


def test_sdk_deletes_a_model_with_versions_only_with_force(
    server: Any, api: httpx.Client, model_with_versions: str
) -> None:
    name = model_with_versions

    async def plain(client: ApiClient) -> Any:
        return await RegisteredModelsApi(client).delete_registered_model(full_name=name)

    with pytest.raises(ApiException) as raised:
        _run(server, plain)
    assert raised.value.status == 409
    assert "ABORTED" in str(raised.value.body) and "force=true" in str(raised.value.body)
    assert api.get(f"{UC_2_1}/models/{name}").status_code == 200

    async def forced(client: ApiClient) -> Any:
        await RegisteredModelsApi(client).delete_registered_model(full_name=name, force=True)
        return await RegisteredModelsApi(client).get_registered_model(full_name=name)

    with pytest.raises(ApiException) as raised:
        _run(server, forced)
    assert raised.value.status == 404


def test_sdk_deletes_a_non_empty_schema_and_catalog_only_with_force(
    server: Any, api: httpx.Client, model_with_versions: str
) -> None:
    catalog, schema_name, _ = model_with_versions.split(".")
    schema = f"{catalog}.{schema_name}"

    async def plain(client: ApiClient) -> list[int]:
        statuses = []
        for attempt in (
            SchemasApi(client).delete_schema(full_name=schema),
            CatalogsApi(client).delete_catalog(name=catalog),
        ):
            try:
                await attempt
            except ApiException as exc:
                statuses.append(exc.status)
        return statuses

    assert _run(server, plain) == [400, 400]
    assert api.get(f"{UC_2_1}/models/{model_with_versions}").status_code == 200

    async def forced(client: ApiClient) -> None:
        await SchemasApi(client).delete_schema(full_name=schema, force=True)
        await CatalogsApi(client).delete_catalog(name=catalog, force=False)

    _run(server, forced)
    assert api.get(f"{UC_2_1}/catalogs/{catalog}").status_code == 404


def test_sdk_empty_updates_answer_as_unity_catalog_does(
    server: Any, model_with_versions: str
) -> None:
    name = model_with_versions
    catalog, schema_name, _ = name.split(".")

    async def containers(client: ApiClient) -> tuple[Any, Any, Any, Any]:
        catalogs, schemas = CatalogsApi(client), SchemasApi(client)
        before = (
            await catalogs.get_catalog(name=catalog),
            await schemas.get_schema(full_name=f"{catalog}.{schema_name}"),
        )
        after = (
            await catalogs.update_catalog(name=catalog, update_catalog=UpdateCatalog()),
            await schemas.update_schema(
                full_name=f"{catalog}.{schema_name}", update_schema=UpdateSchema()
            ),
        )
        return (*before, *after)

    catalog_before, schema_before, catalog_after, schema_after = _run(server, containers)
    assert catalog_after == catalog_before
    assert schema_after == schema_before

    async def model_update(client: ApiClient) -> Any:
        return await RegisteredModelsApi(client).update_registered_model(
            full_name=name, update_registered_model=UpdateRegisteredModel()
        )

    async def version_update(client: ApiClient) -> Any:
        return await ModelVersionsApi(client).update_model_version(
            full_name=name, version=2, update_model_version=UpdateModelVersion()
        )

    for update in (model_update, version_update):
        with pytest.raises(ApiException) as raised:
            _run(server, update)
        assert raised.value.status == 400
        assert "No updated fields" in str(raised.value.body)
