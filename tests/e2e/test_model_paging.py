"""Model listings and searches page in full-name order with keyset tokens: a model added while
someone pages appears once if it sorts after the page they hold, never twice, and nothing is
skipped, across catalogs, schemas (empty ones included) and every dialect."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

REGISTRY = "/api/2.0/mlflow/unity-catalog"
UC = "/api/2.1/unity-catalog"
SEARCH = "/api/modelcatalog/search"

Page = tuple[list[str], str | None]


def _uc_page(api: httpx.Client, catalog: str, token: str | None) -> Page:
    params = {"catalog_name": catalog, "max_results": 4, "page_token": token or ""}
    body = api.get(f"{UC}/models", params=params).raise_for_status().json()
    return [m["full_name"] for m in body.get("registered_models", [])], body.get("next_page_token")


def _registry_page(api: httpx.Client, catalog: str, token: str | None) -> Page:
    params = {"max_results": 4, "page_token": token or ""}
    body = api.get(f"{REGISTRY}/registered-models/search", params=params).raise_for_status()
    found = body.json()
    return [m["name"] for m in found.get("registered_models", [])], found.get("next_page_token")


def _search_page(api: httpx.Client, catalog: str, token: str | None) -> Page:
    params = {"catalog": catalog, "max_results": 4, "page_token": token or ""}
    body = api.get(SEARCH, params=params).raise_for_status().json()
    names = [r["model"].get("full_name") or r["model"]["name"] for r in body["results"]]
    return names, body.get("next_page_token")


LISTINGS: dict[str, Callable[[httpx.Client, str, str | None], Page]] = {
    "uc-list-models": _uc_page,
    "registry-search": _registry_page,
    "native-search": _search_page,
}


def _create(api: httpx.Client, full_name: str) -> None:
    api.post(f"{REGISTRY}/registered-models/create", json={"name": full_name}).raise_for_status()


@pytest.fixture
def catalog(api: httpx.Client) -> str:
    """A catalog with schemas a, b (empty), c and d, and three models in each of a, c, d."""
    name = f"p_{uuid.uuid4().hex[:10]}"
    api.post(f"{UC}/catalogs", json={"name": name}).raise_for_status()
    for schema in ("a", "b", "c", "d"):
        api.post(f"{UC}/schemas", json={"name": schema, "catalog_name": name}).raise_for_status()
    for schema in ("a", "c", "d"):
        for model in ("m1", "m3", "m5"):
            _create(api, f"{name}.{schema}.{model}")
    return name


@pytest.mark.parametrize("listing", LISTINGS, ids=list(LISTINGS))
def test_models_added_while_paging_appear_once_after_the_cursor_and_never_before(
    api: httpx.Client, catalog: str, listing: str
) -> None:
    page = LISTINGS[listing]
    seen: list[str] = []
    names, token = page(api, catalog, None)
    seen.extend(names)
    # Every dialect's first page holds a.m1 .. c.m1 of this catalog when it comes first; the
    # registry search lists every catalog, so page until this catalog's models begin.
    while not any(n.startswith(f"{catalog}.") for n in seen) and token:
        names, token = page(api, catalog, token)
        seen.extend(names)
    cursor = max(n for n in seen if n.startswith(f"{catalog}."))
    before = f"{catalog}.a.m0"
    after = [f"{catalog}.c.m2", f"{catalog}.e_new.m1"]
    _create(api, before)
    api.post(f"{UC}/schemas", json={"name": "e_new", "catalog_name": catalog}).raise_for_status()
    for name in after:
        _create(api, name)
    while token:
        names, token = page(api, catalog, token)
        seen.extend(names)
    mine = [n for n in seen if n.startswith(f"{catalog}.")]
    assert len(mine) == len(set(mine)), f"a model was listed twice: {mine}"
    assert all(cursor < n for n in after), "the test's own premise: added after the cursor"
    expected = sorted(
        [f"{catalog}.{s}.{m}" for s in ("a", "c", "d") for m in ("m1", "m3", "m5")] + after
    )
    assert mine == expected
    assert before not in mine
    # The whole listing is in (catalog, schema, model) order, whoever else has models.
    keys = [tuple(n.split(".")) for n in seen]
    assert keys == sorted(keys)


@pytest.mark.parametrize("listing", LISTINGS, ids=list(LISTINGS))
def test_a_listing_pages_through_a_catalog_with_more_schemas_than_one_read_of_schemas(
    api: httpx.Client, listing: str
) -> None:
    name = f"w_{uuid.uuid4().hex[:10]}"
    api.post(f"{UC}/catalogs", json={"name": name}).raise_for_status()
    created = []
    for i in range(70):  # more than the 64 schemas a listing reads at a time
        schema = f"s{i:02d}"
        api.post(f"{UC}/schemas", json={"name": schema, "catalog_name": name}).raise_for_status()
        if i in (0, 66, 69):
            created.append(f"{name}.{schema}.only")
            _create(api, created[-1])
    seen: list[str] = []
    token: str | None = None
    while True:
        names, token = LISTINGS[listing](api, name, token)
        seen.extend(names)
        if not token:
            break
    assert [n for n in seen if n.startswith(f"{name}.")] == created


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (f"{REGISTRY}/registered-models/search", {"page_token": "not a token"}),
        (f"{REGISTRY}/registered-models/search", {"page_token": "WyJhIiwgMV0"}),  # ["a", 1]
        (f"{UC}/models", {"page_token": "WyJhIiwgImIiXQ"}),  # ["a", "b"]: too short
        (SEARCH, {"page_token": "e30"}),  # {}
    ],
    ids=["registry-garbage", "registry-wrong-shape", "uc-too-short", "search-object"],
)
def test_a_malformed_page_token_is_a_400_naming_it(
    api: httpx.Client, path: str, params: dict[str, str]
) -> None:
    answer = api.get(path, params=params)
    assert answer.status_code == 400, answer.text
    assert "page_token" in answer.text
    assert "next_page_token of the previous page" in answer.text
